// Fleet safety end to end in one process (store, worker, local deployer, status publisher): a rollout in
// waves whose gate fails is rolled back, and GitHub's statuses and the log page say so.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BakeClock } from '../../bot/deployers/rollout.ts';
import { MAX_DESCRIPTION } from '../../bot/engine/descriptions.ts';
import { renderLogPage } from '../../bot/web/log-page.ts';
import { deploymentView } from '../../bot/web/deployment-view.ts';
import { startEngine, type EngineHarness } from '../support/engine-harness.ts';
import { STORE_KINDS } from '../support/databases.ts';

const OLD = 'a'.repeat(40);
const NEW = 'c'.repeat(40);
const HOSTS = Array.from({ length: 10 }, (_, i) => `web-${i + 1}`);

// Each host's live SHA is a file in the work folder; the gate fails once 3 hosts run the new one.
const yml = `
environments:
  staging:
    deployer: local
    hosts: [${HOSTS.join(', ')}]
    concurrency: 2
    deploy: 'printf %s "$DEPLOY_SHA" > "rev-$DEPLOY_HOST"; echo "deploy $DEPLOY_HOST" >> ran.log'
    rollback: 'printf %s "$DEPLOY_PREVIOUS_SHA" > "rev-$DEPLOY_HOST"; echo "rollback $DEPLOY_HOST" >> ran.log'
    revision: 'cat "rev-$DEPLOY_HOST" 2>/dev/null || true'
    waves: [1, 30%, 100%]
    bake: 2m
    gate: { run: 'n=$(grep -l ${NEW} rev-* | wc -l); if [ "$n" -ge 3 ]; then echo "error rate 7%"; exit 1; fi' }
    on_failure: rollback_fleet
`;

async function eventually(check: () => Promise<boolean>, limitMs = 60_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`condition still false after ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Sleeps return at once and move the clock on: the bake costs no wall time. */
function virtualClock(): BakeClock & { slept: number[] } {
  let now = Date.now();
  const slept: number[] = [];
  return { slept, now: () => now, sleep: async (ms, signal) => (signal.aborted ? false : (slept.push(ms), (now += ms), true)) };
}

describe.each(STORE_KINDS)('fleet safety with the local deployer (%s store)', { timeout: 120_000 }, (kind) => {
  let e: EngineHarness;
  afterEach(async () => {
    await e?.cleanup();
  });

  it('a gate failing after wave 2 of 3: wave 3 never starts, the changed hosts go back, status and log page say so', async () => {
    const clock = virtualClock();
    e = await startEngine({ kind, deployYml: yml, localRollout: { clock } });
    // A first deploy puts every host on OLD: DEPLOY_PREVIOUS_SHA of the next one (the last successful deploy).
    await e.receive({ id: 1, sha: OLD });
    expect((await e.settled(1)).at(-1)).toMatchObject({ state: 'success', description: 'deployed to 10/10 hosts' });
    await e.receive({ id: 2, sha: NEW });
    const statuses = await e.settled(2);

    const final = statuses.at(-1)!;
    expect(final.state).toBe('failure');
    expect(final.description).toBe('rolled back 3 hosts to aaaaaaa; gate exited 1: error rate 7% after wave 2/3; 3/10 hosts deployed');
    const progress = statuses.filter((s) => s.state === 'in_progress').map((s) => s.description);
    expect(progress).toContain('wave 1/3 baking, 2m left');
    expect(progress.some((d) => /^wave 2\/3: \d\/2 hosts$/.test(d))).toBe(true);
    for (const s of statuses) expect(s.description.length).toBeLessThanOrEqual(MAX_DESCRIPTION);
    expect(progress.some((d) => d.startsWith('wave 3/3'))).toBe(false);

    const ran = readFileSync(join(e.workDir, 'ran.log'), 'utf8').trim().split('\n');
    const secondDeploy = ran.slice(HOSTS.length);
    expect(secondDeploy.filter((l) => l.startsWith('deploy')).sort()).toEqual(['deploy web-1', 'deploy web-2', 'deploy web-3']);
    expect(secondDeploy.filter((l) => l.startsWith('rollback')).sort()).toEqual(['rollback web-1', 'rollback web-2', 'rollback web-3']);
    for (const host of HOSTS) expect(readFileSync(join(e.workDir, `rev-${host}`), 'utf8'), host).toBe(OLD);
    // Deploy 1 baked after its waves 1 and 2, deploy 2 after its wave 1 only: 3 × 2m of the clock.
    expect(clock.slept.reduce((a, b) => a + b, 0)).toBe(360_000);

    const hosts = await e.store.hosts(2);
    expect(hosts.filter((h) => h.state === 'rolled_back').map((h) => h.host)).toEqual(['web-1', 'web-2', 'web-3']);
    expect(hosts.filter((h) => h.state === 'pending')).toHaveLength(7);
    const page = renderLogPage((await deploymentView(e.store, 2))!, e.links.url(2));
    expect(page).toContain('rolled back 3 hosts to aaaaaaa');
    expect(page).toContain('wave 1/3 starts: 1 host (web-1)');
    expect(page).toContain('wave 1/3: gate passed');
    expect(page).toContain('wave 2/3: gate exited 1: error rate 7%');
    expect(page).toContain('fleet rollback begins: gate exited 1');
    expect(page).toContain('web-3: rollback starting');
    expect(page).not.toContain('wave 3/3 starts');
  });

  it('/cancel --rollback: the hosts in progress finish, then every host this deployment changed goes back', async () => {
    // The second host's deploy ends only once the cancel is seen (its timeline line is written, then the
    // test creates `release`): the cancel comes while it is in progress, however slow the machine.
    const until = 'i=0; until [ -e release ]; do i=$((i + 1)); [ $i -lt 600 ] || exit 99; sleep 0.1; done';
    e = await startEngine({
      kind,
      deployYml: `
environments:
  staging:
    deployer: local
    hosts: [web-1, web-2, web-3]
    deploy: 'printf %s "$DEPLOY_SHA" > "rev-$DEPLOY_HOST"; [ "$DEPLOY_HOST" != web-2 ] || { ${until}; }'
    rollback: 'printf %s "$DEPLOY_PREVIOUS_SHA" > "rev-$DEPLOY_HOST"'
`,
    });
    await e.receive({ id: 1, sha: OLD });
    writeFileSync(join(e.workDir, 'release'), '');
    expect((await e.settled(1)).at(-1)!.state).toBe('success');
    rmSync(join(e.workDir, 'release'));

    await e.receive({ id: 2, sha: NEW });
    await eventually(async () => (await e.store.hosts(2)).some((h) => h.host === 'web-2' && h.state === 'running'));
    await e.store.requestCancel('acme/app', 'staging', 'bob', true);
    await eventually(async () => (await e.store.events(2)).some((event) => event.message.startsWith('cancel requested by @bob')));
    writeFileSync(join(e.workDir, 'release'), '');
    const last = (await e.settled(2)).at(-1)!;
    expect(last.state).toBe('failure');
    expect(last.description).toBe('rolled back 2 hosts to aaaaaaa; cancelled after 2/3 hosts');
    for (const host of ['web-1', 'web-2', 'web-3']) expect(readFileSync(join(e.workDir, `rev-${host}`), 'utf8'), host).toBe(OLD);
    expect((await e.store.hosts(2)).map((h) => [h.host, h.state])).toEqual([
      ['web-1', 'rolled_back'],
      ['web-2', 'rolled_back'],
      ['web-3', 'pending'],
    ]);
  });
});

// The engine's rules end to end in one process: store, worker, local deployer, status publisher.
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startEngine, type EngineHarness } from '../support/engine-harness.ts';
import { STORE_KINDS } from '../support/databases.ts';

const yml = (extra = '', deploy = 'echo "$DEPLOY_SHA" >> "runs-$DEPLOY_HOST"; echo deployed $DEPLOY_HOST') => `
environments:
  staging:
    deployer: local
    url: https://staging.example.com
    hosts: [web-1, web-2, web-3]
    concurrency: 2
    deploy: '${deploy}'
${extra}`;

// A bound for a deploy with its statuses on a loaded machine, not a speed check.
describe.each(STORE_KINDS)('engine with the local deployer (%s store)', { timeout: 120_000 }, (kind) => {
  let e: EngineHarness;
  afterEach(async () => {
    await e?.cleanup();
  });

  it('deploys to every host once and reports queued → in_progress → success with links', async () => {
    e = await startEngine({ kind, deployYml: yml() });
    await e.receive({ id: 1 });
    const statuses = await e.settled(1);
    expect(statuses.map((s) => s.state)).toEqual(expect.arrayContaining(['queued', 'in_progress', 'success']));
    expect(statuses.at(-1)).toMatchObject({
      state: 'success',
      description: 'deployed to 3/3 hosts',
      environmentUrl: 'https://staging.example.com',
      logUrl: e.links.url(1),
    });
    expect(statuses[0]!.state).toBe('queued');
    const progress = statuses.filter((s) => s.state === 'in_progress').map((s) => s.description);
    expect(new Set(progress).size, `progress repeated itself: ${progress.join(' | ')}`).toBe(progress.length);
    for (const host of ['web-1', 'web-2', 'web-3'])
      expect(readFileSync(join(e.workDir, `runs-${host}`), 'utf8')).toBe(`${'c'.repeat(40)}\n`);
    const hosts = await e.store.hosts(1);
    expect(hosts.map((h) => [h.host, h.state])).toEqual([
      ['web-1', 'succeeded'],
      ['web-2', 'succeeded'],
      ['web-3', 'succeeded'],
    ]);
    expect(hosts[0]!.output).toContain('deployed web-1');
  });

  it('rule 1: a second deployment of the same sha is refused as a duplicate pointing at the original log', async () => {
    e = await startEngine({ kind, deployYml: yml() });
    await e.receive({ id: 1 });
    await e.settled(1);
    await e.receive({ id: 2 });
    const statuses = await e.settled(2);
    expect(statuses).toEqual([
      expect.objectContaining({ state: 'inactive', description: 'duplicate of #1 (succeeded)', logUrl: e.links.url(1) }),
    ]);
    expect(readFileSync(join(e.workDir, 'runs-web-1'), 'utf8').trim().split('\n')).toHaveLength(1);
    await e.receive({ id: 3, forced: true });
    expect((await e.settled(3)).at(-1)!.state).toBe('success');
    expect(readFileSync(join(e.workDir, 'runs-web-1'), 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('a failing host ends the deployment failure, rolls that host back, and starts no more hosts (max_failures 0)', async () => {
    e = await startEngine({
      kind,
      deployYml: yml(
        '    rollback: echo rolled back > "rollback-$DEPLOY_HOST"\n    concurrency: 1\n',
        'test "$DEPLOY_HOST" != web-2 && touch "ok-$DEPLOY_HOST"',
      ).replace('    concurrency: 2\n', ''),
    });
    await e.receive({ id: 1 });
    const last = (await e.settled(1)).at(-1)!;
    expect(last).toMatchObject({ state: 'failure', description: 'failed on web-2 (deploy exited 1; rolled back); 1/3 hosts deployed' });
    expect(existsSync(join(e.workDir, 'rollback-web-2'))).toBe(true);
    expect(existsSync(join(e.workDir, 'ok-web-3'))).toBe(false);
  });

  it('rule 3: status writes are retried through GitHub 502s, the deploy step is not', async () => {
    let failures = 3;
    e = await startEngine({
      kind,
      deployYml: yml(),
      writer: async () => {
        if (failures-- > 0) throw Object.assign(new Error('Bad Gateway'), { status: 502 });
      },
    });
    await e.receive({ id: 1 });
    expect((await e.settled(1)).at(-1)!.state).toBe('success');
    expect(readFileSync(join(e.workDir, 'runs-web-1'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('rule 5: a command over its time limit is killed and its host counts as failed', async () => {
    e = await startEngine({ kind, deployYml: yml('    timeouts: { connect: 1s, command: 2s, total: 1m }\n', 'sleep 30') });
    await e.receive({ id: 1 });
    const last = (await e.settled(1)).at(-1)!;
    expect(last.state).toBe('failure');
    expect(last.description).toContain('timed out, killed');
  });

  it('cancel: stops after the hosts in progress and says who cancelled after how many hosts', async () => {
    // A host's deploy ends only once the worker has seen the cancel (its event is recorded, then the test
    // creates `release`): the cancel comes while a host is in progress, however slow the machine.
    const untilReleased = 'i=0; until [ -e release ]; do i=$((i + 1)); [ $i -lt 600 ] || exit 99; sleep 0.1; done';
    e = await startEngine({
      kind,
      deployYml: yml('    concurrency: 1\n', `${untilReleased}; touch "done-$DEPLOY_HOST"`).replace('    concurrency: 2\n', ''),
    });
    await e.receive({ id: 1 });
    await until(async () => (await e.store.hosts(1)).some((h) => h.state === 'running'));
    await e.store.requestCancel('acme/app', 'staging', 'bob');
    await until(async () => (await e.store.events(1)).some((event) => event.message.startsWith('cancel requested by @bob')));
    writeFileSync(join(e.workDir, 'release'), '');
    const last = (await e.settled(1)).at(-1)!;
    expect(last.state).toBe('failure');
    expect(last.description).toMatch(/^cancelled by @bob after [12]\/3 hosts$/);
    expect(existsSync(join(e.workDir, 'done-web-3'))).toBe(false);
  });

  it('a rollback says so in every status description', async () => {
    e = await startEngine({ kind, deployYml: yml() });
    await e.receive({ id: 1, forced: true, payload: { force: true, rollback_of: 'd'.repeat(40) } });
    const statuses = await e.settled(1);
    expect(statuses.length).toBeGreaterThan(2);
    for (const status of statuses) expect(status.description).toMatch(/^rollback: /);
    expect(statuses.at(-1)!.description).toBe('rollback: deployed to 3/3 hosts');
  });

  it('rule 8: an unknown environment asked of shipguard ends error naming the environments that exist, and runs nothing', async () => {
    e = await startEngine({ kind, deployYml: yml() });
    await e.receive({ id: 1, environment: 'prod', payload: { idempotency_key: '4100/1/deploy/prod' } });
    await e.receive({ id: 2, environment: 'qa', payload: { requested_by: 'octocat' } });
    for (const id of [1, 2]) {
      const environment = id === 1 ? 'prod' : 'qa';
      expect(await e.settled(id)).toEqual([
        expect.objectContaining({
          state: 'error',
          description: `unknown environment ${environment} (.github/deploy.yml defines: staging)`,
        }),
      ]);
    }
    expect(existsSync(join(e.workDir, 'runs-web-1'))).toBe(false);
  });

  it('whose deployments: one for an environment deploy.yml does not define, without shipguard’s keys, is left alone', async () => {
    e = await startEngine({ kind, deployYml: yml() });
    await e.receive({ id: 1, environment: 'github-pages' });
    await e.receive({ id: 2 }); // admitted after #1 (received order): once it has ended, #1 was decided
    expect((await e.settled(2)).at(-1)).toEqual(expect.objectContaining({ state: 'success' }));
    expect(e.published.filter((status) => status.deploymentId === 1)).toEqual([]);
    expect(await e.store.deployment(1)).toBeNull();
  });

  it('host output is redacted of bot secrets', async () => {
    e = await startEngine({ kind, deployYml: yml('', 'echo token=s3cr3t-value; printf %s s3cr3t-value | base64') });
    await e.receive({ id: 1 });
    await e.settled(1);
    const output = (await e.store.hosts(1))[0]!.output;
    expect(output).toContain('token=[redacted]');
    expect(output).not.toContain('s3cr3t-value');
    expect(output).not.toContain(Buffer.from('s3cr3t-value').toString('base64').replace(/=+$/, ''));
  });
});

/** Resolves once `check` holds; a bound (60 s) for a condition that never comes, not a speed limit. */
async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition still false after 60 s');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

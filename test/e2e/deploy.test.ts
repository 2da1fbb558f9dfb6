// End to end on real sshd hosts: the Action's own code creates deployments on the GitHub stand-in, the
// bot receives the webhooks and deploys over ssh; each test checks the statuses the stand-in recorded,
// the files on the hosts, and how many times each host ran the deploy.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WEBHOOK_SECRET } from '../support/bot-harness.ts';
import { REPOSITORY, startDemoWorld, type DemoWorld } from '../support/demo-world.ts';

// Bounds for waits on a whole deploy (GitHub's stand-in, the bot, three ssh hosts): far beyond what a
// loaded machine takes; what the tests check is how deploys end, not how fast.
const DEPLOY_TEST_MS = 180_000;
const WAIT_MS = 60_000;

let demo: DemoWorld;
let runId = 100;

beforeAll(async () => {
  demo = await startDemoWorld({ ssh: 'sshd', deploySeconds: 1 });
  await demo.startBot();
}, DEPLOY_TEST_MS);
afterAll(async () => {
  await demo?.close();
});
afterEach(() => {
  for (const host of demo.hosts.hosts) {
    for (const file of ['fail-deploy', 'hold']) rmSync(join(host.dir, file), { force: true });
  }
  expect(demo.github.problems).toEqual([]);
});

const states = (id: number) => demo.statuses(id).map((s) => s.state);

/**
 * Holds host `held`'s deploy (demo-world's deploy waits while `$HOST_DIR/hold` exists) until the bot has
 * recorded host `failing` as failed in the deployment of `sha`; then lets it go. Resolves once let go.
 */
async function holdUntilFailed(sha: string, held: number, failing: number): Promise<void> {
  const hold = join(demo.hosts.hosts[held]!.dir, 'hold');
  const spec = demo.hosts.hosts[failing]!.spec;
  writeFileSync(hold, '');
  try {
    const deadline = Date.now() + WAIT_MS;
    while (Date.now() < deadline) {
      const deployment = demo.github.deployments(REPOSITORY).find((d) => d.sha === sha);
      const hosts = deployment ? await demo.bot!.store.hosts(deployment.id) : [];
      if (hosts.some((h) => h.host === spec && h.state === 'failed')) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    rmSync(hold, { force: true });
  }
}

describe('a deploy requested by the Action', () => {
  it('reaches three hosts once each and ends success on GitHub with the log link', { timeout: DEPLOY_TEST_MS }, async () => {
    const sha = demo.github.addCommit(REPOSITORY, 'main');
    const step = await demo.runAction({ environment: 'staging', runId: runId++, sha });

    expect(step.failed, step.errors.join('\n')).toBe(false);
    expect(step.outputs.state).toBe('success');
    const id = Number(step.outputs['deployment-id']);
    const final = demo.finalStatus(id)!;
    expect(final).toMatchObject({ state: 'success', environmentUrl: 'https://staging.acme.example' });
    expect(final.logUrl).toMatch(new RegExp(`/deployments/${id}\\?sig=[\\w-]+$`));
    expect(step.outputs['log-url']).toBe(final.logUrl);
    expect(states(id)).toContain('in_progress');
    expect(states(id).at(-1)).toBe('success');
    for (const index of [0, 1, 2]) {
      expect(demo.hostFile(index, 'staging.sha')).toBe(`${sha}\n`);
      expect(demo.deployCount(index, 'staging', sha)).toBe(1);
    }
  });

  it(
    'refuses the same commit again as a duplicate, reports the original’s outcome, and runs nothing twice',
    { timeout: DEPLOY_TEST_MS },
    async () => {
      const sha = demo.github.addCommit(REPOSITORY, 'main');
      const first = await demo.runAction({ environment: 'staging', runId: runId++, sha });
      const second = await demo.runAction({ environment: 'staging', runId: runId++, sha });

      const original = Number(first.outputs['deployment-id']);
      const duplicate = Number(second.outputs['deployment-id']);
      expect(duplicate).not.toBe(original);
      expect(second.failed).toBe(false);
      expect(second.outputs).toMatchObject({
        state: 'success',
        'duplicate-of': String(original),
        'log-url': demo.finalStatus(original)!.logUrl,
      });
      expect(demo.finalStatus(original)!.state).toBe('success');
      expect(demo.statuses(duplicate).map((s) => [s.state, s.description])).toEqual([
        ['inactive', `duplicate of #${original} (succeeded)`],
      ]);
      for (const index of [0, 1, 2]) expect(demo.deployCount(index, 'staging', sha)).toBe(1);
    },
  );

  it('ends failure when one host fails, keeps the host that finished, and starts no other', { timeout: DEPLOY_TEST_MS }, async () => {
    const sha = demo.github.addCommit(REPOSITORY, 'main');
    // What the failing host prints: a reason, and a bot secret that must never leave the bot unredacted.
    writeFileSync(join(demo.hosts.hosts[1]!.dir, 'fail-deploy'), `migration 42 failed: relation "users" exists\ntoken ${WEBHOOK_SECRET}\n`);
    // Host 0 is still deploying when host 1 fails, however slow the machine: it is held until then.
    const held = holdUntilFailed(sha, 0, 1);
    const step = await demo.runAction({ environment: 'staging', runId: runId++, sha });
    await held;

    expect(step.failed).toBe(true);
    expect(step.outputs.state).toBe('failure');
    const id = Number(step.outputs['deployment-id']);
    const final = demo.finalStatus(id)!;
    expect(final.state).toBe('failure');
    expect(final.description).toContain(`failed on ${demo.hosts.hosts[1]!.spec}`);
    expect(step.errors.join('\n')).toContain(final.description);
    // Hosts 0 and 1 started together (concurrency 2); host 1 failed at once, host 0 finished its deploy.
    expect(demo.hostFile(0, 'staging.sha')).toBe(`${sha}\n`);
    expect(demo.hostFile(1, 'staging.sha')).not.toBe(`${sha}\n`);
    expect(demo.hostFile(2, 'staging.sha')).not.toBe(`${sha}\n`);
    expect([0, 1, 2].map((index) => demo.deployCount(index, 'staging', sha))).toEqual([1, 1, 0]);
    // The failing host's last output, redacted, in the step's log and its job summary.
    for (const text of [step.lines.join('\n'), step.summary]) {
      expect(text).toContain('fail-deploy is set on this host');
      expect(text).toContain('migration 42 failed: relation "users" exists');
      expect(text).toContain('token [redacted]');
      expect(text).not.toContain(WEBHOOK_SECRET);
    }
    expect(step.lines).toContain('  | migration 42 failed: relation "users" exists');
  });
});

describe('a deploy requested by a pull request comment', () => {
  it('deploys the pull request’s head to production after staging, and answers /status', { timeout: DEPLOY_TEST_MS }, async () => {
    const staging = await demo.runAction({ environment: 'staging', runId: runId++ });
    expect(staging.outputs.state).toBe('success');

    const command = await demo.comment('/deploy production');
    const created = await demo.github.waitFor(
      () => demo.github.deployments(REPOSITORY).find((d) => d.environment === 'production'),
      WAIT_MS,
    );
    expect(created).toMatchObject({ sha: demo.featureSha, creator: { login: 'shipguard[bot]' } });
    expect(demo.github.reactions(command)).toContain('eyes');
    const final = await demo.waitForFinal(created.id, WAIT_MS);
    expect(final).toMatchObject({ state: 'success', environmentUrl: 'https://acme.example' });
    expect(demo.github.deployments(REPOSITORY).filter((d) => d.environment === 'production')).toHaveLength(1);
    // One reply, edited as the deploy moves: in the end it links the log and says how it ended.
    const reply = await demo.waitForReply(command, WAIT_MS, (c) => c.body.includes(final.description));
    expect(reply?.body).toContain(final.logUrl);
    expect(demo.botComments().filter((c) => c.id > command)).toHaveLength(1);
    for (const index of [0, 1, 2]) {
      expect(demo.hostFile(index, 'production.sha')).toBe(`${demo.featureSha}\n`);
      expect(demo.deployCount(index, 'production', demo.featureSha)).toBe(1);
    }

    const status = await demo.comment('/status production');
    const statusReply = await demo.waitForReply(status, WAIT_MS);
    expect(statusReply?.body).toContain(demo.featureSha.slice(0, 7));
  });

  it('a deploy that fails: the reply shows the failing host’s last output, redacted', { timeout: DEPLOY_TEST_MS }, async () => {
    writeFileSync(join(demo.hosts.hosts[2]!.dir, 'fail-deploy'), `disk full on /srv\ntoken ${WEBHOOK_SECRET}\n`);
    demo.github.addCommit(REPOSITORY, 'feature'); // a head staging has not run yet (revision would skip every host)
    const command = await demo.comment('/deploy staging');
    const created = await demo.github.waitFor(
      () => demo.github.deployments(REPOSITORY).find((d) => d.environment === 'staging' && d.id > command),
      WAIT_MS,
    );
    const final = await demo.waitForFinal(created.id, WAIT_MS);
    expect(final.state).toBe('failure');
    const reply = await demo.waitForReply(command, WAIT_MS, (c) => c.body.includes(final.description));
    expect(reply?.body).toContain('What the failing host printed last');
    expect(reply?.body).toContain(`\`${demo.hosts.hosts[2]!.spec}\` (failed)`);
    expect(reply?.body).toContain('fail-deploy is set on this host\ndisk full on /srv\ntoken [redacted]');
    expect(reply?.body).not.toContain(WEBHOOK_SECRET);
  });
});

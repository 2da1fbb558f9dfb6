// Workflow jobs under shipguard's rules: the App as a custom deployment protection rule. Real bot
// processes, driven through the GitHub stand-in playing GitHub Actions (a run reaching a protected
// environment sends `deployment_protection_rule`; the callback records the App's reviews; the job's end
// comes as `deployment_status`). Every request and webhook is checked against GitHub's OpenAPI description.
import { afterEach, describe, expect, it } from 'vitest';
import type { GitHubStandin } from '../support/github-standin.ts';
import { freePort } from '../support/ports.ts';
import { deployYml, startBotProcess, startWorld, type BotProcess, type World } from '../support/bot-harness.ts';
import { command } from './chatops-conversation.ts';

const CONFIG = deployYml(`  staging:
    deployer: workflow
  production:
    deployer: workflow
    requires: [staging]
  canary:
    deployer: workflow
    queue: latest
  quick:
    deployer: workflow
    timeouts: { total: 3s }
`);

const CALLBACK = /\/actions\/runs\/\d+\/deployment_protection_rule$/;

describe('workflow jobs gated by shipguard (custom deployment protection rule)', () => {
  let world: World;
  const bots: BotProcess[] = [];
  afterEach(async () => {
    for (const bot of bots.splice(0)) await bot.kill();
    await world?.close();
  });

  let port = 0;
  async function start(): Promise<World> {
    world = await startWorld({ deployYml: CONFIG });
    // As README says: a repository admin enables the rule through the REST API (or the settings page).
    world.github.addUserToken('admin-token', 'acme');
    for (const environment of ['staging', 'production', 'canary', 'quick']) {
      const response = await fetch(`${world.github.apiUrl}/repos/acme/app/environments/${environment}/deployment_protection_rules`, {
        method: 'POST',
        headers: { authorization: 'token admin-token', 'content-type': 'application/json' },
        body: JSON.stringify({ integration_id: 1 }),
      });
      expect(response.status).toBe(201);
    }
    port = await freePort();
    await startBot();
    return world;
  }

  async function startBot(): Promise<void> {
    bots.push(await startBotProcess(world, { port, cwd: world.dir }));
    world.github.setWebhookUrl(`http://127.0.0.1:${port}/api/github/webhooks`);
  }

  const decided = (runId: number) => () => world.github.gateReviews(runId).find((review) => review.state !== null);
  const decisions = (runId: number) => world.github.gateReviews(runId).filter((review) => review.state !== null);
  const progress = (runId: number) => () => world.github.gateReviews(runId).find((review) => review.state === null);
  /** Nothing the App sent was refused, and every request and webhook matched GitHub's description. */
  function expectCleanExchange(github: GitHubStandin, injected502 = 0): void {
    const refused = github.requests.filter((r) => CALLBACK.test(r.path) && r.status !== 204);
    expect(refused.map((r) => r.status)).toEqual(Array(injected502).fill(502));
    // GitHub Actions owns the job's deployments: the bot never posts a status on one.
    for (const deployment of github.deployments('acme/app'))
      expect(github.statuses(deployment.id).filter((s) => s.creator.login === 'shipguard[bot]')).toEqual([]);
    expect(github.problems).toEqual([]);
  }

  it('approves the first run of a SHA once (an answer lost is checked, not resent), records its end from deployment_status, then refuses a re-run after success and approves one after failure', async () => {
    const { github } = await start();
    // The first approval lands but its answer is lost: the bot sees the run no longer waits and sends it no more.
    github.injectFault({ method: 'POST', path: CALLBACK }, { status: 502, afterWork: true });
    const run = github.startWorkflowRun('acme/app', { environment: 'staging' });
    const first = await github.waitFor(decided(run.id));
    expect(first).toMatchObject({ state: 'approved', environment: 'staging', deploymentId: run.deploymentId });
    const lost = await github.waitFor(() => github.requests.find((r) => CALLBACK.test(r.path) && r.status === 502));
    await github.waitFor(
      () => github.requests.find((r) => r.method === 'GET' && r.path === `/repos/acme/app/actions/runs/${run.id}` && r.at > lost.at),
      60_000,
    );
    github.finishWorkflowJob(run.id, 'success');

    const firstDeployment = run.deploymentId;
    github.rerunWorkflowRun(run.id);
    expect(run.deploymentId).not.toBe(firstDeployment);
    const rerun = await github.waitFor(() => github.gateReviews(run.id).filter((r) => r.state !== null)[1]);
    expect(rerun.state).toBe('rejected');
    expect(rerun.comment).toMatch(
      new RegExp(
        `^${run.headSha.slice(0, 7)} is already live on staging since \\d\\d:\\d\\d UTC \\(#${firstDeployment}, run ${run.id}\\); to deploy it again`,
      ),
    );

    // Promotion order: a new SHA must succeed on staging before production.
    const sha = github.addCommit('acme/app');
    const early = github.startWorkflowRun('acme/app', { environment: 'production' });
    const refused = await github.waitFor(decided(early.id));
    expect(refused.state).toBe('rejected');
    expect(refused.comment).toBe(`${sha.slice(0, 7)} has not succeeded on staging: deploy it there first`);

    // A failed deploy does not block the next attempt of the same SHA.
    const failing = github.startWorkflowRun('acme/app', { environment: 'staging' });
    expect(failing.headSha).toBe(sha);
    await github.waitFor(decided(failing.id));
    github.finishWorkflowJob(failing.id, 'failure');
    github.rerunWorkflowRun(failing.id);
    const again = await github.waitFor(() => github.gateReviews(failing.id).filter((r) => r.state !== null)[1]);
    expect(again.state).toBe('approved');

    expect(github.requests.filter((r) => r.path === `/repos/acme/app/actions/runs/${run.id}/deployment_protection_rule`)).toHaveLength(2);
    expect(decisions(run.id).filter((r) => r.deploymentId === firstDeployment)).toHaveLength(1);
    expectCleanExchange(github, 1);
  }, 300_000);

  it('one at a time: a second run waits with a progress comment and is approved only once the first deploy ends; queue: latest rejects the older waiting run', async () => {
    const { github } = await start();
    const first = github.startWorkflowRun('acme/app', { environment: 'staging' });
    expect(await github.waitFor(decided(first.id))).toMatchObject({ state: 'approved' });
    github.addCommit('acme/app');
    const second = github.startWorkflowRun('acme/app', { environment: 'staging' });
    const waiting = await github.waitFor(progress(second.id));
    expect(waiting.comment).toBe(`waiting for #${first.deploymentId}, run ${first.id} to finish; 0 ahead in the queue of staging`);
    expect(decisions(second.id)).toEqual([]);
    github.finishWorkflowJob(first.id, 'success');
    expect(await github.waitFor(decided(second.id))).toMatchObject({ state: 'approved' });

    // A run cancelled while it waits, then re-run: the new attempt takes its place, approved once, in turn.
    github.addCommit('acme/app');
    const third = github.startWorkflowRun('acme/app', { environment: 'staging' });
    await github.waitFor(progress(third.id));
    const cancelledAttempt = third.deploymentId;
    github.cancelWorkflowRun(third.id);
    github.rerunWorkflowRun(third.id);
    await github.waitFor(() => github.gateReviews(third.id).find((r) => r.state === null && r.deploymentId === third.deploymentId));
    expect(decisions(third.id)).toEqual([]);
    github.finishWorkflowJob(second.id, 'success');
    expect(await github.waitFor(decided(third.id))).toMatchObject({ state: 'approved', deploymentId: third.deploymentId });
    expect(third.deploymentId).not.toBe(cancelledAttempt);
    github.finishWorkflowJob(third.id, 'success');

    // queue: latest keeps only the newest waiting run.
    const running = github.startWorkflowRun('acme/app', { environment: 'canary' });
    await github.waitFor(decided(running.id));
    github.addCommit('acme/app');
    const older = github.startWorkflowRun('acme/app', { environment: 'canary' });
    await github.waitFor(progress(older.id));
    github.addCommit('acme/app');
    const newer = github.startWorkflowRun('acme/app', { environment: 'canary' });
    const superseded = await github.waitFor(decided(older.id));
    expect(superseded.state).toBe('rejected');
    expect(superseded.comment).toBe(
      `superseded by #${newer.deploymentId} (run ${newer.id}): canary keeps only the newest waiting deploy (queue: latest)`,
    );
    await github.waitFor(progress(newer.id));
    expect(decisions(newer.id)).toEqual([]);
    github.finishWorkflowJob(running.id, 'failure');
    expect(await github.waitFor(decided(newer.id))).toMatchObject({ state: 'approved' });
    expectCleanExchange(github);
  }, 300_000);

  it('a locked environment rejects runs of others, naming the lock; the lock holder passes; /status and /cancel see gated jobs; a user below the permission is rejected', async () => {
    const { github } = await start();
    github.setPermission('acme/app', 'alice', 'write');
    github.setPermission('acme/app', 'dev', 'write');
    github.setPermission('acme/app', 'visitor', 'read');
    const pull = github.addPullRequest('acme/app', { headRef: 'feature' });
    expect((await command(world, pull, 'alice', '/lock staging database migration')).reply).toContain('is now locked');

    const blocked = github.startWorkflowRun('acme/app', { environment: 'staging', actor: 'dev' });
    const rejected = await github.waitFor(decided(blocked.id));
    expect(rejected.state).toBe('rejected');
    expect(rejected.comment).toMatch(/^staging is locked by @alice \(\d+m ago\): database migration$/);

    const holder = github.startWorkflowRun('acme/app', { environment: 'staging', actor: 'alice' });
    expect(await github.waitFor(decided(holder.id))).toMatchObject({ state: 'approved' });

    // One queue and one history per environment: /status shows the gated jobs, /cancel rejects the waiting one.
    github.addCommit('acme/app');
    const waiting = github.startWorkflowRun('acme/app', { environment: 'staging', actor: 'alice' });
    await github.waitFor(progress(waiting.id));
    const status = (await command(world, pull, 'alice', '/status staging')).reply;
    expect(status).toContain(
      `running: #${holder.deploymentId} \`${holder.headSha.slice(0, 7)}\` by @alice (deploying in workflow run ${holder.id})`,
    );
    expect(status).toContain(`queued: #${waiting.deploymentId} \`${waiting.headSha.slice(0, 7)}\` by @alice`);
    await command(world, pull, 'alice', '/cancel staging');
    expect(await github.waitFor(decided(waiting.id))).toMatchObject({
      state: 'rejected',
      comment: 'cancelled by @alice before it started',
    });
    expect(decisions(holder.id)).toHaveLength(1);
    github.finishWorkflowJob(holder.id, 'success');

    github.addCommit('acme/app');
    const visitor = github.startWorkflowRun('acme/app', { environment: 'canary', actor: 'visitor' });
    expect(await github.waitFor(decided(visitor.id))).toMatchObject({
      state: 'rejected',
      comment: '@visitor (read) may not deploy to canary: it needs write permission',
    });
    expectCleanExchange(github);
  }, 300_000);

  it('kill -9 while a run waits: after the restart the waiting run is approved in order, exactly once', async () => {
    const { github } = await start();
    const first = github.startWorkflowRun('acme/app', { environment: 'staging' });
    await github.waitFor(decided(first.id));
    github.addCommit('acme/app');
    const second = github.startWorkflowRun('acme/app', { environment: 'staging' });
    await github.waitFor(progress(second.id));
    await bots.pop()!.kill('SIGKILL');
    github.setWebhookUrl(null);

    // The first job ends while no bot listens: its deployment_status deliveries fail.
    github.finishWorkflowJob(first.id, 'success');
    expect(decisions(second.id)).toEqual([]);
    await startBot();
    expect(await github.waitFor(decided(second.id), 120_000)).toMatchObject({ state: 'approved' });
    github.finishWorkflowJob(second.id, 'success');
    // Whatever the restart re-read, each run was decided once.
    await github.waitFor(() => github.deliveries.every((d) => d.status !== null));
    expect(decisions(first.id)).toHaveLength(1);
    expect(decisions(second.id)).toHaveLength(1);
    expectCleanExchange(github);
  }, 400_000);

  it('a job whose end is never reported: its environment is released after timeouts.total, and the next run approved', async () => {
    const { github } = await start();
    const silent = github.startWorkflowRun('acme/app', { environment: 'quick' });
    await github.waitFor(decided(silent.id));
    github.addCommit('acme/app');
    const next = github.startWorkflowRun('acme/app', { environment: 'quick' });
    await github.waitFor(progress(next.id));
    expect(await github.waitFor(decided(next.id), 60_000)).toMatchObject({ state: 'approved' });
    expect(github.workflowRun(silent.id).status).toBe('in_progress');
    expectCleanExchange(github);
  }, 300_000);
});

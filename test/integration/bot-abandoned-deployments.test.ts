// Issue "deploy exactly what was asked", part 2: a deployment that GitHub shows as ended before its first
// host starts never runs. The Action ends a deployment no bot picked up within pickup-timeout with
// `error`; the bot reads the statuses at admission and again right before the first host, after its own
// pickup is visible there (bot/engine/pickup.ts), so "the step said it failed" and "the hosts ran"
// exclude each other.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bot } from '../../bot/bot.ts';
import { runActionStep } from '../support/action-step.ts';
import { deployYml, startBotIn, startWorld, USER_TOKEN, type World } from '../support/bot-harness.ts';
import { freePort } from '../support/ports.ts';
import { pollUntil } from '../support/poll.ts';

// Safety nets for a loaded machine; what is checked is what happens, never how fast.
describe('deployments abandoned on GitHub', { timeout: 180_000 }, () => {
  let world: World;
  let bot: Bot | undefined;
  afterEach(async () => {
    await bot?.stop();
    bot = undefined;
    await world?.close();
  });

  it('the Action gives up on pickup while the bot is down; the bot then receives the deployment and runs no host', async () => {
    world = await startWorld({ deployYml: deployYml(`  staging:\n    deployer: local\n    deploy: 'echo run >> deployed.runs'\n`) });
    const port = await freePort();
    world.github.setWebhookUrl(`http://127.0.0.1:${port}/api/github/webhooks`); // nothing listens yet

    const step = await runActionStep({
      apiUrl: world.github.apiUrl,
      serverUrl: world.github.apiUrl.replace(/\/api\/v3$/, ''),
      token: USER_TOKEN,
      repository: 'acme/app',
      sha: world.repo.headSha,
      runId: 4100,
      actor: 'octocat',
      inputs: { environment: 'staging', 'pickup-timeout': '2s', 'wait-timeout': '1m' },
    });
    expect(step.failed).toBe(true);
    expect(step.errors[0]).toMatch(/^no shipguard bot picked this deployment up/);
    const id = Number(step.outputs['deployment-id']);

    bot = await startBotIn(world, { catchUp: true, env: { PORT: String(port) } });
    const record = await pollUntil(async () => {
      const current = await bot!.store.deployment(id);
      return current && current.state !== 'received' ? current : null;
    }, `deployment ${id} to be admitted`);
    expect(record.state).toBe('refused');
    expect(record.description).toBe('already error on GitHub');
    expect(world.github.statuses(id).map((s) => s.state)).toEqual(['error']);
    expect(existsSync(join(world.dir, 'deployed.runs'))).toBe(false);
    expect(world.github.problems).toEqual([]);
  });

  it('queued behind another deploy, then ended on GitHub before its turn: the runner asks GitHub again and runs nothing', async () => {
    // The first deploy holds staging until the test lets it go; each run appends its deployment id.
    const deploy = `'while [ ! -f go ]; do sleep 0.1; done; echo "$DEPLOY_ID" >> deployed.runs'`;
    world = await startWorld({ deployYml: deployYml(`  staging:\n    deployer: local\n    deploy: ${deploy}\n`) });
    bot = await startBotIn(world);
    const first = await world.createDeployment({});
    await world.github.waitFor(() => world.github.statuses(first).find((s) => s.state === 'in_progress'));
    const second = await world.createDeployment({ payload: { force: true } });
    await world.github.waitFor(() => world.github.statuses(second).find((s) => s.state === 'queued'));

    // Its requester stops waiting (the Action's pickup deadline, or a person) and ends it on GitHub.
    const ended = await fetch(`${world.github.apiUrl}/repos/acme/app/deployments/${second}/statuses`, {
      method: 'POST',
      headers: { authorization: `token ${USER_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ state: 'error', description: 'abandoned by the Action' }),
    });
    expect(ended.status).toBe(201);
    writeFileSync(join(world.dir, 'go'), '');

    const notRun = await world.github.waitFor(() => world.github.statuses(second).find((s) => s.description.startsWith('not run')), 60_000);
    expect(notRun.state).toBe('error');
    expect(notRun.description).toBe('not run: GitHub showed error before the first host started (the requester stopped waiting)');
    await world.github.waitFor(() => world.github.statuses(first).find((s) => s.state === 'success'));
    expect(readFileSync(join(world.dir, 'deployed.runs'), 'utf8')).toBe(`${first}\n`);
    // The claim's `in_progress` goes out before the runner asks GitHub; the runner's `error` is the last word.
    expect(world.github.statuses(second).map((s) => s.state)).toEqual(['queued', 'error', 'in_progress', 'error']);
    expect((await bot.store.deployment(second))?.state).toBe('error');
    expect(world.github.problems).toEqual([]);
  });
});

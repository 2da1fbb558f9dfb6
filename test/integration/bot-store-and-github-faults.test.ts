// Exactly once under faults, at the bot's edges: GitHub answers lost after the work was done, and a
// store that is down while webhooks arrive. Real faults: the stand-in does the write and then answers 502;
// a throwaway PostgreSQL cluster of the test's own is stopped and started again.
import { afterEach, describe, expect, it } from 'vitest';
import type { Bot } from '../../bot/bot.ts';
import { deployYml, startBotIn, startWorld, WEBHOOK_SECRET, type World } from '../support/bot-harness.ts';
import { signatureOf } from '../support/github-standin/webhooks.ts';
import { PgCluster } from '../support/pg-cluster.ts';

const yml = deployYml(`  staging:\n    deployer: local\n    hosts: [web-1, web-2]\n    deploy: 'echo run >> "$DEPLOY_HOST.runs"'\n`);
const TERMINAL = ['success', 'failure', 'error', 'inactive'];

describe('exactly once at the edges', () => {
  let world: World | undefined;
  let bot: Bot | undefined;
  let cluster: PgCluster | undefined;
  afterEach(async () => {
    await bot?.stop();
    bot = undefined;
    await world?.close();
    world = undefined;
    await cluster?.close();
    cluster = undefined;
  });

  it('a status write whose answer is lost after GitHub recorded it is checked, never sent twice', async () => {
    world = await startWorld({ deployYml: yml });
    bot = await startBotIn(world);
    // Every status write answers 502 after doing its work, four times: queued, in_progress, success…
    world.github.injectFault(
      { method: 'POST', path: /\/deployments\/\d+\/statuses$/ },
      { status: 502, body: { message: 'Bad Gateway' }, afterWork: true },
      4,
    );
    const id = await world.createDeployment({});
    const end = await world.github.waitFor(() => world!.github.statuses(id).find((s) => TERMINAL.includes(s.state)), 90_000);
    expect(end.state).toBe('success');
    // Everything queued has been sent (or found already sent) once the publisher stops with it.
    await bot.publisher.stop();
    const states = world.github.statuses(id).map((s) => s.state);
    expect(states.filter((s) => s === 'queued')).toHaveLength(1);
    expect(states.filter((s) => TERMINAL.includes(s))).toEqual(['success']);
    expect(world.github.problems).toEqual([]);
  }, 120_000);

  it('while the store is down a webhook gets 503 with Retry-After and no internal detail; once it is back the delivery is fetched again and runs once', async () => {
    cluster = await PgCluster.start();
    world = await startWorld({ deployYml: yml, databaseUrl: await cluster.createDatabase() });
    bot = await startBotIn(world, { catchUp: true });
    await cluster.stop({ mode: 'immediate' });

    // A signed deployment webhook, as GitHub would send it: the answer itself is what is checked.
    const body = JSON.stringify({
      action: 'created',
      deployment: {
        id: 990_001,
        sha: world.repo.headSha,
        ref: 'main',
        task: 'deploy',
        environment: 'staging',
        payload: {},
        creator: { login: 'octocat' },
      },
      repository: { full_name: 'acme/app' },
      installation: { id: world.repo.installationId },
    });
    const answer = await fetch(`${bot.url}/api/github/webhooks`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'deployment',
        'x-github-delivery': 'outage-1',
        'x-hub-signature-256': signatureOf(WEBHOOK_SECRET, body),
      },
      body,
    });
    const text = await answer.text();
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('30');
    expect(text).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|ECONNRESET|\d{4,5}|postgres/i);

    // A deployment created meanwhile: GitHub records its delivery as failed (503).
    const id = await world.createDeployment({});
    const refused = await world.github.waitFor(
      () => world!.github.deliveries.find((d) => d.event === 'deployment' && d.status === 503),
      60_000,
    );

    await cluster.start();
    const end = await world.github.waitFor(() => world!.github.statuses(id).find((s) => TERMINAL.includes(s.state)), 90_000);
    expect(end.state).toBe('success');
    expect(world.github.deliveries.some((d) => d.guid === refused.guid && d.redelivery)).toBe(true);
  }, 150_000);
});

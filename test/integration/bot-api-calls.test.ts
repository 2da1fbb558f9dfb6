// What one deployment costs in GitHub API calls, counted in the GitHub stand-in's request log: a
// 10-host deployment, the bot's first (so the app's slug and the installation token are fetched once, and
// counted). Calls: GET /app and the installation token (once per process), deploy.yml (the contents API
// reads the default branch itself: no GET of the repository), the deployment's statuses before admission
// and before the first host (once the store says its pickup reached GitHub), and the status writes (queued,
// in_progress, success, and a progress update only for each 5 s the hosts take).
import { afterEach, describe, expect, it } from 'vitest';
import type { Bot } from '../../bot/bot.ts';
import { PROGRESS_INTERVAL_MS } from '../../bot/engine/descriptions.ts';
import { deployYml, startBotIn, startWorld, type World } from '../support/bot-harness.ts';

describe('bot: GitHub API calls', { timeout: 180_000 }, () => {
  let world: World | undefined;
  let bot: Bot | undefined;
  afterEach(async () => {
    await bot?.stop();
    await world?.close();
  });

  it('one 10-host deployment costs at most 6 calls once the app and its token are known (plus one progress update per 5 s it runs), and none reads the repository', async () => {
    const hosts = Array.from({ length: 10 }, (_, i) => `web-${i + 1}`).join(', ');
    world = await startWorld({
      deployYml: deployYml(`  staging:\n    deployer: local\n    hosts: [${hosts}]\n    concurrency: 5\n    deploy: 'true'\n`),
    });
    bot = await startBotIn(world);
    const before = world.github.requests.length;
    const id = await world.createDeployment({});
    await world.github.waitFor(() => world!.github.statuses(id).find((s) => s.state === 'success'), 120_000);
    await bot.worker.idle();
    await bot.publisher.stop();
    const requests = world.github.requests.slice(before).filter((r) => !(r.method === 'POST' && r.path === '/repos/acme/app/deployments'));
    const calls = requests.map((r) => `${r.method} ${r.path.split('?')[0]!.replace(/\/\d+(?=\/|$)/g, '/{id}')}`);
    const once = calls.filter((c) => c === 'GET /app' || c.startsWith('POST /app/installations/'));
    expect(once, calls.join('\n')).toEqual(['GET /app', 'POST /app/installations/{id}/access_tokens']);
    // Progress updates depend on how long the hosts take on this machine: at most one per interval, each
    // an in_progress status after the first (which says the rollout started).
    const inProgress = requests.filter((r) => r.path.endsWith('/statuses') && (r.body as { state?: string })?.state === 'in_progress');
    const progressUpdates = inProgress.slice(1);
    // The rollout lies between the deployment's creation and its terminal status write.
    const created = world.github.requests.slice(before).find((r) => r.method === 'POST' && r.path === '/repos/acme/app/deployments')!;
    const terminal = requests.filter((r) => (r.body as { state?: string })?.state === 'success').at(-1)!;
    const rolloutMs = terminal.at - created.at;
    expect(progressUpdates.length, calls.join('\n')).toBeLessThanOrEqual(Math.floor(rolloutMs / PROGRESS_INTERVAL_MS));
    expect(calls.length - once.length - progressUpdates.length, calls.join('\n')).toBeLessThanOrEqual(6);
    expect(calls).not.toContain('GET /repos/acme/app');
  });
});

// Rule 6: GitHub never redelivers a failed webhook by itself. A deploy requested while the bot was down
// is found in the app's delivery log at the next start and redelivered, so it is not lost.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bot } from '../../bot/bot.ts';
import { freePort } from '../support/ports.ts';
import { pollUntil } from '../support/poll.ts';
import { deployYml, startBotIn, USER_TOKEN, type World, startWorld } from '../support/bot-harness.ts';

// Bounds for a bot's whole conversation on a loaded machine (bot start, GitHub's stand-in, deploys):
// far beyond what it takes; what is checked is what happens, not how fast.
describe('rule 6 (terminal): missed webhook deliveries', { timeout: 180_000 }, () => {
  let world: World;
  let bot: Bot | undefined;
  afterEach(async () => {
    await bot?.stop();
    bot = undefined;
    await world?.close();
  });

  it('a deployment requested while the bot was down is redelivered at its start and deployed once', async () => {
    world = await startWorld({ deployYml: deployYml(`  staging:\n    deployer: local\n    deploy: 'echo run >> deployed.runs'\n`) });
    const port = await freePort();
    world.github.setWebhookUrl(`http://127.0.0.1:${port}/api/github/webhooks`); // nothing listens yet
    const id = await world.createDeployment({});
    const failed = await world.github.waitFor(() => world.github.deliveries.find((d) => d.event === 'deployment' && d.status === 0));

    bot = await startBotIn(world, { catchUp: true, env: { PORT: String(port) } });
    const end = await world.github.waitFor(() => world.github.statuses(id).find((s) => s.state === 'success'), 60_000);
    expect(end.description).toBe('deployed to 1/1 hosts');
    const redelivery = world.github.deliveries.find((d) => d.guid === failed.guid && d.redelivery);
    expect(redelivery?.status).toBeGreaterThanOrEqual(200);
    expect(redelivery?.status).toBeLessThan(300);
    expect(existsSync(join(world.dir, 'deployed.runs'))).toBe(true);
    expect(world.github.problems).toEqual([]);
  });

  it('a deployment the Action already gave up on (status error) is recorded but not run', async () => {
    world = await startWorld({ deployYml: deployYml(`  staging:\n    deployer: local\n    deploy: 'echo run >> deployed.runs'\n`) });
    const port = await freePort();
    world.github.setWebhookUrl(`http://127.0.0.1:${port}/api/github/webhooks`);
    const id = await world.createDeployment({});
    await world.github.waitFor(() => world.github.deliveries.find((d) => d.event === 'deployment' && d.status === 0));
    const abandon = await fetch(`${world.github.apiUrl}/repos/acme/app/deployments/${id}/statuses`, {
      method: 'POST',
      headers: { authorization: `token ${USER_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ state: 'error', description: 'no shipguard bot picked this deployment up' }),
    });
    expect(abandon.status).toBe(201);

    bot = await startBotIn(world, { catchUp: true, env: { PORT: String(port) } });
    const record = await pollUntil(async () => {
      const current = await bot!.store.deployment(id);
      return current && current.state !== 'received' ? current : null;
    }, `deployment ${id} to be admitted`);
    expect(record.state).toBe('refused');
    expect(record.description).toBe('already error on GitHub');
    expect(world.github.statuses(id).map((s) => s.state)).toEqual(['error']);
    expect(existsSync(join(world.dir, 'deployed.runs'))).toBe(false);
  });
});

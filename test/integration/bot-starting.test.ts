// A bot that is starting answers nothing but `503` with `Retry-After`, at once: a webhook is never held
// while the store opens. The bot's store open is held by the test until it has seen those answers; the
// webhook is a real one, signed and sent by the GitHub stand-in, and the bot takes it once its catch-up
// asks GitHub to send it again.
import { get } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bot } from '../../bot/bot.ts';
import { startBot } from '../../bot/bot.ts';
import { openStore } from '../../bot/store/open-store.ts';
import { deployYml, startWorld, type World } from '../support/bot-harness.ts';
import { freePort } from '../support/ports.ts';

describe('bot: while starting', { timeout: 180_000 }, () => {
  let world: World | undefined;
  let bot: Bot | undefined;
  afterEach(async () => {
    await bot?.stop();
    await world?.close();
  });

  it('answers a webhook 503 with Retry-After at once while its store opens; once open, the catch-up takes it', async () => {
    world = await startWorld({ deployYml: deployYml('  staging:\n    deployer: local\n    deploy: "true"\n') });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    world.github.setWebhookUrl(`${url}/api/github/webhooks`);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const starting = startBot({
      env: { ...world.env, PORT: String(port) },
      openStore: async (options) => {
        await released;
        return openStore(options);
      },
    });

    const health = await poll(() => healthz(port));
    expect(health.status).toBe(503);
    expect(health.retryAfter).toBe('1');

    // A deployment requested now: its webhook is answered 503 with Retry-After, while the store is not open.
    const id = await world.createDeployment({});
    const refused = await poll(async () => world!.github.deliveries.find((d) => d.event === 'deployment' && d.status !== null));
    expect(refused.status, refused.statusText).toBe(503);

    // Once the store is open, the bot's catch-up asks GitHub to redeliver it, and the deploy runs once.
    release();
    bot = await starting;
    expect((await healthz(port))?.status).toBe(200);
    const end = await world.github.waitFor(() => world!.github.statuses(id).find((s) => s.state === 'success'), 120_000);
    expect(end.description).toBe('deployed to 1/1 hosts');
    expect(world.github.deliveries.filter((d) => d.guid === refused.guid).map((d) => d.status)).toEqual([503, 200]);
  });
});

/** One request on a connection of its own (closed after it): nothing pooled is left for the stand-in's deliveries to reuse. */
function healthz(port: number): Promise<{ status: number; retryAfter: string | undefined } | null> {
  return new Promise((resolve) => {
    get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (response) => {
      response.resume();
      resolve({ status: response.statusCode!, retryAfter: response.headers['retry-after'] });
    }).on('error', () => resolve(null));
  });
}

async function poll<T>(probe: () => Promise<T | null | undefined>): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('safety deadline passed');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

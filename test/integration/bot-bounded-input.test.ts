// Bounded input, with a real bot and signed webhooks from the GitHub stand-in: a webhook body past 1 MB is
// refused with 413 before it is verified, parsed or stored (declared or chunked); a deploy.yml past 64 KB or
// 32 levels of nesting ends the deployment `error` with what is wrong, before it is parsed.
import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bot } from '../../bot/bot.ts';
import { MAX_WEBHOOK_BYTES } from '../../bot/web/bounded-body.ts';
import { deployYml, startBotIn, startWorld, WEBHOOK_SECRET, type World } from '../support/bot-harness.ts';
import { webhookExample } from '../support/github-standin/shapes.ts';

/** What the Action writes: the deployment is shipguard's even when deploy.yml cannot say so. */
const ACTION_PAYLOAD = { idempotency_key: '1/1/deploy/staging' };
const yml = deployYml('  staging:\n    deployer: local\n    hosts: [web-1]\n    deploy: touch "$DEPLOY_HOST.ran"\n');

describe('bot: bounded input', { timeout: 180_000 }, () => {
  let world: World;
  let bot: Bot | undefined;
  afterEach(async () => {
    await bot?.stop();
    bot = undefined;
    await world?.close();
  });

  const terminal = (id: number) =>
    world.github.waitFor(
      () => world.github.statuses(id).find((s) => ['success', 'failure', 'error', 'inactive'].includes(s.state)),
      60_000,
    );

  /** A documented deployment webhook whose deployment payload is padded to `bytes`. */
  function paddedDeploymentWebhook(bytes: number) {
    const example = webhookExample('deployment', 'created') as { deployment: { payload: unknown } };
    example.deployment.payload = { padding: 'x'.repeat(bytes) };
    return example;
  }

  it('a signed 5 MB deployment webhook is refused with 413 and nothing is recorded', async () => {
    world = await startWorld({ deployYml: yml });
    bot = await startBotIn(world);
    const answer = await world.github.deliver('deployment', paddedDeploymentWebhook(5 * 1024 * 1024), { guid: 'big-1' });
    expect(answer.status).toBe(413);
    expect(await bot.store.hasDelivery('big-1')).toBe(false);
    expect(await bot.store.deployments({})).toEqual([]);
    // The same bot takes a deployment whose payload is large but within the limit.
    const id = await world.createDeployment({ payload: { notes: 'y'.repeat(200 * 1024) } });
    expect((await terminal(id)).state).toBe('success');
    expect((await bot.store.deployment(id))!.payload.notes).toHaveLength(200 * 1024);
  });

  it('a chunked body (no length declared) is refused with 413 once it passes the limit', async () => {
    world = await startWorld({ deployYml: yml });
    bot = await startBotIn(world);
    const body = JSON.stringify(paddedDeploymentWebhook(MAX_WEBHOOK_BYTES + 1));
    const signature = `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}`;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${bot!.url}/api/github/webhooks`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'deployment',
          'x-github-delivery': 'chunked-1',
          'x-hub-signature-256': signature,
        },
      });
      req.on('response', (response) => {
        response.resume();
        resolve(response.statusCode!);
      });
      req.on('error', reject);
      // 64 KB at a time, no Content-Length: the bot counts as it reads.
      for (let at = 0; at < body.length; at += 65_536) req.write(body.slice(at, at + 65_536));
      req.end();
    });
    expect(status).toBe(413);
    expect(await bot.store.hasDelivery('chunked-1')).toBe(false);
    expect(await bot.store.deployments({})).toEqual([]);
  });

  it('a deploy.yml of 50,000 nested brackets ends the deployment error, refused before parsing; nothing runs', async () => {
    world = await startWorld({ deployYml: `environments: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n` });
    bot = await startBotIn(world);
    const id = await world.createDeployment({ payload: ACTION_PAYLOAD });
    expect(await terminal(id)).toMatchObject({
      state: 'error',
      description: '.github/deploy.yml: (top level): 98 KB, more than the 64 KB accepted; refused before parsing',
    });
  });

  it('a small deploy.yml nested 40 levels deep ends the deployment error, naming the line', async () => {
    const deep = `${yml}    notes: ${'['.repeat(40)}${']'.repeat(40)}\n`;
    world = await startWorld({ deployYml: deep });
    bot = await startBotIn(world);
    const id = await world.createDeployment({ payload: ACTION_PAYLOAD });
    expect(await terminal(id)).toMatchObject({
      state: 'error',
      description: '.github/deploy.yml: (top level): nested more than 32 levels deep; refused before parsing',
    });
  });
});

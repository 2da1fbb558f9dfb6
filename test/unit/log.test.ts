// bot/log.ts: what holds for every line the bot writes, whoever logs it.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLog } from '../../bot/log.ts';

function capture(secrets: string[]) {
  const written: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      written.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return {
    log: createLog({ secrets, destination }),
    lines: () => written.map((l) => JSON.parse(l) as Record<string, unknown>),
    raw: written,
  };
}

const KEY = '-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n';

describe('the bot’s log', () => {
  it('never writes a secret (as is, or escaped inside JSON) or a log link’s signature', () => {
    const { log, raw } = capture(['webhook-secret-value', KEY]);
    const requestError = Object.assign(new Error('Validation Failed'), {
      request: { body: JSON.stringify({ log_url: 'https://bot.example/deployments/7?sig=0a1b2c3d', note: 'webhook-secret-value' }) },
    });
    log.error({ err: requestError, key: KEY }, 'GitHub refused a deployment status');
    log.info('see https://bot.example/deployments/7?sig=0a1b2c3d&x=1');
    const text = raw.join('\n');
    expect(text).not.toContain('webhook-secret-value');
    expect(text).not.toContain('MIIEow');
    expect(text).not.toMatch(/sig=[0-9a-f]/);
    expect(text).toContain('sig=[redacted]');
  });

  it('writes one name per line: the innermost logger’s', () => {
    const { log, raw, lines } = capture([]);
    log.child({ name: 'probot' }).child({ name: 'github' }).info('hello');
    expect(raw[0]!.match(/"name":/g)).toHaveLength(1);
    expect(lines()[0]).toMatchObject({ name: 'github', msg: 'hello' });
  });

  it('a bad webhook signature is one warn line without a stack, however often Probot reports it', () => {
    const { log, lines } = capture([]);
    const error = Object.assign(new Error('[@octokit/webhooks] signature does not match event payload and secret'), {
      event: { id: 'delivery-1', name: 'deployment' },
    });
    log.error(error, 'Go to https://github.com/settings/apps/YOUR_APP and verify the secret');
    log.error(new AggregateError([error], error.message));
    expect(lines()).toEqual([
      expect.objectContaining({ level: 40, delivery: 'delivery-1', event: 'deployment', msg: expect.stringContaining('WEBHOOK_SECRET') }),
    ]);
    expect(JSON.stringify(lines())).not.toContain('stack');
  });

  it('other errors keep their stack, once', () => {
    const { log, lines } = capture([]);
    const error = new Error('boom');
    log.error(error);
    log.error(new AggregateError([error], 'boom'));
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatchObject({ level: 50, err: expect.objectContaining({ stack: expect.stringContaining('boom') }) });
  });
});

// Every row of the answer table in docs/http-deployer-protocol.md, against a real HTTP server on loopback whose answers
// each test scripts. In every case: one POST at most, ever.
import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpDeployer } from '../../bot/deployers/http/http-deployer.ts';
import { freePort } from '../support/ports.ts';
import {
  deployJob,
  httpDefinition,
  recordEvents,
  scriptedServer,
  sendJson,
  type ScriptedServer,
  type SeenRequest,
} from '../support/http-deploy-fixtures.ts';

const KEY = 'acme/app#1042';
const STATUS_PATH = '/status/acme%2Fapp%231042';
const FAST = { poll_interval: '20ms', max_poll_interval: '100ms' };
// Timeouts for tests that wait one out: short, yet many times what a loopback connect or an answer from
// a server in this process takes on a loaded machine, so that only the silence a test arranges hits them.
const SHORT = { connect: '1s', response: '2s' };

const servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(answer: (request: SeenRequest, res: http.ServerResponse, req: http.IncomingMessage) => void, port?: number) {
  const server = await scriptedServer(answer, port);
  servers.push(server);
  return server;
}

/** A service whose POST is answered by `onPost` and whose status URL answers `statuses` in turn (the last one repeats). */
async function service(
  onPost: (res: http.ServerResponse, req: http.IncomingMessage) => void,
  statuses: Array<(res: http.ServerResponse, req: http.IncomingMessage) => void> = [],
) {
  let polls = 0;
  return serve((request, res, req) => {
    if (request.method === 'POST') return onPost(res, req);
    const next = statuses[Math.min(polls++, statuses.length - 1)];
    if (next) next(res, req);
    else sendJson(res, 404, { error: 'no status endpoint' });
  });
}

const succeeded = (res: http.ServerResponse) =>
  sendJson(res, 200, { state: 'success', description: 'deployed 12 VMs', log_url: 'https://deployer.example/logs/7' });
const running = (res: http.ServerResponse) =>
  sendJson(res, 200, { state: 'running', description: 'deploying 3/12 VMs', log_url: 'https://deployer.example/logs/7' });

function deployer(server: ScriptedServer, fields: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}) {
  return new HttpDeployer(httpDefinition({ url: `${server.url}/deploy`, ...FAST, ...fields }, env));
}

function withStatus(server: ScriptedServer) {
  return { status_url: `${server.url}/status/{key}` };
}

describe('the POST', () => {
  it('sends the idempotency key, the bearer token and the contract body once', async () => {
    const server = await service(succeeded);
    const recorded = recordEvents();
    const result = await deployer(server, { token_env: 'LEGACY_TOKEN' }, { LEGACY_TOKEN: 's3cr3t-token' }).deploy(
      deployJob(),
      recorded.events,
    );

    expect(result).toEqual({ state: 'succeeded', description: 'deployed 12 VMs', logUrl: 'https://deployer.example/logs/7' });
    expect(server.requests).toHaveLength(1);
    const [post] = server.posts();
    expect(post!.path).toBe('/deploy');
    expect(post!.headers['idempotency-key']).toBe(KEY);
    expect(post!.headers.authorization).toBe('Bearer s3cr3t-token');
    expect(post!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(post!.body)).toEqual({
      id: 1042,
      idempotency_key: KEY,
      repository: 'acme/app',
      environment: 'production',
      sha: 'a'.repeat(40),
      ref: 'main',
      task: 'deploy',
      payload: { force: false, requested_by: 'octocat' },
    });
    // The service deploys by itself: progress only, no hosts for the engine to count.
    expect(recorded.hosts).toEqual([]);
    expect(recorded.progress).toContainEqual({ description: 'calling deployer legacy' });
  });
});

describe('the deadline', () => {
  it('a deployment whose total already ran out is not posted', async () => {
    const server = await service(succeeded);
    const result = await deployer(server).deploy(deployJob({ deadline: Date.now() - 1 }), recordEvents().events);
    expect(result).toEqual({
      state: 'failed',
      description: "not deployed: the deployment's total time ran out before deployer legacy was called",
    });
    expect(server.requests).toHaveLength(0);
  });
});

describe('connection refused, nothing sent: retried within total', () => {
  it('posts once the service listens, and the deploy runs once', async () => {
    const port = await freePort();
    const recorded = recordEvents();
    const definition = httpDefinition({ url: `http://127.0.0.1:${port}/deploy`, ...FAST });
    const deploying = new HttpDeployer(definition).deploy(deployJob(), recorded.events);
    // Let the deployer be refused a few times before the service comes up.
    await expect
      .poll(() => recorded.progress.filter((p) => p.description.includes('connection refused')).length, { timeout: 30_000 })
      .toBeGreaterThanOrEqual(2);
    const late = await serve((request, res) => (request.method === 'POST' ? succeeded(res) : sendJson(res, 404, {})), port);
    const result = await deploying;

    expect(result.state).toBe('succeeded');
    expect(late.posts()).toHaveLength(1);
    expect(late.requests).toHaveLength(1);
  });

  it('ends failed, nothing sent, when the service never listens before total', async () => {
    const port = await freePort();
    const definition = httpDefinition({ url: `http://127.0.0.1:${port}/deploy`, ...FAST, timeouts: { ...SHORT, total: '3s' } });
    const result = await new HttpDeployer(definition).deploy(deployJob(), recordEvents().events);

    expect(result.state).toBe('failed');
    expect(result.description).toMatch(
      /^not deployed: deployer legacy unreachable until the end of total \(3s\): connection refused; nothing was sent$/,
    );
  });
});

describe('2xx with a terminal state: finish with it', () => {
  it('reports failure from the service as failed, with its description', async () => {
    const server = await service((res) => sendJson(res, 200, { state: 'failure', description: 'healthcheck failed on vm-3' }));
    const result = await deployer(server).deploy(deployJob(), recordEvents().events);
    expect(result).toEqual({ state: 'failed', description: 'healthcheck failed on vm-3' });
    expect(server.posts()).toHaveLength(1);
  });

  it('follows a 2xx that says running through the status URL', async () => {
    const server = await service(running, [running, succeeded]);
    const result = await deployer(server, withStatus(server)).deploy(deployJob(), recordEvents().events);
    expect(result.state).toBe('succeeded');
    expect(server.posts()).toHaveLength(1);
    expect(server.gets().length).toBeGreaterThanOrEqual(2);
  });
});

describe('202 or 409: running or already known, poll the status URL', () => {
  it('202 with a Location: polls it, shows the log_url while running, finishes with the terminal answer', async () => {
    const server = await service((res) => sendJson(res, 202, { state: 'queued' }, { location: '/jobs/77' }), [running, running, succeeded]);
    const recorded = recordEvents();
    const result = await deployer(server, withStatus(server)).deploy(deployJob(), recorded.events);

    expect(result.state).toBe('succeeded');
    expect(server.posts()).toHaveLength(1);
    expect(server.gets().map((r) => r.path)).toEqual(['/jobs/77', '/jobs/77', '/jobs/77']);
    expect(server.gets().every((r) => r.headers['idempotency-key'] === KEY)).toBe(true);
    expect(recorded.progress).toContainEqual({ description: 'deploying 3/12 VMs', logUrl: 'https://deployer.example/logs/7' });
  });

  it('202 without a Location: polls status_url with {id} and {key} URL-encoded', async () => {
    const server = await service((res) => sendJson(res, 202, ''), [succeeded]);
    const result = await deployer(server, { status_url: `${server.url}/status/{id}/{key}` }).deploy(deployJob(), recordEvents().events);
    expect(result.state).toBe('succeeded');
    expect(server.gets().map((r) => r.path)).toEqual([`/status/1042/acme%2Fapp%231042`]);
  });

  it('202 with neither a Location nor a status_url: error, not retried', async () => {
    const server = await service((res) => sendJson(res, 202, ''));
    const result = await deployer(server).deploy(deployJob(), recordEvents().events);
    expect(result.state).toBe('error');
    expect(result.description).toBe(
      'outcome unknown: deployer legacy accepted the deploy (HTTP 202) without a Location, and no status_url is defined; not retried',
    );
    expect(server.requests).toHaveLength(1);
  });

  it('409: follows the deploy the service already runs for this key', async () => {
    const server = await service((res) => sendJson(res, 409, { error: 'running' }), [running, succeeded]);
    const result = await deployer(server, withStatus(server)).deploy(deployJob(), recordEvents().events);
    expect(result.state).toBe('succeeded');
    expect(server.posts()).toHaveLength(1);
    expect(server.gets()[0]!.path).toBe(STATUS_PATH);
  });

  it('a Location on another origin is polled without the bearer token', async () => {
    const other = await service(() => {}, [succeeded]);
    const server = await service((res) => sendJson(res, 202, '', { location: `${other.url}/elsewhere` }));
    const result = await deployer(server, {}, {}).deploy(deployJob(), recordEvents().events);
    expect(result.state).toBe('succeeded');
    expect(other.gets()).toHaveLength(1);
    expect(other.gets()[0]!.headers.authorization).toBeUndefined();

    const withToken = await service((res) => sendJson(res, 202, '', { location: `${other.url}/elsewhere` }));
    await deployer(withToken, { token_env: 'T' }, { T: 'token-value' }).deploy(deployJob(), recordEvents().events);
    expect(withToken.posts()[0]!.headers.authorization).toBe('Bearer token-value');
    expect(other.gets()[1]!.headers.authorization).toBeUndefined();
  });
});

describe('other 4xx: rejected, nothing ran', () => {
  it.each([400, 401, 403, 404, 422, 429])('%i is a failure, not retried, with the reason the service gave', async (status) => {
    const server = await service((res) => sendJson(res, status, { error: 'sha not built yet' }), [succeeded]);
    const result = await deployer(server, withStatus(server)).deploy(deployJob(), recordEvents().events);
    expect(result).toEqual({
      state: 'failed',
      description: `deployer legacy rejected the deploy: HTTP ${status}: sha not built yet; not retried`,
    });
    expect(server.requests).toHaveLength(1);
  });
});

// Each way the answer can go missing after the request was sent.
const unknownAnswers: Array<[string, (res: http.ServerResponse, req: http.IncomingMessage) => void, RegExp]> = [
  ['a timeout', () => {}, /no complete answer within 2s after the request was sent/],
  ['a reset', (_res, req) => req.socket.resetAndDestroy(), /connection reset after the request was sent/],
  ['a close without an answer', (_res, req) => req.socket.destroy(), /connection closed with no answer after the request was sent/],
  ['a 502', (res) => sendJson(res, 502, '<html><body>Bad Gateway</body></html>'), /HTTP 502 from deployer legacy or a proxy/],
  ['a 503', (res) => sendJson(res, 503, ''), /HTTP 503 from deployer legacy/],
  ['a 504', (res) => sendJson(res, 504, ''), /HTTP 504 from deployer legacy/],
  ['a 500', (res) => sendJson(res, 500, '{"state":"failure"}'), /HTTP 500 from deployer legacy/],
  ['a redirect', (res) => sendJson(res, 307, '', { location: '/elsewhere' }), /HTTP 307 from deployer legacy/],
  ['a 200 that is not JSON', (res) => sendJson(res, 200, '<html>OK</html>'), /HTTP 200 with a body that is not JSON/],
  ['an empty 200', (res) => sendJson(res, 200, ''), /HTTP 200 with an empty body/],
  ['a 200 of the wrong shape', (res) => sendJson(res, 200, { status: 'ok' }), /HTTP 200 with a body whose state is null, not one of/],
  ['a 200 with an unknown state', (res) => sendJson(res, 200, { state: 'done' }), /HTTP 200 with a body whose state is "done"/],
  [
    'a 200 whose body was cut',
    (res, req) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"state":"succ');
      setTimeout(() => req.socket.destroy(), 20);
    },
    /HTTP 200 then .* after 14 bytes of the body after the request was sent/,
  ],
];

describe('timeout, reset, 5xx, unparsable body after the request was sent: unknown', () => {
  it.each(unknownAnswers)('%s with no status_url: error, not retried, one POST', async (_name, answer, reason) => {
    const server = await service(answer);
    const result = await deployer(server, { timeouts: { ...SHORT, total: '30s' } }).deploy(deployJob(), recordEvents().events);
    expect(result.state).toBe('error');
    expect(result.description).toMatch(/^outcome unknown: /);
    expect(result.description).toMatch(/; not retried$/);
    expect(result.description).toMatch(reason);
    expect(server.requests).toHaveLength(1);
  });

  it.each(unknownAnswers)('%s with a status_url: polls it (same key) and reports what it says, one POST', async (_name, answer) => {
    const server = await service(answer, [running, succeeded]);
    const result = await deployer(server, { ...withStatus(server), timeouts: { ...SHORT, total: '30s' } }).deploy(
      deployJob(),
      recordEvents().events,
    );
    expect(result.state).toBe('succeeded');
    expect(server.posts()).toHaveLength(1);
    expect(server.gets().map((r) => [r.path, r.headers['idempotency-key']])).toEqual([
      [STATUS_PATH, KEY],
      [STATUS_PATH, KEY],
    ]);
  });
});

describe('the status URL', () => {
  it('404: the deployer has no record of this deploy; error, not retried', async () => {
    const server = await service((res) => sendJson(res, 504, ''), [(res) => sendJson(res, 404, {})]);
    const result = await deployer(server, withStatus(server)).deploy(deployJob(), recordEvents().events);
    expect(result).toEqual({ state: 'error', description: 'deployer has no record of this deploy; not retried' });
    expect(server.posts()).toHaveLength(1);
  });

  it('poll failures (5xx, reset, timeout, unparsable) are retried with backoff; never a second POST', async () => {
    const server = await service(
      (res) => sendJson(res, 504, ''),
      [
        (res) => sendJson(res, 503, ''),
        (_res, req) => req.socket.resetAndDestroy(),
        () => {},
        (res) => sendJson(res, 200, 'not json'),
        (res) => sendJson(res, 429, ''),
        running,
        succeeded,
      ],
    );
    const result = await deployer(server, { ...withStatus(server), timeouts: { ...SHORT, total: '30s' } }).deploy(
      deployJob(),
      recordEvents().events,
    );
    expect(result.state).toBe('succeeded');
    expect(server.posts()).toHaveLength(1);
    expect(server.gets()).toHaveLength(7);
  });

  it('a status URL that keeps saying running ends error at total, not retried', async () => {
    const server = await service((res) => sendJson(res, 504, ''), [running]);
    const result = await deployer(server, { ...withStatus(server), timeouts: { ...SHORT, total: '3s' } }).deploy(
      deployJob(),
      recordEvents().events,
    );
    expect(result.state).toBe('error');
    // The last poll either heard "running" or was itself cut by `total`: both are the truth.
    expect(result.description).toMatch(
      /^outcome unknown: HTTP 504 from deployer legacy or a proxy in front of it; (deployer still running|status check: .+) at the end of total \(3s\); not retried$/,
    );
    expect(server.posts()).toHaveLength(1);
  });

  it('a status URL that refuses us (403) ends error at once, not retried', async () => {
    const server = await service((res) => sendJson(res, 504, ''), [(res) => sendJson(res, 403, { error: 'bad token' })]);
    const result = await deployer(server, withStatus(server)).deploy(deployJob(), recordEvents().events);
    expect(result.state).toBe('error');
    expect(result.description).toMatch(/status URL answered HTTP 403: bad token; not retried$/);
    expect(server.requests).toHaveLength(2);
  });
});

describe('what the deployer passes on', () => {
  it('redacts the bearer token and the job secrets from every description', async () => {
    const server = await service(
      (res) => sendJson(res, 202, { state: 'running', description: 'using token tok-123456 and key SECRET-KEY-1' }),
      [(res) => sendJson(res, 200, { state: 'failure', description: 'failed with tok-123456' })],
    );
    const recorded = recordEvents();
    const result = await deployer(server, { ...withStatus(server), token_env: 'T' }, { T: 'tok-123456' }).deploy(
      deployJob({ secrets: ['SECRET-KEY-1'] }),
      recorded.events,
    );
    expect(result.description).toBe('failed with [redacted]');
    const everything = JSON.stringify([result, recorded.progress, recorded.hosts]);
    expect(everything).not.toContain('tok-123456');
    expect(everything).not.toContain('SECRET-KEY-1');
    expect(recorded.progress).toContainEqual({ description: 'using token [redacted] and key [redacted]' });
  });

  it('keeps descriptions within 140 characters and keeps their end', async () => {
    const server = await service((res) =>
      sendJson(res, 200, { state: 'failure', description: `vm-1 failed: ${'x'.repeat(300)} (the end)` }),
    );
    const result = await deployer(server).deploy(deployJob(), recordEvents().events);
    expect(result.description).toHaveLength(140);
    expect(result.description).toMatch(/^vm-1 failed: x+…x+ \(the end\)$/);
  });

  it('after a takeover (resumed) follows the deploy through the status URL and never posts again', async () => {
    const server = await service(succeeded, [running, succeeded]);
    const result = await deployer(server, withStatus(server)).deploy(deployJob({ resumed: true }), recordEvents().events);
    expect(result.state).toBe('succeeded');
    expect(server.posts()).toHaveLength(0);
    expect(server.gets()).toHaveLength(2);
  });

  it('after a takeover with no status_url: error, outcome unknown, not retried, no POST', async () => {
    const server = await service(succeeded);
    const result = await deployer(server).deploy(deployJob({ resumed: true }), recordEvents().events);
    expect(result).toEqual({
      state: 'error',
      description: 'outcome unknown: the bot following this deploy stopped before its end; not retried',
    });
    expect(server.requests).toHaveLength(0);
  });

  it('a cancel does not stop following a deploy the service already runs', async () => {
    const server = await service((res) => sendJson(res, 202, ''), [running, running, succeeded]);
    const cancel = new AbortController();
    cancel.abort();
    const result = await deployer(server, withStatus(server)).deploy(deployJob({ cancel: cancel.signal }), recordEvents().events);
    expect(result.state).toBe('succeeded');
    expect(server.gets()).toHaveLength(3);
  });
});

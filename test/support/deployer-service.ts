// A deployer service as teams have them, run as its own process for the incident tests: `POST /deploy`
// runs a deploy that takes `deployMs` and, in `sync` mode, answers only when it is done (slower than a
// proxy's timeout if you like); a worker timeout gives up the connection while the deploy goes on, as
// application servers do. `GET /deploy/<key>` is its status endpoint. It records every execution per
// idempotency key and every request, which is what the tests assert on (`/_test/*`).
//
// Run directly: `node test/support/deployer-service.ts '<options as JSON>'` prints `listening <port>`.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

export interface DeployerServiceOptions {
  /** 0 (default): any free port. */
  port?: number;
  /** How long one deploy runs. */
  deployMs: number;
  deployOutcome?: 'success' | 'failure';
  /** `sync`: the POST is answered when the deploy ends; `async`: 202 with a Location at once. */
  mode?: 'sync' | 'async';
  /** sync mode: after this long a worker closes the POST's connection unanswered; the deploy goes on. */
  workerTimeoutMs?: number;
  /** sync mode: `partial-body` sends the headers and half a JSON body at once, the rest at the end;
   * `close-at-once` closes the connection right after starting the deploy (a crashing worker). */
  answer?: 'complete' | 'partial-body' | 'close-at-once';
  /** A POST for a key already seen: run it again (the naive service of the incident) or answer 409
   * while it runs and the recorded result once it is done (an idempotent service). */
  onKnownKey?: 'execute-again' | 'conflict';
  /** The first `slowStatusCount` status answers each take `slowStatusMs` more. */
  slowStatusMs?: number;
  slowStatusCount?: number;
}

export interface Execution {
  key: string;
  state: 'running' | 'success' | 'failure';
  startedAt: number;
  finishedAt: number | null;
}

export interface RecordedRequest {
  method: string;
  path: string;
  idempotencyKey: string | null;
  authorization: string | null;
  body: string;
}

export interface DeployerService {
  port: number;
  url: string;
  executions(): Promise<Execution[]>;
  requests(): Promise<RecordedRequest[]>;
  /** Starts an execution for `key` as if an earlier POST had (the 409 variant). */
  startExecution(key: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the service as a child process; resolves once it listens. */
export async function startDeployerService(options: DeployerServiceOptions): Promise<DeployerService> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await new Promise<number>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      const match = /listening (\d+)/.exec(stdout);
      if (match) resolve(Number(match[1]));
    });
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.once('exit', (code) => reject(new Error(`deployer service exited (${code}) before listening: ${stderr}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  const getJson = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`);
    return (await response.json()) as T;
  };
  return {
    port,
    url,
    executions: () => getJson<Execution[]>('/_test/executions'),
    requests: () => getJson<RecordedRequest[]>('/_test/requests'),
    startExecution: async (key) => {
      await fetch(`${url}/_test/start?key=${encodeURIComponent(key)}`, { method: 'POST' });
    },
    stop: () => stopChild(child),
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** The service itself: in this process (the child's entry point below). */
export function createDeployerServer(options: DeployerServiceOptions): http.Server {
  const executions: Execution[] = [];
  const requests: RecordedRequest[] = [];
  const waiting = new Map<Execution, Array<() => void>>();
  let statusAnswers = 0;

  const start = (key: string): Execution => {
    const execution: Execution = { key, state: 'running', startedAt: Date.now(), finishedAt: null };
    executions.push(execution);
    waiting.set(execution, []);
    setTimeout(() => {
      execution.state = options.deployOutcome ?? 'success';
      execution.finishedAt = Date.now();
      for (const done of waiting.get(execution)!) done();
      waiting.delete(execution);
    }, options.deployMs);
    return execution;
  };
  const whenDone = (execution: Execution, done: () => void) => {
    if (execution.state === 'running') waiting.get(execution)!.push(done);
    else done();
  };
  const stateBody = (execution: Execution) =>
    JSON.stringify({
      state: execution.state,
      description: execution.state === 'running' ? 'deploying' : `deploy ${execution.state === 'success' ? 'done' : 'failed'} (service)`,
      log_url: `http://deployer.test/logs/${encodeURIComponent(execution.key)}`,
    });
  const latest = (key: string) => executions.findLast((e) => e.key === key);
  const sendJson = (res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body);
  };

  const handleDeploy = (req: http.IncomingMessage, res: http.ServerResponse, key: string | null) => {
    if (!key) return sendJson(res, 400, JSON.stringify({ error: 'Idempotency-Key header required' }));
    const known = latest(key);
    if (known && options.onKnownKey === 'conflict') {
      if (known.state === 'running') return sendJson(res, 409, JSON.stringify({ error: 'a deploy with this key is running' }));
      return sendJson(res, 200, stateBody(known));
    }
    const execution = start(key);
    const location = `/deploy/${encodeURIComponent(key)}`;
    if (options.mode === 'async') return sendJson(res, 202, stateBody(execution), { location });
    if (options.answer === 'close-at-once') return req.socket.destroy();
    if (options.workerTimeoutMs !== undefined) {
      const worker = setTimeout(() => req.socket.destroy(), options.workerTimeoutMs);
      res.on('close', () => clearTimeout(worker));
    }
    if (options.answer === 'partial-body') {
      res.writeHead(200, { 'content-type': 'application/json' });
      const body = stateBody({ ...execution, state: options.deployOutcome ?? 'success' });
      const half = Math.floor(body.length / 2);
      res.write(body.slice(0, half));
      whenDone(execution, () => res.end(body.slice(half)));
      return;
    }
    whenDone(execution, () => sendJson(res, 200, stateBody(execution)));
  };

  const handleStatus = (res: http.ServerResponse, key: string) => {
    statusAnswers += 1;
    const delay = statusAnswers <= (options.slowStatusCount ?? 0) ? (options.slowStatusMs ?? 0) : 0;
    setTimeout(() => {
      const execution = latest(key);
      if (!execution) sendJson(res, 404, JSON.stringify({ error: 'no deploy with this key' }));
      else sendJson(res, 200, stateBody(execution));
    }, delay);
  };

  return http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (text: string) => (body += text));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://service');
      const key = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : null;
      if (url.pathname === '/_test/executions') return sendJson(res, 200, JSON.stringify(executions));
      if (url.pathname === '/_test/requests') return sendJson(res, 200, JSON.stringify(requests));
      if (url.pathname === '/_test/start') {
        start(url.searchParams.get('key') ?? '');
        return sendJson(res, 200, '{}');
      }
      requests.push({
        method: req.method ?? '',
        path: url.pathname,
        idempotencyKey: key,
        authorization: req.headers.authorization ?? null,
        body,
      });
      if (req.method === 'POST' && url.pathname === '/deploy') return handleDeploy(req, res, key);
      if (req.method === 'GET' && url.pathname.startsWith('/deploy/'))
        return handleStatus(res, decodeURIComponent(url.pathname.slice('/deploy/'.length)));
      sendJson(res, 404, JSON.stringify({ error: 'not found' }));
    });
  });
}

if (import.meta.main) {
  const options = JSON.parse(process.argv[2] ?? '{}') as DeployerServiceOptions;
  const server = createDeployerServer(options);
  // No server-side timeouts beyond the worker timeout above: the test decides who cuts what.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.keepAliveTimeout = 1000;
  server.listen(options.port ?? 0, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}

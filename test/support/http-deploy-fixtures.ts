// What the http deployer tests share: a deploy job as the engine hands it over, a definition parsed
// the way the bot parses SHIPGUARD_DEPLOYERS, an events recorder, and a scripted HTTP server on loopback.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DeployEvents, DeployJob } from '../../bot/deployers/deployer.ts';
import type { HostOutcome } from '../../bot/engine/outcomes.ts';
import { parseHttpDeployerDefinitions, type HttpDeployerDefinition } from '../../bot/deployers/http/definitions.ts';
import { parseDeployConfig } from '../../bot/engine/deploy-config.ts';

export const DEPLOYER_NAME = 'legacy';

export function deployJob(overrides: Partial<DeployJob> = {}): DeployJob {
  const config = parseDeployConfig(`environments:\n  production:\n    deployer: ${DEPLOYER_NAME}\n`).environments.production!;
  return {
    deploymentId: 1042,
    repository: 'acme/app',
    environment: 'production',
    sha: 'a'.repeat(40),
    ref: 'main',
    task: 'deploy',
    previousSha: null,
    noop: false,
    payload: { force: false, requested_by: 'octocat' },
    config,
    hosts: [],
    fleetRollback: null,
    cancelWithRollback: false,
    cancel: new AbortController().signal,
    drain: new AbortController().signal,
    halt: new AbortController().signal,
    resumed: false,
    deadline: Date.now() + 600_000,
    secrets: [],
    ...overrides,
  };
}

/** One definition, written as a user would write it in SHIPGUARD_DEPLOYERS (JSON here). */
export function httpDefinition(fields: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): HttpDeployerDefinition {
  const definitions = parseHttpDeployerDefinitions(JSON.stringify({ [DEPLOYER_NAME]: fields }), 'SHIPGUARD_DEPLOYERS', env);
  return definitions.get(DEPLOYER_NAME)!;
}

export interface RecordedEvents {
  events: DeployEvents;
  progress: Array<{ description: string; logUrl?: string }>;
  hosts: Array<{ host: string; event: 'started' | 'finished'; outcome?: HostOutcome; message?: string }>;
}

export function recordEvents(): RecordedEvents {
  const recorded: RecordedEvents = {
    progress: [],
    hosts: [],
    events: {
      hostStarted: (host) => recorded.hosts.push({ host, event: 'started' }),
      hostPhase: () => {},
      beginStep: async () => true,
      hostOutput: () => {},
      hostFinished: (host, outcome, message) => recorded.hosts.push({ host, event: 'finished', outcome, message }),
      progress: (description, logUrl) => recorded.progress.push(logUrl ? { description, logUrl } : { description }),
      wave: () => {},
      beginFleetRollback: async () => true,
    },
  };
  return recorded;
}

export interface SeenRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface ScriptedServer {
  url: string;
  port: number;
  requests: SeenRequest[];
  posts(): SeenRequest[];
  gets(): SeenRequest[];
  close(): Promise<void>;
}

/** A loopback HTTP server whose answers the test writes; it records every request it receives. */
export async function scriptedServer(
  answer: (request: SeenRequest, res: http.ServerResponse, req: http.IncomingMessage) => void,
  port = 0,
): Promise<ScriptedServer> {
  const requests: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (text: string) => (body += text));
    req.on('end', () => {
      const seen = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
      requests.push(seen);
      answer(seen, res, req);
    });
  });
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actualPort = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actualPort}`,
    port: actualPort,
    requests,
    posts: () => requests.filter((r) => r.method === 'POST'),
    gets: () => requests.filter((r) => r.method === 'GET'),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

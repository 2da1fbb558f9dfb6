// A small GitHub for the Action's tests: deployments, their statuses, commits and pull requests, with
// hooks that script what GitHub does (lose an answer, rate-limit, refuse). Every request is checked
// against GitHub's OpenAPI description and every 2xx deployment answer too; problems are collected in
// `problems` for the test to assert empty. It is served through nock (unit tests) or a real HTTP
// server (the test of the bundled dist/index.js).

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import { assertGitHubRequest, githubResponseProblems } from '../../support/openapi.ts';

export interface RecordedRequest {
  method: string;
  /** Path and query, as sent (a GHES `/api/v3` prefix included). */
  url: string;
  /** Path without the API prefix and query: `/repos/acme/app/deployments`. */
  path: string;
  query: URLSearchParams;
  body: unknown;
}

export type FakeAnswer =
  | { status: number; body?: unknown; headers?: Record<string, string> }
  /** The connection breaks before any answer arrives. */
  | { drop: true }
  /** No answer ever comes (until the client gives up). */
  | { hang: true };

export interface FakeStatus {
  id: number;
  state: string;
  description: string;
  log_url?: string;
  environment_url?: string;
}

export interface FakeDeployment {
  id: number;
  sha: string;
  ref: string;
  task: string;
  environment: string;
  description: string | null;
  payload: Record<string, unknown>;
  /** Oldest first (GitHub lists them newest first). */
  statuses: FakeStatus[];
}

/** What a create call does: the default creates and answers 201. */
export type CreateBehaviour = 'create' | 'create-then-drop' | 'create-then-502' | FakeAnswer;

export class FakeGitHub {
  readonly owner = 'acme';
  readonly repo = 'app';
  readonly requests: RecordedRequest[] = [];
  readonly problems: string[] = [];
  readonly deployments: FakeDeployment[] = [];
  /** ref → full SHA, for GET /repos/{owner}/{repo}/commits/{ref}. */
  readonly commits = new Map<string, string>();
  /** pull request number → head SHA. */
  readonly pullRequests = new Map<number, string>();
  /** Decides each create call in turn (1-based); unset: create. */
  onCreate: (call: number, body: Record<string, unknown>) => CreateBehaviour = () => 'create';
  /** Runs before each status listing (1-based count per deployment): add statuses, or answer instead. */
  onStatusPoll: (deployment: FakeDeployment, poll: number) => FakeAnswer | void = () => undefined;
  /** Runs just before a status the Action posts is stored (to land another writer's status first). */
  beforeStatusCreate: (deployment: FakeDeployment, state: string) => void = () => undefined;
  private createCalls = 0;
  private nextDeploymentId = 1000;
  private nextStatusId = 5000;
  private readonly statusPolls = new Map<number, number>();

  /** The API's path prefix: '' for api.github.com, '/api/v3' for GitHub Enterprise Server. */
  readonly apiPrefix: string;

  constructor(apiPrefix = '') {
    this.apiPrefix = apiPrefix;
  }

  get repoPath(): string {
    return `/repos/${this.owner}/${this.repo}`;
  }

  /** Adds a deployment as if created earlier (an original that ours duplicates, for instance). */
  addDeployment(fields: Partial<FakeDeployment> & { sha: string; environment: string }): FakeDeployment {
    const deployment: FakeDeployment = {
      id: this.nextDeploymentId++,
      ref: fields.sha,
      task: 'deploy',
      description: null,
      payload: {},
      statuses: [],
      ...fields,
    };
    this.deployments.push(deployment);
    return deployment;
  }

  addStatus(deployment: FakeDeployment, state: string, description: string, extra: Partial<FakeStatus> = {}): FakeStatus {
    const status: FakeStatus = { id: this.nextStatusId++, state, description, ...extra };
    deployment.statuses.push(status);
    return status;
  }

  /** Each status poll of `deployment` reveals the next of these statuses (one per poll). */
  revealStatusesPerPoll(deploymentId: () => number | undefined, script: Array<[string, string, Partial<FakeStatus>?]>): void {
    this.onStatusPoll = (deployment, poll) => {
      if (deployment.id !== deploymentId()) return;
      const next = script[poll - 1];
      if (next) this.addStatus(deployment, next[0], next[1], next[2]);
    };
  }

  requestsTo(method: string, pathPattern: RegExp): RecordedRequest[] {
    return this.requests.filter((request) => request.method === method && pathPattern.test(request.path));
  }

  handle(method: string, url: string, body: unknown): FakeAnswer {
    const parsed = new URL(url, 'http://fake.invalid');
    const path = parsed.pathname.slice(this.apiPrefix.length);
    this.requests.push({ method, url, path, query: parsed.searchParams, body });
    try {
      assertGitHubRequest(method, url, body);
    } catch (error) {
      this.problems.push((error as Error).message);
      return { status: 400, body: { message: 'request does not match the OpenAPI description' } };
    }
    const answer = this.route(method, path, parsed.searchParams, body);
    if ('status' in answer && answer.status < 300 && /\/deployments/.test(path)) {
      const problems = githubResponseProblems(method, url, answer.status, withEmptyUrlsFilled(answer.body));
      if (problems.length > 0) this.problems.push(`fake answer to ${method} ${url}: ${problems.join('; ')}`);
    }
    return answer;
  }

  private route(method: string, path: string, query: URLSearchParams, body: unknown): FakeAnswer {
    const base = this.repoPath;
    const notFound: FakeAnswer = { status: 404, body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' } };
    if (method === 'GET' && path.startsWith(`${base}/commits/`)) {
      const ref = decodeURIComponent(path.slice(`${base}/commits/`.length));
      const sha = this.commits.get(ref);
      return sha
        ? { status: 200, body: { sha, url: `https://api.github.com${base}/commits/${sha}` } }
        : { status: 422, body: { message: `No commit found for SHA: ${ref}` } };
    }
    const pull = new RegExp(`^${base}/pulls/(\\d+)$`).exec(path);
    if (method === 'GET' && pull) {
      const sha = this.pullRequests.get(Number(pull[1]));
      return sha ? { status: 200, body: { number: Number(pull[1]), head: { sha, ref: 'feature' } } } : notFound;
    }
    if (method === 'POST' && path === `${base}/deployments`) return this.createDeployment(body as Record<string, unknown>);
    if (method === 'GET' && path === `${base}/deployments`) {
      const found = this.deployments
        .filter(
          (deployment) =>
            (!query.get('sha') || deployment.sha === query.get('sha')) &&
            (!query.get('environment') || deployment.environment === query.get('environment')),
        )
        .reverse()
        .map((deployment) => this.deploymentJson(deployment));
      return { status: 200, body: found };
    }
    const statuses = new RegExp(`^${base}/deployments/(\\d+)/statuses$`).exec(path);
    const deployment = statuses ? this.deployments.find((candidate) => candidate.id === Number(statuses[1])) : undefined;
    if (statuses && !deployment) return notFound;
    if (method === 'GET' && deployment) {
      const poll = (this.statusPolls.get(deployment.id) ?? 0) + 1;
      this.statusPolls.set(deployment.id, poll);
      const scripted = this.onStatusPoll(deployment, poll);
      if (scripted) return scripted;
      return { status: 200, body: [...deployment.statuses].reverse().map((status) => this.statusJson(deployment, status)) };
    }
    if (method === 'POST' && deployment) {
      const fields = body as { state: string; description?: string; log_url?: string };
      this.beforeStatusCreate(deployment, fields.state);
      const status = this.addStatus(deployment, fields.state, fields.description ?? '', fields.log_url ? { log_url: fields.log_url } : {});
      return { status: 201, body: this.statusJson(deployment, status) };
    }
    return notFound;
  }

  private createDeployment(body: Record<string, unknown>): FakeAnswer {
    this.createCalls += 1;
    const behaviour = this.onCreate(this.createCalls, body);
    if (typeof behaviour === 'object') return behaviour;
    const deployment = this.addDeployment({
      sha: String(body.ref),
      ref: String(body.ref),
      task: typeof body.task === 'string' ? body.task : 'deploy',
      environment: typeof body.environment === 'string' ? body.environment : 'production',
      description: typeof body.description === 'string' ? body.description : null,
      payload: (body.payload as Record<string, unknown>) ?? {},
    });
    if (behaviour === 'create-then-drop') return { drop: true };
    if (behaviour === 'create-then-502') return { status: 502, body: { message: 'Server Error' } };
    return { status: 201, body: this.deploymentJson(deployment) };
  }

  private deploymentJson(deployment: FakeDeployment): Record<string, unknown> {
    const url = `https://api.github.com${this.repoPath}/deployments/${deployment.id}`;
    return {
      url,
      id: deployment.id,
      node_id: `DE_${deployment.id}`,
      sha: deployment.sha,
      ref: deployment.ref,
      task: deployment.task,
      payload: deployment.payload,
      original_environment: deployment.environment,
      environment: deployment.environment,
      description: deployment.description,
      creator: user,
      created_at: '2026-11-27T12:00:00Z',
      updated_at: '2026-11-27T12:00:00Z',
      statuses_url: `${url}/statuses`,
      repository_url: `https://api.github.com${this.repoPath}`,
      transient_environment: false,
      production_environment: false,
    };
  }

  private statusJson(deployment: FakeDeployment, status: FakeStatus): Record<string, unknown> {
    const deploymentUrl = `https://api.github.com${this.repoPath}/deployments/${deployment.id}`;
    return {
      url: `${deploymentUrl}/statuses/${status.id}`,
      id: status.id,
      node_id: `DES_${status.id}`,
      state: status.state,
      creator: user,
      description: status.description,
      environment: deployment.environment,
      target_url: status.log_url ?? '',
      log_url: status.log_url ?? '',
      environment_url: status.environment_url ?? '',
      created_at: '2026-11-27T12:00:00Z',
      updated_at: '2026-11-27T12:00:00Z',
      deployment_url: deploymentUrl,
      repository_url: `https://api.github.com${this.repoPath}`,
    };
  }
}

const user = {
  login: 'shipguard[bot]',
  id: 1,
  node_id: 'MDM6Qm90MQ==',
  avatar_url: 'https://avatars.githubusercontent.com/in/1',
  gravatar_id: '',
  url: 'https://api.github.com/users/shipguard%5Bbot%5D',
  html_url: 'https://github.com/apps/shipguard',
  followers_url: 'https://api.github.com/users/shipguard%5Bbot%5D/followers',
  following_url: 'https://api.github.com/users/shipguard%5Bbot%5D/following{/other_user}',
  gists_url: 'https://api.github.com/users/shipguard%5Bbot%5D/gists{/gist_id}',
  starred_url: 'https://api.github.com/users/shipguard%5Bbot%5D/starred{/owner}{/repo}',
  subscriptions_url: 'https://api.github.com/users/shipguard%5Bbot%5D/subscriptions',
  organizations_url: 'https://api.github.com/users/shipguard%5Bbot%5D/orgs',
  repos_url: 'https://api.github.com/users/shipguard%5Bbot%5D/repos',
  events_url: 'https://api.github.com/users/shipguard%5Bbot%5D/events{/privacy}',
  received_events_url: 'https://api.github.com/users/shipguard%5Bbot%5D/received_events',
  type: 'Bot',
  site_admin: false,
};

/**
 * GitHub answers "" for a status's unset target_url, log_url and environment_url, where its description
 * says `format: uri` (with `default: ""`): a placeholder lets the rest of the answer be checked.
 */
function withEmptyUrlsFilled(body: unknown): unknown {
  if (Array.isArray(body)) return body.map(withEmptyUrlsFilled);
  if (typeof body !== 'object' || body === null) return body;
  return Object.fromEntries(
    Object.entries(body).map(([key, value]) => [key, key.endsWith('_url') && value === '' ? 'https://empty.invalid/' : value]),
  );
}

function parseBody(body: unknown): unknown {
  if (typeof body !== 'string' || body === '') return body === '' ? undefined : body;
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

/** Serves the fake through nock at `origin` (e.g. https://api.github.com); returns the cleanup. */
export function serveWithNock(fake: FakeGitHub, origin: string): () => void {
  // Nothing leaves the machine; loopback stays open for the tests that use a real server.
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
  const scope = nock(origin).persist();
  for (const method of ['GET', 'POST', 'PATCH', 'PUT', 'DELETE']) {
    // nock 15 hands the reply function the fetch Request; a thrown error reaches the client as a broken connection.
    scope.intercept(/.*/, method).reply(async (request: unknown) => {
      const { url, method: sentMethod } = request as Request;
      const parsed = new URL(url);
      const answer = fake.handle(sentMethod, `${parsed.pathname}${parsed.search}`, parseBody(await (request as Request).text()));
      if ('drop' in answer) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      if ('hang' in answer) throw new Error('a hanging answer needs serveOverHttp: nock ignores the abort signal');
      return [answer.status, JSON.stringify(answer.body ?? ''), { 'content-type': 'application/json; charset=utf-8', ...answer.headers }];
    });
  }
  return () => {
    nock.cleanAll();
    nock.enableNetConnect();
  };
}

/** Serves the fake over real HTTP on 127.0.0.1; resolves to its origin and a close function. */
export async function serveOverHttp(fake: FakeGitHub): Promise<{ origin: string; close: () => Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const answer = fake.handle(request.method ?? 'GET', request.url ?? '/', parseBody(Buffer.concat(chunks).toString('utf8')));
      if ('drop' in answer) return void request.socket.destroy();
      if ('hang' in answer) return;
      response.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8', ...answer.headers });
      response.end(JSON.stringify(answer.body ?? ''));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

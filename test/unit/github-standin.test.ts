import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verify } from '@octokit/webhooks-methods';
import { createNodeMiddleware, createProbot, ProbotOctokit } from 'probot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type GitHubStandin, startGitHubStandin } from '../support/github-standin.ts';

const SECRET = 'standin-test-secret';
const REPO = 'acme/app';
const USER_TOKEN = 'ghp_actiontoken';
/** Any well-formed JWT is accepted as the app's: the stand-in does not check app signatures. */
const APP_JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjF9.c2lnbmF0dXJl';

interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  payload: Record<string, any>;
}

/** A stand-in for the bot's webhook endpoint: records what arrives, answers `answerWith`. */
interface Receiver {
  url: string;
  received: ReceivedWebhook[];
  answerWith: { status: number };
  server: Server;
}

async function startReceiver(): Promise<Receiver> {
  const received: ReceivedWebhook[] = [];
  const answerWith = { status: 200 };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: request.headers, body, payload: JSON.parse(body) });
      response.writeHead(answerWith.status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/api/github/webhooks`, received, answerWith, server };
}

/** The app's private key, for real Probot clients (the stand-in accepts any JWT, but Probot must sign one). */
const privateKeyPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();

let github: GitHubStandin;
let receiver: Receiver;

beforeEach(async () => {
  receiver = await startReceiver();
  github = await startGitHubStandin({ webhookSecret: SECRET, webhookUrl: receiver.url, tokenLifetimeMs: 60_000 });
  github.addRepository({ owner: 'acme', name: 'app' });
  github.addUserToken(USER_TOKEN, 'octocat');
});

afterEach(async () => {
  await github?.close();
  await new Promise((resolve) => receiver?.server.close(resolve));
});

async function api(
  method: string,
  path: string,
  options: { token?: string | null; body?: unknown; accept?: string } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const token = options.token === undefined ? USER_TOKEN : options.token;
  const headers: Record<string, string> = { accept: options.accept ?? 'application/vnd.github+json' };
  if (token !== null) headers.authorization = `token ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${github.apiUrl}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // raw media type: keep the text
  }
  return { status: response.status, body, headers: response.headers };
}

function createDeployment(body: Record<string, unknown>, token?: string) {
  return api('POST', `/repos/${REPO}/deployments`, { body, token });
}

function createStatus(deploymentId: number, body: Record<string, unknown>, token?: string) {
  return api('POST', `/repos/${REPO}/deployments/${deploymentId}/statuses`, { body, token });
}

function react(commentId: number, content: string, token?: string) {
  return api('POST', `/repos/${REPO}/issues/comments/${commentId}/reactions`, { body: { content }, token });
}

async function installationToken(): Promise<string> {
  const answer = await api('POST', '/app/installations/1/access_tokens', { token: APP_JWT, body: {} });
  expect(answer.status).toBe(201);
  return answer.body.token as string;
}

describe('deployments', () => {
  it('creates a deployment with the ref resolved to a SHA, and delivers a signed deployment webhook', async () => {
    const sha = github.setFile(REPO, '.github/deploy.yml', 'environments: {}\n');
    const answer = await api('POST', `/repos/${REPO}/deployments`, {
      body: { ref: 'main', environment: 'staging', auto_merge: false, payload: { force: false }, description: 'from CI' },
    });
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({ sha, ref: 'main', environment: 'staging', task: 'deploy', payload: { force: false } });
    expect(answer.body.creator.login).toBe('octocat');
    expect(answer.body.production_environment).toBe(false);
    expect(github.deployments(REPO).map((deployment) => deployment.id)).toEqual([answer.body.id]);

    const webhook = await github.waitFor(() => receiver.received.find((r) => r.headers['x-github-event'] === 'deployment'));
    expect(webhook.payload).toMatchObject({ action: 'created', installation: { id: 1 }, sender: { login: 'octocat' } });
    expect(webhook.payload.deployment).toMatchObject({ id: answer.body.id, sha, environment: 'staging' });
    expect(webhook.payload.repository).toMatchObject({ full_name: REPO, default_branch: 'main' });
    expect(webhook.headers['user-agent']).toMatch(/^GitHub-Hookshot\//);
    expect(webhook.headers['content-type']).toBe('application/json');
    expect(await verify(SECRET, webhook.body, String(webhook.headers['x-hub-signature-256']))).toBe(true);
    expect(await verify('another secret', webhook.body, String(webhook.headers['x-hub-signature-256']))).toBe(false);
    expect(github.problems).toEqual([]);
  });

  it('rejects invalid bodies as GitHub does, creating nothing', async () => {
    const withSha = await createDeployment({ sha: github.addCommit(REPO) });
    expect(withSha.status).toBe(422);
    expect(withSha.body.message).toBe('Validation Failed');
    expect(withSha.body.errors.map((error: { message: string }) => error.message)).toContain(
      'repos/create-deployment: body: missing required property "ref"',
    );

    const wrongType = await createDeployment({ ref: 'main', auto_merge: 'no' });
    expect(wrongType.status).toBe(422);
    expect(JSON.stringify(wrongType.body.errors)).toContain('auto_merge: must be boolean');

    const unknownRef = await createDeployment({ ref: 'nope', auto_merge: false });
    expect(unknownRef.status).toBe(422);
    expect(unknownRef.body.message).toBe('No ref found for: nope');

    const unknownRoute = await api('GET', `/repos/${REPO}/deploymentz`);
    expect(unknownRoute.status).toBe(404);

    expect(github.deployments(REPO)).toEqual([]);
    expect(github.problems).toEqual([]);
  });

  it('answers 202 "auto-merged" and creates nothing when auto_merge is left on for another branch', async () => {
    github.addCommit(REPO, 'feature');
    const merged = await createDeployment({ ref: 'feature', environment: 'staging' });
    expect(merged.status).toBe(202);
    expect(merged.body.message).toMatch(/^Auto-merged main into feature/);
    expect(github.deployments(REPO)).toEqual([]);

    const created = await api('POST', `/repos/${REPO}/deployments`, {
      body: { ref: 'feature', environment: 'staging', auto_merge: false },
    });
    expect(created.status).toBe(201);
    expect(github.deployments(REPO)).toHaveLength(1);
    expect(github.problems).toEqual([]);
  });

  it('answers 409 with the failing contexts when status checks are not green', async () => {
    const sha = github.addCommit(REPO);
    github.setCommitStatus(REPO, sha, 'ci', 'failure');
    github.setCommitStatus(REPO, sha, 'lint', 'success');

    const conflict = await createDeployment({ ref: sha, auto_merge: false });
    expect(conflict.status).toBe(409);
    expect(conflict.body.message).toBe(`Conflict: Commit status checks failed for ${sha}.`);
    expect(conflict.body.errors).toEqual([
      { contexts: [{ context: 'ci', state: 'failure' }], resource: 'Deployment', field: 'required_contexts', code: 'invalid' },
    ]);

    const onlyLint = await createDeployment({ ref: sha, auto_merge: false, required_contexts: ['lint'] });
    expect(onlyLint.status).toBe(201);
    const missing = await createDeployment({ ref: sha, auto_merge: false, required_contexts: ['build'] });
    expect(missing.status).toBe(409);
    expect(missing.body.errors[0].contexts).toEqual([{ context: 'build', state: 'missing' }]);
    const none = await createDeployment({ ref: sha, auto_merge: false, required_contexts: [] });
    expect(none.status).toBe(201);

    github.setCommitStatus(REPO, sha, 'ci', 'success');
    const green = await createDeployment({ ref: sha, auto_merge: false });
    expect(green.status).toBe(201);
    expect(github.deployments(REPO)).toHaveLength(3);
    expect(github.problems).toEqual([]);
  });

  it('lists deployments newest first with filters and pages', async () => {
    const ids: number[] = [];
    for (const environment of ['staging', 'production', 'staging']) {
      const answer = await createDeployment({ ref: 'main', environment, auto_merge: false });
      ids.push(answer.body.id);
    }
    const staging = await api('GET', `/repos/${REPO}/deployments?environment=staging`);
    expect(staging.body.map((deployment: { id: number }) => deployment.id)).toEqual([ids[2], ids[0]]);
    const firstPage = await api('GET', `/repos/${REPO}/deployments?per_page=2`);
    expect(firstPage.body.map((deployment: { id: number }) => deployment.id)).toEqual([ids[2], ids[1]]);
    expect(firstPage.headers.get('link')).toContain('page=2>; rel="next"');
    const one = await api('GET', `/repos/${REPO}/deployments/${ids[1]}`);
    expect(one.body).toMatchObject({ id: ids[1], environment: 'production', production_environment: true });
    expect((await api('GET', `/repos/${REPO}/deployments/999999`)).status).toBe(404);
    expect(github.problems).toEqual([]);
  });
});

describe('deployment statuses', () => {
  async function deploymentIn(environment = 'staging'): Promise<number> {
    const answer = await createDeployment({ ref: 'main', environment, auto_merge: false });
    return answer.body.id as number;
  }

  const LOG_URL = 'http://127.0.0.1:3000/deployments/1?sig=x';

  it('keeps statuses in order, lists them newest first, and marks older successes inactive', async () => {
    const token = await installationToken();
    const first = await deploymentIn();
    for (const state of ['queued', 'in_progress', 'success']) {
      const answer = await api('POST', `/repos/${REPO}/deployments/${first}/statuses`, {
        token,
        body: { state, description: `now ${state}`, log_url: LOG_URL, environment_url: 'https://staging.example.com' },
      });
      expect(answer.status).toBe(201);
      expect(answer.body.creator.login).toBe('shipguard[bot]');
    }
    expect(github.statuses(first).map((status) => status.state)).toEqual(['queued', 'in_progress', 'success']);
    const listed = await api('GET', `/repos/${REPO}/deployments/${first}/statuses`);
    expect(listed.body.map((status: { state: string }) => status.state)).toEqual(['success', 'in_progress', 'queued']);
    expect(listed.body[0]).toMatchObject({ log_url: LOG_URL, environment_url: 'https://staging.example.com' });

    const second = await deploymentIn();
    await api('POST', `/repos/${REPO}/deployments/${second}/statuses`, { token, body: { state: 'success' } });
    expect(github.statuses(first).map((status) => status.state)).toEqual(['queued', 'in_progress', 'success', 'inactive']);

    // No webhook for inactive: three for the first deployment, one for the second.
    const statusDeliveries = () => github.deliveries.filter((d) => d.event === 'deployment_status' && d.status !== null);
    await github.waitFor(() => statusDeliveries().length === 4);
    const delivered = receiver.received.filter((r) => r.headers['x-github-event'] === 'deployment_status');
    expect(delivered.map((r) => r.payload.deployment_status.state)).toEqual(['queued', 'in_progress', 'success', 'success']);
    expect(github.problems).toEqual([]);
  });

  it('does not mark production or transient deployments inactive, nor with auto_inactive: false', async () => {
    const production = await deploymentIn('production');
    await createStatus(production, { state: 'success' });
    const next = await deploymentIn('production');
    await createStatus(next, { state: 'success' });
    expect(github.statuses(production).map((status) => status.state)).toEqual(['success']);

    const staging = await deploymentIn('staging');
    await createStatus(staging, { state: 'success' });
    const later = await deploymentIn('staging');
    await createStatus(later, { state: 'success', auto_inactive: false });
    expect(github.statuses(staging).map((status) => status.state)).toEqual(['success']);
    expect(github.problems).toEqual([]);
  });

  it('rejects a description over 140 characters and a status without state', async () => {
    const id = await deploymentIn();
    const long = await createStatus(id, { state: 'queued', description: 'x'.repeat(141) });
    expect(long.status).toBe(422);
    expect(long.body.errors[0]).toMatchObject({ field: 'description', code: 'custom' });
    const stateless = await createStatus(id, { description: 'no state' });
    expect(stateless.status).toBe(422);
    expect(github.statuses(id)).toEqual([]);
    expect(github.problems).toEqual([]);
  });
});

describe('authentication', () => {
  it('rejects missing, unknown and expired tokens with 401', async () => {
    await github.close();
    // Long enough for the calls below that need the token still valid, even on a loaded machine.
    const lifetimeMs = 3000;
    github = await startGitHubStandin({ webhookSecret: SECRET, webhookUrl: receiver.url, tokenLifetimeMs: lifetimeMs });
    github.addRepository({ owner: 'acme', name: 'app' });

    const issuedAt = Date.now();
    const token = await installationToken();
    expect((await api('GET', `/repos/${REPO}`, { token })).status).toBe(200);
    expect((await api('GET', `/repos/${REPO}`, { token: null })).status).toBe(401);
    expect((await api('GET', `/repos/${REPO}`, { token: 'ghs_unknown' })).body.message).toBe('Bad credentials');
    expect((await api('GET', '/app', { token })).status).toBe(401);

    await github.waitFor(() => Date.now() > issuedAt + lifetimeMs + 100);
    const expired = await api('GET', `/repos/${REPO}`, { token });
    expect(expired.status).toBe(401);
    expect(expired.body.message).toBe('Bad credentials');
    expect(github.problems).toEqual([]);
  });

  it('limits an installation token to its installation', async () => {
    github.addRepository({ owner: 'other', name: 'thing', installationId: 2 });
    const token = await installationToken();
    expect((await api('GET', '/repos/other/thing', { token })).status).toBe(404);
    expect((await api('GET', '/repos/other/thing/installation', { token: APP_JWT })).body.id).toBe(2);
    const installations = await api('GET', '/app/installations', { token: APP_JWT });
    expect(installations.body.map((installation: { id: number }) => installation.id)).toEqual([1, 2]);
    expect((await api('GET', '/app', { token: APP_JWT })).body.slug).toBe('shipguard');
    expect(github.problems).toEqual([]);
  });

  it('serves a real Probot client authenticating as the app', async () => {
    const octokit = new ProbotOctokit({
      auth: { appId: 1, privateKey: privateKeyPem, installationId: 1 },
      baseUrl: github.apiUrl,
    });
    const repository = await octokit.rest.repos.get({ owner: 'acme', repo: 'app' });
    expect(repository.data.default_branch).toBe('main');
    const deployment = await octokit.rest.repos.createDeployment({
      owner: 'acme',
      repo: 'app',
      ref: 'main',
      auto_merge: false,
      environment: 'staging',
    });
    expect(deployment.status).toBe(201);
    expect(github.deployments(REPO)[0]!.creator.login).toBe('shipguard[bot]');
    expect(github.problems).toEqual([]);
  });
});

describe('repository contents, commits, pull requests and permissions', () => {
  it("gives a handle whose headSha follows the default branch's head", () => {
    const repo = github.addRepository({ owner: 'acme', name: 'other', defaultBranch: 'trunk' });
    const initial = repo.headSha;
    const moved = github.setFile('acme/other', 'a.txt', 'a');
    expect(moved).not.toBe(initial);
    expect(repo.headSha).toBe(moved);
    github.addCommit('acme/other', 'feature');
    expect(repo.headSha).toBe(moved);
  });

  it('serves deploy.yml from a branch, base64 or raw, and 404 when absent', async () => {
    github.setFile(REPO, '.github/deploy.yml', 'default_environment: staging\n');
    github.setFile(REPO, '.github/deploy.yml', 'default_environment: evil\n', 'pr-branch');
    const json = await api('GET', `/repos/${REPO}/contents/.github/deploy.yml?ref=main`);
    expect(json.status).toBe(200);
    expect(Buffer.from(json.body.content, 'base64').toString('utf8')).toBe('default_environment: staging\n');
    const raw = await api('GET', `/repos/${REPO}/contents/.github%2Fdeploy.yml?ref=pr-branch`, { accept: 'application/vnd.github.raw' });
    expect(raw.body).toBe('default_environment: evil\n');
    expect((await api('GET', `/repos/${REPO}/contents/missing.yml`)).status).toBe(404);
    expect(github.problems).toEqual([]);
  });

  it('resolves commits by branch, refs/heads, SHA and SHA prefix', async () => {
    const sha = github.addCommit(REPO);
    for (const ref of ['main', 'refs/heads/main', sha, sha.slice(0, 7)]) {
      const answer = await api('GET', `/repos/${REPO}/commits/${ref}`);
      expect(answer.body.sha).toBe(sha);
    }
    expect((await api('GET', `/repos/${REPO}/commits/nope`)).status).toBe(422);
    github.setCommitStatus(REPO, sha, 'ci', 'pending');
    github.setCommitStatus(REPO, sha, 'ci', 'success');
    const combined = await api('GET', `/repos/${REPO}/commits/${sha}/status`);
    expect(combined.body).toMatchObject({ state: 'success', total_count: 1, sha });
    expect((await api('GET', `/repos/${REPO}/commits/${sha}/check-runs`)).body.total_count).toBe(0);
    expect(github.problems).toEqual([]);
  });

  it('serves pull requests (forks included) and permissions with GitHub legacy levels', async () => {
    const own = github.addPullRequest(REPO, { headRef: 'feature', author: 'octocat' });
    const fork = github.addPullRequest(REPO, { headRef: 'patch-1', fork: true, author: 'stranger' });
    const ownAnswer = await api('GET', `/repos/${REPO}/pulls/${own}`);
    expect(ownAnswer.body).toMatchObject({ number: own, state: 'open', head: { ref: 'feature', repo: { full_name: REPO, fork: false } } });
    const forkAnswer = await api('GET', `/repos/${REPO}/pulls/${fork}`);
    expect(forkAnswer.body.head.repo).toMatchObject({ full_name: 'stranger/app', fork: true });

    github.setPermission(REPO, 'octocat', 'maintain');
    const maintain = await api('GET', `/repos/${REPO}/collaborators/octocat/permission`);
    expect(maintain.body).toMatchObject({ permission: 'write', role_name: 'maintain' });
    const stranger = await api('GET', `/repos/${REPO}/collaborators/stranger/permission`);
    expect(stranger.body).toMatchObject({ permission: 'read', role_name: 'read' });
    expect(github.problems).toEqual([]);
  });
});

describe('comments and reactions', () => {
  it('delivers issue_comment with issue.pull_request, and records replies, edits and reactions', async () => {
    const number = github.addPullRequest(REPO, { headRef: 'feature', author: 'octocat' });
    const { commentId, deliveryId } = await github.postComment(REPO, number, 'octocat', '/deploy production');
    const webhook = receiver.received.find((r) => r.headers['x-github-delivery'] === deliveryId)!;
    expect(webhook.headers['x-github-event']).toBe('issue_comment');
    expect(webhook.payload).toMatchObject({
      action: 'created',
      comment: { id: commentId, body: '/deploy production', user: { login: 'octocat', type: 'User' } },
      issue: { number, pull_request: { url: `${github.apiUrl}/repos/${REPO}/pulls/${number}` } },
    });

    const token = await installationToken();
    expect((await react(commentId, 'eyes', token)).status).toBe(201);
    expect((await react(commentId, 'eyes', token)).status).toBe(200);
    expect(github.reactions(commentId)).toEqual(['eyes']);

    const reply = await api('POST', `/repos/${REPO}/issues/${number}/comments`, { token, body: { body: 'Deploying…' } });
    expect(reply.status).toBe(201);
    const edited = await api('PATCH', `/repos/${REPO}/issues/comments/${reply.body.id}`, { token, body: { body: 'Deployed.' } });
    expect(edited.body.body).toBe('Deployed.');
    expect(github.comments(REPO, number).map((comment) => [comment.user.login, comment.body])).toEqual([
      ['octocat', '/deploy production'],
      ['shipguard[bot]', 'Deployed.'],
    ]);
    const editedWebhook = await github.waitFor(() =>
      receiver.received.find((r) => r.headers['x-github-event'] === 'issue_comment' && r.payload.action === 'edited'),
    );
    expect(editedWebhook.payload).toMatchObject({
      changes: { body: { from: 'Deploying…' } },
      comment: { id: reply.body.id, body: 'Deployed.' },
      sender: { login: 'shipguard[bot]', type: 'Bot' },
      issue: { number, pull_request: {} },
    });
    const listed = await api('GET', `/repos/${REPO}/issues/${number}/comments`);
    expect(listed.body.map((comment: { body: string }) => comment.body)).toEqual(['/deploy production', 'Deployed.']);
    expect((await react(commentId, 'smile')).status).toBe(422);
    expect(github.problems).toEqual([]);
  });
});

describe('webhook deliveries', () => {
  it('records failed deliveries while the bot is down, lists them, and redelivers with the same guid', async () => {
    github.setWebhookUrl(null);
    await createDeployment({ ref: 'main', auto_merge: false });
    const failed = await github.waitFor(() => github.deliveries.find((d) => d.event === 'deployment' && d.status !== null));
    expect(failed).toMatchObject({ status: 0, redelivery: false });

    const listed = await api('GET', '/app/hook/deliveries?status=failure&per_page=50', { token: APP_JWT });
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([
      expect.objectContaining({
        id: failed.id,
        guid: failed.guid,
        event: 'deployment',
        action: 'created',
        status_code: 0,
        redelivery: false,
        installation_id: 1,
      }),
    ]);

    github.setWebhookUrl(receiver.url);
    const attempt = await api('POST', `/app/hook/deliveries/${failed.id}/attempts`, { token: APP_JWT });
    expect(attempt.status).toBe(202);
    const redelivered = await github.waitFor(() => github.deliveries.find((d) => d.redelivery && d.status !== null));
    expect(redelivered).toMatchObject({ guid: failed.guid, status: 200, event: 'deployment' });
    expect(receiver.received.map((r) => r.headers['x-github-delivery'])).toEqual([failed.guid]);
    const succeeded = await api('GET', '/app/hook/deliveries?status=success', { token: APP_JWT });
    expect(succeeded.body.map((d: { id: number }) => d.id)).toEqual([redelivered.id]);
    expect((await api('POST', '/app/hook/deliveries/12345/attempts', { token: APP_JWT })).status).toBe(404);
    expect(github.problems).toEqual([]);
  });

  it('pages deliveries with a cursor, newest first, and records the bot’s status codes', async () => {
    receiver.answerWith.status = 503;
    for (let index = 0; index < 3; index += 1) await github.deliver('ping', { zen: 'Keep it logically awesome.', hook_id: 1 });
    expect(github.deliveries.map((d) => d.status)).toEqual([503, 503, 503]);
    const first = await api('GET', '/app/hook/deliveries?per_page=2', { token: APP_JWT });
    expect(first.body.map((d: { id: number }) => d.id)).toEqual([github.deliveries[2]!.id, github.deliveries[1]!.id]);
    expect(first.body[0].status).toBe('Invalid HTTP Response: 503');
    const next = /<([^>]+)>; rel="next"/.exec(first.headers.get('link') ?? '')![1]!;
    const second = await api('GET', next.slice(github.apiUrl.length), { token: APP_JWT });
    expect(second.body.map((d: { id: number }) => d.id)).toEqual([github.deliveries[0]!.id]);
    expect(second.headers.get('link')).toBeNull();
  });
});

describe('fault injection', () => {
  it('answers the injected fault the given number of times, changing nothing', async () => {
    github.injectFault({ method: 'POST', path: /\/deployments$/ }, { status: 502, body: { message: 'Bad Gateway' } }, 2);
    const body = { ref: 'main', auto_merge: false };
    expect((await createDeployment(body)).status).toBe(502);
    expect((await createDeployment(body)).status).toBe(502);
    expect(github.deployments(REPO)).toEqual([]);
    expect((await createDeployment(body)).status).toBe(201);
    expect(github.deployments(REPO)).toHaveLength(1);
    expect(github.requests.map((request) => request.status)).toEqual([502, 502, 201]);
    expect(github.problems).toEqual([]);
  });
});

describe('with a real Probot app', () => {
  it('delivers webhooks Probot accepts, and serves the API Probot reaches through GHE_HOST', async () => {
    const probot = createProbot({
      env: {
        APP_ID: '1',
        PRIVATE_KEY: privateKeyPem,
        WEBHOOK_SECRET: SECRET,
        GHE_PROTOCOL: 'http',
        GHE_HOST: github.host,
        LOG_LEVEL: 'fatal',
      },
    });
    const middleware = await createNodeMiddleware(
      (app) => {
        app.on('deployment.created', async (context) => {
          await context.octokit.rest.repos.createDeploymentStatus(
            context.repo({ deployment_id: context.payload.deployment.id, state: 'queued', description: 'picked up' }),
          );
        });
      },
      { probot },
    );
    const bot = createServer((request, response) => {
      void middleware(request, response, () => response.writeHead(404).end());
    });
    await new Promise<void>((resolve) => bot.listen(0, '127.0.0.1', resolve));
    try {
      github.setWebhookUrl(`http://127.0.0.1:${(bot.address() as AddressInfo).port}/api/github/webhooks`);
      const created = await createDeployment({ ref: 'main', environment: 'staging', auto_merge: false });
      const queued = await github.waitFor(() => github.statuses(created.body.id).find((status) => status.state === 'queued'));
      expect(queued).toMatchObject({ description: 'picked up', creator: { login: 'shipguard[bot]' } });
      const delivered = await github.waitFor(() => github.deliveries.find((d) => d.event === 'deployment' && d.status !== null));
      expect(delivered.status).toBe(200);
      expect(github.requests.map((request) => `${request.method} ${request.path} ${request.status}`)).toContain(
        'POST /app/installations/1/access_tokens 201',
      );
      expect(github.problems).toEqual([]);
    } finally {
      await github.close();
      await new Promise((resolve) => bot.close(resolve));
    }
  });

  it('is refused by Probot when the webhook secret differs', async () => {
    const probot = createProbot({
      env: { APP_ID: '1', PRIVATE_KEY: privateKeyPem, WEBHOOK_SECRET: 'another secret', LOG_LEVEL: 'fatal' },
    });
    const middleware = await createNodeMiddleware(() => {}, { probot });
    const bot = createServer((request, response) => {
      void middleware(request, response, () => response.writeHead(404).end());
    });
    await new Promise<void>((resolve) => bot.listen(0, '127.0.0.1', resolve));
    try {
      github.setWebhookUrl(`http://127.0.0.1:${(bot.address() as AddressInfo).port}/api/github/webhooks`);
      const answer = await github.deliver('ping', { zen: 'Design for failure.', hook_id: 1 });
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
    } finally {
      await github.close();
      await new Promise((resolve) => bot.close(resolve));
    }
  });
});

/**
 * A local stand-in for GitHub's REST API and webhooks, for the demo and the end-to-end tests: a small
 * `node:http` server on 127.0.0.1 that keeps state for the routes shipguard uses and delivers signed
 * webhooks to the bot when GitHub would.
 *
 *   const github = await startGitHubStandin({ webhookSecret: 'secret', webhookUrl: botUrl + '/api/github/webhooks' });
 *   github.addRepository({ owner: 'acme', name: 'app' });            // initial commit on main
 *   github.setFile('acme/app', '.github/deploy.yml', yamlText);      // a new commit on main
 *   // the bot:    GHE_PROTOCOL=http GHE_HOST=${github.host}
 *   // the Action: GITHUB_API_URL=${github.apiUrl}, with a token registered by github.addUserToken(token, 'octocat')
 *   await github.waitFor(() => github.statuses(id).find((s) => s.state === 'success'));
 *   expect(github.problems).toEqual([]);
 *   await github.close();
 *
 * It cannot drift from the real API: every request is checked against GitHub's OpenAPI description
 * (test/support/openapi.ts) and answered like GitHub answers an invalid one (404 `Not Found` for an unknown
 * route, 422 `Validation Failed` with the problems in `errors[].message`); every response and every webhook
 * payload it produces is checked too, and their problems are recorded in `problems` (tests assert it stays
 * `[]`) rather than thrown. A documented route the stand-in does not implement answers 404 and is recorded
 * in `problems` as well, so a missing route is noticed rather than mistaken for GitHub's answer.
 * Error answers (4xx, 5xx) are checked only where the description documents that status for the operation:
 * GitHub's 401 and 404 can come from any route, and the description lists them only here and there.
 *
 * The GitHub App manifest flow (github-standin/app-manifests.ts): the web page `POST /settings/apps/new` (or
 * `/organizations/{org}/settings/apps/new`) takes the form's `manifest`, creates the App at once (no person
 * confirms) and redirects to its `redirect_url` with a one-time `code` (and the form's `state`); `POST
 * /api/v3/app-manifests/{code}/conversions` (no authentication) trades the code, once, for the App with `pem`
 * and `webhook_secret`. `manifestApps` lists what was created.
 *
 * Routes (all under `/api/v3`), and the GitHub behaviour each keeps:
 * - `POST /app/installations/{installation_id}/access_tokens`, `GET /app`, `GET /app/installations`,
 *   `GET /repos/{owner}/{repo}/installation`: the app's JWT (any well-formed one); installation tokens
 *   last `tokenLifetimeMs` (default 1 h), then answer 401 `Bad credentials`, as unknown tokens do. Routes
 *   below need a token (401 `Requires authentication` without one); an installation token sees only the
 *   repositories of its installation.
 * - `GET /repos/{owner}/{repo}`; `GET .../contents/{path}?ref=` (base64 JSON, or the text itself with
 *   `Accept: application/vnd.github.raw`; 404 when absent); `GET .../commits/{ref}` (branch, `refs/heads/x`,
 *   SHA or SHA prefix); `GET .../commits/{ref}/status` (combined, newest status per context);
 *   `GET .../commits/{ref}/check-runs` (always none: only commit statuses are modelled);
 *   `GET .../pulls/{pull_number}`; `GET .../collaborators/{username}/permission` (`permission` is GitHub's
 *   legacy level: maintain → write, triage → read; `role_name` the role; unknown users: read on a public
 *   repository, none on a private one).
 * - `POST .../deployments`: the ref is resolved to a SHA (422 `No ref found for: x`); `auto_merge`
 *   (default true) on a branch other than the default one answers 202 `Auto-merged ...` and creates
 *   nothing; `required_contexts` unset means every context with a status must be `success`, a list means
 *   those (a context without any status counts as state `missing`), else 409 with
 *   `errors[0].field == 'required_contexts'` and `errors[0].contexts` = [{context, state}]; the creator is
 *   the token's user (`shipguard[bot]` for installation tokens); delivers `deployment`.
 *   `GET .../deployments` (filters sha, ref, task, environment; newest first; per_page/page with `Link`),
 *   `GET .../deployments/{deployment_id}`.
 * - `POST .../deployments/{deployment_id}/statuses` (description over 140 characters: 422; `log_url`
 *   doubles as `target_url`; `auto_inactive`, default true, adds `inactive` to prior successful
 *   non-transient, non-production deployments of the environment, as GitHub documents it); delivers
 *   `deployment_status`, except for `inactive`, as GitHub does. `GET` lists them newest first.
 * - `POST .../issues/{issue_number}/comments` (pull requests only; delivers `issue_comment` even for the
 *   app's own comments, as GitHub does), `GET` of the same (oldest first), `PATCH
 *   .../issues/comments/{comment_id}` (delivers `issue_comment` edited, with `changes.body.from`),
 *   `POST .../issues/comments/{comment_id}/reactions` (201 new, 200 when that user already reacted so;
 *   no webhook, as on GitHub).
 * - `GET .../actions/runs/{run_id}`; `POST .../actions/runs/{run_id}/deployment_protection_rule` (the app's
 *   review of a run waiting for its custom deployment protection rule: installation tokens only (403
 *   otherwise); 422 when the run does not wait for the app on `environment_name`, for a comment over 1,024
 *   characters, or for an 11th comment without `state` on one deployment; `approved` lets the job run,
 *   `rejected` completes the run as failed); `POST .../environments/{environment_name}/deployment_protection_rules`
 *   (a repository admin's user token, `integration_id` of this app; 201). Workflow runs themselves are test helpers (below), played as
 *   github-standin/workflow-runs.ts describes.
 * - `GET /app/hook/deliveries` (newest first; `per_page`, `cursor`, `status=success|failure`; fields as
 *   GitHub's, `status` 'OK' | 'Invalid HTTP Response: 503' | 'failed to connect' | 'timed out'),
 *   `POST /app/hook/deliveries/{delivery_id}/attempts` (redelivers: same `X-GitHub-Delivery` guid, a new
 *   record with redelivery: true).
 *
 * Probot's token cache (@octokit/auth-app) keeps an installation token 59 minutes whatever its `expires_at`,
 * as GitHub's tokens last an hour: with a short `tokenLifetimeMs` a bot keeps getting 401 until it asks for a
 * new token itself (`octokit.auth({ type: 'installation', refresh: true })`). That is what a short lifetime
 * is for; otherwise keep the default.
 *
 * Webhooks: POSTed to `webhookUrl` one at a time in order, without delaying the API answer, with
 * `X-GitHub-Event`, `X-GitHub-Delivery` (uuid), `X-Hub-Signature-256` (HMAC-SHA256 of the body with
 * `webhookSecret`), `Content-Type: application/json` and `User-Agent: GitHub-Hookshot/…`; payloads are
 * `@octokit/webhooks-examples` payloads filled with the state (deployment, repository, installation {id},
 * sender); an `issue_comment` carries `issue.pull_request`. `setWebhookUrl(null)` means the bot is down:
 * deliveries are recorded as failed (status 0) and, as on GitHub, never retried unless redelivered.
 *
 * Test helpers (methods of the object `startGitHubStandin` returns):
 *   apiUrl, host                         'http://127.0.0.1:PORT/api/v3', '127.0.0.1:PORT' (for GHE_HOST)
 *   close()                              waits for deliveries in flight, stops the server
 *   addRepository({owner, name, defaultBranch?='main', installationId?=1, private?=false})
 *                                        creates the repository and an initial commit; owner gets admin;
 *                                        returns {owner, name, fullName, id, defaultBranch, installationId,
 *                                        headSha} where headSha is the default branch's head at read time
 *   setFile(repo, path, text, branch?)   a new commit on the branch (created from the default one if new); its SHA
 *   addCommit(repo, branch?, {commitDate?})  a new commit with the same files (pushed now); its SHA
 *   addPullRequest(repo, {number?, headRef, headSha?, fork?, state?, author?})   its number
 *   setPermission(repo, user, permission) · setCommitStatus(repo, sha, context, state)
 *   addUserToken(token, login)           makes `token` authenticate as that user (the Action's GITHUB_TOKEN)
 *   postComment(repo, issueNumber, user, body, {userType?})   creates the comment, delivers
 *                                        `issue_comment` (created); resolves once the bot has answered it
 *   deliver(event, payload, {guid?})     a raw signed delivery (recorded, payload not checked); resolves with
 *                                        the bot's answer
 *   setWebhookUrl(url | null)
 *   deployments(repo) (oldest first) · statuses(deploymentId) (oldest first) · comments(repo, issueNumber)
 *   reactions(commentId) (contents, e.g. ['eyes'])
 *   requests                             every request: method, path (below /api/v3, with query), status, body, at
 *   problems                             OpenAPI problems of responses/webhooks, unimplemented routes: keep []
 *   deliveries                           every delivery, oldest first: id, guid, event, action, status, redelivery, …
 *   injectFault({method, path}, {status, body?, headers?, afterWork?}, times = 1)
 *                                        the next `times` valid requests whose path (below /api/v3, no query)
 *                                        matches get this answer instead, and change nothing; with
 *                                        `afterWork: true` they do their work first (an answer lost on the way)
 *   waitFor(predicate, timeoutMs = 30000) polls until predicate returns a truthy value, and returns it
 *   startWorkflowRun(repo, {environment, branch?, actor?, event?='push', displayTitle?})   a run whose job names
 *                                        the environment: creates the job's deployment, delivers `deployment`
 *                                        (with `workflow_run`) and, where the rule is enabled,
 *                                        `deployment_protection_rule`; returns the run
 *   rerunWorkflowRun(runId)              "Re-run all jobs" of a completed run: new attempt, new deployment
 *   finishWorkflowJob(runId, 'success' | 'failure', {report? = true})   the approved job ends; with report,
 *                                        GitHub Actions' `in_progress` and outcome statuses on its deployment
 *   cancelWorkflowRun(runId)            the run completes as cancelled (waiting or running)
 *   workflowRun(runId) · gateReviews(runId?)   a run; the app's reviews (state null: progress comment)
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { githubOperationId, githubRequestProblems, githubResponseProblems } from './openapi.ts';
import { type CreatedApp, ManifestApps } from './github-standin/app-manifests.ts';
import { type ApiContext, type ApiReply, deliverIssueCommentWebhook, errorReply, handleApiRequest } from './github-standin/routes.ts';
import {
  type AddRepositoryOptions,
  type Comment,
  type CommitState,
  type Deployment,
  type DeploymentStatus,
  type GateReview,
  type Permission,
  StandinState,
  timestamp,
  type WorkflowRun,
} from './github-standin/state.ts';
import { type DeliveryRecord, WebhookSender } from './github-standin/webhooks.ts';
import {
  cancelWorkflowRun,
  finishWorkflowJob,
  rerunWorkflowRun,
  startWorkflowRun,
  type StartRunOptions,
} from './github-standin/workflow-runs.ts';

export type {
  AddRepositoryOptions,
  Comment,
  Deployment,
  DeploymentStatus,
  DeliveryRecord,
  GateReview,
  Permission,
  StartRunOptions,
  WorkflowRun,
};

export interface StandinOptions {
  webhookUrl?: string | null;
  webhookSecret: string;
  tokenLifetimeMs?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  status: number;
  body?: unknown;
  at: number;
}

export interface RepoHandle {
  owner: string;
  name: string;
  fullName: string;
  id: number;
  defaultBranch: string;
  installationId: number;
  /** SHA of the default branch's head now (it moves with setFile and addCommit). */
  readonly headSha: string;
}

export interface AddPullRequestOptions {
  number?: number;
  headRef: string;
  headSha?: string;
  fork?: boolean;
  state?: 'open' | 'closed';
  author?: string;
}

interface Fault {
  method: string;
  path: RegExp;
  reply: { status: number; body?: unknown; headers?: Record<string, string>; afterWork?: boolean };
  remaining: number;
}

const API_PREFIX = '/api/v3';

export interface GitHubStandin {
  apiUrl: string;
  host: string;
  close(): Promise<void>;
  addRepository(opts: AddRepositoryOptions): RepoHandle;
  setFile(repo: string, path: string, text: string, branch?: string): string;
  /** `commitDate`: the date written into the commit (a pusher may write any); the push is timed by GitHub. */
  addCommit(repo: string, branch?: string, opts?: { commitDate?: string }): string;
  addPullRequest(repo: string, opts: AddPullRequestOptions): number;
  setPermission(repo: string, user: string, permission: Permission): void;
  setCommitStatus(repo: string, sha: string, context: string, state: CommitState): void;
  addUserToken(token: string, login: string): void;
  postComment(
    repo: string,
    issueNumber: number,
    user: string,
    body: string,
    opts?: { userType?: 'User' | 'Bot' },
  ): Promise<{ commentId: number; deliveryId: string }>;
  deliver(event: string, payload: object, opts?: { guid?: string }): Promise<{ status: number }>;
  setWebhookUrl(url: string | null): void;
  deployments(repo: string): Deployment[];
  statuses(deploymentId: number): DeploymentStatus[];
  comments(repo: string, issueNumber: number): Comment[];
  reactions(commentId: number): string[];
  requests: RecordedRequest[];
  problems: string[];
  /** Apps created through the manifest flow (its web page, then the code exchange). */
  manifestApps: CreatedApp[];
  deliveries: DeliveryRecord[];
  injectFault(
    match: { method: string; path: RegExp },
    reply: { status: number; body?: unknown; headers?: Record<string, string>; afterWork?: boolean },
    times?: number,
  ): void;
  waitFor<T>(predicate: () => T | undefined | false | null, timeoutMs?: number): Promise<T>;
  /** A run whose job names `environment`; returns the run (its `deploymentId` is the current attempt's). */
  startWorkflowRun(repo: string, options: StartRunOptions): WorkflowRun;
  rerunWorkflowRun(runId: number): WorkflowRun;
  /** The approved job ends; `report: false` leaves its deployment without an end (a crashed runner). */
  finishWorkflowJob(runId: number, outcome: 'success' | 'failure', options?: { report?: boolean }): void;
  /** "Cancel workflow": the run completes as cancelled. */
  cancelWorkflowRun(runId: number): void;
  workflowRun(runId: number): WorkflowRun;
  /** Reviews the app sent to runs' callbacks, oldest first. */
  gateReviews(runId?: number): GateReview[];
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(response: ServerResponse, reply: ApiReply): void {
  const headers: Record<string, string> = {
    'x-github-request-id': `STANDIN:${Date.now().toString(16)}`,
    'x-ratelimit-limit': '5000',
    'x-ratelimit-remaining': '4999',
    'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
    'x-ratelimit-resource': 'core',
    ...reply.headers,
  };
  if (reply.raw !== undefined) {
    response.writeHead(reply.status, { 'content-type': 'application/vnd.github.raw; charset=utf-8', ...headers });
    response.end(reply.raw);
  } else if (reply.body === undefined || reply.status === 204) {
    response.writeHead(reply.status, headers);
    response.end();
  } else {
    response.writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    response.end(JSON.stringify(reply.body));
  }
}

export async function startGitHubStandin(options: StandinOptions): Promise<GitHubStandin> {
  const state = new StandinState();
  const problems: string[] = [];
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const webhooks = new WebhookSender({
    url: options.webhookUrl ?? null,
    secret: options.webhookSecret,
    onProblem: (problem) => problems.push(problem),
  });
  const urls = { api: '', web: '' };
  const requireRun = (runId: number): WorkflowRun => {
    const run = state.workflowRuns.find((candidate) => candidate.id === runId);
    if (!run) throw new Error(`GitHub stand-in: no workflow run ${runId}`);
    return run;
  };
  const manifestApps = new ManifestApps();
  const context: ApiContext = { state, webhooks, urls, tokenLifetimeMs: options.tokenLifetimeMs ?? 3_600_000 };

  async function answer(request: IncomingMessage): Promise<{ reply: ApiReply; path: string; body: unknown }> {
    const url = new URL(request.url ?? '/', 'http://standin.invalid');
    const method = (request.method ?? 'GET').toUpperCase();
    const path = url.pathname.startsWith(`${API_PREFIX}/`) ? url.pathname.slice(API_PREFIX.length) : null;
    const text = await readBody(request);
    const recordedPath = `${path ?? url.pathname}${url.search}`;
    if (path === null) {
      return { reply: manifestApps.page(method, url.pathname, text) ?? errorReply(404, 'Not Found'), path: recordedPath, body: undefined };
    }

    let body: unknown;
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        return { reply: errorReply(400, 'Problems parsing JSON'), path: recordedPath, body: text };
      }
    }
    const pathWithQuery = `${path}${url.search}`;
    if (githubOperationId(method, pathWithQuery) === null) {
      return { reply: errorReply(404, 'Not Found'), path: recordedPath, body };
    }
    const requestProblems = githubRequestProblems(method, pathWithQuery, body);
    if (requestProblems.length > 0) {
      const errors = requestProblems.map((message) => ({ code: 'invalid', message }));
      return { reply: errorReply(422, 'Validation Failed', { errors }), path: recordedPath, body };
    }

    const fault = faults.find((candidate) => candidate.method === method && candidate.path.test(path));
    if (fault) {
      fault.remaining -= 1;
      if (fault.remaining <= 0) faults.splice(faults.indexOf(fault), 1);
      const { status, body: faultBody, headers, afterWork } = fault.reply;
      if (afterWork) handleApiRequest({ method, path, query: url.searchParams, headers: request.headers, body }, context);
      return { reply: { status, body: faultBody, headers }, path: recordedPath, body };
    }

    const reply =
      manifestApps.conversion(method, path, urls) ??
      handleApiRequest({ method, path, query: url.searchParams, headers: request.headers, body }, context);
    if (reply === null) {
      problems.push(`${method} ${path}: ${githubOperationId(method, path)} is not implemented by the GitHub stand-in`);
      return { reply: errorReply(404, 'Not Found'), path: recordedPath, body };
    }
    if (reply.raw === undefined) {
      const found = githubResponseProblems(method, pathWithQuery, reply.status, reply.body ?? null);
      // Error answers are checked only where the description documents their status (see the header).
      const relevant = reply.status < 400 ? found : found.filter((problem) => !problem.includes('is not documented'));
      for (const problem of relevant) problems.push(`${method} ${recordedPath} → ${reply.status}: ${problem}`);
    }
    return { reply, path: recordedPath, body };
  }

  const server = createServer((request, response) => {
    answer(request)
      .then(({ reply, path, body }) => {
        const method = (request.method ?? 'GET').toUpperCase();
        requests.push({ method, path, status: reply.status, body, at: Date.now() });
        send(response, reply);
      })
      .catch((error: unknown) => {
        const detail = error instanceof Error ? error.stack : String(error);
        problems.push(`${request.method} ${request.url}: the stand-in failed: ${detail}`);
        send(response, errorReply(500, 'Internal stand-in error'));
      });
  });
  // Node closes a connection idle for 5 s; a client that sends its next request on it just then (a test
  // paused longer on a loaded machine) reads ECONNRESET. GitHub keeps connections far longer: so does this.
  server.keepAliveTimeout = 50_000; // below the 60 s headersTimeout
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = `127.0.0.1:${port}`;
  urls.api = `http://${host}${API_PREFIX}`;
  urls.web = `http://${host}`;

  return {
    apiUrl: urls.api,
    host,
    requests,
    problems,
    manifestApps: manifestApps.created,
    deliveries: webhooks.deliveries,

    async close() {
      await webhooks.idle();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },

    addRepository(opts) {
      const repository = state.addRepository(opts);
      return {
        owner: repository.owner.login,
        name: repository.name,
        fullName: repository.fullName,
        id: repository.id,
        defaultBranch: repository.defaultBranch,
        installationId: repository.installationId,
        get headSha() {
          return repository.branches.get(repository.defaultBranch)!;
        },
      };
    },

    setFile(repo, path, text, branch) {
      const repository = state.requireRepository(repo);
      const target = branch ?? repository.defaultBranch;
      const parentSha = repository.branches.get(target) ?? repository.branches.get(repository.defaultBranch)!;
      const files = new Map(repository.commits.get(parentSha)!.files);
      files.set(path, text);
      return state.commit(repository, target, `Update ${path}`, files).sha;
    },

    addCommit(repo, branch, opts = {}) {
      const repository = state.requireRepository(repo);
      return state.commit(repository, branch ?? repository.defaultBranch, 'A change', undefined, opts.commitDate).sha;
    },

    addPullRequest(repo, opts) {
      const repository = state.requireRepository(repo);
      const number = opts.number ?? repository.nextIssueNumber;
      if (repository.pulls.has(number)) throw new Error(`GitHub stand-in: ${repo} already has pull request #${number}`);
      repository.nextIssueNumber = Math.max(repository.nextIssueNumber, number + 1);
      const headSha =
        opts.headSha ?? repository.branches.get(opts.headRef) ?? state.commit(repository, opts.headRef, `Work on ${opts.headRef}`).sha;
      repository.pulls.set(number, {
        number,
        headRef: opts.headRef,
        headSha,
        fork: opts.fork ?? false,
        state: opts.state ?? 'open',
        author: state.user(opts.author ?? repository.owner.login),
        createdAt: timestamp(),
      });
      return number;
    },

    setPermission(repo, user, permission) {
      state.requireRepository(repo).permissions.set(user, permission);
    },

    setCommitStatus(repo, sha, commitContext, commitState) {
      const repository = state.requireRepository(repo);
      if (!repository.commits.has(sha)) throw new Error(`GitHub stand-in: ${repo} has no commit ${sha}`);
      const list = repository.commitStatuses.get(sha) ?? [];
      list.push({ id: state.newId(), context: commitContext, state: commitState, createdAt: timestamp() });
      repository.commitStatuses.set(sha, list);
    },

    addUserToken(token, login) {
      state.tokens.set(token, { kind: 'user', user: state.user(login) });
    },

    async postComment(repo, issueNumber, user, body, opts = {}) {
      const repository = state.requireRepository(repo);
      if (!repository.pulls.has(issueNumber)) {
        throw new Error(`GitHub stand-in: ${repo} has no pull request #${issueNumber}`);
      }
      const now = timestamp();
      const comment = {
        id: state.newId(),
        repository: repository.fullName,
        issueNumber,
        user: state.user(user, opts.userType),
        body,
        createdAt: now,
        updatedAt: now,
      };
      state.comments.push(comment);
      const delivery = deliverIssueCommentWebhook(context, repository, comment.id);
      await delivery.done;
      return { commentId: comment.id, deliveryId: delivery.record.guid };
    },

    async deliver(event, payload, opts = {}) {
      const delivery = webhooks.send(event, payload as Record<string, unknown>, { ...opts, checkPayload: false });
      const record = await delivery.done;
      return { status: record.status ?? 0 };
    },

    setWebhookUrl(url) {
      webhooks.url = url;
    },

    deployments(repo) {
      const repository = state.requireRepository(repo);
      return state.deployments.filter((deployment) => deployment.repository === repository.fullName);
    },

    statuses(deploymentId) {
      return state.statusesOf(deploymentId);
    },

    comments(repo, issueNumber) {
      const repository = state.requireRepository(repo);
      return state.comments.filter((comment) => comment.repository === repository.fullName && comment.issueNumber === issueNumber);
    },

    reactions(commentId) {
      return state.reactions.filter((reaction) => reaction.commentId === commentId).map((reaction) => reaction.content);
    },

    startWorkflowRun(repo, runOptions) {
      return startWorkflowRun(context, state.requireRepository(repo), runOptions);
    },

    rerunWorkflowRun(runId) {
      const run = requireRun(runId);
      rerunWorkflowRun(context, state.requireRepository(run.repository), run);
      return run;
    },

    finishWorkflowJob(runId, outcome, finishOptions = {}) {
      const run = requireRun(runId);
      finishWorkflowJob(context, state.requireRepository(run.repository), run, outcome, finishOptions.report ?? true);
    },

    cancelWorkflowRun: (runId) => cancelWorkflowRun(requireRun(runId)),

    workflowRun: (runId) => requireRun(runId),

    gateReviews(runId) {
      return state.gateReviews.filter((review) => runId === undefined || review.runId === runId);
    },

    injectFault(match, reply, times = 1) {
      faults.push({ method: match.method.toUpperCase(), path: match.path, reply, remaining: times });
    },

    // The default is a bound for what never comes, far beyond what a loaded machine takes: not a speed check.
    async waitFor(predicate, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = predicate();
        if (value) return value;
        if (Date.now() >= deadline) throw new Error(`GitHub stand-in: waitFor gave up after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

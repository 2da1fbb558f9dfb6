/**
 * The REST routes the GitHub stand-in implements, as plain functions of (request, state) → reply, with
 * GitHub's behaviour where shipguard depends on it (see ../github-standin.ts for the list). No HTTP here:
 * the server parses, validates against the OpenAPI description and records; this decides.
 *
 * Authentication, as on GitHub:
 * - `/app/...` and `GET /repos/{owner}/{repo}/installation` take the app's JWT (`Authorization: Bearer
 *   <jwt>`; any well-formed JWT is accepted, its signature is not checked);
 * - every other route takes an installation token (from `POST /app/installations/{id}/access_tokens`,
 *   valid for `tokenLifetimeMs`, then 401 `Bad credentials`) or a user token registered by the test
 *   (`addUserToken`); none at all gets 401 `Requires authentication`. An installation token sees only the
 *   repositories of its installation (others: 404, as on GitHub).
 */
import { randomBytes } from 'node:crypto';
import {
  fullRepositoryShape,
  appShape,
  combinedStatusShape,
  commitShape,
  contentFileShape,
  deploymentShape,
  deploymentStatusShape,
  installationShape,
  installationTokenShape,
  issueCommentShape,
  pullRequestIssueShape,
  pullRequestShape,
  reactionShape,
  userShape,
  webhookExample,
  webhookRepositoryShape,
  workflowRunShape,
  deploymentWorkflowRunShape,
  type StandinUrls,
} from './shapes.ts';
import {
  type Deployment,
  type DeploymentState,
  type DeploymentStatus,
  type Repository,
  type StandinState,
  timestamp,
  type User,
  type WorkflowRun,
  APP_ID,
  APP_SLUG,
} from './state.ts';
import type { WebhookSender } from './webhooks.ts';

export interface ApiRequest {
  method: string;
  /** Path below the API base (`/repos/o/r/deployments`), without the query. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface ApiReply {
  status: number;
  /** JSON body; or `raw` text for the raw media type of contents. */
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
}

type Caller = { kind: 'app' } | { kind: 'installation'; installationId: number } | { kind: 'user'; user: User };

/** What every handler works with: the state, the webhook sender, the stand-in's addresses, settings. */
export interface ApiContext {
  state: StandinState;
  webhooks: WebhookSender;
  urls: StandinUrls;
  tokenLifetimeMs: number;
}

type Handler = (request: ApiRequest, params: Record<string, string>, caller: Caller, context: ApiContext) => ApiReply;

interface Route {
  method: string;
  pattern: RegExp;
  auth: 'app' | 'repository';
  handle: Handler;
}

const DOCS = 'https://docs.github.com/rest';

export function errorReply(status: number, message: string, extra: Record<string, unknown> = {}): ApiReply {
  return { status, body: { message, documentation_url: DOCS, status: String(status), ...extra } };
}

const notFound = (): ApiReply => errorReply(404, 'Not Found');

/** A template (`{name}`: one segment, `{name+}`: the rest of the path) as a regular expression with named groups. */
function route(method: string, template: string, auth: Route['auth'], handle: Handler): Route {
  const pattern = template.replace(/\{(\w+)(\+?)\}/g, (_, name: string, rest: string) => (rest ? `(?<${name}>.+)` : `(?<${name}>[^/]+)`));
  return { method, pattern: new RegExp(`^${pattern}$`), auth, handle };
}

function body<T>(request: ApiRequest): T {
  return (request.body ?? {}) as T;
}

function integer(text: string | undefined): number {
  return Number.parseInt(text ?? '', 10);
}

/** Page of a list with GitHub's `Link` header (`per_page` ≤ 100, `page` from 1). */
function paginate<T>(items: T[], request: ApiRequest, urls: StandinUrls): { page: T[]; headers: Record<string, string> } {
  const perPage = Math.min(Math.max(integer(request.query.get('per_page') ?? '30'), 1), 100);
  const page = Math.max(integer(request.query.get('page') ?? '1'), 1);
  const lastPage = Math.max(Math.ceil(items.length / perPage), 1);
  const link = (target: number, rel: string): string => {
    const query = new URLSearchParams(request.query);
    query.set('per_page', String(perPage));
    query.set('page', String(target));
    return `<${urls.api}${request.path}?${query}>; rel="${rel}"`;
  };
  const links: string[] = [];
  if (page < lastPage) links.push(link(page + 1, 'next'), link(lastPage, 'last'));
  if (page > 1) links.push(link(1, 'first'), link(page - 1, 'prev'));
  return {
    page: items.slice((page - 1) * perPage, page * perPage),
    headers: links.length > 0 ? { link: links.join(', ') } : {},
  };
}

function creatorOf(caller: Caller, state: StandinState): User {
  return caller.kind === 'user' ? caller.user : state.appBot();
}

type RepositoryHandler = (
  request: ApiRequest,
  repository: Repository,
  params: Record<string, string>,
  caller: Caller,
  context: ApiContext,
) => ApiReply;

/** Finds the repository of `{owner}/{repo}` that the caller may see (404 otherwise, as on GitHub). */
function withRepository(handler: RepositoryHandler): Handler {
  return (request, params, caller, context) => {
    const repository = context.state.repository(`${params.owner}/${params.repo}`);
    if (!repository) return notFound();
    if (caller.kind === 'installation' && caller.installationId !== repository.installationId) return notFound();
    return handler(request, repository, params, caller, context);
  };
}

export function installationPart(repository: Repository): Record<string, unknown> {
  const id = repository.installationId;
  return { id, node_id: Buffer.from(`0:Installation${id}`).toString('base64') };
}

/**
 * Webhooks are built on GitHub's example payloads: state fills the parts that carry it. A job's deployment
 * (GitHub Actions' own, for a job that names an environment) names its workflow run.
 */
export function deliverDeploymentWebhook(context: ApiContext, repository: Repository, deployment: Deployment, run?: WorkflowRun): void {
  const payload = webhookExample('deployment', 'created');
  Object.assign(payload, {
    action: 'created',
    deployment: deploymentShape(repository, deployment, context.urls),
    repository: webhookRepositoryShape(repository, context.urls, payload.repository as Record<string, unknown>),
    installation: installationPart(repository),
    sender: userShape(deployment.creator, context.urls),
    workflow: null,
    workflow_run: run ? deploymentWorkflowRunShape(repository, run, context.urls) : null,
  });
  delete payload.organization;
  context.webhooks.send('deployment', payload);
}

export function deliverDeploymentStatusWebhook(
  context: ApiContext,
  repository: Repository,
  deployment: Deployment,
  status: DeploymentStatus,
): void {
  const payload = webhookExample('deployment_status', 'created');
  Object.assign(payload, {
    action: 'created',
    deployment_status: deploymentStatusShape(repository, status, context.urls),
    deployment: deploymentShape(repository, deployment, context.urls),
    repository: webhookRepositoryShape(repository, context.urls, payload.repository as Record<string, unknown>),
    installation: installationPart(repository),
    sender: userShape(status.creator, context.urls),
  });
  for (const key of ['organization', 'check_run', 'workflow', 'workflow_run']) delete payload[key];
  context.webhooks.send('deployment_status', payload);
}

/**
 * Delivers `issue_comment` for a comment on a pull request: `created`, or `edited` with the previous body
 * in `changes`; returns the delivery.
 */
export function deliverIssueCommentWebhook(
  context: ApiContext,
  repository: Repository,
  commentId: number,
  edit?: { previousBody: string; editor: User },
) {
  const { state, urls } = context;
  const comment = state.comments.find((candidate) => candidate.id === commentId)!;
  const pull = repository.pulls.get(comment.issueNumber)!;
  const action = edit ? 'edited' : 'created';
  const payload = webhookExample('issue_comment', action);
  if (edit) payload.changes = { body: { from: edit.previousBody } };
  Object.assign(payload, {
    action,
    issue: pullRequestIssueShape(repository, pull, payload.issue as Record<string, unknown>, urls),
    comment: issueCommentShape(repository, comment, [], urls),
    repository: webhookRepositoryShape(repository, urls, payload.repository as Record<string, unknown>),
    installation: installationPart(repository),
    sender: userShape(edit?.editor ?? comment.user, urls),
  });
  delete payload.organization;
  return context.webhooks.send('issue_comment', payload);
}

// --- app routes (JWT) ---

const createInstallationToken: Handler = (request, params, _caller, { state, tokenLifetimeMs }) => {
  const installationId = integer(params.installation_id);
  const known = [...state.repositories.values()].some((repository) => repository.installationId === installationId);
  if (!known) return notFound();
  const token = `ghs_${randomBytes(18).toString('hex')}`;
  const expiresAt = Date.now() + tokenLifetimeMs;
  state.tokens.set(token, { kind: 'installation', installationId, expiresAt });
  return { status: 201, body: installationTokenShape(token, expiresAt) };
};

const getRepositoryInstallation: Handler = (_request, params, _caller, { state, urls }) => {
  const repository = state.repository(`${params.owner}/${params.repo}`);
  if (!repository) return notFound();
  return { status: 200, body: installationShape(repository.installationId, repository.owner, urls) };
};

const getApp: Handler = (_request, _params, _caller, { state, urls }) => ({ status: 200, body: appShape(state, urls) });

const listInstallations: Handler = (request, _params, _caller, { state, urls }) => {
  const accounts = new Map<number, User>();
  for (const repository of state.repositories.values()) {
    if (!accounts.has(repository.installationId)) accounts.set(repository.installationId, repository.owner);
  }
  const installations = [...accounts].map(([id, account]) => {
    const installation = installationShape(id, account, urls);
    // The description's schema for this list (unlike the single installation's) wants the account to be a
    // user *and* an enterprise (allOf): the enterprise's required fields are added so that it validates.
    const created = timestamp();
    const enterpriseFields = { name: account.login, slug: account.login, created_at: created, updated_at: created };
    Object.assign(installation.account as object, enterpriseFields);
    return installation;
  });
  const { page, headers } = paginate(installations, request, urls);
  return { status: 200, body: page, headers };
};

const listDeliveries: Handler = (request, _params, _caller, { webhooks, urls }) => {
  const wanted = request.query.get('status');
  const perPage = Math.min(Math.max(integer(request.query.get('per_page') ?? '30'), 1), 100);
  // The cursor is the id below which the next page starts (the list is newest first).
  const before = request.query.has('cursor') ? integer(request.query.get('cursor')!) : Number.POSITIVE_INFINITY;
  const matching = [...webhooks.deliveries]
    .reverse()
    .filter((delivery) => delivery.status !== null && delivery.id < before)
    .filter((delivery) => {
      if (!wanted) return true;
      const ok = delivery.status! >= 200 && delivery.status! < 300;
      return wanted === 'success' ? ok : !ok;
    });
  const page = matching.slice(0, perPage);
  const headers: Record<string, string> = {};
  if (matching.length > perPage) {
    const query = new URLSearchParams(request.query);
    query.set('cursor', String(page.at(-1)!.id));
    headers.link = `<${urls.api}${request.path}?${query}>; rel="next"`;
  }
  const body = page.map((delivery) => ({
    id: delivery.id,
    guid: delivery.guid,
    delivered_at: delivery.deliveredAt,
    redelivery: delivery.redelivery,
    duration: delivery.durationSeconds,
    status: delivery.statusText,
    status_code: delivery.status!,
    event: delivery.event,
    action: delivery.action,
    installation_id: delivery.installationId,
    repository_id: delivery.repositoryId,
    throttled_at: null,
  }));
  return { status: 200, body, headers };
};

const redeliver: Handler = (_request, params, _caller, { webhooks }) => {
  return webhooks.redeliver(integer(params.delivery_id)) ? { status: 202, body: {} } : notFound();
};

// --- repository routes (installation or user token) ---

const getRepository = withRepository((_request, repository, _params, _caller, { urls }) => ({
  status: 200,
  body: fullRepositoryShape(repository, urls),
}));

const getContent = withRepository((request, repository, params, _caller, { state, urls }) => {
  const ref = request.query.get('ref') ?? repository.defaultBranch;
  const resolved = state.resolveRef(repository, ref);
  if (!resolved) return errorReply(404, `No commit found for the ref ${ref}`);
  const text = resolved.commit.files.get(params.path!);
  if (text === undefined) return notFound();
  const accept = String(request.headers.accept ?? '');
  if (/application\/vnd\.github(\.v3)?\.raw/.test(accept)) return { status: 200, raw: text };
  return { status: 200, body: contentFileShape(repository, params.path!, text, resolved.commit.sha, urls) };
});

const getCommit = withRepository((_request, repository, params, _caller, { state, urls }) => {
  const resolved = state.resolveRef(repository, params.ref!);
  if (!resolved) return errorReply(422, `No commit found for SHA: ${params.ref}`);
  return { status: 200, body: commitShape(repository, resolved.commit, repository.owner, urls) };
});

const getCombinedStatus = withRepository((_request, repository, params, _caller, { state, urls }) => {
  const resolved = state.resolveRef(repository, params.ref!);
  if (!resolved) return notFound();
  const statuses = state.latestCommitStatuses(repository, resolved.commit.sha);
  return { status: 200, body: combinedStatusShape(repository, resolved.commit.sha, statuses, urls) };
});

const listCheckRuns = withRepository((_request, repository, params, _caller, { state }) => {
  if (!state.resolveRef(repository, params.ref!)) return notFound();
  // The stand-in models commit statuses only, no check runs.
  return { status: 200, body: { total_count: 0, check_runs: [] } };
});

const getPullRequest = withRepository((_request, repository, params, _caller, { urls }) => {
  const pull = repository.pulls.get(integer(params.pull_number));
  return pull ? { status: 200, body: pullRequestShape(repository, pull, urls) } : notFound();
});

/** GitHub's `permission` is the legacy level (admin, write, read, none); `role_name` the actual role. */
const LEGACY_PERMISSION = {
  admin: 'admin',
  maintain: 'write',
  write: 'write',
  triage: 'read',
  read: 'read',
  none: 'none',
} as const;

const getCollaboratorPermission = withRepository((_request, repository, params, _caller, { state, urls }) => {
  const role = repository.permissions.get(params.username!) ?? (repository.private ? 'none' : 'read');
  return {
    status: 200,
    body: {
      permission: LEGACY_PERMISSION[role],
      role_name: role,
      user: { ...userShape(state.user(params.username!), urls), role_name: role },
    },
  };
});

interface CreateDeploymentBody {
  ref: string;
  task?: string;
  auto_merge?: boolean;
  required_contexts?: string[];
  payload?: unknown;
  environment?: string;
  description?: string | null;
  transient_environment?: boolean;
  production_environment?: boolean;
}

const createDeployment = withRepository((request, repository, _params, caller, context) => {
  const { state } = context;
  const input = body<CreateDeploymentBody>(request);
  const resolved = state.resolveRef(repository, input.ref);
  if (!resolved) return errorReply(422, `No ref found for: ${input.ref}`);

  // Simulates GitHub's auto-merge: with auto_merge (the default), deploying a branch other than the default
  // one merges the default branch into it and creates no deployment.
  if (input.auto_merge !== false && resolved.branch !== null && resolved.branch !== repository.defaultBranch) {
    const message = `Auto-merged ${repository.defaultBranch} into ${resolved.branch} on deployment.`;
    return { status: 202, body: { message } };
  }

  const latest = state.latestCommitStatuses(repository, resolved.commit.sha);
  const checked =
    input.required_contexts === undefined
      ? latest.map((status) => ({ context: status.context, state: status.state as string }))
      : input.required_contexts.map((context) => ({
          context,
          state: latest.find((status) => status.context === context)?.state ?? 'missing',
        }));
  const failing = checked.filter((check) => check.state !== 'success');
  if (failing.length > 0) {
    return errorReply(409, `Conflict: Commit status checks failed for ${input.ref}.`, {
      errors: [{ contexts: failing, resource: 'Deployment', field: 'required_contexts', code: 'invalid' }],
    });
  }

  const environment = input.environment ?? 'production';
  const now = timestamp();
  const deployment: Deployment = {
    id: state.newId(),
    repository: repository.fullName,
    sha: resolved.commit.sha,
    ref: input.ref,
    task: input.task ?? 'deploy',
    environment,
    originalEnvironment: environment,
    payload: parsePayload(input.payload),
    description: input.description ?? null,
    transientEnvironment: input.transient_environment ?? false,
    productionEnvironment: input.production_environment ?? environment === 'production',
    creator: creatorOf(caller, state),
    createdAt: now,
    updatedAt: now,
  };
  state.deployments.push(deployment);
  deliverDeploymentWebhook(context, repository, deployment);
  return { status: 201, body: deploymentShape(repository, deployment, context.urls) };
});

/** GitHub stores a JSON text payload as the object it encodes. */
function parsePayload(payload: unknown): unknown {
  if (payload === undefined) return {};
  if (typeof payload !== 'string') return payload;
  try {
    const parsed: unknown = JSON.parse(payload);
    return parsed !== null && typeof parsed === 'object' ? parsed : payload;
  } catch {
    return payload;
  }
}

const listDeployments = withRepository((request, repository, _params, _caller, { state, urls }) => {
  const filters = ['sha', 'ref', 'task', 'environment'] as const;
  const found = state.deployments
    .filter((deployment) => deployment.repository === repository.fullName)
    .filter((deployment) => filters.every((name) => !request.query.has(name) || deployment[name] === request.query.get(name)))
    .reverse();
  const { page, headers } = paginate(found, request, urls);
  return { status: 200, body: page.map((deployment) => deploymentShape(repository, deployment, urls)), headers };
});

/** The repository's pushes, newest first, filtered by `ref` (a branch name or `refs/heads/<branch>`). */
const listActivities = withRepository((request, repository, _params, _caller, { urls }) => {
  const ref = request.query.get('ref');
  const wanted = ref === null ? null : ref.startsWith('refs/') ? ref : `refs/heads/${ref}`;
  const perPage = Math.min(100, Number(request.query.get('per_page') ?? 30));
  const found = repository.activity
    .filter((activity) => wanted === null || activity.ref === wanted)
    .reverse()
    .slice(0, perPage);
  const body = found.map((activity) => ({
    id: activity.id,
    node_id: Buffer.from(`Activity:${activity.id}`).toString('base64'),
    before: activity.before,
    after: activity.after,
    ref: activity.ref,
    timestamp: activity.timestamp,
    activity_type: activity.activityType,
    actor: userShape(repository.owner, urls),
  }));
  return { status: 200, body };
});

function findDeployment(state: StandinState, repository: Repository, id: string | undefined): Deployment | undefined {
  return state.deployments.find((deployment) => deployment.id === integer(id) && deployment.repository === repository.fullName);
}

const getDeployment = withRepository((_request, repository, params, _caller, { state, urls }) => {
  const deployment = findDeployment(state, repository, params.deployment_id);
  return deployment ? { status: 200, body: deploymentShape(repository, deployment, urls) } : notFound();
});

interface CreateStatusBody {
  state: DeploymentState;
  target_url?: string;
  log_url?: string;
  description?: string;
  environment?: string;
  environment_url?: string;
  auto_inactive?: boolean;
}

const createDeploymentStatus = withRepository((request, repository, params, caller, context) => {
  const { state } = context;
  const deployment = findDeployment(state, repository, params.deployment_id);
  if (!deployment) return notFound();
  const input = body<CreateStatusBody>(request);
  const description = input.description ?? '';
  if (description.length > 140) {
    return errorReply(422, 'Validation Failed', {
      errors: [
        {
          resource: 'DeploymentStatus',
          code: 'custom',
          field: 'description',
          message: 'description is too long (maximum is 140 characters)',
        },
      ],
    });
  }
  if (input.environment) deployment.environment = input.environment;
  const creator = creatorOf(caller, state);
  const status = addStatus(state, deployment, {
    state: input.state,
    description,
    targetUrl: input.log_url ?? input.target_url ?? '',
    logUrl: input.log_url ?? input.target_url ?? '',
    environmentUrl: input.environment_url ?? '',
    creator,
  });
  if (input.state === 'success' && input.auto_inactive !== false) markOlderInactive(state, deployment, creator);
  if (status.state !== 'inactive') deliverDeploymentStatusWebhook(context, repository, deployment, status);
  return { status: 201, body: deploymentStatusShape(repository, status, context.urls) };
});

export function addStatus(
  state: StandinState,
  deployment: Deployment,
  fields: Pick<DeploymentStatus, 'state' | 'description' | 'targetUrl' | 'logUrl' | 'environmentUrl' | 'creator'>,
): DeploymentStatus {
  const status: DeploymentStatus = {
    id: state.newId(),
    deploymentId: deployment.id,
    environment: deployment.environment,
    createdAt: timestamp(),
    ...fields,
  };
  state.deploymentStatuses.push(status);
  deployment.updatedAt = status.createdAt;
  return status;
}

/**
 * `auto_inactive`, as GitHub documents it: an `inactive` status is added to every prior non-transient,
 * non-production deployment of the same repository and environment whose latest state is `success`.
 * GitHub sends no webhook for these.
 */
function markOlderInactive(state: StandinState, current: Deployment, creator: User): void {
  for (const older of state.deployments) {
    const sameEnvironment = older.repository === current.repository && older.environment === current.environment;
    const excluded = older.transientEnvironment || older.productionEnvironment;
    if (older.id >= current.id || !sameEnvironment || excluded) continue;
    const latest = state.latestStatusOf(older.id);
    if (latest?.state !== 'success') continue;
    addStatus(state, older, {
      state: 'inactive',
      description: '',
      targetUrl: latest.targetUrl,
      logUrl: latest.logUrl,
      environmentUrl: latest.environmentUrl,
      creator,
    });
  }
}

const listDeploymentStatuses = withRepository((request, repository, params, _caller, { state, urls }) => {
  const deployment = findDeployment(state, repository, params.deployment_id);
  if (!deployment) return notFound();
  const statuses = [...state.statusesOf(deployment.id)].reverse();
  const { page, headers } = paginate(statuses, request, urls);
  return { status: 200, body: page.map((status) => deploymentStatusShape(repository, status, urls)), headers };
});

function reactionsOf(state: StandinState, commentId: number) {
  return state.reactions.filter((reaction) => reaction.commentId === commentId);
}

const createComment = withRepository((request, repository, params, caller, context) => {
  const { state, urls } = context;
  const issueNumber = integer(params.issue_number);
  if (!repository.pulls.has(issueNumber)) return notFound();
  const now = timestamp();
  const comment = {
    id: state.newId(),
    repository: repository.fullName,
    issueNumber,
    user: creatorOf(caller, state),
    body: body<{ body: string }>(request).body,
    createdAt: now,
    updatedAt: now,
  };
  state.comments.push(comment);
  // GitHub delivers issue_comment for the app's own comments too: the bot must ignore them.
  deliverIssueCommentWebhook(context, repository, comment.id);
  return { status: 201, body: issueCommentShape(repository, comment, [], urls) };
});

function findComment(state: StandinState, repository: Repository, id: string | undefined) {
  return state.comments.find((comment) => comment.id === integer(id) && comment.repository === repository.fullName);
}

const updateComment = withRepository((request, repository, params, caller, context) => {
  const { state, urls } = context;
  const comment = findComment(state, repository, params.comment_id);
  if (!comment) return notFound();
  const previousBody = comment.body;
  comment.body = body<{ body: string }>(request).body;
  comment.updatedAt = timestamp();
  deliverIssueCommentWebhook(context, repository, comment.id, { previousBody, editor: creatorOf(caller, state) });
  return { status: 200, body: issueCommentShape(repository, comment, reactionsOf(state, comment.id), urls) };
});

const listComments = withRepository((request, repository, params, _caller, { state, urls }) => {
  const issueNumber = integer(params.issue_number);
  if (!repository.pulls.has(issueNumber)) return notFound();
  const comments = state.comments.filter((comment) => comment.repository === repository.fullName && comment.issueNumber === issueNumber);
  const { page, headers } = paginate(comments, request, urls);
  const shaped = page.map((comment) => issueCommentShape(repository, comment, reactionsOf(state, comment.id), urls));
  return { status: 200, body: shaped, headers };
});

const createReaction = withRepository((request, repository, params, caller, { state, urls }) => {
  const comment = findComment(state, repository, params.comment_id);
  if (!comment) return notFound();
  const content = body<{ content: string }>(request).content;
  const user = creatorOf(caller, state);
  const existing = reactionsOf(state, comment.id).find((reaction) => reaction.content === content && reaction.user.login === user.login);
  if (existing) return { status: 200, body: reactionShape(existing, urls) };
  const reaction = { id: state.newId(), commentId: comment.id, user, content, createdAt: timestamp() };
  state.reactions.push(reaction);
  return { status: 201, body: reactionShape(reaction, urls) };
});

const getWorkflowRun = withRepository((_request, repository, params, _caller, { state, urls }) => {
  const run = state.workflowRuns.find(
    (candidate) => candidate.id === integer(params.run_id) && candidate.repository === repository.fullName,
  );
  return run ? { status: 200, body: workflowRunShape(repository, run, urls) } : notFound();
});

/** GitHub's limits on a custom deployment protection rule's comments. */
const MAX_GATE_COMMENT = 1024;
const MAX_GATE_PROGRESS_COMMENTS = 10;

interface GateReviewBody {
  environment_name: string;
  state?: 'approved' | 'rejected';
  comment?: string;
}

/**
 * An app's review of a run waiting for its rule: installation tokens only; the run must wait for the app on
 * that environment (else 422); a comment alone (no state) is progress, at most 10 per deployment.
 */
const reviewDeploymentProtectionRule = withRepository((request, repository, params, caller, { state }) => {
  if (caller.kind !== 'installation') return errorReply(403, 'Resource not accessible by integration');
  const run = state.workflowRuns.find(
    (candidate) => candidate.id === integer(params.run_id) && candidate.repository === repository.fullName,
  );
  if (!run) return notFound();
  const input = body<GateReviewBody>(request);
  if (!run.waitingForRule || run.environment !== input.environment_name) {
    return errorReply(422, `No pending deployment protection rule for environment ${input.environment_name}`);
  }
  const comment = input.comment ?? '';
  if (comment.length > MAX_GATE_COMMENT) return errorReply(422, 'comment is too long (maximum is 1024 characters)');
  const progress = state.gateReviews.filter((review) => review.deploymentId === run.deploymentId && review.state === null);
  if (!input.state && progress.length >= MAX_GATE_PROGRESS_COMMENTS) return errorReply(422, 'Too many comments for this deployment');
  state.gateReviews.push({
    runId: run.id,
    deploymentId: run.deploymentId,
    environment: run.environment,
    state: input.state ?? null,
    comment,
    at: Date.now(),
  });
  if (input.state) {
    run.waitingForRule = false;
    run.status = input.state === 'approved' ? 'in_progress' : 'completed';
    run.conclusion = input.state === 'approved' ? null : 'failure';
    run.updatedAt = timestamp();
  }
  return { status: 204 };
});

/** A repository admin enables the app's custom deployment protection rule on an environment (this app only). */
const enableProtectionRule = withRepository((request, repository, params, caller, { state, urls }) => {
  if (caller.kind !== 'user' || repository.permissions.get(caller.user.login) !== 'admin') {
    return errorReply(403, 'Must have admin rights to Repository.');
  }
  if (body<{ integration_id?: number }>(request).integration_id !== APP_ID) {
    return errorReply(422, 'Validation Failed', {
      errors: [{ resource: 'DeploymentProtectionRule', code: 'invalid', field: 'integration_id' }],
    });
  }
  state.protectionRules.add(`${repository.fullName}|${params.environment_name}`);
  const id = state.newId();
  return {
    status: 201,
    body: {
      id,
      node_id: Buffer.from(`0:DeploymentProtectionRule${id}`).toString('base64'),
      enabled: true,
      app: {
        id: APP_ID,
        slug: APP_SLUG,
        integration_url: `${urls.api}/apps/${APP_SLUG}`,
        node_id: Buffer.from(`0:App${APP_ID}`).toString('base64'),
      },
    },
  };
});

const ROUTES: Route[] = [
  route('POST', '/app/installations/{installation_id}/access_tokens', 'app', createInstallationToken),
  route('GET', '/app', 'app', getApp),
  route('GET', '/app/installations', 'app', listInstallations),
  route('GET', '/app/hook/deliveries', 'app', listDeliveries),
  route('POST', '/app/hook/deliveries/{delivery_id}/attempts', 'app', redeliver),
  route('GET', '/repos/{owner}/{repo}/installation', 'app', getRepositoryInstallation),
  route('GET', '/repos/{owner}/{repo}', 'repository', getRepository),
  route('GET', '/repos/{owner}/{repo}/contents/{path+}', 'repository', getContent),
  route('GET', '/repos/{owner}/{repo}/commits/{ref}/status', 'repository', getCombinedStatus),
  route('GET', '/repos/{owner}/{repo}/commits/{ref}/check-runs', 'repository', listCheckRuns),
  route('GET', '/repos/{owner}/{repo}/commits/{ref+}', 'repository', getCommit),
  route('GET', '/repos/{owner}/{repo}/pulls/{pull_number}', 'repository', getPullRequest),
  route('GET', '/repos/{owner}/{repo}/activity', 'repository', listActivities),
  route('GET', '/repos/{owner}/{repo}/collaborators/{username}/permission', 'repository', getCollaboratorPermission),
  route('POST', '/repos/{owner}/{repo}/deployments', 'repository', createDeployment),
  route('GET', '/repos/{owner}/{repo}/deployments', 'repository', listDeployments),
  route('GET', '/repos/{owner}/{repo}/deployments/{deployment_id}', 'repository', getDeployment),
  route('POST', '/repos/{owner}/{repo}/deployments/{deployment_id}/statuses', 'repository', createDeploymentStatus),
  route('GET', '/repos/{owner}/{repo}/deployments/{deployment_id}/statuses', 'repository', listDeploymentStatuses),
  route('POST', '/repos/{owner}/{repo}/issues/{issue_number}/comments', 'repository', createComment),
  route('GET', '/repos/{owner}/{repo}/issues/{issue_number}/comments', 'repository', listComments),
  route('PATCH', '/repos/{owner}/{repo}/issues/comments/{comment_id}', 'repository', updateComment),
  route('POST', '/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions', 'repository', createReaction),
  route('GET', '/repos/{owner}/{repo}/actions/runs/{run_id}', 'repository', getWorkflowRun),
  route('POST', '/repos/{owner}/{repo}/environments/{environment_name}/deployment_protection_rules', 'repository', enableProtectionRule),
  route('POST', '/repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule', 'repository', reviewDeploymentProtectionRule),
];

/** Who the Authorization header says the caller is, or the 401 GitHub would answer. */
function authenticate(request: ApiRequest, needed: Route['auth'], state: StandinState): Caller | ApiReply {
  const header = String(request.headers.authorization ?? '');
  const credential = /^(?:bearer|token)\s+(\S+)$/i.exec(header)?.[1];
  const isJwt = credential !== undefined && /^eyJ[\w-]*\.[\w-]+\.[\w-]*$/.test(credential);
  if (needed === 'app') {
    return isJwt ? { kind: 'app' } : errorReply(401, 'A JSON web token could not be decoded');
  }
  if (credential === undefined || isJwt) return errorReply(401, 'Requires authentication');
  const owner = state.tokens.get(credential);
  if (!owner) return errorReply(401, 'Bad credentials');
  if (owner.kind === 'user') return owner;
  if (owner.expiresAt <= Date.now()) return errorReply(401, 'Bad credentials');
  return { kind: 'installation', installationId: owner.installationId };
}

/** Answers a request whose shape was already checked against the OpenAPI description; null: no such route here. */
export function handleApiRequest(request: ApiRequest, context: ApiContext): ApiReply | null {
  for (const candidate of ROUTES) {
    if (candidate.method !== request.method) continue;
    const found = candidate.pattern.exec(request.path);
    if (!found) continue;
    const params = Object.fromEntries(Object.entries(found.groups ?? {}).map(([name, value]) => [name, decodeURIComponent(value)]));
    const caller = authenticate(request, candidate.auth, context.state);
    if ('status' in caller) return caller;
    return candidate.handle(request, params, caller, context);
  }
  return null;
}

/**
 * GitHub-shaped JSON for the stand-in's state: REST response bodies and webhook payload parts.
 *
 * Large objects (repositories, pull requests, commits, the app, installations) start from GitHub's own
 * documented examples (OpenAPI `examples`, `@octokit/webhooks-examples`) so that every field GitHub
 * sends is there; the fields that carry state are then set from the stand-in's records, and the example's
 * URLs are pointed at the stand-in. Small objects are written out in full. Every body is checked against
 * the OpenAPI schemas by the server (responses) and by the webhook sender (payloads).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { githubResponseExample } from '../openapi.ts';
import {
  APP_ID,
  APP_SLUG,
  type Comment,
  type Commit,
  type CommitStatus,
  type Deployment,
  type DeploymentStatus,
  type PullRequest,
  type Reaction,
  type Repository,
  type StandinState,
  timestamp,
  type User,
  type WorkflowRun,
} from './state.ts';

type Json = Record<string, unknown>;

/** Where the stand-in answers: `api` is the REST base (`…/api/v3`), `web` the "github.com" pages. */
export interface StandinUrls {
  api: string;
  web: string;
}

const REACTION_CONTENTS = ['+1', '-1', 'laugh', 'confused', 'heart', 'hooray', 'eyes', 'rocket'] as const;

function nodeId(kind: string, id: number | string): string {
  return Buffer.from(`0:${kind}${id}`).toString('base64');
}

/** Deep copy of an example with its URLs and repository name pointed at the stand-in. */
function retarget<T>(example: T, urls: StandinUrls, fromFullName: string | null, toFullName: string | null): T {
  const rewrite = (value: unknown): unknown => {
    if (typeof value === 'string') {
      let text = value.replaceAll('https://api.github.com', urls.api).replaceAll('https://github.com', urls.web);
      if (fromFullName && toFullName) text = text.replaceAll(fromFullName, toFullName);
      return text;
    }
    if (Array.isArray(value)) return value.map(rewrite);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, rewrite(inner)]));
    }
    return value;
  };
  return rewrite(example) as T;
}

function example(method: string, path: string, status: number): Json {
  const body = githubResponseExample(method, path, status);
  if (!body || typeof body !== 'object') {
    throw new Error(`GitHub stand-in: no documented example for ${method} ${path}`);
  }
  return (Array.isArray(body) ? body[0] : body) as Json;
}

let webhookExamples: Array<{ name: string; examples: Json[] }> | null = null;

/** An `@octokit/webhooks-examples` payload of an event and action, one with an installation if there is one. */
export function webhookExample(event: string, action: string): Json {
  const candidates = webhookExamplesOf(event, action);
  const found = candidates.find((payload) => 'installation' in payload) ?? candidates[0];
  if (!found) throw new Error(`GitHub stand-in: no webhook example for ${event}.${action}`);
  return structuredClone(found);
}

function webhookExamplesOf(event: string, action: string): Json[] {
  if (!webhookExamples) {
    const require = createRequire(import.meta.url);
    const folder = dirname(require.resolve('@octokit/webhooks-examples/package.json'));
    const text = readFileSync(join(folder, 'api.github.com', 'index.json'), 'utf8');
    webhookExamples = JSON.parse(text) as typeof webhookExamples;
  }
  return (webhookExamples!.find((entry) => entry.name === event)?.examples ?? []).filter((payload) => payload.action === action);
}

export function userShape(user: User, urls: StandinUrls): Json {
  // Bot logins (`shipguard[bot]`) are percent-encoded in URLs, as on GitHub.
  const login = encodeURIComponent(user.login);
  const api = `${urls.api}/users/${login}`;
  return {
    login: user.login,
    id: user.id,
    node_id: nodeId(user.type, user.id),
    avatar_url: `${urls.web}/avatars/${user.id}`,
    gravatar_id: '',
    url: api,
    html_url: `${urls.web}/${login}`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type: user.type,
    site_admin: false,
  };
}

/** Sets a repository's identity on any repository-shaped example (full, minimal, webhook). */
function withRepository(base: Json, repository: Repository, urls: StandinUrls): Json {
  const shaped = retarget(base, urls, String(base.full_name), repository.fullName);
  Object.assign(shaped, {
    id: repository.id,
    node_id: nodeId('Repository', repository.id),
    name: repository.name,
    full_name: repository.fullName,
    owner: userShape(repository.owner, urls),
    private: repository.private,
    fork: false,
    description: null,
  });
  if ('default_branch' in shaped) shaped.default_branch = repository.defaultBranch;
  if ('visibility' in shaped) shaped.visibility = repository.private ? 'private' : 'public';
  if ('language' in shaped) shaped.language = null;
  if ('created_at' in shaped && typeof shaped.created_at === 'string') shaped.created_at = repository.createdAt;
  return shaped;
}

export function fullRepositoryShape(repository: Repository, urls: StandinUrls): Json {
  const shaped = withRepository(example('GET', '/repos/o/r', 200), repository, urls);
  for (const key of ['parent', 'source', 'template_repository', 'organization']) delete shaped[key];
  shaped.language = null;
  return shaped;
}

export function minimalRepositoryShape(repository: Repository, urls: StandinUrls): Json {
  return withRepository(example('GET', '/repos/o/r/commits/x/status', 200).repository as Json, repository, urls);
}

export function webhookRepositoryShape(repository: Repository, urls: StandinUrls, base: Json): Json {
  return withRepository(base, repository, urls);
}

export function appShape(state: StandinState, urls: StandinUrls): Json {
  const shaped = retarget(example('GET', '/app', 200), urls, null, null);
  return Object.assign(shaped, {
    id: APP_ID,
    slug: APP_SLUG,
    node_id: nodeId('Integration', APP_ID),
    name: APP_SLUG,
    owner: userShape(state.user('shipguard-dev'), urls),
    html_url: `${urls.web}/apps/${APP_SLUG}`,
    permissions: installationPermissions(),
    events: ['deployment', 'deployment_status', 'issue_comment'],
  });
}

/** `POST /app-manifests/{code}/conversions`: the new App, with its secrets (shown this one time). */
export function appFromManifestShape(
  app: { id: number; manifest: Record<string, unknown>; pem: string; webhookSecret: string },
  urls: StandinUrls,
): Json {
  const shaped = retarget(example('POST', '/app-manifests/{code}/conversions', 201), urls, null, null);
  const slug = String(app.manifest.name)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-');
  return Object.assign(shaped, {
    id: app.id,
    slug,
    node_id: nodeId('Integration', app.id),
    name: app.manifest.name,
    html_url: `${urls.web}/apps/${slug}`,
    permissions: app.manifest.default_permissions ?? {},
    events: app.manifest.default_events ?? [],
    client_id: `Iv1.${app.id}`,
    client_secret: `secret-${app.id}`,
    webhook_secret: app.webhookSecret,
    pem: app.pem,
  });
}

function installationPermissions(): Record<string, string> {
  return {
    deployments: 'write',
    contents: 'read',
    issues: 'write',
    pull_requests: 'write',
    statuses: 'read',
    checks: 'read',
    metadata: 'read',
  };
}

export function installationShape(installationId: number, account: User, urls: StandinUrls): Json {
  const shaped = retarget(example('GET', '/repos/o/r/installation', 200), urls, null, null);
  return Object.assign(shaped, {
    id: installationId,
    account: userShape(account, urls),
    app_id: APP_ID,
    app_slug: APP_SLUG,
    target_id: account.id,
    target_type: account.type === 'Organization' ? 'Organization' : 'User',
    access_tokens_url: `${urls.api}/app/installations/${installationId}/access_tokens`,
    html_url: `${urls.web}/settings/installations/${installationId}`,
    permissions: installationPermissions(),
    events: ['deployment', 'deployment_status', 'issue_comment'],
    single_file_name: null,
    single_file_paths: [],
    suspended_by: null,
    suspended_at: null,
  });
}

export function installationTokenShape(token: string, expiresAt: number): Json {
  return {
    token,
    expires_at: timestamp(expiresAt),
    permissions: installationPermissions(),
    repository_selection: 'all',
  };
}

export function contentFileShape(repository: Repository, path: string, text: string, commitSha: string, urls: StandinUrls): Json {
  const blob = Buffer.from(text);
  const sha = createBlobSha(blob);
  const url = `${urls.api}/repos/${repository.fullName}/contents/${path}?ref=${commitSha}`;
  const html = `${urls.web}/${repository.fullName}/blob/${commitSha}/${path}`;
  const git = `${urls.api}/repos/${repository.fullName}/git/blobs/${sha}`;
  return {
    type: 'file',
    encoding: 'base64',
    size: blob.length,
    name: path.split('/').at(-1),
    path,
    // GitHub wraps the base64 text at 60 characters.
    content: (blob.toString('base64').match(/.{1,60}/g) ?? []).join('\n') + '\n',
    sha,
    url,
    git_url: git,
    html_url: html,
    download_url: `${urls.web}/raw/${repository.fullName}/${commitSha}/${path}`,
    _links: { self: url, git, html },
  };
}

/** The id git gives the blob. */
function createBlobSha(blob: Buffer): string {
  return createHash('sha1').update(`blob ${blob.length}\0`).update(blob).digest('hex');
}

export function commitShape(repository: Repository, commit: Commit, author: User, urls: StandinUrls): Json {
  const base = example('GET', '/repos/o/r/commits/x', 200);
  const shaped = retarget(base, urls, 'octocat/Hello-World', repository.fullName);
  const api = `${urls.api}/repos/${repository.fullName}`;
  const person = { name: author.login, email: `${author.login}@users.noreply.example`, date: commit.date };
  Object.assign(shaped, {
    url: `${api}/commits/${commit.sha}`,
    sha: commit.sha,
    node_id: nodeId('Commit', commit.sha),
    html_url: `${urls.web}/${repository.fullName}/commit/${commit.sha}`,
    comments_url: `${api}/commits/${commit.sha}/comments`,
    author: userShape(author, urls),
    committer: userShape(author, urls),
    parents: commit.parents.map((sha) => ({
      sha,
      url: `${api}/commits/${sha}`,
      html_url: `${urls.web}/${repository.fullName}/commit/${sha}`,
    })),
    stats: { additions: 0, deletions: 0, total: 0 },
    files: [],
  });
  Object.assign(shaped.commit as Json, {
    url: `${api}/git/commits/${commit.sha}`,
    author: person,
    committer: person,
    message: commit.message,
    tree: { url: `${api}/git/trees/${commit.sha}`, sha: commit.sha },
  });
  return shaped;
}

export function combinedStatusShape(repository: Repository, sha: string, statuses: CommitStatus[], urls: StandinUrls): Json {
  const states = statuses.map((status) => status.state);
  const state =
    states.includes('failure') || states.includes('error')
      ? 'failure'
      : states.length === 0 || states.includes('pending')
        ? 'pending'
        : 'success';
  const api = `${urls.api}/repos/${repository.fullName}`;
  return {
    state,
    statuses: statuses.map((status) => ({
      url: `${api}/statuses/${sha}`,
      avatar_url: null,
      id: status.id,
      node_id: nodeId('StatusContext', status.id),
      state: status.state,
      description: null,
      target_url: null,
      context: status.context,
      created_at: status.createdAt,
      updated_at: status.createdAt,
    })),
    sha,
    total_count: statuses.length,
    repository: minimalRepositoryShape(repository, urls),
    commit_url: `${api}/commits/${sha}`,
    url: `${api}/commits/${sha}/status`,
  };
}

export function pullRequestShape(repository: Repository, pull: PullRequest, urls: StandinUrls): Json {
  const base = example('GET', '/repos/o/r/pulls/1', 200);
  const shaped = retarget(base, urls, 'octocat/Hello-World', repository.fullName);
  const api = `${urls.api}/repos/${repository.fullName}`;
  const html = `${urls.web}/${repository.fullName}/pull/${pull.number}`;
  const baseRepo = withRepository((shaped.base as Json).repo as Json, repository, urls);
  const headRepo = pull.fork
    ? Object.assign(structuredClone(baseRepo), {
        id: repository.id + 500_000,
        full_name: `${pull.author.login}/${repository.name}`,
        owner: userShape(pull.author, urls),
        fork: true,
      })
    : baseRepo;
  const headOwner = pull.fork ? pull.author : repository.owner;
  const closed = pull.state === 'closed';
  Object.assign(shaped, {
    url: `${api}/pulls/${pull.number}`,
    id: repository.id * 1000 + pull.number,
    node_id: nodeId('PullRequest', `${repository.id}/${pull.number}`),
    html_url: html,
    diff_url: `${html}.diff`,
    patch_url: `${html}.patch`,
    issue_url: `${api}/issues/${pull.number}`,
    commits_url: `${api}/pulls/${pull.number}/commits`,
    review_comments_url: `${api}/pulls/${pull.number}/comments`,
    comments_url: `${api}/issues/${pull.number}/comments`,
    statuses_url: `${api}/statuses/${pull.headSha}`,
    number: pull.number,
    state: pull.state,
    locked: false,
    title: `Pull request ${pull.number}`,
    user: userShape(pull.author, urls),
    body: null,
    labels: [],
    milestone: null,
    active_lock_reason: null,
    created_at: pull.createdAt,
    updated_at: pull.createdAt,
    closed_at: closed ? pull.createdAt : null,
    merged_at: null,
    merge_commit_sha: null,
    assignee: null,
    assignees: [],
    requested_reviewers: [],
    requested_teams: [],
    head: {
      label: `${headOwner.login}:${pull.headRef}`,
      ref: pull.headRef,
      sha: pull.headSha,
      user: userShape(headOwner, urls),
      repo: headRepo,
    },
    base: {
      label: `${repository.owner.login}:${repository.defaultBranch}`,
      ref: repository.defaultBranch,
      sha: repository.branches.get(repository.defaultBranch),
      user: userShape(repository.owner, urls),
      repo: baseRepo,
    },
    author_association: authorAssociation(repository, pull.author),
    auto_merge: null,
    draft: false,
    merged: false,
    mergeable: true,
    rebaseable: true,
    mergeable_state: 'clean',
    merged_by: null,
  });
  return shaped;
}

function authorAssociation(repository: Repository, user: User): string {
  if (user.login === repository.owner.login) return 'OWNER';
  const permission = repository.permissions.get(user.login);
  return permission && permission !== 'none' && permission !== 'read' ? 'COLLABORATOR' : 'NONE';
}

export function deploymentShape(repository: Repository, deployment: Deployment, urls: StandinUrls): Json {
  const api = `${urls.api}/repos/${repository.fullName}`;
  return {
    url: `${api}/deployments/${deployment.id}`,
    id: deployment.id,
    node_id: nodeId('Deployment', deployment.id),
    sha: deployment.sha,
    ref: deployment.ref,
    task: deployment.task,
    payload: deployment.payload,
    original_environment: deployment.originalEnvironment,
    environment: deployment.environment,
    description: deployment.description,
    creator: userShape(deployment.creator, urls),
    created_at: deployment.createdAt,
    updated_at: deployment.updatedAt,
    statuses_url: `${api}/deployments/${deployment.id}/statuses`,
    repository_url: api,
    transient_environment: deployment.transientEnvironment,
    production_environment: deployment.productionEnvironment,
    performed_via_github_app: null,
  };
}

export function deploymentStatusShape(repository: Repository, status: DeploymentStatus, urls: StandinUrls): Json {
  const api = `${urls.api}/repos/${repository.fullName}`;
  return {
    url: `${api}/deployments/${status.deploymentId}/statuses/${status.id}`,
    id: status.id,
    node_id: nodeId('DeploymentStatus', status.id),
    state: status.state,
    creator: userShape(status.creator, urls),
    description: status.description,
    environment: status.environment,
    target_url: status.targetUrl,
    created_at: status.createdAt,
    updated_at: status.createdAt,
    deployment_url: `${api}/deployments/${status.deploymentId}`,
    repository_url: api,
    environment_url: status.environmentUrl,
    log_url: status.logUrl,
    performed_via_github_app: null,
  };
}

export function issueCommentShape(repository: Repository, comment: Comment, reactions: Reaction[], urls: StandinUrls): Json {
  const api = `${urls.api}/repos/${repository.fullName}`;
  const counts = Object.fromEntries(
    REACTION_CONTENTS.map((content) => [content, reactions.filter((reaction) => reaction.content === content).length]),
  );
  return {
    id: comment.id,
    node_id: nodeId('IssueComment', comment.id),
    url: `${api}/issues/comments/${comment.id}`,
    html_url: `${urls.web}/${repository.fullName}/pull/${comment.issueNumber}#issuecomment-${comment.id}`,
    body: comment.body,
    user: userShape(comment.user, urls),
    created_at: comment.createdAt,
    updated_at: comment.updatedAt,
    issue_url: `${api}/issues/${comment.issueNumber}`,
    author_association: authorAssociation(repository, comment.user),
    performed_via_github_app: null,
    reactions: { url: `${api}/issues/comments/${comment.id}/reactions`, total_count: reactions.length, ...counts },
  };
}

/** The `issue` of an `issue_comment` webhook for a pull request: carries `pull_request`, as on GitHub. */
export function pullRequestIssueShape(repository: Repository, pull: PullRequest, base: Json, urls: StandinUrls): Json {
  const shaped = retarget(base, urls, null, null);
  const api = `${urls.api}/repos/${repository.fullName}`;
  const html = `${urls.web}/${repository.fullName}/pull/${pull.number}`;
  return Object.assign(shaped, {
    url: `${api}/issues/${pull.number}`,
    repository_url: api,
    labels_url: `${api}/issues/${pull.number}/labels{/name}`,
    comments_url: `${api}/issues/${pull.number}/comments`,
    events_url: `${api}/issues/${pull.number}/events`,
    html_url: html,
    id: repository.id * 1000 + pull.number,
    node_id: nodeId('PullRequest', `${repository.id}/${pull.number}`),
    number: pull.number,
    title: `Pull request ${pull.number}`,
    user: userShape(pull.author, urls),
    labels: [],
    state: pull.state,
    locked: false,
    assignee: null,
    assignees: [],
    milestone: null,
    created_at: pull.createdAt,
    updated_at: pull.createdAt,
    closed_at: pull.state === 'closed' ? pull.createdAt : null,
    author_association: authorAssociation(repository, pull.author),
    body: null,
    pull_request: {
      url: `${api}/pulls/${pull.number}`,
      html_url: html,
      diff_url: `${html}.diff`,
      patch_url: `${html}.patch`,
      merged_at: null,
    },
  });
}

export function reactionShape(reaction: Reaction, urls: StandinUrls): Json {
  return {
    id: reaction.id,
    node_id: nodeId('Reaction', reaction.id),
    user: userShape(reaction.user, urls),
    content: reaction.content,
    created_at: reaction.createdAt,
  };
}

/** Fields a run has in both its REST shape and the `workflow_run` of a deployment webhook. */
function runFields(repository: Repository, run: WorkflowRun, urls: StandinUrls): Json {
  return {
    id: run.id,
    name: run.name,
    node_id: nodeId('WorkflowRun', run.id),
    head_branch: run.headBranch,
    head_sha: run.headSha,
    path: '.github/workflows/deploy.yml',
    run_number: run.runNumber,
    run_attempt: run.runAttempt,
    event: run.event,
    status: run.status,
    conclusion: run.conclusion,
    display_title: run.displayTitle,
    url: `${urls.api}/repos/${repository.fullName}/actions/runs/${run.id}`,
    html_url: `${urls.web}/${repository.fullName}/actions/runs/${run.id}`,
    pull_requests: [],
    created_at: run.createdAt,
    updated_at: run.updatedAt,
    run_started_at: run.createdAt,
  };
}

/** `GET /repos/{owner}/{repo}/actions/runs/{run_id}`. */
export function workflowRunShape(repository: Repository, run: WorkflowRun, urls: StandinUrls): Json {
  const shaped = { ...example('GET', '/repos/o/r/actions/runs/1', 200), ...runFields(repository, run, urls) };
  shaped.actor = userShape(run.actor, urls);
  shaped.triggering_actor = userShape(run.actor, urls);
  shaped.repository = minimalRepositoryShape(repository, urls);
  shaped.head_repository = minimalRepositoryShape(repository, urls);
  shaped.previous_attempt_url = run.runAttempt > 1 ? `${shaped.url as string}/attempts/${run.runAttempt - 1}` : null;
  delete shaped.referenced_workflows;
  return shaped;
}

/** The `workflow_run` of a `deployment` webhook for a job's deployment (on a webhook example's). */
export function deploymentWorkflowRunShape(repository: Repository, run: WorkflowRun, urls: StandinUrls): Json {
  const base = webhookExamplesOf('deployment', 'created').find((payload) => payload.workflow_run)!.workflow_run as Json;
  return {
    ...structuredClone(base),
    ...runFields(repository, run, urls),
    actor: userShape(run.actor, urls),
    triggering_actor: userShape(run.actor, urls),
  };
}

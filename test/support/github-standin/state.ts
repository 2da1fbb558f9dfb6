/**
 * The GitHub stand-in's state: repositories with branches and commits (each commit a full snapshot of its
 * files), pull requests, permissions, commit statuses, deployments and their statuses, comments,
 * reactions, users and tokens. Plain data and small operations on it, no HTTP: the routes
 * (routes.ts) and the test helpers (../github-standin.ts) both work through this.
 */
import { createHash } from 'node:crypto';

export type Permission = 'admin' | 'maintain' | 'write' | 'triage' | 'read' | 'none';
export type CommitState = 'success' | 'failure' | 'pending' | 'error';
export type DeploymentState = 'error' | 'failure' | 'inactive' | 'in_progress' | 'queued' | 'pending' | 'success';

export interface User {
  login: string;
  id: number;
  type: 'User' | 'Bot' | 'Organization';
}

export interface Commit {
  sha: string;
  parents: string[];
  files: Map<string, string>;
  message: string;
  date: string;
}

export interface CommitStatus {
  id: number;
  context: string;
  state: CommitState;
  createdAt: string;
}

export interface Activity {
  id: number;
  before: string;
  after: string;
  ref: string;
  timestamp: string;
  activityType: 'push' | 'branch_creation';
}

export interface PullRequest {
  number: number;
  headRef: string;
  headSha: string;
  fork: boolean;
  state: 'open' | 'closed';
  author: User;
  createdAt: string;
}

export interface Repository {
  id: number;
  owner: User;
  name: string;
  fullName: string;
  defaultBranch: string;
  installationId: number;
  private: boolean;
  createdAt: string;
  branches: Map<string, string>;
  commits: Map<string, Commit>;
  commitStatuses: Map<string, CommitStatus[]>;
  pulls: Map<number, PullRequest>;
  /** Pushes, oldest first, as `GET /repos/{owner}/{repo}/activity` lists them (newest first). */
  activity: Activity[];
  permissions: Map<string, Permission>;
  nextIssueNumber: number;
}

export interface Deployment {
  id: number;
  repository: string;
  sha: string;
  ref: string;
  task: string;
  environment: string;
  originalEnvironment: string;
  payload: unknown;
  description: string | null;
  transientEnvironment: boolean;
  productionEnvironment: boolean;
  creator: User;
  createdAt: string;
  updatedAt: string;
}

export interface DeploymentStatus {
  id: number;
  deploymentId: number;
  state: DeploymentState;
  description: string;
  environment: string;
  targetUrl: string;
  logUrl: string;
  environmentUrl: string;
  creator: User;
  createdAt: string;
}

export interface Comment {
  id: number;
  repository: string;
  issueNumber: number;
  user: User;
  body: string;
  createdAt: string;
  updatedAt: string;
}

export interface Reaction {
  id: number;
  commentId: number;
  user: User;
  content: string;
  createdAt: string;
}

/** A review an app sent to a run's deployment protection rule callback; `state: null` is a progress comment. */
export interface GateReview {
  runId: number;
  deploymentId: number;
  environment: string;
  state: 'approved' | 'rejected' | null;
  comment: string;
  at: number;
}

/**
 * A workflow run with one job that names an environment. `gates`: the environments whose job waits for the
 * app's deployment protection rule, with the job's deployment (the current attempt's).
 */
export interface WorkflowRun {
  id: number;
  repository: string;
  name: string;
  event: string;
  displayTitle: string;
  headBranch: string;
  headSha: string;
  runNumber: number;
  runAttempt: number;
  actor: User;
  status: 'queued' | 'waiting' | 'in_progress' | 'completed';
  conclusion: string | null;
  createdAt: string;
  updatedAt: string;
  environment: string;
  deploymentId: number;
  waitingForRule: boolean;
}

/** Who a token authenticates: an installation (the app acting on its repositories) or a user. */
export type TokenOwner = { kind: 'installation'; installationId: number; expiresAt: number } | { kind: 'user'; user: User };

export interface AddRepositoryOptions {
  owner: string;
  name: string;
  defaultBranch?: string;
  installationId?: number;
  private?: boolean;
}

/** The app's bot account: the creator of everything done with an installation token. */
export const APP_SLUG = 'shipguard';
export const APP_ID = 1;

/** GitHub's timestamps: ISO 8601 in UTC without milliseconds. */
export function timestamp(at = Date.now()): string {
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function isFullSha(text: string): boolean {
  return /^[0-9a-f]{40}$/.test(text);
}

export class StandinState {
  readonly repositories = new Map<string, Repository>();
  readonly deployments: Deployment[] = [];
  readonly deploymentStatuses: DeploymentStatus[] = [];
  readonly comments: Comment[] = [];
  readonly reactions: Reaction[] = [];
  readonly workflowRuns: WorkflowRun[] = [];
  readonly gateReviews: GateReview[] = [];
  /** `owner/repo|environment` where the app's custom deployment protection rule is enabled. */
  readonly protectionRules = new Set<string>();
  readonly tokens = new Map<string, TokenOwner>();
  private readonly users = new Map<string, User>();
  private nextId = 1000;
  private shaCounter = 0;

  /** A fresh id, unique across every kind of object (GitHub's ids are unique per kind; this is stricter). */
  newId(): number {
    this.nextId += 1;
    return this.nextId;
  }

  user(login: string, type: User['type'] = 'User'): User {
    let user = this.users.get(login);
    if (!user) {
      user = { login, id: this.newId(), type: login.endsWith('[bot]') ? 'Bot' : type };
      this.users.set(login, user);
    }
    return user;
  }

  appBot(): User {
    return this.user(`${APP_SLUG}[bot]`, 'Bot');
  }

  repository(fullName: string): Repository | undefined {
    const wanted = fullName.toLowerCase();
    for (const repository of this.repositories.values()) {
      if (repository.fullName.toLowerCase() === wanted) return repository;
    }
    return undefined;
  }

  /** Like repository(), for test helpers: a typo in a test gets a clear error rather than undefined. */
  requireRepository(fullName: string): Repository {
    const repository = this.repository(fullName);
    if (!repository) throw new Error(`GitHub stand-in: no repository "${fullName}" (add it with addRepository)`);
    return repository;
  }

  addRepository(opts: AddRepositoryOptions): Repository {
    const fullName = `${opts.owner}/${opts.name}`;
    if (this.repository(fullName)) throw new Error(`GitHub stand-in: repository ${fullName} already exists`);
    const repository: Repository = {
      id: this.newId(),
      owner: this.user(opts.owner),
      name: opts.name,
      fullName,
      defaultBranch: opts.defaultBranch ?? 'main',
      installationId: opts.installationId ?? 1,
      private: opts.private ?? false,
      createdAt: timestamp(),
      branches: new Map(),
      commits: new Map(),
      commitStatuses: new Map(),
      pulls: new Map(),
      activity: [],
      permissions: new Map([[opts.owner, 'admin']]),
      nextIssueNumber: 1,
    };
    this.repositories.set(fullName, repository);
    this.commit(repository, repository.defaultBranch, 'Initial commit', new Map([['README.md', `# ${opts.name}\n`]]));
    return repository;
  }

  /**
   * Pushes a commit on `branch` (created from the default branch's head when new) with the given files.
   * `commitDate` is the date its author wrote into it (anything: git takes the pusher's word); the push's
   * own time, in the repository's activity, is GitHub's.
   */
  commit(repository: Repository, branch: string, message: string, files?: Map<string, string>, commitDate?: string): Commit {
    const existing = repository.branches.get(branch);
    const parentSha = existing ?? repository.branches.get(repository.defaultBranch);
    const parent = parentSha ? repository.commits.get(parentSha) : undefined;
    this.shaCounter += 1;
    const identity = `${repository.fullName}\n${branch}\n${this.shaCounter}\n${message}`;
    const sha = createHash('sha1').update(identity).digest('hex');
    const commit: Commit = {
      sha,
      parents: parent ? [parent.sha] : [],
      files: files ?? new Map(parent?.files ?? []),
      message,
      date: commitDate ?? timestamp(),
    };
    repository.commits.set(sha, commit);
    repository.branches.set(branch, sha);
    repository.activity.push({
      id: this.newId(),
      before: existing ?? '0'.repeat(40),
      after: sha,
      ref: `refs/heads/${branch}`,
      timestamp: timestamp(),
      activityType: existing ? 'push' : 'branch_creation',
    });
    // As on GitHub, a push to a pull request's branch moves the pull request's head.
    for (const pull of repository.pulls.values()) if (!pull.fork && pull.state === 'open' && pull.headRef === branch) pull.headSha = sha;
    return commit;
  }

  /**
   * Resolves what GitHub accepts as a ref: a branch name, `refs/heads/<branch>`, `heads/<branch>`, a full
   * SHA or an unambiguous SHA prefix of 7 characters or more. Returns the branch name too when it was one.
   */
  resolveRef(repository: Repository, ref: string): { commit: Commit; branch: string | null } | null {
    const branchName = ref.replace(/^refs\/heads\//, '').replace(/^heads\//, '');
    const branchSha = repository.branches.get(branchName);
    if (branchSha) return { commit: repository.commits.get(branchSha)!, branch: branchName };
    if (/^[0-9a-f]{7,40}$/.test(ref)) {
      const found = [...repository.commits.values()].filter((commit) => commit.sha.startsWith(ref));
      if (found.length === 1) return { commit: found[0]!, branch: null };
    }
    return null;
  }

  /** The newest status of each context on a commit. */
  latestCommitStatuses(repository: Repository, sha: string): CommitStatus[] {
    const latest = new Map<string, CommitStatus>();
    for (const status of repository.commitStatuses.get(sha) ?? []) latest.set(status.context, status);
    return [...latest.values()];
  }

  statusesOf(deploymentId: number): DeploymentStatus[] {
    return this.deploymentStatuses.filter((status) => status.deploymentId === deploymentId);
  }

  latestStatusOf(deploymentId: number): DeploymentStatus | undefined {
    return this.statusesOf(deploymentId).at(-1);
  }
}

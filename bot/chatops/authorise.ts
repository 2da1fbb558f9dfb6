// Who may run a command, and on which pull requests: the commenter's repository role must reach the
// environment's `permission`; only open pull requests of the repository itself (not forks) may deploy;
// bots (this app included: GitHub delivers its own comments too) are never listened to.
import { roleFrom, type Role } from '../engine/roles.ts';
import { splitRepository, type GitHubClient } from '../github/github-access.ts';

export function isBot(user: { login: string; type?: string } | null | undefined, appLogin: string | null): boolean {
  if (!user) return true;
  return user.type === 'Bot' || user.login === appLogin || user.login.endsWith('[bot]');
}

export interface PullRequestFacts {
  open: boolean;
  fork: boolean;
  headSha: string;
  headRef: string;
}

/** Why a command may not act on this pull request, or null when it may. */
export function pullRequestProblem(pull: PullRequestFacts): string | null {
  if (!pull.open) return 'this pull request is closed: commands act only on open pull requests';
  if (pull.fork)
    return 'this pull request comes from a fork: its code is not deployed from comments (push the branch to this repository instead)';
  return null;
}

/** The commenter's role; a user GitHub does not know has none. */
export async function commenterRole(client: GitHubClient, repository: string, username: string): Promise<Role> {
  const { owner, repo } = splitRepository(repository);
  try {
    const { data } = await client.request('GET /repos/{owner}/{repo}/collaborators/{username}/permission', { owner, repo, username });
    return roleFrom(data.role_name, data.permission);
  } catch (error) {
    if ((error as { status?: number }).status === 404) return 'none';
    throw error;
  }
}

/** State, origin and head of the pull request, read once when the command is read. */
export async function pullRequestFacts(client: GitHubClient, repository: string, pullNumber: number): Promise<PullRequestFacts> {
  const { owner, repo } = splitRepository(repository);
  const { data } = await client.request('GET /repos/{owner}/{repo}/pulls/{pull_number}', { owner, repo, pull_number: pullNumber });
  // A deleted fork leaves `head.repo` null: still a fork.
  const fork = data.head.repo === null || data.head.repo.full_name !== data.base.repo.full_name;
  return { open: data.state === 'open', fork, headSha: data.head.sha, headRef: data.head.ref };
}

// Which commit a comment asked for. A comment is handled later than it was made (a queue, a restart, the
// missed-delivery catch-up replays comments up to a day old), and anyone with push access may move the
// pull request's head in between: a command acts on the head only when GitHub shows it has not moved
// since the comment was made.
// - The repository's activity (`GET /repos/{owner}/{repo}/activity`) lists each push to the head branch
//   with GitHub's own time: a push after the comment means the head the comment saw is gone. This is the
//   signal a pusher cannot forge.
// - The head commit's committer date after the comment (github/branch-deploy's check): a date is the
//   pusher's word, so it can only add refusals, never clear one; it still answers where the activity
//   cannot be read (an older GitHub Enterprise Server).
// GitHub's times have one-second resolution: a push in the same second as the comment counts as before it.
import type { Logger } from 'pino';
import { splitRepository, type GitHubClient } from '../github/github-access.ts';

export type CommentCommit =
  | { kind: 'pinned'; sha: string }
  /** `sha`: the head now; `at`: when it got there (a push's time, or the commit's own date). */
  | { kind: 'moved'; sha: string; at: Date; signal: 'push' | 'commit date' };

export interface HeadHistory {
  headSha: string;
  headCommittedAt: Date;
  /** Pushes to the head branch, any order; null when the activity could not be read. */
  pushes: Array<{ after: string; at: Date }> | null;
}

/** Pure: the decision from what GitHub showed. */
export function commentCommit(commentAt: Date, history: HeadHistory): CommentCommit {
  const after = (history.pushes ?? [])
    .filter((push) => push.at.getTime() > commentAt.getTime())
    .sort((a, b) => b.at.getTime() - a.at.getTime());
  if (after.length) return { kind: 'moved', sha: history.headSha, at: after[0]!.at, signal: 'push' };
  if (history.headCommittedAt.getTime() > commentAt.getTime()) {
    return { kind: 'moved', sha: history.headSha, at: history.headCommittedAt, signal: 'commit date' };
  }
  return { kind: 'pinned', sha: history.headSha };
}

/** Reads the head's history from GitHub: the head commit's date and the pushes to its branch. */
export async function readHeadHistory(
  client: GitHubClient,
  repository: string,
  head: { ref: string; sha: string },
  log: Logger,
): Promise<HeadHistory> {
  const { owner, repo } = splitRepository(repository);
  const commit = await client.request('GET /repos/{owner}/{repo}/commits/{ref}', { owner, repo, ref: head.sha });
  const date = commit.data.commit.committer?.date ?? commit.data.commit.author?.date;
  let pushes: HeadHistory['pushes'] = null;
  try {
    const { data } = await client.request('GET /repos/{owner}/{repo}/activity', {
      owner,
      repo,
      ref: `refs/heads/${head.ref}`,
      per_page: 100,
    });
    pushes = data.map((activity) => ({ after: activity.after, at: new Date(activity.timestamp) }));
  } catch (error) {
    log.warn({ err: error, repository }, 'ChatOps: the repository activity could not be read; the head commit’s date alone decides');
  }
  return { headSha: head.sha, headCommittedAt: date ? new Date(date) : new Date(0), pushes };
}

// Turns the ref to deploy into the full SHA GitHub will record, so the deployment names one commit and
// never a moving branch. A pull request's refs (refs/pull/N/merge or /head) mean the PR's head commit.

import type { GitHubClient, RepositoryName } from './github-client.ts';
import { describeFailure } from './github-errors.ts';

const FULL_SHA = /^[0-9a-f]{40}$/;
const PULL_REQUEST_REF = /^refs\/pull\/(\d+)\/(?:merge|head)$/;

export async function resolveRef(github: GitHubClient, repository: RepositoryName, ref: string): Promise<string> {
  if (FULL_SHA.test(ref)) return ref;
  const pullRequest = PULL_REQUEST_REF.exec(ref);
  try {
    if (pullRequest) {
      const { data } = await github.rest.pulls.get({ ...repository, pull_number: Number(pullRequest[1]) });
      return checkedSha(data.head.sha, ref);
    }
    const { data } = await github.rest.repos.getCommit({ ...repository, ref });
    return checkedSha(data.sha, ref);
  } catch (error) {
    if (error instanceof RefError) throw error;
    const failure = describeFailure(error);
    if (failure.status === 404 || failure.status === 422) {
      throw new RefError(`ref ${JSON.stringify(ref)} does not name a commit in ${repository.owner}/${repository.repo}`);
    }
    throw new RefError(
      `cannot resolve ref ${JSON.stringify(ref)} to a commit: GitHub answered ${failure.status ?? 'nothing'} (${failure.message})`,
    );
  }
}

export class RefError extends Error {
  override name = 'RefError';
}

function checkedSha(sha: unknown, ref: string): string {
  if (typeof sha === 'string' && FULL_SHA.test(sha)) return sha;
  throw new RefError(`GitHub resolved ref ${JSON.stringify(ref)} to ${JSON.stringify(sha)}, which is not a full SHA`);
}

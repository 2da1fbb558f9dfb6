// The bot's writes on a pull request conversation: a reply, its edits, reactions on the command.
// All are safe to repeat, so the client's retries may repeat them.
import { splitRepository, type GitHubClient } from '../github/github-access.ts';

export type Reaction = 'eyes' | 'rocket' | 'confused';

export async function postReply(client: GitHubClient, repository: string, issueNumber: number, body: string): Promise<number> {
  const { owner, repo } = splitRepository(repository);
  const { data } = await client.request('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', {
    owner,
    repo,
    issue_number: issueNumber,
    body,
  });
  return Number(data.id);
}

export async function editReply(client: GitHubClient, repository: string, replyId: number, body: string): Promise<void> {
  const { owner, repo } = splitRepository(repository);
  await client.request('PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}', { owner, repo, comment_id: replyId, body });
}

export async function react(client: GitHubClient, repository: string, commentId: number, content: Reaction): Promise<void> {
  const { owner, repo } = splitRepository(repository);
  await client.request('POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions', {
    owner,
    repo,
    comment_id: commentId,
    content,
  });
}

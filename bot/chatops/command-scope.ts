// What every command runs with: the conversation it answers in, the commenter, and the bot's parts.
import type { GitHubClient } from '../github/github-access.ts';
import type { LogLinks } from '../github/log-links.ts';
import type { Store } from '../store/store.ts';

export interface CommandScope {
  store: Store;
  links: LogLinks;
  client: GitHubClient;
  /** A status was queued: the publisher should look now. */
  statusQueued(): void;
  repository: string;
  issueNumber: number;
  commentId: number;
  user: string;
  now: Date;
}

/**
 * How a command ended: a reply still to post; a reply already written (only the reaction is left);
 * or a deployment created, whose reply the follower keeps current until it ends.
 */
export type Answer = { kind: 'reply'; text: string; ok: boolean } | { kind: 'replied'; ok: boolean } | { kind: 'following' };

export function reply(text: string, ok: boolean): Answer {
  return { kind: 'reply', text, ok };
}

// Helpers for the ChatOps tests: a pull request conversation with a real bot, driven through the GitHub
// stand-in (real signed `issue_comment` webhooks; every API call checked against GitHub's description).
import type { World } from '../support/bot-harness.ts';

export const BOT_LOGIN = 'shipguard[bot]';

export interface Answered {
  commentId: number;
  /** The bot's reply to this command, as it reads when the command ended. */
  reply: string;
  reactions: string[];
}

/** Posts `body` as `user` and waits until the command has ended (🚀 or 😕 on it). */
export async function command(world: World, pull: number, user: string, body: string, timeoutMs = 60_000): Promise<Answered> {
  const { commentId } = await world.github.postComment('acme/app', pull, user, body);
  return answered(world, pull, commentId, timeoutMs);
}

export async function answered(world: World, pull: number, commentId: number, timeoutMs = 60_000): Promise<Answered> {
  const reactions = await world.github.waitFor(() => {
    const current = world.github.reactions(commentId);
    return (current.includes('rocket') || current.includes('confused')) && current;
  }, timeoutMs);
  return { commentId, reply: replyTo(world, pull, commentId) ?? '', reactions };
}

/** The bot's first comment after the command (commands in these tests are answered one at a time). */
export function replyTo(world: World, pull: number, commentId: number): string | undefined {
  return world.github.comments('acme/app', pull).find((c) => c.id > commentId && c.user.login === BOT_LOGIN)?.body;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

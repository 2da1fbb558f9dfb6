// A command deploys the commit its comment saw. The comment below is made while the bot is down, a
// commit lands on the pull request's branch, and the bot, once started, gets the comment from the
// missed-delivery catch-up: the new head is never deployed, and the reply says why and how to go on.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bot } from '../../bot/bot.ts';
import { deployYml, startBotIn, startWorld, type World } from '../support/bot-harness.ts';
import { freePort } from '../support/ports.ts';
import { answered } from './chatops-conversation.ts';

const yml = deployYml(`  staging:\n    deployer: local\n    deploy: 'echo "$DEPLOY_SHA" >> "deployed-$DEPLOY_SHA"'\n`);

// Safety nets for a loaded machine; what is checked is what happens, never how fast.
describe('chatops: the commit a comment saw', { timeout: 180_000 }, () => {
  let world: World;
  let bot: Bot | undefined;
  afterEach(async () => {
    await bot?.stop();
    bot = undefined;
    await world?.close();
  });

  for (const forged of [false, true]) {
    it(`a commit pushed after the comment (${forged ? 'dated before it by its author' : 'dated when it was made'}) is never deployed by it`, async () => {
      world = await startWorld({ deployYml: yml });
      const { github } = world;
      const port = await freePort();
      github.setWebhookUrl(`http://127.0.0.1:${port}/api/github/webhooks`); // the bot is down
      const pull = github.addPullRequest('acme/app', { headRef: 'feature' });
      github.setPermission('acme/app', 'alice', 'write');
      const seen = github.addCommit('acme/app', 'feature');

      const { commentId, deliveryId } = await github.postComment('acme/app', pull, 'alice', '/deploy staging');
      expect(github.deliveries.find((d) => d.guid === deliveryId)?.status).toBe(0); // nobody listened
      // The push comes at least a second later than the comment: GitHub's times are whole seconds.
      await nextSecond(github.comments('acme/app', pull).find((c) => c.id === commentId)!.createdAt);
      const pushed = github.addCommit('acme/app', 'feature', forged ? { commitDate: '2020-01-01T00:00:00Z' } : {});

      bot = await startBotIn(world, { catchUp: true, env: { PORT: String(port) } });
      const answer = await answered(world, pull, commentId);
      expect(answer.reactions).toEqual(['eyes', 'confused']);
      expect(answer.reply).toContain("the pull request's head moved after your comment");
      expect(answer.reply).toContain(`\`${pushed.slice(0, 7)}\` was pushed at`);
      expect(answer.reply).toContain('comment again');
      expect(github.deployments('acme/app')).toEqual([]);
      expect(existsSync(join(world.dir, `deployed-${pushed}`))).toBe(false);
      expect(existsSync(join(world.dir, `deployed-${seen}`))).toBe(false);
      expect(github.problems).toEqual([]);
    });
  }
});

/** Resolves once the wall clock is past the whole second of `iso` (GitHub's timestamps have no fraction). */
async function nextSecond(iso: string): Promise<void> {
  const after = new Date(iso).getTime() + 1000;
  while (Date.now() < after) await new Promise((resolve) => setTimeout(resolve, after - Date.now()));
}

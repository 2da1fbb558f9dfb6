// ChatOps refusals: every wrong command gets a reply saying what is wrong and what would be valid, and
// changes nothing; comments not meant for the bot (plain text, bots, edits) get no answer at all.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bot } from '../../bot/bot.ts';
import { deployYml, startBotIn, USER_TOKEN, type World, startWorld } from '../support/bot-harness.ts';
import { BOT_LOGIN, command, sleep } from './chatops-conversation.ts';

const yml = deployYml(`  staging:
    deployer: local
    hosts: [web-1]
    deploy: 'echo "$DEPLOY_SHA" >> deployed.log'
  production:
    deployer: local
    deploy: 'echo "$DEPLOY_SHA" >> deployed.log'
    permission: admin
`);

describe('chatops: refusals', () => {
  let world: World | undefined;
  let bot: Bot | undefined;
  afterEach(async () => {
    await bot?.stop();
    await world?.close();
    bot = undefined;
    world = undefined;
  });

  it('answers each bad command with what is wrong and what is valid, deploying nothing', async () => {
    world = await startWorld({ deployYml: yml });
    bot = await startBotIn(world);
    const { github } = world;
    const pull = github.addPullRequest('acme/app', { headRef: 'feature' });
    const fork = github.addPullRequest('acme/app', { headRef: 'patch-1', fork: true, author: 'mallory' });
    const closed = github.addPullRequest('acme/app', { headRef: 'old', state: 'closed' });
    for (const user of ['alice', 'mallory']) github.setPermission('acme/app', user, 'write');
    github.setPermission('acme/app', 'reader', 'read');

    const unknown = await command(world, pull, 'alice', '/deplyo staging');
    expect(unknown.reactions).toEqual(['eyes', 'confused']);
    expect(unknown.reply).toContain('unknown command "/deplyo"');
    for (const usage of [
      '/deploy [env] [--force]',
      '/rollback <env>',
      '/lock <env> [reason]',
      '/unlock <env>',
      '/cancel <env>',
      '/status [env]',
      '/help',
    ]) {
      expect(unknown.reply).toContain(usage);
    }

    const environment = await command(world, pull, 'alice', '/deploy qa');
    expect(environment.reply).toContain('unknown environment `qa`');
    expect(environment.reply).toContain('defines: `staging`, `production`');
    // A valid name that every JavaScript object inherits is still not an environment.
    expect((await command(world, pull, 'alice', '/lock constructor')).reply).toContain('unknown environment `constructor`');

    const malformed = await command(world, pull, 'alice', '/deploy staging production');
    expect(malformed.reply).toContain('/deploy takes at most one environment');
    expect(malformed.reply).toContain('`/deploy [env] [--force]');

    // Shell syntax is text: an invalid environment name, or a lock reason shown in a code span.
    const shell = await command(world, pull, 'alice', '/deploy staging;touch${IFS}pwned');
    expect(shell.reply).toContain('invalid environment name "staging;touch${IFS}pwned"');
    const reason = await command(world, pull, 'alice', '/lock staging $(touch pwned) `touch pwned` @octocat');
    expect(reason.reactions).toContain('rocket');
    expect(reason.reply).toContain("`$(touch pwned) 'touch pwned' @octocat`");
    expect((await command(world, pull, 'alice', '/unlock staging')).reply).toContain('is unlocked');

    // 10 000 characters: a first line that long is refused whole; after a short first line, ignored.
    const long = await command(world, pull, 'alice', `/deploy ${'x'.repeat(10_000)}`);
    expect(long.reply).toContain('the command line is 10008 characters long; at most 1000 are read');
    const tail = await command(world, pull, 'alice', `/status staging\n${'$(touch pwned) '.repeat(700)}`);
    expect(tail.reactions).toContain('rocket');
    expect(tail.reply).toContain('**staging**');

    const reader = await command(world, pull, 'reader', '/deploy');
    expect(reader.reply).toContain('deploying to staging needs the `write` permission on this repository; @reader has `read`');
    const notAdmin = await command(world, pull, 'alice', '/deploy production');
    expect(notAdmin.reply).toContain('needs the `admin` permission');

    const fromFork = await command(world, fork, 'mallory', '/deploy staging');
    expect(fromFork.reply).toContain('this pull request comes from a fork');
    const onClosed = await command(world, closed, 'alice', '/deploy staging');
    expect(onClosed.reply).toContain('this pull request is closed');

    // Not for the bot: plain text, a bot's command, an edit that turns a comment into a command.
    const plain = await github.postComment('acme/app', pull, 'alice', 'LGTM, /deploy when ready');
    const fromBot = await github.postComment('acme/app', pull, 'dependabot[bot]', '/deploy staging', { userType: 'Bot' });
    const edited = await github.postComment('acme/app', pull, 'octocat', 'typo');
    const edit = await fetch(`${github.apiUrl}/repos/acme/app/issues/comments/${edited.commentId}`, {
      method: 'PATCH',
      headers: { authorization: `token ${USER_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ body: '/deploy staging' }),
    });
    expect(edit.status).toBe(200);
    await github.waitFor(() => github.deliveries.some((d) => d.event === 'issue_comment' && d.action === 'edited' && d.status !== null));
    await sleep(2000);
    for (const quiet of [plain, fromBot, edited]) expect(github.reactions(quiet.commentId)).toEqual([]);

    // One reply per command, none to the bot's own replies (GitHub delivers those too).
    const commands = [pull, fork, closed]
      .flatMap((n) => github.comments('acme/app', n))
      .filter((c) => c.body.startsWith('/') && ['alice', 'reader', 'mallory'].includes(c.user.login));
    const replies = [pull, fork, closed].flatMap((n) => github.comments('acme/app', n)).filter((c) => c.user.login === BOT_LOGIN);
    expect(replies).toHaveLength(commands.length);
    expect(github.deployments('acme/app')).toEqual([]);
    expect(existsSync(join(world.dir, 'pwned'))).toBe(false);
    expect(existsSync(join(world.dir, 'deployed.log'))).toBe(false);
    expect(github.problems).toEqual([]);
  }, 300_000);
});

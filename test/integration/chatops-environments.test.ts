// ChatOps on an environment's state: locks (and deploys by others while locked), two users racing the
// same deploy, rollback's choice of SHA, cancel in the middle of a rollout, /status and /help.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bot } from '../../bot/bot.ts';
import { deployYml, startBotIn, type World, startWorld } from '../support/bot-harness.ts';
import { answered, command } from './chatops-conversation.ts';
import { pollUntil } from '../support/poll.ts';

describe('chatops: environments', () => {
  let world: World | undefined;
  let bot: Bot | undefined;
  afterEach(async () => {
    await bot?.stop();
    await world?.close();
    bot = undefined;
    world = undefined;
  });

  const lines = (file: string) => readFileSync(join(world!.dir, file), 'utf8').trim().split('\n');

  it('/lock holds staging for its owner; two users racing /deploy of one SHA make one deploy; /status tells it all', async () => {
    world = await startWorld({
      deployYml: deployYml(`  staging:\n    deployer: local\n    hosts: [web-1]\n    deploy: 'echo "$DEPLOY_SHA" >> deployed.log'\n`),
    });
    bot = await startBotIn(world);
    const { github } = world;
    const pull = github.addPullRequest('acme/app', { headRef: 'feature' });
    const other = github.addPullRequest('acme/app', { headRef: 'other' });
    for (const user of ['alice', 'bob', 'carol']) github.setPermission('acme/app', user, 'write');

    const locked = await command(world, pull, 'alice', '/lock staging release freeze');
    expect(locked.reply).toContain('**staging** is now locked by @alice 0m ago: `release freeze`');
    const refusedLock = await command(world, pull, 'bob', '/lock staging mine');
    expect(refusedLock.reply).toContain('already locked by @alice');

    const blocked = await command(world, pull, 'bob', '/deploy staging');
    expect(blocked.reactions).toContain('confused');
    expect(blocked.reply).toContain('Deploy refused');
    expect(blocked.reply).toMatch(/staging is locked by @alice \(\d+m ago\): release freeze/);

    const owners = await command(world, pull, 'alice', '/deploy staging --force');
    expect(owners.reply).toContain('Deploy succeeded');
    expect(owners.reply).toContain('@alice (forced)');

    const notYours = await command(world, pull, 'bob', '/unlock staging');
    expect(notYours.reply).toContain('only @alice or an admin may unlock it');
    const byAdmin = await command(world, pull, 'acme', '/unlock staging');
    expect(byAdmin.reactions).toContain('rocket');
    expect(byAdmin.reply).toContain('**staging** is unlocked (it was locked by @alice');

    // Bob and Carol ask for the other pull request's head at once: one deploy, one duplicate.
    const [first, second] = await Promise.all([
      github.postComment('acme/app', other, 'bob', '/deploy staging'),
      github.postComment('acme/app', other, 'carol', '/deploy staging'),
    ]);
    const ends = await Promise.all([first, second].map((c) => answered(world!, other, c.commentId)));
    const reactions = ends.map((end) => end.reactions.at(-1)).sort();
    expect(reactions).toEqual(['confused', 'rocket']);
    const otherHead = github.deployments('acme/app').at(-1)!.sha;
    expect(lines('deployed.log').filter((sha) => sha === otherHead)).toHaveLength(1);
    const replies = github
      .comments('acme/app', other)
      .filter((c) => c.user.login === 'shipguard[bot]')
      .map((c) => c.body);
    expect(replies.filter((body) => body.includes('Deploy succeeded'))).toHaveLength(1);
    expect(replies.filter((body) => /duplicate of #\d+ \((queued|running|succeeded)\)/.test(body))).toHaveLength(1);

    const status = await command(world, pull, 'carol', '/status');
    expect(status.reply).toContain(`live: \`${otherHead.slice(0, 7)}\``);
    expect(status.reply).toMatch(/deployed by @(bob|carol) \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    expect(status.reply).toContain('not locked');

    const help = await command(world, pull, 'carol', '/help');
    expect(help.reply).toContain('| staging (default) | write | ✅ yes |');
    expect(github.problems).toEqual([]);
  }, 300_000);

  it('/rollback deploys the previous successful SHA, forced; /cancel stops a rollout after the hosts in progress and cancels the queued', async () => {
    world = await startWorld({
      deployYml: deployYml(`  staging:
    deployer: local
    hosts: [web-1, web-2, web-3]
    concurrency: 1
    deploy: 'echo "$DEPLOY_SHA" >> "$DEPLOY_HOST.log"; if [ -e slow ]; then touch "$DEPLOY_HOST.started"; until [ -e release ]; do sleep 0.1; done; fi'
`),
    });
    bot = await startBotIn(world);
    const { github } = world;
    github.setPermission('acme/app', 'alice', 'write');
    const first = github.addPullRequest('acme/app', { headRef: 'first' });
    const second = github.addPullRequest('acme/app', { headRef: 'second' });

    expect((await command(world, first, 'alice', '/rollback staging')).reply).toContain('no successful deploy yet');
    expect((await command(world, first, 'alice', '/deploy staging')).reply).toContain('Deploy succeeded');
    expect((await command(world, second, 'alice', '/deploy staging')).reply).toContain('Deploy succeeded');
    const [shaA, shaB] = github.deployments('acme/app').map((d) => d.sha);

    const rollback = await command(world, second, 'alice', '/rollback staging');
    expect(rollback.reactions).toEqual(['eyes', 'rocket']);
    expect(rollback.reply).toContain(`Rollback succeeded**: \`${shaA!.slice(0, 7)}\` to **staging**`);
    expect(rollback.reply).toContain(`live was \`${shaB!.slice(0, 7)}\``);
    expect(lines('web-3.log')).toEqual([shaA, shaB, shaA]);
    const rolledBack = github.deployments('acme/app').at(-1)!;
    expect(rolledBack).toMatchObject({ sha: shaA, payload: { force: true, rollback_of: shaB, requested_by: 'alice' } });
    expect(rolledBack.description).toContain('rollback of staging');

    // Cancel in the middle: web-1 is held until the cancel request is seen; it finishes, no host follows.
    writeFileSync(join(world.dir, 'slow'), '');
    const deploy = await github.postComment('acme/app', second, 'alice', '/deploy staging --force');
    await github.waitFor(() => existsSync(join(world!.dir, 'web-1.started')), 30_000);
    const waiting = await github.postComment('acme/app', first, 'alice', '/deploy noop staging');
    await github.waitFor(() => {
      const noop = github.deployments('acme/app').find((d) => d.task === 'deploy:noop');
      return noop && github.statuses(noop.id).some((s) => s.state === 'queued');
    }, 30_000);
    const cancel = await command(world, second, 'alice', '/cancel staging');
    expect(cancel.reply).toMatch(/#\d+ `[0-9a-f]{7}` by @alice: running; stops after the hosts in progress/);
    expect(cancel.reply).toMatch(/#\d+ `[0-9a-f]{7}` by @alice: queued; cancelled before it started/);
    const running = (await bot.store.deployments({ states: ['running'] }))[0]!;
    await pollUntil(
      async () => (await bot!.store.events(running.id)).some((e) => e.message === 'cancel requested by @alice: no new host will start'),
      'the cancel request on the timeline',
      { timeoutMs: 30_000, everyMs: 50 },
    );
    writeFileSync(join(world.dir, 'release'), '');
    const end = await answered(world, second, deploy.commentId);
    expect(end.reactions.at(-1)).toBe('confused');
    expect(end.reply).toContain('failure: cancelled by @alice after 1/3 hosts');
    expect(end.reply).toContain('| hosts | 1/3 done |');
    expect(existsSync(join(world.dir, 'web-2.started'))).toBe(false);
    const never = await answered(world, first, waiting.commentId);
    expect(never.reactions.at(-1)).toBe('confused');
    expect(never.reply).toContain('failure: cancelled by @alice before it started');
    expect((await command(world, second, 'alice', '/cancel staging')).reply).toContain('Nothing to cancel');
    expect(github.problems).toEqual([]);
  }, 300_000);
});

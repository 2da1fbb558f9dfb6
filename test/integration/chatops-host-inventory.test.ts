// /status tells which SHA runs on each host, from the bot's own records: a deploy that failed halfway
// leaves mixed versions, and /status names the hosts that differ.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bot } from '../../bot/bot.ts';
import { deployYml, startBotIn, type World, startWorld } from '../support/bot-harness.ts';
import { command } from './chatops-conversation.ts';

describe('chatops: host inventory in /status', () => {
  let world: World | undefined;
  let bot: Bot | undefined;
  afterEach(async () => {
    await bot?.stop();
    await world?.close();
  });

  it('after a deploy that failed on its third of four hosts: two on the new SHA, one unknown, one on the old', async () => {
    world = await startWorld({
      deployYml: deployYml(`  staging:
    deployer: local
    hosts: [web-1, web-2, web-3, web-4]
    deploy: 'test ! -e "fail-$DEPLOY_HOST"'
`),
    });
    bot = await startBotIn(world);
    const { github } = world;
    const pull = github.addPullRequest('acme/app', { headRef: 'feature' });
    github.setPermission('acme/app', 'alice', 'write');

    const first = await world.createDeployment({ ref: 'main', environment: 'staging' });
    await github.waitFor(() => github.statuses(first).some((s) => s.state === 'success'), 120_000);
    const old = github.deployments('acme/app').find((d) => d.id === first)!.sha;
    const newer = github.addCommit('acme/app', 'main');
    writeFileSync(join(world.dir, 'fail-web-3'), '');
    const second = await world.createDeployment({ ref: newer, environment: 'staging' });
    await github.waitFor(() => github.statuses(second).some((s) => s.state === 'failure'), 120_000);

    const status = await command(world, pull, 'alice', '/status staging');
    expect(status.reply).toContain(`hosts: 2 hosts on ${newer.slice(0, 7)}, `);
    expect(status.reply).toContain(`1 on ${old.slice(0, 7)} (web-4)`);
    expect(status.reply).toContain('1 unknown after a failed deploy (web-3)');
    expect(github.problems).toEqual([]);
  }, 300_000);
});

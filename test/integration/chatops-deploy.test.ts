// ChatOps deploys end to end: a PR comment becomes a GitHub deployment created by the bot, which then
// takes the same path as the Action's (admission gates included) while the reply follows it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bot } from '../../bot/bot.ts';
import { deployYml, startBotIn, USER_TOKEN, type World, startWorld } from '../support/bot-harness.ts';
import { answered, command } from './chatops-conversation.ts';

const yml = deployYml(`  staging:
    deployer: local
    url: https://staging.example.com
    hosts: [web-1, web-2]
    concurrency: 2
    deploy: 'echo "$DEPLOY_SHA $DEPLOY_TASK \${DEPLOY_NOOP:-0}" >> "$DEPLOY_ENVIRONMENT-$DEPLOY_HOST.log"'
  production:
    deployer: local
    hosts: [app-1]
    deploy: 'echo "$DEPLOY_SHA" >> "$DEPLOY_ENVIRONMENT-$DEPLOY_HOST.log"'
    permission: maintain
    production: true
    requires: [staging]
    required_contexts: [ci]
`);

describe('chatops: deploys from pull request comments', () => {
  let world: World | undefined;
  let bot: Bot | undefined;
  afterEach(async () => {
    await bot?.stop();
    await world?.close();
    bot = undefined;
    world = undefined;
  });

  const lines = (file: string) => readFileSync(join(world!.dir, file), 'utf8').trim().split('\n');

  it('/deploy deploys the head SHA; production waits for staging, green checks and maintain permission', async () => {
    world = await startWorld({ deployYml: yml });
    bot = await startBotIn(world);
    const { github } = world;
    const pull = github.addPullRequest('acme/app', { headRef: 'feature' });
    const head = await pullHead(world, pull);
    github.setPermission('acme/app', 'alice', 'write');
    github.setPermission('acme/app', 'bob', 'maintain');

    // write < maintain: refused, saying which permission is needed; nothing created.
    const low = await command(world, pull, 'alice', '/deploy production');
    expect(low.reactions).toEqual(['eyes', 'confused']);
    expect(low.reply).toContain('needs the `maintain` permission');
    expect(low.reply).toContain('@alice has `write`');

    // Checks not green: GitHub's 409, turned into a list of each check and its state.
    const red = await command(world, pull, 'bob', '/deploy production');
    expect(red.reply).toContain('required checks are not green');
    expect(red.reply).toContain('`ci`: missing');
    expect(red.reactions).toContain('confused');
    expect(github.deployments('acme/app')).toHaveLength(0);

    // Green, but not deployed on staging yet: the engine refuses (promotion order) and says where first.
    github.setCommitStatus('acme/app', head, 'ci', 'success');
    const early = await command(world, pull, 'bob', '/deploy production');
    expect(early.reply).toContain('Deploy refused');
    expect(early.reply).toContain('has not succeeded on staging: deploy it there first');
    expect(early.reactions).toContain('confused');

    // The default environment, by a write user: runs, and the reply ends with the result.
    const staging = await command(world, pull, 'alice', '/deploy');
    expect(staging.reactions).toEqual(['eyes', 'rocket']);
    expect(staging.reply).toContain('Deploy succeeded');
    expect(staging.reply).toContain(`\`${head}\``);
    expect(staging.reply).toContain('2/2 done');
    expect(staging.reply).toContain('success: deployed to 2/2 hosts');
    expect(lines('staging-web-1.log')).toEqual([`${head} deploy 0`]);
    const created = github.requests.filter((r) => r.method === 'POST' && r.path === '/repos/acme/app/deployments' && r.status === 201);
    expect(created.at(-1)!.body).toMatchObject({
      ref: head,
      environment: 'staging',
      task: 'deploy',
      auto_merge: false,
      production_environment: false,
      payload: { force: false, requested_by: 'alice', chatops: { issue_number: pull, command: 'deploy' } },
    });
    expect(created.at(-1)!.body).not.toHaveProperty('required_contexts');
    const [record] = await bot.store.deployments({ environment: 'staging' });
    expect(record!.requestedBy).toBe('alice');
    expect(staging.reply).toContain(bot.links.url(record!.id));

    const production = await command(world, pull, 'bob', '/deploy production');
    expect(production.reactions).toEqual(['eyes', 'rocket']);
    expect(production.reply).toContain('Deploy succeeded');
    expect(created.length).toBeGreaterThan(0);
    expect(
      github.requests.filter((r) => r.method === 'POST' && r.path === '/repos/acme/app/deployments' && r.status === 201).at(-1)!.body,
    ).toMatchObject({
      required_contexts: ['ci'],
      production_environment: true,
    });
    expect(lines('production-app-1.log')).toEqual([head]);
    expect(github.problems).toEqual([]);
  }, 300_000);

  it('/deploy noop runs with DEPLOY_NOOP=1 as task deploy:noop, and the head moving meanwhile is reported', async () => {
    world = await startWorld({
      deployYml: deployYml(`  staging:
    deployer: local
    hosts: [web-1]
    deploy: 'echo "$DEPLOY_SHA $DEPLOY_TASK \${DEPLOY_NOOP:-0}" >> "$DEPLOY_HOST.log"; [ -n "$DEPLOY_NOOP" ] || { i=0; until [ -e release ]; do i=$((i + 1)); [ $i -lt 600 ] || exit 99; sleep 0.1; done; }'
`),
    });
    bot = await startBotIn(world);
    const { github } = world;
    const pull = github.addPullRequest('acme/app', { headRef: 'feature' });
    const head = await pullHead(world, pull);
    github.setPermission('acme/app', 'alice', 'write');

    const noop = await command(world, pull, 'alice', '/deploy noop staging');
    expect(noop.reply).toContain('Dry run (noop) succeeded');
    expect(lines('web-1.log')).toEqual([`${head} deploy:noop 1`]);

    // A noop never counts as a deploy of that SHA: the real deploy still runs. A push lands meanwhile:
    // the deploy ends only once the test has pushed (it then creates `release`), however slow the machine.
    const { commentId } = await github.postComment('acme/app', pull, 'alice', '/deploy staging');
    await github.waitFor(() => lines('web-1.log').length === 2, 60_000);
    const pushed = github.addCommit('acme/app', 'feature');
    writeFileSync(join(world.dir, 'release'), '');
    const deploy = await answered(world, pull, commentId);
    expect(deploy.reply).toContain('Deploy succeeded');
    expect(lines('web-1.log')).toEqual([`${head} deploy:noop 1`, `${head} deploy 0`]);
    expect(deploy.reply).toContain(`head moved to \`${pushed.slice(0, 7)}\``);
    expect(deploy.reply).toContain(`\`${head.slice(0, 7)}\` is what was deployed`);
    expect(github.problems).toEqual([]);
  }, 240_000);
});

/** The pull request's head as GitHub answers it. */
async function pullHead(world: World, pull: number): Promise<string> {
  const response = await fetch(`${world.github.apiUrl}/repos/acme/app/pulls/${pull}`, {
    headers: { authorization: `token ${USER_TOKEN}` },
  });
  const data = (await response.json()) as { head: { sha: string } };
  return data.head.sha;
}

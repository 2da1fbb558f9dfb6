// Freeze windows end to end: a real bot, the GitHub stand-in, PR comments. A `refuse` window refuses with
// a reply saying until when; a `wait` window holds the deploy until it ends; `/deploy --force-freeze` is an
// admin's alone, and recorded on the deployment's timeline (the log page).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bot } from '../../bot/bot.ts';
import { deployYml, startBotIn, type World, startWorld } from '../support/bot-harness.ts';
import { command } from './chatops-conversation.ts';

/** `2026-12-01T23:59:07`: a local date-time in UTC, as deploy.yml writes one. */
const utc = (ms: number) => new Date(ms).toISOString().slice(0, 19);

describe('chatops: freeze windows', () => {
  let world: World | undefined;
  let bot: Bot | undefined;
  afterEach(async () => {
    await bot?.stop();
    await world?.close();
    bot = undefined;
    world = undefined;
  });

  it('refuse: /deploy is refused saying until when; --force-freeze needs admin, works for one and is recorded', async () => {
    const now = Date.now();
    const end = utc(now + 86_400_000);
    world = await startWorld({
      deployYml: deployYml(`  staging:
    deployer: local
    hosts: [app-1]
    deploy: 'echo "$DEPLOY_SHA" >> "$DEPLOY_ENVIRONMENT.log"'
    freeze:
      - { start: "${utc(now - 86_400_000)}", end: "${end}", timezone: UTC, mode: refuse }
`),
    });
    bot = await startBotIn(world);
    const { github } = world;
    const pull = github.addPullRequest('acme/app', { headRef: 'feature' });
    github.setPermission('acme/app', 'alice', 'write');
    github.setPermission('acme/app', 'carol', 'admin');
    const until = `staging is frozen until ${end.replace('T', ' ')} UTC`;

    const refused = await command(world, pull, 'alice', '/deploy staging');
    expect(refused.reactions).toContain('confused');
    expect(refused.reply).toContain('Deploy refused');
    expect(refused.reply).toContain(until);

    const notAdmin = await command(world, pull, 'alice', '/deploy staging --force-freeze');
    expect(notAdmin.reply).toContain('--force-freeze (deploying to staging in a freeze window) needs the `admin` permission');
    expect(notAdmin.reply).toContain('@alice has `write`');
    expect(github.deployments('acme/app')).toHaveLength(1); // the refused one only

    // A workflow (any user's deployment) cannot override by putting the key in its payload.
    const forged = await world.createDeployment({ environment: 'staging', payload: { force_freeze: true } });
    await github.waitFor(() => github.statuses(forged).some((s) => s.state === 'error'), 60_000);
    expect(github.statuses(forged).at(-1)!.description).toContain(until);

    const admin = await command(world, pull, 'carol', '/deploy staging --force-freeze');
    expect(admin.reactions).toEqual(['eyes', 'rocket']);
    expect(admin.reply).toContain('Deploy succeeded');
    expect(readFileSync(join(world.dir, 'staging.log'), 'utf8').trim().split('\n')).toHaveLength(1);
    const [latest] = await bot.store.deployments({ environment: 'staging', states: ['succeeded'] });
    const timeline = (await bot.store.events(latest!.id)).map((e) => e.message);
    expect(timeline).toContain(`freeze overridden by @carol (--force-freeze, admin): ${until}`);
    expect(github.problems).toEqual([]);
  }, 300_000);

  it('wait: /deploy is queued saying until when, and starts only once the window has ended', async () => {
    const now = Date.now();
    // Long enough for the command to be answered and queued on a busy machine, short for a test.
    const endMs = Math.ceil((now + 20_000) / 1000) * 1000;
    world = await startWorld({
      deployYml: deployYml(`  staging:
    deployer: local
    hosts: [app-1]
    deploy: 'date +%s%3N >> started.log'
    freeze:
      - { start: "${utc(now - 60_000)}", end: "${utc(endMs)}", timezone: UTC, mode: wait }
`),
    });
    bot = await startBotIn(world);
    const { github } = world;
    const pull = github.addPullRequest('acme/app', { headRef: 'feature' });
    github.setPermission('acme/app', 'alice', 'write');

    const waited = await command(world, pull, 'alice', '/deploy staging', 120_000);
    expect(waited.reply).toContain('Deploy succeeded');
    const [deployment] = github.deployments('acme/app');
    const statuses = github.statuses(deployment!.id);
    expect(statuses.find((s) => s.state === 'queued')!.description).toBe(
      `waiting: staging is frozen until ${utc(endMs).replace('T', ' ')} UTC`,
    );
    // The order of events: the deploy command ran after the window's end, by this machine's clock.
    expect(Number(readFileSync(join(world.dir, 'started.log'), 'utf8').trim())).toBeGreaterThanOrEqual(endMs);
    expect(github.problems).toEqual([]);
  }, 300_000);
});

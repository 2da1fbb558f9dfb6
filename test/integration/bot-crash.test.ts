// Rule 6 done for real: a bot process running a slow deploy is killed with SIGKILL; a new process
// takes the deployment over once its lease lapses; hosts already done are not run again, and the end
// tells the truth. Also: two bot processes on one PostgreSQL receiving the same webhooks.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freshPostgresDatabase, type TestDatabase } from '../support/databases.ts';
import { freePort } from '../support/ports.ts';
import { pollUntil } from '../support/poll.ts';
import { deployYml, startBotProcess, startWorld, type BotProcess, type World } from '../support/bot-harness.ts';
import { startWebhookRelay, type WebhookRelay } from '../support/webhook-relay.ts';

const lines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').filter(Boolean) : []);

const slowDeploy = (revision: boolean) =>
  deployYml(`  staging:
    deployer: local
    hosts: [web-1, web-2, web-3]
    concurrency: 1
    timeouts: { connect: 2s, command: 20s, total: 10m }
    deploy: 'echo run >> "$DEPLOY_HOST.runs"; sleep 4; echo "$DEPLOY_SHA" > "$DEPLOY_HOST.rev"'
${revision ? `    revision: 'cat "$DEPLOY_HOST.rev" 2>/dev/null || true'\n` : ''}`);

describe('rule 6 (terminal): crashes and replicas', () => {
  let world: World;
  const bots: BotProcess[] = [];
  let database: TestDatabase | undefined;
  let relay: WebhookRelay | undefined;
  afterEach(async () => {
    for (const bot of bots.splice(0)) await bot.kill();
    await relay?.close();
    relay = undefined;
    await world?.close();
    await database?.drop();
    database = undefined;
  });

  async function terminal(id: number, timeoutMs: number) {
    try {
      return await world.github.waitFor(
        () => world.github.statuses(id).find((s) => ['success', 'failure', 'error', 'inactive'].includes(s.state)),
        timeoutMs,
      );
    } catch (error) {
      // What the bots said is the first thing to read when a takeover did not happen.
      for (const bot of bots) console.error(`--- bot ${bot.url}\n${bot.output().slice(-4000)}`);
      throw error;
    }
  }

  it('kill -9 mid-host, embedded store: the next bot start takes over, resolves the host through revision, finishes the rest once', async () => {
    world = await startWorld({ deployYml: slowDeploy(true) });
    const port = await freePort();
    bots.push(await startBotProcess(world, { port, cwd: world.dir }));
    world.github.setWebhookUrl(`http://127.0.0.1:${port}/api/github/webhooks`);
    const id = await world.createDeployment({});
    await pollUntil(() => lines(join(world.dir, 'web-2.runs')).length === 1, 'web-2 to start', { timeoutMs: 30_000 });
    await bots.pop()!.kill('SIGKILL');

    bots.push(await startBotProcess(world, { port, cwd: world.dir, env: { LOG_LEVEL: 'info' } }));
    const end = await terminal(id, 90_000);
    expect(end.state).toBe('success');
    expect(end.description).toBe('deployed to 3/3 hosts');
    for (const host of ['web-1', 'web-2', 'web-3']) expect(lines(join(world.dir, `${host}.runs`)), host).toHaveLength(1);
    expect(world.github.statuses(id).map((s) => s.description)).toContain('resumed by another bot after its runner stopped');
  }, 400_000);

  it('kill -9 mid-host without revision, PostgreSQL: another replica takes over and ends error, naming the unknown host; nothing runs again', async () => {
    database = await freshPostgresDatabase();
    world = await startWorld({ deployYml: slowDeploy(false), databaseUrl: database.url });
    const [portA, portB] = [await freePort(), await freePort()];
    bots.push(await startBotProcess(world, { port: portA, cwd: world.dir }));
    const replica = await startBotProcess(world, { port: portB, cwd: world.dir });
    world.github.setWebhookUrl(`http://127.0.0.1:${portA}/api/github/webhooks`);
    const id = await world.createDeployment({});
    await pollUntil(() => lines(join(world.dir, 'web-2.runs')).length === 1, 'web-2 to start', { timeoutMs: 30_000 });
    await bots.pop()!.kill('SIGKILL');
    bots.push(replica);
    const end = await terminal(id, 90_000);
    expect(end).toMatchObject({ state: 'error', description: 'outcome unknown on web-2; not retried' });
    expect(lines(join(world.dir, 'web-1.runs'))).toHaveLength(1);
    expect(lines(join(world.dir, 'web-2.runs'))).toHaveLength(1);
    expect(existsSync(join(world.dir, 'web-3.runs'))).toBe(false);
  }, 400_000);

  it('two bots on one PostgreSQL receiving the same webhooks: each deployment runs once, never two at once per environment', async () => {
    database = await freshPostgresDatabase();
    world = await startWorld({
      databaseUrl: database.url,
      deployYml: deployYml(`  staging:
    deployer: local
    deploy: 'echo "begin $DEPLOY_ID" >> "$DEPLOY_ENVIRONMENT.log"; echo run >> "$DEPLOY_ID.runs"; sleep 1; echo "end $DEPLOY_ID" >> "$DEPLOY_ENVIRONMENT.log"'
  qa:
    deployer: local
    deploy: 'echo "begin $DEPLOY_ID" >> "$DEPLOY_ENVIRONMENT.log"; echo run >> "$DEPLOY_ID.runs"; sleep 1; echo "end $DEPLOY_ID" >> "$DEPLOY_ENVIRONMENT.log"'
`),
    });
    const [portA, portB] = [await freePort(), await freePort()];
    bots.push(await startBotProcess(world, { port: portA, cwd: world.dir }), await startBotProcess(world, { port: portB, cwd: world.dir }));
    // Every webhook goes to both bots at once, as if GitHub's delivery raced two replicas.
    relay = await startWebhookRelay(
      bots.map((bot) => bot.url),
      'all',
    );
    world.github.setWebhookUrl(relay.url);

    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const sha = world.github.addCommit('acme/app');
      ids.push(await world.createDeployment({ ref: sha, environment: 'staging' }));
      ids.push(await world.createDeployment({ ref: sha, environment: 'qa' }));
    }
    const ends = await Promise.all(ids.map((id) => terminal(id, 90_000)));
    expect(ends.map((s) => s.state)).toEqual(ids.map(() => 'success'));
    for (const id of ids) expect(lines(join(world.dir, `${id}.runs`)), `deployment ${id}`).toHaveLength(1);
    for (const env of ['staging', 'qa']) {
      const log = lines(join(world.dir, `${env}.log`));
      expect(log).toHaveLength(6);
      for (let i = 0; i < log.length; i += 2) {
        expect(log[i]).toMatch(/^begin \d+$/);
        expect(log[i + 1]).toBe(log[i]!.replace('begin', 'end'));
      }
    }
    expect(readdirSync(world.dir).filter((f) => f.endsWith('.runs'))).toHaveLength(6);
  }, 400_000);
});

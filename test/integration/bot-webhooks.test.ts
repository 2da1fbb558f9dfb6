// The bot as GitHub sees it: signed webhooks from the stand-in, statuses written back through the
// REST API (checked against GitHub's OpenAPI description by the stand-in).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bot } from '../../bot/bot.ts';
import { deployYml, readMetrics, startBotIn, type World, startWorld } from '../support/bot-harness.ts';

const yml = (deploy: string, extra = '') =>
  deployYml(
    `  staging:\n    deployer: local\n    url: https://staging.example.com\n    hosts: [web-1, web-2]\n    concurrency: 2\n    deploy: '${deploy}'\n${extra}`,
  );

// Bounds for a bot's whole conversation on a loaded machine (bot start, GitHub's stand-in, deploys):
// far beyond what it takes; what is checked is what happens, not how fast.
describe('bot: deployment webhooks', { timeout: 180_000 }, () => {
  let world: World;
  let bot: Bot | undefined;
  afterEach(async () => {
    await bot?.stop();
    bot = undefined;
    await world?.close();
  });

  async function terminal(id: number, timeoutMs = 60_000) {
    return world.github.waitFor(
      () => world.github.statuses(id).find((s) => ['success', 'failure', 'error', 'inactive'].includes(s.state)),
      timeoutMs,
    );
  }

  it('deploys a deployment created on GitHub and records queued → in_progress → success there', async () => {
    world = await startWorld({ deployYml: yml('echo "$DEPLOY_SHA" >> "$DEPLOY_HOST.log"') });
    bot = await startBotIn(world);
    const id = await world.createDeployment({});
    const end = await terminal(id);
    expect(end.state).toBe('success');
    const states = world.github.statuses(id).map((s) => s.state);
    expect(states[0]).toBe('queued');
    expect(states).toContain('in_progress');
    expect(end).toMatchObject({
      description: 'deployed to 2/2 hosts',
      environmentUrl: 'https://staging.example.com',
      logUrl: bot.links.url(id),
    });
    expect(readFileSync(join(world.dir, 'web-2.log'), 'utf8')).toBe(`${world.github.deployments('acme/app')[0]!.sha}\n`);
    expect(world.github.problems).toEqual([]);
  });

  it('rule 1: the same delivery redelivered 10 times at once makes one deployment run once', async () => {
    world = await startWorld({ deployYml: yml('sleep 0.5; echo x >> "$DEPLOY_HOST.count"') });
    bot = await startBotIn(world);
    const id = await world.createDeployment({});
    const original = await world.github.waitFor(() => world.github.deliveries.find((d) => d.event === 'deployment' && d.status !== null));
    const app = await bot.access.app();
    await Promise.all(
      Array.from({ length: 10 }, () => app.request('POST /app/hook/deliveries/{delivery_id}/attempts', { delivery_id: original.id })),
    );
    await world.github.waitFor(() => world.github.deliveries.filter((d) => d.guid === original.guid && d.status !== null).length === 11);
    expect(world.github.deliveries.filter((d) => d.guid === original.guid).every((d) => d.status! >= 200 && d.status! < 300)).toBe(true);
    expect((await terminal(id)).state).toBe('success');
    expect(await bot.store.deployments({})).toHaveLength(1);
    expect(readFileSync(join(world.dir, 'web-1.count'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('rule 8: a webhook with a bad signature gets 4xx and records nothing', async () => {
    world = await startWorld({ deployYml: yml('true') });
    bot = await startBotIn(world);
    const response = await fetch(`${bot.url}/api/github/webhooks`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'deployment',
        'x-github-delivery': 'bad-1',
        'x-hub-signature-256': `sha256=${'0'.repeat(64)}`,
      },
      body: JSON.stringify({ action: 'created', deployment: { id: 1 } }),
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(await bot.store.deployments({})).toEqual([]);
    expect(await bot.store.hasDelivery('bad-1')).toBe(false);
  });

  it('rule 7: the webhook is answered while the deploy still runs', async () => {
    // The deploy ends only once the test has seen the answer (it then creates `release`), however slow
    // the machine; bounded, so that a release never made fails the deploy instead of hanging.
    world = await startWorld({ deployYml: yml('i=0; until [ -e release ]; do i=$((i + 1)); [ $i -lt 600 ] || exit 99; sleep 0.1; done') });
    bot = await startBotIn(world);
    const id = await world.createDeployment({});
    const delivery = await world.github.waitFor(() => world.github.deliveries.find((d) => d.event === 'deployment' && d.status !== null));
    expect(delivery.status).toBeLessThan(300);
    expect(world.github.statuses(id).some((s) => s.state === 'success')).toBe(false);
    writeFileSync(join(world.dir, 'release'), '');
    expect((await terminal(id)).state).toBe('success');
  });

  it('rule 1: 50 concurrent deployments of one sha and environment: one runs, 49 end inactive "duplicate of #N"', async () => {
    world = await startWorld({ deployYml: yml('echo run >> "$DEPLOY_HOST.runs"') });
    bot = await startBotIn(world);
    const ids = await Promise.all(Array.from({ length: 50 }, () => world.createDeployment({})));
    const ends = await Promise.all(ids.map((id) => terminal(id, 180_000)));
    const winners = ends.filter((s) => s.state === 'success');
    expect(winners).toHaveLength(1);
    const winner = ids[ends.indexOf(winners[0]!)]!;
    const refused = ends.filter((s) => s.state === 'inactive');
    expect(refused).toHaveLength(49);
    for (const status of refused) {
      expect(status.description).toMatch(new RegExp(`^duplicate of #${winner} \\((queued|running|succeeded)\\)$`));
      expect(status.logUrl).toBe(bot.links.url(winner));
    }
    expect(readFileSync(join(world.dir, 'web-1.runs'), 'utf8').trim().split('\n')).toHaveLength(1);
    expect(world.github.problems).toEqual([]);
  }, 240_000);

  it('rule 8: an invalid deploy.yml ends the deployment error with the path and reason of each problem, runs nothing', async () => {
    world = await startWorld({
      deployYml:
        'environments:\n  staging:\n    deployer: local\n    concurrency: zero\n    deploy: touch ran\n    timeouts: { connect: 1h }\n',
    });
    bot = await startBotIn(world);
    // Asked of shipguard (the Action's key): with deploy.yml unreadable, only the payload says it is ours.
    const id = await world.createDeployment({ payload: { idempotency_key: '4100/1/deploy/staging' } });
    const end = await terminal(id);
    expect(end).toMatchObject({
      state: 'error',
      description: '.github/deploy.yml (2 problems): environments.staging.concurrency: expected a number, got "zero"',
    });
    expect(existsSync(join(world.dir, 'ran'))).toBe(false);
  });

  it('whose deployments: a GitHub Pages deployment in a repository using shipguard gets no status and leaves no record', async () => {
    world = await startWorld({ deployYml: yml('touch "$DEPLOY_HOST.ran"') });
    bot = await startBotIn(world);
    const pages = await world.createDeployment({ environment: 'github-pages' });
    const ours = await world.createDeployment({}); // admitted after the first: once it has ended, the first was decided
    expect((await terminal(ours)).state).toBe('success');
    expect(world.github.statuses(pages)).toEqual([]);
    expect(await bot.store.deployment(pages)).toBeNull();
    const metrics = await readMetrics(bot.url);
    expect(metrics).toMatch(/^shipguard_deployments_ignored_total 1$/m);
    expect(world.github.problems).toEqual([]);
  });

  it('reads deploy.yml from the default branch, never from the deployed ref', async () => {
    world = await startWorld({ deployYml: yml('echo default-branch > "$DEPLOY_HOST.which"') });
    world.github.setFile('acme/app', '.github/deploy.yml', yml('echo pr-branch > "$DEPLOY_HOST.which"'), 'feature');
    bot = await startBotIn(world);
    const id = await world.createDeployment({ ref: 'feature' });
    expect((await terminal(id)).state).toBe('success');
    expect(readFileSync(join(world.dir, 'web-1.which'), 'utf8').trim()).toBe('default-branch');
  });

  it('a deploy that outlives its installation token still posts its final status', async () => {
    world = await startWorld({ deployYml: yml('sleep 4'), tokenLifetimeMs: 2500 });
    bot = await startBotIn(world);
    const id = await world.createDeployment({});
    expect((await terminal(id)).state).toBe('success');
    expect(world.github.requests.filter((r) => r.status === 401).length).toBeGreaterThan(0);
  });
});

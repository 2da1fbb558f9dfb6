// The bot's own pages on a real bot wired to the GitHub stand-in: the signed log page and its JSON twin
// (a wrong or missing signature looks like no deployment at all), /healthz, and /metrics moving as
// deployments run, are refused, and as store calls fail; /metrics only with its bearer token, and the
// listen address chosen by HOST.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bot } from '../../bot/bot.ts';
import { deployYml, METRICS_TOKEN, readMetrics, startBotIn, type World, startWorld } from '../support/bot-harness.ts';

// The output carries markup: the page must show it as text, never run it.
const DEPLOY = `echo "<b>deploying</b> $DEPLOY_SHA to $DEPLOY_HOST"; sleep 0.2`;
// Holds a deploy until the test creates the file (in the world's folder, where local deploys run); bounded.
const UNTIL_RELEASED = 'i=0; until [ -e release-gated ]; do i=$((i + 1)); [ $i -gt 1200 ] && exit 99; sleep 0.1; done';

let world: World;
let bot: Bot;
beforeAll(async () => {
  world = await startWorld({
    deployYml: deployYml(
      `  staging:\n    deployer: local\n    hosts: [web-1, web-2]\n    concurrency: 2\n    deploy: '${DEPLOY}'\n` +
        `  gated:\n    deployer: local\n    deploy: '${UNTIL_RELEASED}'\n`,
    ),
  });
  bot = await startBotIn(world);
}, 180_000);
afterAll(async () => {
  await bot?.stop();
  await world?.close();
});

async function deployAndWait(ref = 'main'): Promise<{ id: number; logUrl: string; state: string }> {
  const id = await world.createDeployment({ ref });
  const final = await world.github.waitFor(
    () => world.github.statuses(id).find((s) => ['success', 'failure', 'error', 'inactive'].includes(s.state)),
    60_000,
  );
  return { id, logUrl: final.logUrl, state: final.state };
}

/** The sum of the samples of `name` in Prometheus text format that carry all of `labels` (0 when none does). */
function sample(text: string, name: string, labels: string): number {
  const wanted = labels.split(',');
  return text
    .split('\n')
    .filter(
      (line) =>
        line.startsWith(`${name}{`) &&
        wanted.every((label) =>
          line
            .slice(name.length + 1, line.indexOf('}'))
            .split(',')
            .includes(label),
        ),
    )
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

const metrics = () => readMetrics(bot.url);

// Bounds for a bot's whole conversation on a loaded machine (bot start, GitHub's stand-in, deploys):
// far beyond what it takes; what is checked is what happens, not how fast.
describe('the log page', { timeout: 180_000 }, () => {
  it('shows the timeline, the hosts with state and duration, and each host’s output, at the link GitHub got', async () => {
    const { id, logUrl } = await deployAndWait();
    const address = new URL(logUrl);
    expect(address.pathname).toBe(`/deployments/${id}`);

    const page = await fetch(`${bot.url}${address.pathname}${address.search}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).toContain('<table id="hosts">');
    expect(html).not.toContain('<b>deploying</b>');

    const json = await fetch(`${bot.url}${address.pathname}.json${address.search}`);
    expect(json.status).toBe(200);
    const view = (await json.json()) as {
      state: string;
      final: boolean;
      timeline: Array<{ message: string }>;
      hosts: Array<{ host: string; state: string; output: string; durationMs: number }>;
    };
    expect(view).toMatchObject({ state: 'succeeded', final: true });
    expect(view.hosts.map((h) => [h.host, h.state])).toEqual([
      ['web-1', 'succeeded'],
      ['web-2', 'succeeded'],
    ]);
    const sha = world.github.deployments('acme/app').find((d) => d.id === id)!.sha;
    for (const host of view.hosts) {
      expect(host.output).toContain(`<b>deploying</b> ${sha} to ${host.host}`);
      expect(host.durationMs).toBeGreaterThan(0);
    }
    expect(view.timeline.map((e) => e.message)).toEqual(expect.arrayContaining(['web-1: deploy starting', 'web-2: deploy starting']));
    // The page carries the same view for its first render, with `<` escaped inside the script.
    expect(html).toContain('\\u003cb>deploying\\u003c/b>');
  });

  it('answers 404, with nothing of the deployment, to a wrong, missing, or another deployment’s signature', async () => {
    const first = await deployAndWait(world.github.addCommit('acme/app'));
    const second = await deployAndWait(world.github.addCommit('acme/app'));
    const sig = (url: string) => new URL(url).searchParams.get('sig')!;
    const tampered = sig(first.logUrl).replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
    for (const path of [
      `/deployments/${first.id}`,
      `/deployments/${first.id}?sig=`,
      `/deployments/${first.id}?sig=${tampered}`,
      `/deployments/${first.id}?sig=${sig(second.logUrl)}`,
      `/deployments/${first.id}.json?sig=${sig(second.logUrl)}`,
      `/deployments/999999?sig=${sig(first.logUrl)}`,
    ]) {
      const response = await fetch(`${bot.url}${path}`);
      expect(response.status, path).toBe(404);
      expect(await response.text(), path).toBe('not found\n');
    }
  });
});

describe('/healthz and /metrics', { timeout: 180_000 }, () => {
  it('/healthz answers ok while the store answers', async () => {
    const response = await fetch(`${bot.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
  });

  it('counts finished deployments by state, duplicates refused, deploy and host durations, and webhook acknowledgements', async () => {
    const before = await metrics();
    const sha = world.github.addCommit('acme/app');
    expect((await deployAndWait(sha)).state).toBe('success');
    expect((await deployAndWait(sha)).state).toBe('inactive');
    const after = await metrics();

    const moved = (name: string, labels: string) => sample(after, name, labels) - sample(before, name, labels);
    expect(moved('shipguard_deployments_finished_total', 'state="succeeded"')).toBe(1);
    expect(moved('shipguard_deployments_refused_total', 'reason="duplicate"')).toBe(1);
    expect(moved('shipguard_deploy_duration_seconds_count', 'state="succeeded"')).toBe(1);
    expect(moved('shipguard_host_duration_seconds_count', 'outcome="succeeded"')).toBe(2);
    expect(moved('shipguard_webhook_ack_seconds_count', 'event="deployment"')).toBe(2);
    expect(sample(after, 'shipguard_deploy_duration_seconds_sum', 'state="succeeded"')).toBeGreaterThan(0);
    expect(after).toContain('# TYPE shipguard_store_errors_total counter');
  });

  it('gauges deployments in flight and waiting and the oldest wait, by repository and environment; counts finished ones under theirs', async () => {
    const gated = 'repository="acme/app",environment="gated"';
    const deploy = () => world.createDeployment({ environment: 'gated', ref: world.github.addCommit('acme/app') });
    const reached = (id: number, state: string) =>
      world.github.waitFor(() => world.github.statuses(id).find((s) => s.state === state), 60_000);
    const first = await deploy();
    await reached(first, 'in_progress');
    const waiting = [await deploy(), await deploy()];
    for (const id of waiting) await reached(id, 'queued');

    const during = await metrics();
    expect(sample(during, 'shipguard_deployments_in_flight', gated)).toBe(1);
    expect(sample(during, 'shipguard_deployments_waiting', gated)).toBe(2);
    expect(sample(during, 'shipguard_deployment_oldest_waiting_seconds', gated)).toBeGreaterThan(0);
    expect(sample(during, 'shipguard_deployments_waiting', 'repository="acme/app",environment="staging"')).toBe(0);

    writeFileSync(join(world.dir, 'release-gated'), '');
    for (const id of [first, ...waiting]) await reached(id, 'success');
    const after = await metrics();
    expect(sample(after, 'shipguard_deployments_in_flight', gated)).toBe(0);
    expect(sample(after, 'shipguard_deployments_waiting', gated)).toBe(0);
    expect(sample(after, 'shipguard_deployment_oldest_waiting_seconds', gated)).toBe(0);
    expect(sample(after, 'shipguard_deployments_finished_total', `state="succeeded",${gated}`)).toBe(3);
    expect(sample(after, 'shipguard_deploy_duration_seconds_count', `state="succeeded",${gated}`)).toBe(3);
  });

  it('counts store calls that fail, and /healthz says the store is down', async () => {
    // A bot of its own (own store folder): this one loses its store for good.
    const dataDir = join(world.dir, 'store-to-break');
    const broken = await startBotIn(world, { env: { DATA_DIR: dataDir } });
    try {
      const before = sample(await readMetrics(broken.url), 'shipguard_store_errors_total', 'operation="deployments"');
      await broken.store.close();

      const health = await fetch(`${broken.url}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ ok: false });
      const after = sample(await readMetrics(broken.url), 'shipguard_store_errors_total', 'operation="deployments"');
      expect(after).toBeGreaterThan(before);
    } finally {
      // Everything stops; the store, closed already, stays closed.
      await broken.stop();
    }
  });
});

describe('exposure', { timeout: 180_000 }, () => {
  it('/metrics answers only to Authorization: Bearer $METRICS_TOKEN', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token-0123456789', METRICS_TOKEN, `Basic ${METRICS_TOKEN}`]) {
      const response = await fetch(`${bot.url}/metrics`, { headers: authorization ? { authorization } : {} });
      expect(response.status, authorization).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="shipguard metrics"');
      expect(await response.text()).toBe('metrics need "Authorization: Bearer <METRICS_TOKEN>"\n');
    }
    const allowed = await fetch(`${bot.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toContain('# TYPE shipguard_deployments_finished_total counter');
  });

  it('HOST chooses the listen address; without METRICS_TOKEN /metrics is off and says how to turn it on', async () => {
    const dataDir = join(world.dir, 'store-on-127.0.0.2');
    const other = await startBotIn(world, { env: { DATA_DIR: dataDir, HOST: '127.0.0.2', METRICS_TOKEN: '' } });
    try {
      expect(other.url).toBe(`http://127.0.0.2:${other.port}`);
      expect((await fetch(`${other.url}/healthz`)).status).toBe(200);
      const elsewhere = await fetch(`http://127.0.0.1:${other.port}/healthz`).catch((error: Error) => error);
      expect((elsewhere as Error & { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');

      const metricsOff = await fetch(`${other.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      expect(metricsOff.status).toBe(404);
      expect(await metricsOff.text()).toBe('metrics are off: set METRICS_TOKEN on the bot and send "Authorization: Bearer <token>"\n');
    } finally {
      await other.stop();
    }
  });
});

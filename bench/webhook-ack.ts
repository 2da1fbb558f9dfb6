// Benchmark (issue 3): how fast the bot acknowledges webhooks under a burst, and what one deployment
// costs in GitHub API calls.
//   1. 200 `deployment` webhooks (real payloads from @octokit/webhooks-examples, signed) posted at once
//      to a bot process (`node bot/server.ts`, so the load generator and the GitHub stand-in do not
//      share its CPU time), on the embedded store and on PostgreSQL; latency from send to answer,
//      p50/p99/max, after 5 deliveries one by one to warm the process up. Rule 7 asks for under 1 s.
//   2. One deployment over 10 hosts (local deployer) against the GitHub stand-in: the API requests
//      the bot made for it, by route.
//
//   node bench/webhook-ack.ts        prints both, writes bench/results/webhook-ack.json
import { createHmac } from 'node:crypto';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { latencySummary, type LatencySummary } from './latencies.ts';
import { runIfMain } from './standalone.ts';
import { deployYml, startBotIn, startBotProcess, startWorld, WEBHOOK_SECRET } from '../test/support/bot-harness.ts';
import { freshPostgresDatabase } from '../test/support/databases.ts';
import { freePort } from '../test/support/ports.ts';

const THIS_FILE = fileURLToPath(import.meta.url);
const RESULTS = join(dirname(THIS_FILE), 'results', 'webhook-ack.json');
const BURST = 200;
const WARM_UP = 5;

interface Burst {
  ackMs: LatencySummary;
  non2xx: number;
}

export interface WebhookAckBenchmark {
  burst: number;
  embedded: Burst;
  postgres: Burst;
  apiCallsFor10Hosts: { total: number; byRoute: Record<string, number> };
}

export async function main(): Promise<WebhookAckBenchmark> {
  const embedded = await measureBurst(undefined);
  const database = await freshPostgresDatabase();
  const postgres = await measureBurst(database.url).finally(() => database.drop());
  const apiCalls = await measureApiCalls();
  const result = { burst: BURST, embedded, postgres, apiCallsFor10Hosts: apiCalls };
  console.log(`\nwebhook acknowledgement, ${BURST} deployment webhooks at once to a bot process (${cpus().length} cpus)`);
  for (const [store, ack] of [
    ['embedded store', embedded],
    ['PostgreSQL', postgres],
  ] as const) {
    console.log(
      `  ${store.padEnd(15)} p50 ${ack.ackMs.p50.toFixed(0)} ms · p99 ${ack.ackMs.p99.toFixed(0)} ms · max ${ack.ackMs.max.toFixed(0)} ms · non-2xx answers: ${ack.non2xx}`,
    );
  }
  console.log(`GitHub API calls for one deployment to 10 hosts: ${apiCalls.total}`);
  for (const [route, count] of Object.entries(apiCalls.byRoute)) console.log(`  ${String(count).padStart(3)}  ${route}`);
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(
    RESULTS,
    `${JSON.stringify({ name: 'webhook-ack', date: new Date().toISOString(), node: process.version, cpus: cpus().length, ...result }, null, 2)}\n`,
  );
  return result;
}

async function measureBurst(databaseUrl: string | undefined): Promise<Burst> {
  const world = await startWorld({ deployYml: deployYml(`  staging:\n    deployer: local\n    deploy: 'true'\n`), databaseUrl });
  const bot = await startBotProcess(world, { port: await freePort(), cwd: world.dir });
  try {
    const examples = JSON.parse(
      readFileSync(join(dirname(THIS_FILE), '../node_modules/@octokit/webhooks-examples/api.github.com/index.json'), 'utf8'),
    ) as Array<{
      name: string;
      examples: Array<Record<string, any>>;
    }>;
    const example = examples.find((e) => e.name === 'deployment')!.examples[0]!;
    const bodies = Array.from({ length: WARM_UP + BURST }, (_, i) => {
      const payload = structuredClone(example);
      payload.deployment.id = 500_000 + i;
      payload.deployment.sha = (i.toString(16).padStart(8, '0') + 'a'.repeat(32)).slice(0, 40);
      payload.deployment.environment = 'staging';
      payload.repository.full_name = 'acme/app';
      payload.installation = { id: 1, node_id: 'MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ==' };
      return JSON.stringify(payload);
    });
    const deliver = async (body: string, i: number) => {
      const started = performance.now();
      const response = await fetch(`${bot.url}/api/github/webhooks`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'deployment',
          'x-github-delivery': `bench-${i}`,
          'x-hub-signature-256': `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}`,
        },
        body,
      });
      await response.arrayBuffer();
      return { ms: performance.now() - started, ok: response.status >= 200 && response.status < 300 };
    };
    // A few deliveries one by one first: the burst measures a running bot, not its first request.
    for (let i = 0; i < WARM_UP; i++) await deliver(bodies[i]!, i);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const latencies = await Promise.all(bodies.slice(WARM_UP).map((body, i) => deliver(body, WARM_UP + i)));
    return { ackMs: latencySummary(latencies.map((l) => l.ms)), non2xx: latencies.filter((l) => !l.ok).length };
  } finally {
    await bot.kill();
    await world.close();
  }
}

async function measureApiCalls() {
  const hosts = Array.from({ length: 10 }, (_, i) => `web-${i + 1}`).join(', ');
  const world = await startWorld({
    deployYml: deployYml(`  staging:\n    deployer: local\n    hosts: [${hosts}]\n    concurrency: 3\n    deploy: 'sleep 0.5'\n`),
  });
  const bot = await startBotIn(world);
  try {
    const before = world.github.requests.length;
    const id = await world.createDeployment({});
    await world.github.waitFor(() => world.github.statuses(id).find((s) => s.state === 'success'), 60_000);
    await new Promise((resolve) => setTimeout(resolve, 2000)); // let any late write land before counting
    const calls = world.github.requests.slice(before).filter((r) => !(r.method === 'POST' && r.path === '/repos/acme/app/deployments'));
    const byRoute: Record<string, number> = {};
    for (const call of calls) {
      const route = `${call.method} ${call.path.split('?')[0]!.replace(/\/\d+(?=\/|$)/g, '/{id}')}`;
      byRoute[route] = (byRoute[route] ?? 0) + 1;
    }
    return { total: calls.length, byRoute };
  } finally {
    await bot.stop();
    await world.close();
  }
}

runIfMain(import.meta.url, main);

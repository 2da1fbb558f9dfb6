// Benchmark (issue 13): three bot replicas (`node bot/server.ts` each) sharing one PostgreSQL database,
// 300 deployments requested at once over 30 environments (10 each, a new commit each, so none is a
// duplicate; `queue: fifo`, so all 300 run), two hosts each with the local deployer and `deploy: true`.
//
//   Layout: 30 installations, each with one repository and its one environment. GitHub asks for a second
//   between one installation token's writes (bot/github/write-limiter.ts), and every deployment costs at
//   least three writes (queued, in_progress, success): 900 writes in one installation would take 15
//   minutes whatever the replicas do, while 30 installations write side by side, 30 writes each.
//   Webhooks: the stand-in delivers to a relay that hands each delivery to the next replica in turn, as a
//   load balancer in front of replicas does (compose.yaml). Whoever received a deployment, any replica
//   admits and claims it through the store, so the split of the work shows the store sharing it.
//
//   Measured: total, from the first create call to the last terminal status written on GitHub, and
//   throughput (deployments a minute over that time); pickup per deployment, from the create call's
//   answer (when the Action starts its `pickup-timeout` clock, 2 m by default) to the first status a bot
//   wrote on GitHub for it (its `queued`), p50/p99/max, and where that time goes (from the same create: the
//   webhook recorded by a replica, the deployment admitted, in the store's clock: the same machine's); how
//   many deployments each replica ran to their end, and takeovers (none expected: nobody crashes).
//   The bots run with the production lease (30 s), not the tests' 10 s (see below).
//   Times are the stand-in's, to the millisecond (its recorded requests), not GitHub's whole seconds.
//   Checked, and the run fails loudly otherwise: each deployment got exactly one terminal status from the
//   bots, and it is `success`; each ended once, in one replica (its log), and `succeeded` in the store;
//   the hosts of two deployments of one environment never ran at once (the store's host times: each
//   deployment's first host start and last host end, set in transactions that follow one another); the
//   stand-in saw no request or answer off GitHub's OpenAPI description.
//
//   node bench/replicas.ts        prints the figures, writes bench/results/replicas.json
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { isTerminalStatus } from '../common/deploy-intent.ts';
import { latencySummary, type LatencySummary } from './latencies.ts';
import { runIfMain } from './standalone.ts';
import { createDeployment, deployYml, startBotProcess, startWorld, type BotProcess } from '../test/support/bot-harness.ts';
import { freshPostgresDatabase } from '../test/support/databases.ts';
import type { GitHubStandin } from '../test/support/github-standin.ts';
import { freePort } from '../test/support/ports.ts';
import { startWebhookRelay, type WebhookRelay } from '../test/support/webhook-relay.ts';

const THIS_FILE = fileURLToPath(import.meta.url);
const RESULTS = join(dirname(THIS_FILE), 'results', 'replicas.json');
const REPLICAS = 3;
const ENVIRONMENTS = 30;
const DEPLOYMENTS_PER_ENVIRONMENT = 10;
/** A bound for what never comes (a deployment left without an end), well beyond a slow run. */
const SAFETY_MS = 300_000;
/** After the last terminal status: long enough for a second one, or a late write, to land and be seen. */
const SETTLE_MS = 3_000;

export interface ReplicasBenchmark {
  replicas: number;
  environments: number;
  deployments: number;
  /** From the first create call to the last one's answer. */
  createdWithinMs: number;
  totalMs: number;
  deploymentsPerMinute: number;
  pickupMs: LatencySummary;
  /** Where pickup's time goes, each from the same create: the webhook recorded by a replica, then admitted. */
  receivedMs: LatencySummary;
  admittedMs: LatencySummary;
  ranByReplica: number[];
  takeovers: number;
}

export async function main(): Promise<ReplicasBenchmark> {
  const yml = deployYml(`  staging:\n    deployer: local\n    hosts: [web-1, web-2]\n    queue: fifo\n    deploy: 'true'\n`);
  const database = await freshPostgresDatabase();
  const world = await startWorld({ deployYml: yml, databaseUrl: database.url });
  const bots: BotProcess[] = [];
  let relay: WebhookRelay | undefined;
  try {
    const releases = Array.from({ length: ENVIRONMENTS }, (_, i) => {
      const repo = world.github.addRepository({ owner: `org-${i + 1}`, name: 'app', installationId: 100 + i });
      world.github.setFile(repo.fullName, '.github/deploy.yml', yml);
      return Array.from({ length: DEPLOYMENTS_PER_ENVIRONMENT }, () => ({
        repository: repo.fullName,
        sha: world.github.addCommit(repo.fullName),
      }));
    }).flat();
    const ports = await Promise.all(Array.from({ length: REPLICAS }, () => freePort()));
    // The production lease (30 s), not the tests' 10 s: a runner halts itself when no renewal has succeeded
    // for two thirds of it, and on this busy 2-core machine renewals of three replicas can take seconds.
    const env = { LOG_LEVEL: 'info', SHIPGUARD_LEASE: '30s' };
    bots.push(...(await Promise.all(ports.map((port) => startBotProcess(world, { port, cwd: world.dir, env })))));
    relay = await startWebhookRelay(
      bots.map((bot) => bot.url),
      'round-robin',
    );
    world.github.setWebhookUrl(relay.url);

    const started = Date.now();
    const createdAt = new Map<number, number>();
    await Promise.all(
      releases.map(async ({ repository, sha }) => {
        const id = await createDeployment(world.github, repository, { ref: sha });
        createdAt.set(id, Date.now());
      }),
    );
    const ids = [...createdAt.keys()];
    await world.github
      .waitFor(() => writtenStatuses(world.github).terminalCount >= ids.length, SAFETY_MS)
      .catch(async () => {
        const { byDeployment } = writtenStatuses(world.github);
        const open = ids.filter((id) => !byDeployment.get(id)?.some((s) => isTerminalStatus(s.state)));
        const states = (await storedDeployments(database.url)).filter((d) => open.includes(d.id)).map((d) => `${d.id} ${d.state}`);
        throw new Error(
          `replicas benchmark: ${open.length} deployments without a terminal status after ${SAFETY_MS / 1000} s (in the store: ${states.join(', ')}); the replicas' logs: ${saveLogs(bots).join(' ')}`,
        );
      });
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const written = writtenStatuses(world.github);
    for (const bot of bots) await bot.kill('SIGTERM');
    const logs = bots.map((bot) => logLines(bot.stdout()));
    const stored = await storedDeployments(database.url);

    const violations = [
      ...statusViolations(ids, written.byDeployment),
      ...runViolations(ids, logs),
      ...storeViolations(ids, stored),
      ...world.github.problems.map((problem) => `GitHub stand-in: ${problem}`),
    ];
    if (violations.length > 0) {
      throw new Error(
        `replicas benchmark: ${violations.length} invariant violations (the replicas' logs: ${saveLogs(bots).join(' ')}):\n  ${violations.slice(0, 20).join('\n  ')}`,
      );
    }

    const lastTerminal = Math.max(...ids.map((id) => written.byDeployment.get(id)!.find((s) => isTerminalStatus(s.state))!.at));
    const totalMs = lastTerminal - started;
    const result: ReplicasBenchmark = {
      replicas: REPLICAS,
      environments: ENVIRONMENTS,
      deployments: ids.length,
      createdWithinMs: Math.max(...createdAt.values()) - started,
      totalMs,
      deploymentsPerMinute: Math.round(ids.length / (totalMs / 60_000)),
      pickupMs: latencySummary(ids.map((id) => written.byDeployment.get(id)![0]!.at - createdAt.get(id)!)),
      receivedMs: latencySummary(stored.filter((d) => createdAt.has(d.id)).map((d) => Math.round(d.receivedAt - createdAt.get(d.id)!))),
      admittedMs: latencySummary(stored.filter((d) => createdAt.has(d.id)).map((d) => Math.round(d.queuedAt! - createdAt.get(d.id)!))),
      ranByReplica: logs.map((lines) => lines.filter((line) => line.msg === 'deployment finished').length),
      takeovers: logs.flat().filter((line) => line.msg?.startsWith('taking over')).length,
    };
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    console.log(
      `\n${REPLICAS} replicas on one PostgreSQL: ${ids.length} deployments at once over ${ENVIRONMENTS} environments (one per installation; 2 hosts, deploy: true; ${cpus().length} cpus)`,
    );
    console.log(
      `  first create to last terminal status   ${s(result.totalMs)} · ${result.deploymentsPerMinute.toFixed(0)} deployments/min`,
    );
    console.log(
      `  pickup (create → first status)         p50 ${s(result.pickupMs.p50)} · p99 ${s(result.pickupMs.p99)} · max ${s(result.pickupMs.max)}`,
    );
    console.log(
      `    of which: webhook recorded            p50 ${s(result.receivedMs.p50)} · p99 ${s(result.receivedMs.p99)} · max ${s(result.receivedMs.max)}`,
    );
    console.log(
      `              admitted (queued)           p50 ${s(result.admittedMs.p50)} · p99 ${s(result.admittedMs.p99)} · max ${s(result.admittedMs.max)}`,
    );
    console.log(`  ran by each replica                    ${result.ranByReplica.join(' · ')} (takeovers: ${result.takeovers})`);
    console.log('  invariants held: one terminal status each (success), never two deployments of an environment at once');
    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(
      RESULTS,
      `${JSON.stringify({ name: 'replicas', date: new Date().toISOString(), node: process.version, cpus: cpus().length, ...result }, null, 2)}\n`,
    );
    return result;
  } finally {
    for (const bot of bots) await bot.kill();
    await relay?.close();
    await world.close();
    await database.drop();
  }
}

/** Each replica's whole output in a file of its own, for a failed run's post-mortem; returns their paths. */
function saveLogs(bots: BotProcess[]): string[] {
  return bots.map((bot, i) => {
    const path = join(tmpdir(), `shipguard-replicas-${process.pid}-${i + 1}.log`);
    writeFileSync(path, bot.output());
    return path;
  });
}

interface WrittenStatus {
  state: string;
  at: number;
}

/** The statuses the bots wrote (GitHub's own `inactive` from `auto_inactive` is not theirs), oldest first. */
function writtenStatuses(github: GitHubStandin): { byDeployment: Map<number, WrittenStatus[]>; terminalCount: number } {
  const byDeployment = new Map<number, WrittenStatus[]>();
  let terminalCount = 0;
  for (const request of github.requests) {
    const id = request.method === 'POST' && request.status === 201 ? /\/deployments\/(\d+)\/statuses$/.exec(request.path)?.[1] : undefined;
    if (id === undefined) continue;
    const state = (request.body as { state: string }).state;
    if (isTerminalStatus(state)) terminalCount++;
    const list = byDeployment.get(Number(id)) ?? [];
    list.push({ state, at: request.at });
    byDeployment.set(Number(id), list);
  }
  return { byDeployment, terminalCount };
}

function statusViolations(ids: number[], byDeployment: Map<number, WrittenStatus[]>): string[] {
  return ids.flatMap((id) => {
    const terminal = (byDeployment.get(id) ?? []).filter((s) => isTerminalStatus(s.state)).map((s) => s.state);
    return terminal.length === 1 && terminal[0] === 'success' ? [] : [`deployment ${id}: terminal statuses [${terminal.join(', ')}]`];
  });
}

interface LogLine {
  msg?: string;
  deployment?: number;
}

function logLines(stdout: string): LogLine[] {
  return stdout.split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as LogLine];
    } catch {
      return [];
    }
  });
}

/** Each deployment ended once, in one replica. */
function runViolations(ids: number[], logs: LogLine[][]): string[] {
  const ends = new Map<number, number>();
  for (const line of logs.flat()) {
    if (line.msg === 'deployment finished' && line.deployment !== undefined)
      ends.set(line.deployment, (ends.get(line.deployment) ?? 0) + 1);
  }
  return ids.filter((id) => ends.get(id) !== 1).map((id) => `deployment ${id}: ended ${ends.get(id) ?? 0} times in the replicas' logs`);
}

interface StoredDeployment {
  id: number;
  environment: string;
  state: string;
  /** Milliseconds since the epoch: the webhook recorded, the deployment admitted. */
  receivedAt: number;
  queuedAt: number | null;
  /** Microseconds since the epoch (timestamptz's precision; a JavaScript Date would cut it to ms). */
  firstHostStart: number | null;
  lastHostEnd: number | null;
}

async function storedDeployments(databaseUrl: string): Promise<StoredDeployment[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT d.id, d.repository || ' ' || d.environment AS environment, d.state,
              EXTRACT(EPOCH FROM d.received_at) * 1000 AS received_at, EXTRACT(EPOCH FROM d.queued_at) * 1000 AS queued_at,
              (EXTRACT(EPOCH FROM min(h.started_at)) * 1000000)::bigint AS first_host_start,
              (EXTRACT(EPOCH FROM max(h.finished_at)) * 1000000)::bigint AS last_host_end
       FROM deployments d LEFT JOIN deployment_hosts h ON h.deployment_id = d.id
       GROUP BY d.id`,
    );
    const micros = (value: string | null) => (value === null ? null : Number(value));
    return rows.map((row) => ({
      id: Number(row.id),
      environment: String(row.environment),
      state: String(row.state),
      receivedAt: Number(row.received_at),
      queuedAt: row.queued_at === null ? null : Number(row.queued_at),
      firstHostStart: micros(row.first_host_start),
      lastHostEnd: micros(row.last_host_end),
    }));
  } finally {
    await client.end();
  }
}

/** Every deployment succeeded, and within an environment one's hosts ended before the next one's began. */
function storeViolations(ids: number[], stored: StoredDeployment[]): string[] {
  const violations: string[] = [];
  const byId = new Map(stored.map((d) => [d.id, d]));
  for (const id of ids) {
    const deployment = byId.get(id);
    if (deployment?.state !== 'succeeded') violations.push(`deployment ${id}: ${deployment?.state ?? 'not'} in the store`);
    else if (deployment.firstHostStart === null || deployment.lastHostEnd === null) violations.push(`deployment ${id}: no host times`);
  }
  const timed = stored.filter((d) => d.firstHostStart !== null && d.lastHostEnd !== null);
  for (const deployments of Map.groupBy(timed, (d) => d.environment).values()) {
    deployments.sort((a, b) => a.firstHostStart! - b.firstHostStart!);
    for (let i = 1; i < deployments.length; i++) {
      const [before, after] = [deployments[i - 1]!, deployments[i]!];
      if (after.firstHostStart! < before.lastHostEnd!) {
        violations.push(`${after.environment}: deployment ${after.id}'s hosts began before deployment ${before.id}'s had ended`);
      }
    }
  }
  return violations;
}

runIfMain(import.meta.url, main);

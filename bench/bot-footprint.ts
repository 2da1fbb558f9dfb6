// Benchmark (issue 13): what the bot costs at rest, and how soon it answers, on each store.
//   For the embedded store and for PostgreSQL, three times each: `node bot/server.ts` is spawned with a fresh
//   store and data folder, stopped once ready, and started again on them; a client asks `/healthz` every 5 ms
//   from each spawn on. The first start compiles every module; the restart reads them from Node's compile
//   cache, which server.ts keeps in the data folder (a restart is what a running install does: an upgrade,
//   a reboot, a crash). start-to-listening: the first answer of any kind; start-to-ready: the first 200 (the
//   store is open and webhooks are handled); slowest answer: the longest any of those requests waited once
//   the port was open (an event-loop stall while the store opens shows here); idle RSS: the restarted
//   process's resident memory 5 s after ready, with nothing to do. Medians of the three are reported.
//   Then the embedded store alone, in this process: how long opening it holds the event loop (it is
//   synchronous), for a new folder (migrations) and an existing one.
//
//   node bench/bot-footprint.ts        prints the table, writes bench/results/bot-footprint.json
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runIfMain } from './standalone.ts';
import { openEmbeddedDatabase } from '../bot/store/embedded-database.ts';
import { openSqliteStore } from '../bot/store/sqlite-store.ts';
import { deployYml, startWorld } from '../test/support/bot-harness.ts';
import { freshPostgresDatabase } from '../test/support/databases.ts';
import { freePort } from '../test/support/ports.ts';

const THIS_FILE = fileURLToPath(import.meta.url);
const RESULTS = join(dirname(THIS_FILE), 'results', 'bot-footprint.json');
const SERVER = join(dirname(THIS_FILE), '../bot/server.ts');
const ROUNDS = 3;
const IDLE_MS = 5_000;

export interface Footprint {
  /** The first start: a fresh store, nothing compiled yet. */
  firstReadyMs: number;
  /** The rest: the restart on the same store and data folder. */
  listeningMs: number;
  readyMs: number;
  slowestAnswerMs: number;
  idleRssMb: number;
}

type Start = Pick<Footprint, 'listeningMs' | 'readyMs' | 'slowestAnswerMs'>;

export async function main(): Promise<
  Record<'embedded' | 'postgres', Footprint> & { embeddedOpenMs: { fresh: number; existing: number } }
> {
  const embeddedOpenMs = measureEmbeddedOpen();
  const embedded = await medianOf(() => measure(undefined));
  const database = await freshPostgresDatabase();
  const postgres = await medianOf(() => measure(database.url)).finally(() => database.drop());
  const result = { embedded, postgres, embeddedOpenMs };
  console.log(`\nbot footprint: node bot/server.ts, median of ${ROUNDS} starts (${cpus().length} cpus)`);
  console.log('               first start   restart (compile cache)');
  console.log('  store              ready   listening     ready   slowest answer while starting   idle RSS');
  for (const [store, f] of [
    ['embedded', embedded],
    ['PostgreSQL', postgres],
  ] as const) {
    console.log(
      `  ${store.padEnd(11)} ${`${f.firstReadyMs.toFixed(0)} ms`.padStart(11)} ${`${f.listeningMs.toFixed(0)} ms`.padStart(11)} ${`${f.readyMs.toFixed(0)} ms`.padStart(9)} ${`${f.slowestAnswerMs.toFixed(0)} ms`.padStart(32)} ${`${f.idleRssMb.toFixed(1)} MB`.padStart(10)}`,
    );
  }
  console.log(
    `  opening the embedded store holds the event loop ${embeddedOpenMs.fresh.toFixed(1)} ms (new folder, migrations), ${embeddedOpenMs.existing.toFixed(1)} ms (existing)`,
  );
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(
    RESULTS,
    `${JSON.stringify({ name: 'bot-footprint', date: new Date().toISOString(), node: process.version, cpus: cpus().length, ...result }, null, 2)}\n`,
  );
  return result;
}

/** Opening is synchronous (node:sqlite): its duration is the event loop's stall. Best of 3 each. */
function measureEmbeddedOpen(): { fresh: number; existing: number } {
  const fresh: number[] = [];
  const existing: number[] = [];
  for (let i = 0; i < 3; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'shipguard-open-'));
    try {
      for (const into of [fresh, existing]) {
        const started = performance.now();
        const database = openEmbeddedDatabase(dir);
        openSqliteStore(database);
        into.push(performance.now() - started);
        database.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { fresh: Math.min(...fresh), existing: Math.min(...existing) };
}

async function medianOf(run: () => Promise<Footprint>): Promise<Footprint> {
  const runs: Footprint[] = [];
  for (let i = 0; i < ROUNDS; i++) runs.push(await run());
  const median = (key: keyof Footprint) => runs.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!;
  return {
    firstReadyMs: median('firstReadyMs'),
    listeningMs: median('listeningMs'),
    readyMs: median('readyMs'),
    slowestAnswerMs: median('slowestAnswerMs'),
    idleRssMb: median('idleRssMb'),
  };
}

async function measure(databaseUrl: string | undefined): Promise<Footprint> {
  const world = await startWorld({ deployYml: deployYml(`  staging:\n    deployer: local\n    deploy: 'true'\n`), databaseUrl });
  try {
    const first = await start(world.dir, world.env);
    await first.stop();
    const restart = await start(world.dir, world.env);
    try {
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${restart.pid}/status`, 'utf8'))![1]!;
      return { firstReadyMs: first.measured.readyMs, ...restart.measured, idleRssMb: Number(rss) / 1024 };
    } finally {
      await restart.stop();
    }
  } finally {
    await world.close();
  }
}

/** Spawns the bot and waits for its first 200 on /healthz, timing every answer on the way. */
async function start(cwd: string, env: Record<string, string>): Promise<{ measured: Start; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/healthz`;
  const started = performance.now();
  const child = spawn(process.execPath, [SERVER], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, PORT: String(port) },
    stdio: 'ignore',
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  try {
    let listeningMs: number | null = null;
    let slowestAnswerMs = 0;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`bot exited with ${child.exitCode}`);
      const sent = performance.now();
      const status = await fetch(url).then(
        (response) => response.arrayBuffer().then(() => response.status),
        () => null,
      );
      if (status !== null) {
        listeningMs ??= performance.now() - started;
        slowestAnswerMs = Math.max(slowestAnswerMs, performance.now() - sent);
      }
      if (status === 200) break;
      if (performance.now() - started > 120_000) throw new Error('bot not ready within 120 s');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return { measured: { listeningMs: listeningMs!, readyMs: performance.now() - started, slowestAnswerMs }, pid: child.pid!, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

runIfMain(import.meta.url, main);

// "Exactly once under faults" (docs/exactly-once.md, refining rules 3, 4 and 6), for real: `node bot/server.ts` processes
// on throwaway PostgreSQL clusters (PgCluster), with real faults: a partitioned replica (TcpProxy black hole),
// the database stopped while a host deploys, SIGTERM, and kill -9 at each of the runner's store writes.
//
// The deploy command is the witness. Each run appends a line to `<host>.runs` (so executions are counted),
// and `begin <host>`, a `tick <host>` every quarter second and `end <host>` to one shared `deploy.log`; at its
// end it writes the SHA to `<host>.rev`, which `revision` reads. From that log: no host began twice, and no
// two hosts' runs overlapped (a killed host's last tick comes before the next host's begin).
//
// Every wait is for a condition, under a deadline that is only a safety net; the timings that matter (lease,
// command timeout, outage lengths) are injected. The scenarios are independent (each its own GitHub stand-in,
// folder, databases, bots; the database-outage ones their own cluster) and run concurrently: most of their
// time is waiting for leases to lapse and for killed commands' hard limits to pass. What each observed
// (runs per host, final status, time from fault to terminal status) is printed at the end.
import { existsSync, readFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, it, type ExpectStatic } from 'vitest';
import { openEmbeddedDatabase } from '../../bot/store/embedded-database.ts';
import { deployYml, startBotProcess, startWorld, type BotProcess, type World } from '../support/bot-harness.ts';
import type { DeploymentStatus } from '../support/github-standin.ts';
import { PgCluster } from '../support/pg-cluster.ts';
import { freePort } from '../support/ports.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';

/**
 * The bots' lease (SHIPGUARD_LEASE): renewed and scanned every 3.3 s; a runner stops starting steps 5 s and
 * halts 6.7 s after its last successful renewal. (Shorter leases work on an idle machine; on a busy one a bot
 * whose store answers slowly halts itself with no fault injected, and the scenarios would not test theirs.)
 */
const LEASE = '10s';
const LEASE_MS = 10_000;
/** Every wait's deadline: a safety net, never a timing under test. */
const SAFETY_MS = 200_000;
/** A safety net too; it includes the wait for a free slot (SCENARIOS_AT_ONCE). */
const TEST_TIMEOUT_MS = 600_000;
/** Scenarios run concurrently (most of their time is waiting), but not all at once on a 2-core machine. */
const SCENARIOS_AT_ONCE = 3;
const TERMINAL_STATES = ['success', 'failure', 'error', 'inactive'];
/** A deploy takes TICKS × 0.25 s; the command timeout (12 s) is far above that, so a slow machine never hits it. */
const TICKS = 12;
/**
 * web-2, where the faults strike, takes SLOW_TICKS × 0.25 s when `slowWeb2`: longer than a runner may go on
 * without renewing its lease (2/3 of it), so a runner that loses its store must kill it. Command timeout 20 s.
 */
const SLOW_TICKS = 32;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const hostNames = (n: number) => Array.from({ length: n }, (_, i) => `web-${i + 1}`);

function deployCommand(ticks: number, web2Ticks: number): string {
  return [
    'echo run >> "$DEPLOY_HOST.runs"',
    'echo "begin $DEPLOY_HOST" >> deploy.log',
    `n=${ticks}`,
    `if [ "$DEPLOY_HOST" = web-2 ]; then n=${web2Ticks}; fi`,
    'i=0',
    'while [ $i -lt $n ]; do sleep 0.25; echo "tick $DEPLOY_HOST" >> deploy.log; i=$((i+1)); done',
    'echo "$DEPLOY_SHA" > "$DEPLOY_HOST.rev"',
    'echo "end $DEPLOY_HOST" >> deploy.log',
  ].join('; ');
}

function fleetYml(options: { hosts: string[]; revision: boolean; slowWeb2?: boolean; maxFailures?: number }): string {
  return deployYml(`  staging:
    deployer: local
    hosts: [${options.hosts.join(', ')}]
    concurrency: 1
    max_failures: ${options.maxFailures ?? 0}
    timeouts: { connect: 1s, command: ${options.slowWeb2 ? 20 : 12}s, total: 10m }
    deploy: '${deployCommand(TICKS, options.slowWeb2 ? SLOW_TICKS : TICKS)}'
${options.revision ? `    revision: 'cat "$DEPLOY_HOST.rev" 2>/dev/null || true'\n` : ''}`);
}

interface Observation {
  scenario: string;
  runs: Record<string, number>;
  final: string;
  faultToTerminalMs: number | null;
  notes: string[];
}
const observations: Observation[] = [];

// Bot processes never outlive this test process, even when it ends without closing its scenarios (a
// timeout, a torn-down worker): 'exit' runs synchronously, and a signal is all that is left to send.
const liveBots = new Set<BotProcess>();
process.once('exit', () => {
  for (const bot of liveBots) bot.child.kill('SIGKILL');
});

/** Shared by the scenarios that do not stop their database. */
let cluster: PgCluster;

beforeAll(async () => {
  cluster = await PgCluster.start();
  // Several scenarios at once, each with a bot or two and their pools: more than the default 100.
  await appendFile(join(cluster.dataDir, 'postgresql.conf'), 'max_connections = 300\n');
  await cluster.restart();
}, 120_000);

afterAll(async () => {
  await cluster?.close();
  console.log(
    `exactly-once-faults, what happened:\n${observations
      .sort((a, b) => a.scenario.localeCompare(b.scenario))
      .map(
        (o) =>
          `- ${o.scenario}\n    runs ${JSON.stringify(o.runs)}\n    final: ${o.final}\n    fault → terminal status: ${o.faultToTerminalMs === null ? 'n/a (already published)' : `${(o.faultToTerminalMs / 1000).toFixed(1)} s`}${o.notes.map((n) => `\n    ${n}`).join('')}`,
      )
      .join('\n')}`,
  );
});

/** One scenario's world: GitHub stand-in, folder, bots, proxies, pools; closed whatever happens. */
class Scene {
  world!: World;
  readonly expect: ExpectStatic;
  bots: BotProcess[] = [];
  proxies: TcpProxy[] = [];
  private pools: pg.Pool[] = [];
  private clusters: PgCluster[] = [];

  constructor(expect: ExpectStatic) {
    this.expect = expect;
  }

  async open(deployYmlText: string, databaseUrl?: string): Promise<void> {
    this.world = await startWorld({ deployYml: deployYmlText, databaseUrl });
  }

  /** A cluster of the scenario's own (to stop without disturbing the others). */
  async ownCluster(): Promise<PgCluster> {
    const own = await PgCluster.start();
    this.clusters.push(own);
    return own;
  }

  async close(): Promise<void> {
    for (const bot of this.bots) await bot.kill('SIGKILL');
    for (const proxy of this.proxies) await proxy.close();
    for (const pool of this.pools) await pool.end().catch(() => {});
    await this.world?.close();
    for (const own of this.clusters) await own.close();
  }

  get dir(): string {
    return this.world.dir;
  }

  lines(file: string): string[] {
    const path = join(this.dir, file);
    return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
  }

  revOf(host: string): string | null {
    const path = join(this.dir, `${host}.rev`);
    return existsSync(path) ? readFileSync(path, 'utf8').trim() : null;
  }

  runsPerHost(hosts: string[]): Record<string, number> {
    return Object.fromEntries(hosts.map((h) => [h, this.lines(`${h}.runs`).length]));
  }

  begun(host: string): boolean {
    return this.lines('deploy.log').includes(`begin ${host}`);
  }

  ended(host: string): boolean {
    return this.lines('deploy.log').includes(`end ${host}`);
  }

  dump(): void {
    for (const bot of this.bots) console.error(`--- bot ${bot.url} (pid ${bot.child.pid})\n${bot.output().slice(-6000)}`);
    console.error(`--- deploy.log\n${this.lines('deploy.log').join('\n')}`);
  }

  /** What a bot said about its leases (renewals that failed, halts), for messages and notes. */
  leaseTrouble(bot: BotProcess, before = Infinity): string {
    return bot
      .output()
      .split('\n')
      .filter((line) => /could not renew the lease|runner halted|taking over/.test(line))
      .map((line) => {
        try {
          const entry = JSON.parse(line) as { time: number; msg: string; why?: string; err?: { message?: string } };
          return entry.time < before
            ? `${new Date(entry.time).toISOString().slice(11, 23)} ${entry.msg}${entry.why ? `: ${entry.why}` : ''}${entry.err?.message ? ` (${entry.err.message})` : ''}`
            : '';
        } catch {
          return line;
        }
      })
      .filter(Boolean)
      .join('\n');
  }

  /** Renewal failures and halts any bot logged before `time` (the fault): none is expected. */
  troubleBefore(time: number): string {
    const said = this.bots.map((bot) => this.leaseTrouble(bot, time)).filter(Boolean);
    return `lease trouble before the fault: ${said.length ? said.join(' / ').replaceAll('\n', '; ') : 'none'}`;
  }

  async waitFor<T>(what: string, check: () => T | Promise<T>, pollMs = 50): Promise<NonNullable<T>> {
    const timeoutMs = SAFETY_MS;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let value: T | undefined;
      try {
        value = await check();
      } catch {
        value = undefined; // the store may be down on purpose
      }
      if (value) return value as NonNullable<T>;
      if (Date.now() > deadline) {
        this.dump();
        throw new Error(`gave up waiting for ${what} after ${timeoutMs / 1000} s (a safety net: something is stuck)`);
      }
      await sleep(pollMs);
    }
  }

  /**
   * Waits for the fault's moment (`reached`), failing at once, with what the bots said about their leases,
   * when deployment `id` ends first: then the bots gave it up without the fault (a store too slow for the
   * lease), and the scenario would not test what it says.
   */
  async waitForMoment(what: string, id: number, reached: () => boolean | Promise<boolean>, pollMs = 50): Promise<void> {
    const outcome = await this.waitFor(
      what,
      async () => ((await reached()) ? 'reached' : this.terminals(id).length ? 'ended' : null),
      pollMs,
    );
    if (outcome === 'ended') {
      throw new Error(
        `deployment ${id} ended (${this.terminals(id)[0]!.description}) before ${what}, with no fault injected yet:\n${this.bots.map((bot) => this.leaseTrouble(bot)).join('\n')}`,
      );
    }
  }

  async startBot(env: Record<string, string> = {}): Promise<BotProcess> {
    const bot = await startBotProcess(this.world, {
      port: await freePort(),
      cwd: this.dir,
      env: { SHIPGUARD_LEASE: LEASE, LOG_LEVEL: 'info', ...env },
    });
    this.bots.push(bot);
    liveBots.add(bot);
    bot.child.once('exit', () => liveBots.delete(bot));
    return bot;
  }

  sqlPool(url: string): pg.Pool {
    const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 5_000, query_timeout: 5_000 });
    pool.on('error', () => {});
    this.pools.push(pool);
    return pool;
  }

  terminals(id: number): DeploymentStatus[] {
    return this.world.github.statuses(id).filter((s) => TERMINAL_STATES.includes(s.state));
  }

  shaOf(id: number): string {
    return this.world.github.deployments('acme/app').find((d) => d.id === id)!.sha;
  }

  /**
   * The deploy log, checked: every line belongs to a host that began, no host began twice, nothing follows
   * a host's end, and hosts never overlapped. Returns the hosts in the order they began, and those that ended.
   */
  checkDeployLog(): { order: string[]; ended: string[] } {
    const expect = this.expect;
    const spans = new Map<string, { first: number; last: number; ended: boolean }>();
    this.lines('deploy.log').forEach((line, index) => {
      const [kind, host] = line.split(' ') as [string, string];
      expect(['begin', 'tick', 'end'], line).toContain(kind);
      const span = spans.get(host);
      if (kind === 'begin') {
        expect(span, `${host} began twice`).toBeUndefined();
        spans.set(host, { first: index, last: index, ended: false });
        return;
      }
      expect(span, `"${line}" without a begin`).toBeDefined();
      expect(span!.ended, `"${line}" after ${host} ended`).toBe(false);
      span!.last = index;
      if (kind === 'end') span!.ended = true;
    });
    const ordered = [...spans.entries()].sort((a, b) => a[1].first - b[1].first);
    for (let i = 1; i < ordered.length; i++) {
      const [previous, before] = ordered[i - 1]!;
      const [host, span] = ordered[i]!;
      expect(span.first, `${host} began (log line ${span.first}) while ${previous} still ran (its line ${before.last})`).toBeGreaterThan(
        before.last,
      );
    }
    return { order: ordered.map(([h]) => h), ended: ordered.filter(([, s]) => s.ended).map(([h]) => h) };
  }

  /**
   * What every scenario ends with: each host's deploy ran at most once, hosts never overlapped, exactly one
   * terminal status, and it tells the truth: success only when every host's deploy ran, once, to its end and
   * the SHA is live there; error names the unknown hosts; failure names a host that is not at the SHA.
   */
  expectTruth(id: number, hosts: string[], end: DeploymentStatus): Record<string, number> {
    const expect = this.expect;
    const runs = this.runsPerHost(hosts);
    for (const host of hosts) expect(runs[host], `deploy runs on ${host}`).toBeLessThanOrEqual(1);
    const log = this.checkDeployLog();
    expect(this.terminals(id), 'terminal statuses on GitHub').toHaveLength(1);
    const sha = this.shaOf(id);
    if (end.state === 'success') {
      expect(end.description).toBe(`deployed to ${hosts.length}/${hosts.length} hosts`);
      for (const host of hosts) {
        expect(runs[host], `${host}: success, so its deploy ran`).toBe(1);
        expect(this.revOf(host), `${host}: success, so its SHA is live`).toBe(sha);
      }
      expect([...log.ended].sort()).toEqual([...hosts].sort());
    } else if (end.state === 'error') {
      // (An unknown host may not have run at all: an intent recorded is a step that may have started.)
      expect(end.description, 'an error names the unknown hosts').toMatch(/^outcome unknown on [\w-]+/);
    } else {
      expect(end.state).toBe('failure');
      const failed = /^failed on ([\w-]+)/.exec(end.description);
      expect(failed, `a failure names the host: ${end.description}`).not.toBeNull();
      expect(this.revOf(failed![1]!), `${failed![1]} failed, so the SHA is not live there`).not.toBe(sha);
    }
    return runs;
  }

  /** The terminal status, once it is on GitHub and the deployment's status outbox is drained (PostgreSQL). */
  async settle(id: number, db: pg.Pool | null): Promise<{ end: DeploymentStatus; at: number }> {
    const end = await this.waitFor(`a terminal status of deployment ${id}`, () => this.terminals(id)[0]);
    const at = Date.now();
    if (db) await this.waitFor('the status outbox to be drained', async () => (await pendingStatuses(db, id)) === 0);
    return { end, at };
  }
}

async function one<T extends Record<string, unknown>>(db: pg.Pool, sql: string, params: unknown[]): Promise<T | undefined> {
  return (await db.query(sql, params)).rows[0] as T | undefined;
}

async function pendingStatuses(db: pg.Pool, id: number): Promise<number> {
  return (await one<{ n: number }>(db, 'SELECT count(*)::int AS n FROM status_outbox WHERE deployment_id = $1 AND done_at IS NULL', [id]))!
    .n;
}

async function deploymentState(db: pg.Pool, id: number): Promise<string | undefined> {
  return (await one<{ state: string }>(db, 'SELECT state FROM deployments WHERE id = $1', [id]))?.state;
}

async function timeline(db: pg.Pool, id: number): Promise<string[]> {
  return (await db.query('SELECT message FROM deployment_events WHERE deployment_id = $1 ORDER BY seq', [id])).rows.map((r) =>
    String(r.message),
  );
}

function exitOf(bot: BotProcess): Promise<{ code: number | null; signal: string | null }> {
  if (bot.child.exitCode !== null || bot.child.signalCode !== null)
    return Promise.resolve({ code: bot.child.exitCode, signal: bot.child.signalCode });
  return new Promise((resolve) => bot.child.once('exit', (code, signal) => resolve({ code, signal })));
}

let freeSlots = SCENARIOS_AT_ONCE;
const waitingForSlot: Array<() => void> = [];

async function takeSlot(): Promise<() => void> {
  if (freeSlots > 0) freeSlots--;
  else await new Promise<void>((resolve) => waitingForSlot.push(resolve));
  return () => {
    const next = waitingForSlot.shift();
    if (next) next();
    else freeSlots++;
  };
}

function scenario(name: string, body: (scene: Scene) => Promise<void>): void {
  it.concurrent(
    name,
    async ({ expect }) => {
      const releaseSlot = await takeSlot();
      const scene = new Scene(expect);
      try {
        await body(scene);
      } catch (error) {
        if (scene.world) scene.dump();
        throw error;
      } finally {
        await scene.close();
        releaseSlot();
      }
    },
    TEST_TIMEOUT_MS,
  );
}

describe('exactly once under faults: real bot processes, real faults', () => {
  // ---- 1. partition -----------------------------------------------------------------------------------

  scenario(
    'partition of one replica: the cut-off runner halts before its lease lapses, the other takes over; no host twice, no overlap, one terminal status',
    async (scene) => {
      const { expect } = scene;
      const hosts = hostNames(6);
      const url = await cluster.createDatabase();
      // max_failures 1: the host the partition leaves half-deployed fails (revision shows it), and the other
      // bot still deploys the rest, so the overlap check sees hosts of both bots.
      await scene.open(fleetYml({ hosts, revision: true, slowWeb2: true, maxFailures: 1 }), url);
      const db = scene.sqlPool(url);
      // Each bot through a proxy of its own (both passing): whichever claims the deployment is A, the one cut off.
      scene.proxies = [
        await TcpProxy.start({ targetHost: '127.0.0.1', targetPort: cluster.port }),
        await TcpProxy.start({ targetHost: '127.0.0.1', targetPort: cluster.port }),
      ];
      const pair = [
        await scene.startBot({ DATABASE_URL: scene.proxies[0]!.proxiedUrl(url) }),
        await scene.startBot({ DATABASE_URL: scene.proxies[1]!.proxiedUrl(url) }),
      ];
      scene.world.github.setWebhookUrl(`${pair[0]!.url}/api/github/webhooks`);
      const id = await scene.world.createDeployment({});

      await scene.waitForMoment('web-1 to start', id, () => scene.begun('web-1'));
      const owner = (await one<{ lease_owner: string }>(db, 'SELECT lease_owner FROM deployments WHERE id = $1', [id]))!.lease_owner;
      const index = pair.findIndex((bot) => owner.startsWith(`bot-${bot.child.pid}-`));
      expect(index, `lease owner ${owner}`).toBeGreaterThanOrEqual(0);
      const [a, b] = [pair[index]!, pair[1 - index]!];
      const proxyA = scene.proxies[index]!;

      await scene.waitForMoment('web-2 to start', id, () => scene.begun('web-2'));
      // The premise: A runs web-2 under its lease, nobody took over yet.
      const before = await timeline(db, id);
      expect(
        before.filter((m) => m.startsWith('taken over')),
        `A lost the deployment before the partition:\n${before.join('\n')}\nA: ${scene.leaseTrouble(a)}\nB: ${scene.leaseTrouble(b)}`,
      ).toEqual([]);
      expect(a.output(), 'A halted itself before the partition').not.toContain('runner halted');
      proxyA.blackhole();
      const faultAt = Date.now();

      const { end, at } = await scene.settle(id, db);
      const runs = scene.expectTruth(id, hosts, end);
      // B took the deployment over, and B wrote its end.
      const events = await timeline(db, id);
      const takeover = events.findIndex((message) => message.startsWith(`taken over by bot-${b.child.pid}-`));
      expect(takeover, events.join('\n')).toBeGreaterThan(0);
      expect(events.slice(takeover).some((m) => /^(succeeded|failed|error): /.test(m))).toBe(true);

      // The network comes back: A's writes held back by the partition (the end of the host it killed) must
      // all be refused now.
      proxyA.heal();
      const statusesBefore = scene.world.github.statuses(id).length;
      const runsBefore = JSON.stringify(scene.runsPerHost(hosts));
      await scene.waitFor("A's runner to give the deployment up (fenced out)", () =>
        a
          .output()
          .split('\n')
          .some((line) => line.includes(`"deployment":${id}`) && /deployment handed over|lease lost while deploying/.test(line)),
      );
      // A's runner is done; for one more lease, nothing of A's may show up anywhere.
      const quietUntil = Date.now() + LEASE_MS;
      while (Date.now() < quietUntil) {
        expect(scene.world.github.statuses(id).length, 'no status after the terminal one').toBe(statusesBefore);
        expect(JSON.stringify(scene.runsPerHost(hosts))).toBe(runsBefore);
        await sleep(100);
      }
      const fullTimeline = await timeline(db, id);
      const afterTakeover = fullTimeline.slice(takeover);
      // No write of A's got in after the takeover: not its halted host's end (which B resolves and records
      // itself: a second end of a host would be A's), nor anything only a halted runner says.
      expect(afterTakeover.filter((m) => m.includes('this bot may no longer act'))).toEqual([]);
      for (const host of hosts) {
        expect(
          afterTakeover.filter((m) => new RegExp(`^${host}: (succeeded|failed|skipped|unknown)\\b`).test(m)).length,
          `ends of ${host} recorded after the takeover`,
        ).toBeLessThanOrEqual(1);
        expect(fullTimeline.filter((m) => m === `${host}: deploy starting`).length, `intents of ${host}`).toBeLessThanOrEqual(1);
      }
      expect(scene.terminals(id)).toHaveLength(1);
      expect(await deploymentState(db, id)).not.toBe('running');
      observations.push({
        scenario: `1. partition of the runner's link while web-2 deploys (two bots, 6 hosts, revision, max_failures 1)`,
        runs,
        final: `${end.state}: ${end.description}`,
        faultToTerminalMs: at - faultAt,
        notes: [
          scene.troubleBefore(faultAt),
          `A halted itself: ${a.output().includes('runner halted')}; web-2's deploy ran to its end: ${scene.ended('web-2')}; order ${scene.checkDeployLog().order.join(' ')}`,
          `timeline from the takeover: ${afterTakeover.join(' | ')}`,
        ],
      });
    },
  );

  // ---- 2. PostgreSQL outage, one bot -------------------------------------------------------------------

  // The issue's two restarts, on the production lease (30 s): 5 s down is well below half of it, so the
  // runner has no reason to halt however slow the restart; 40 s down is longer than the whole lease.
  const outages = [
    { name: 'short', lease: '30s', leaseMs: 30_000, downMs: 5_000, revision: true },
    { name: 'short', lease: '30s', leaseMs: 30_000, downMs: 5_000, revision: false },
    { name: 'long', lease: '30s', leaseMs: 30_000, downMs: 40_000, revision: true },
    { name: 'long', lease: '30s', leaseMs: 30_000, downMs: 40_000, revision: false },
  ];
  for (const outage of outages) {
    scenario(
      `PostgreSQL stopped (immediate) while web-2 deploys, ${outage.name} outage, ${outage.revision ? 'with' : 'without'} revision: no host twice, one terminal status, and the truth`,
      async (scene) => {
        const { expect } = scene;
        const hosts = hostNames(3);
        const own = await scene.ownCluster();
        const url = await own.createDatabase();
        await scene.open(fleetYml({ hosts, revision: outage.revision, slowWeb2: true }), url);
        const db = scene.sqlPool(url);
        const bot = await scene.startBot({ SHIPGUARD_LEASE: outage.lease });
        scene.world.github.setWebhookUrl(`${bot.url}/api/github/webhooks`);
        const id = await scene.world.createDeployment({});

        await scene.waitForMoment('web-2 to start', id, () => scene.begun('web-2'));
        const faultAt = Date.now();
        await own.stop({ mode: 'immediate' });
        await sleep(outage.downMs);
        await own.start();
        const outageMs = Date.now() - faultAt;
        // The premise of each: short is below half of that bot's lease, long above the whole lease.
        if (outage.name === 'long') expect(outageMs).toBeGreaterThan(outage.leaseMs);
        else expect(outageMs, 'a short outage (the restart took that long)').toBeLessThan(outage.leaseMs / 2);

        const { end, at } = await scene.settle(id, db);
        const runs = scene.expectTruth(id, hosts, end);
        const events = await timeline(db, id);
        if (outage.name === 'short') {
          expect(end.state, events.join('\n')).toBe('success');
          expect(runs).toEqual({ 'web-1': 1, 'web-2': 1, 'web-3': 1 });
          expect(scene.world.github.statuses(id).filter((s) => s.description.includes('unknown'))).toEqual([]);
        } else if (!outage.revision && end.state !== 'success') {
          // Without revision nothing can tell what web-2's killed deploy did.
          expect(end.description).toBe('outcome unknown on web-2; not retried');
        }
        expect(bot.child.exitCode, 'the bot lived through the outage').toBeNull();
        observations.push({
          scenario: `2. PostgreSQL down ${(outageMs / 1000).toFixed(1)} s (${outage.name}, lease ${outage.lease}) while web-2 deploys, ${outage.revision ? 'with' : 'without'} revision`,
          runs,
          final: `${end.state}: ${end.description}`,
          faultToTerminalMs: at - faultAt,
          notes: [
            scene.troubleBefore(faultAt),
            `runner halted: ${bot.output().includes('runner halted')}; web-2's deploy ran to its end: ${scene.ended('web-2')}`,
            `timeline from web-2: ${events.slice(events.indexOf('web-2: deploy starting')).join(' | ')}`,
          ],
        });
      },
    );
  }

  // ---- 3. SIGTERM ------------------------------------------------------------------------------------------

  scenario(
    'SIGTERM while web-2 deploys, embedded store: the bot exits once web-2 ends, hands over, and the next start finishes: success, every host once, nothing unknown',
    async (scene) => {
      const { expect } = scene;
      const hosts = hostNames(3);
      await scene.open(fleetYml({ hosts, revision: false }));
      const first = await scene.startBot();
      scene.world.github.setWebhookUrl(`${first.url}/api/github/webhooks`);
      const id = await scene.world.createDeployment({});

      await scene.waitForMoment('web-2 to start', id, () => scene.begun('web-2'));
      const exited = exitOf(first);
      first.child.kill('SIGTERM');
      const faultAt = Date.now();
      const exit = await scene.waitFor('the bot to exit after SIGTERM', () => Promise.race([exited, sleep(100).then(() => null)]));
      expect(exit).toEqual({ code: 0, signal: null });
      // It let web-2 end, and started nothing more.
      expect(scene.ended('web-2'), 'web-2 ran to its end before the bot exited').toBe(true);
      expect(scene.begun('web-3'), 'no host started after SIGTERM').toBe(false);
      expect(first.output()).toContain('deployment handed over');

      const second = await scene.startBot();
      scene.world.github.setWebhookUrl(`${second.url}/api/github/webhooks`);
      const { end, at } = await scene.settle(id, null);
      const runs = scene.expectTruth(id, hosts, end);
      expect(end).toMatchObject({ state: 'success', description: 'deployed to 3/3 hosts' });
      expect(runs).toEqual({ 'web-1': 1, 'web-2': 1, 'web-3': 1 });
      expect(scene.world.github.statuses(id).filter((s) => s.description.includes('unknown'))).toEqual([]);

      // The second bot stops gracefully; then the embedded store itself: nothing left to publish, all hosts done.
      second.child.kill('SIGTERM');
      expect(await exitOf(second)).toEqual({ code: 0, signal: null });
      const store = openEmbeddedDatabase(join(scene.dir, 'store'));
      try {
        const pending = store.db
          .prepare('SELECT count(*) AS n FROM status_outbox WHERE deployment_id = ?1 AND done_at IS NULL')
          .get(id) as { n: number };
        expect(pending.n).toBe(0);
        const rows = store.db
          .prepare('SELECT host, state FROM deployment_hosts WHERE deployment_id = ?1 ORDER BY position')
          .all(id) as Array<{ host: string; state: string }>;
        expect(rows.map((r) => `${r.host}:${r.state}`)).toEqual(['web-1:succeeded', 'web-2:succeeded', 'web-3:succeeded']);
      } finally {
        store.close();
      }
      expect(scene.terminals(id)).toHaveLength(1);
      observations.push({
        scenario: '3. SIGTERM while web-2 deploys (embedded store), then a new bot process',
        runs,
        final: `${end.state}: ${end.description}`,
        faultToTerminalMs: at - faultAt,
        notes: [
          scene.troubleBefore(faultAt),
          `statuses: ${scene.world.github
            .statuses(id)
            .map((s) => `${s.state} "${s.description}"`)
            .join(' → ')}`,
        ],
      });
    },
  );

  // ---- 4. kill -9 at the runner's store writes -------------------------------------------------------------

  const crashPoints: Array<{ name: string; reached: (scene: Scene, db: pg.Pool, id: number) => Promise<boolean> | boolean }> = [
    {
      // The intent is written before the command starts: its first line means the intent is in the store.
      name: "right after web-2's intent is recorded (its deploy began)",
      reached: (scene) => scene.begun('web-2'),
    },
    {
      // The command is over; whether its end reached the store is the race this point is about.
      name: "right after web-1's deploy command ended (its end about to be recorded)",
      reached: (scene) => scene.ended('web-1'),
    },
    {
      name: "right after web-1's end is recorded",
      reached: async (_scene, db, id) =>
        (await one<{ state: string }>(db, "SELECT state FROM deployment_hosts WHERE deployment_id = $1 AND host = 'web-1'", [id]))
          ?.state === 'succeeded',
    },
    {
      name: 'right after finish is recorded',
      reached: async (_scene, db, id) => (await deploymentState(db, id)) !== 'running',
    },
  ];
  for (const point of crashPoints) {
    scenario(
      `kill -9 ${point.name}, PostgreSQL, with revision: the next bot process ends the deployment once and truthfully`,
      async (scene) => {
        const { expect } = scene;
        const hosts = hostNames(3);
        const url = await cluster.createDatabase();
        await scene.open(fleetYml({ hosts, revision: true }), url);
        const db = scene.sqlPool(url);
        const first = await scene.startBot();
        scene.world.github.setWebhookUrl(`${first.url}/api/github/webhooks`);
        const id = await scene.world.createDeployment({});
        await scene.waitFor(`deployment ${id} to start`, async () => (await deploymentState(db, id)) === 'running');

        // Polled often: the point is a moment between two of the runner's writes.
        await scene.waitForMoment(`the crash point (${point.name})`, id, () => point.reached(scene, db, id), 10);
        await first.kill('SIGKILL');
        const faultAt = Date.now();
        const stateAtKill = await deploymentState(db, id);
        const hostsAtKill = (
          await db.query('SELECT host, state FROM deployment_hosts WHERE deployment_id = $1 ORDER BY position', [id])
        ).rows.map((r) => `${r.host}:${r.state}`);
        const pendingAtKill = await pendingStatuses(db, id);
        const terminalBefore = scene.terminals(id).length;

        await scene.startBot();
        const { end, at } = await scene.settle(id, db);
        const runs = scene.expectTruth(id, hosts, end);
        // With revision a crash never costs the truth: a host whose deploy ran to its end is known as deployed.
        for (const host of hosts)
          if (scene.revOf(host) === scene.shaOf(id)) expect(end.state, `${host} is live: ${end.description}`).toBe('success');
        if (point.name === 'right after finish is recorded') {
          expect(stateAtKill).toBe('succeeded');
          expect(
            scene.world.github.statuses(id).filter((s) => s.description.includes('resumed')),
            'a finished deployment is not taken over',
          ).toEqual([]);
        }
        observations.push({
          scenario: `4. kill -9 ${point.name}`,
          runs,
          final: `${end.state}: ${end.description}`,
          faultToTerminalMs: terminalBefore ? null : at - faultAt,
          notes: [
            scene.troubleBefore(faultAt),
            `at the kill: deployment ${stateAtKill}, hosts ${hostsAtKill.join(' ')}; statuses not yet marked sent: ${pendingAtKill}; terminal statuses already on GitHub: ${terminalBefore}`,
            `timeline: ${(await timeline(db, id)).slice(3).join(' | ')}`,
          ],
        });
      },
    );
  }
});

// Exactly once under faults, by random schedules (fast-check). Two bots (two Workers, owners `bot-a` and
// `bot-b`) share ONE real store (the embedded SQLite store), each through its own fault-injecting proxy: per
// call, by the schedule, the call goes through (after some latency each way), fails before it reaches the
// store, has its answer lost after the store took it, or hangs until the call's deadline and then fails — its
// request dropped, taken at once, or taken later (even after the caller gave up). Outage windows fail every
// call of one bot for a while. One bot may crash (kill -9: nothing it sends arrives any more, it kills nothing,
// its commands run on until their host-side hard limit), and one may be stopped (SIGTERM: Worker.stop with a
// grace) and started again. A second deployment may wait in the same environment. Hosts are in memory
// (HostTransport): commands exit, hang until killed, or lose their connection while they go on running on the
// host; every command is logged with its start and end.
//
// After each run, once every deployment is terminal and every runner done: at most one deploy per host and
// deployment; never more hosts acting at once than `concurrency`, never two commands at once on one host;
// exactly one terminal status per deployment, matching its state; no step started without its intent in
// the store before; no step started by a bot after another took the deployment over; `succeeded` (for the
// deployment or a host) only when the deploy ran to success exactly once; a healthy rollout (no store fault,
// no crash, graceful restarts only) ends `succeeded`; no renewal by a runner that has ended; no deploy started
// after the runner was told to hand over. A run that does not end (60 virtual s) fails as a liveness bug.
//
// Time is virtual: vitest's fake clock drives the bots' timers, the hosts, and the store's own `now()` (SQLite's
// `now()` reads the same faked Date). Store calls take no virtual time unless the schedule says so: the driver lets
// every real call finish before it moves the clock to the next timer. A run is thus deterministic for its
// schedule (fast-check can shrink and replay it), takes seconds of virtual time but a fraction of that in real
// time, and does not depend on how busy the machine is (no assertion on elapsed real time anywhere).
//
// Environment: SHIPGUARD_LONG_RANDOM=1 adds the long variant (500 schedules, shrinking); SHIPGUARD_RANDOM_RUNS,
// _SEED, _PATH (replay what a failure prints), _SHRINK=1|0, _KNOWN (see KNOWN_BUGS), _SCENARIO=<json> (replay
// one scenario), _DEBUG=1 (one line per run; traces of failures in the temp folder).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DeployEvents, DeployJob, Deployer } from '../../bot/deployers/deployer.ts';
import type { CommandEnd, HostConnection, HostTransport, CommandOptions } from '../../bot/deployers/host-transport.ts';
import { rollout } from '../../bot/deployers/rollout.ts';
import { parseDeployConfig, type DeployConfig } from '../../bot/engine/deploy-config.ts';
import { checkLeaseTiming, type LeaseTiming } from '../../bot/engine/leases.ts';
import { githubStateFor } from '../../bot/engine/states.ts';
import { LogLinks } from '../../bot/github/log-links.ts';
import { openEmbeddedDatabase } from '../../bot/store/embedded-database.ts';
import { openSqliteStore } from '../../bot/store/sqlite-store.ts';
import type { LeaseRef, Store } from '../../bot/store/store.ts';
import { admitReceived } from '../../bot/worker/admit-received.ts';
import { Worker } from '../../bot/worker/worker.ts';

// ---------------------------------------------------------------------------------------------------------
// Timings (virtual ms). A lease of 600 ms, renewed and scanned every 150 ms; a store call is bounded at a
// sixth of the lease (as 5 s is to 30 s in production).
const LEASE: LeaseTiming = { durationMs: 600, renewMs: 150, scanMs: 150 };
const POLL_MS = 500;
const CALL_DEADLINE_MS = 100;
/** A run that has not ended by then (virtual time) is a liveness failure. */
const RUN_CAP_MS = 60_000;
const OLD_SHA = 'b'.repeat(40);
const COMMANDS = { deploy: 'deploy-app', healthcheck: 'check-app', rollback: 'rollback-app', revision: 'cat REVISION' } as const;
type Phase = keyof typeof COMMANDS;
const ACTING: Phase[] = ['deploy', 'healthcheck', 'rollback'];
const BOTS = ['bot-a', 'bot-b'] as const;
type BotName = (typeof BOTS)[number];

// ---------------------------------------------------------------------------------------------------------
// Scenarios

type Action =
  | { kind: 'ok'; before: number; after: number }
  | { kind: 'fail' }
  | { kind: 'lost' }
  /** No answer until the call's deadline, then an error; the request reaches the store never, now, or `late` ms later. */
  | { kind: 'hang'; real: 'never' | 'now' | number };

interface Outage {
  at: number;
  length: number;
  mode: 'fail' | 'lost' | 'hang';
}

const FAULTED_METHODS = [
  'claimNext',
  'takeOverLapsed',
  'renewLease',
  'releaseLease',
  'recordHostIntent',
  'recordHostEnd',
  'finish',
  'hosts',
  'recordStatus',
  'recordHostProgress',
  'recordEvent',
  'deployment',
] as const;

interface BotPlan {
  /** Per method, the actions of its first calls (then: healed). */
  calls: Partial<Record<(typeof FAULTED_METHODS)[number], Action[]>>;
  outages: Outage[];
}

type CommandBehaviour =
  | { kind: 'exit'; code: number; ms: number }
  /** Runs until something kills it. */
  | { kind: 'hang' }
  /** The connection drops after `after` ms; on the host the command goes on and ends (exit 0) after `hostMs`. */
  | { kind: 'lost'; after: number; hostMs: number };

interface HostPlan {
  deploy: CommandBehaviour;
  healthcheck: CommandBehaviour;
}

interface Scenario {
  hosts: HostPlan[];
  concurrency: number;
  maxFailures: number;
  healthcheck: boolean;
  rollback: boolean;
  revision: boolean;
  bots: Record<BotName, BotPlan>;
  crash: { bot: BotName; at: number } | null;
  /** SIGTERM: the bot's worker stops (hands over, `graceMs` for the hosts in flight), and starts again later. */
  restart: { bot: BotName | 'runner'; at: number; graceMs: number; after: number } | null;
  /** A second deployment (another SHA) queued behind the first in the same environment. */
  next: boolean;
}

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('ok' as const), before: fc.nat(250), after: fc.nat(250) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'fail' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'lost' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('hang' as const),
      real: fc.oneof(fc.constant('never' as const), fc.constant('now' as const), fc.integer({ min: 1, max: 400 })),
    }),
  },
);

const botPlanArb: fc.Arbitrary<BotPlan> = fc.record({
  calls: fc.record(
    Object.fromEntries(FAULTED_METHODS.map((m) => [m, fc.array(actionArb, { maxLength: 6 })])) as Record<
      (typeof FAULTED_METHODS)[number],
      fc.Arbitrary<Action[]>
    >,
    {
      requiredKeys: [],
    },
  ),
  outages: fc.array(
    fc.record({
      at: fc.nat(3000),
      length: fc.integer({ min: 50, max: 1500 }),
      mode: fc.constantFrom<Outage['mode']>('fail', 'hang', 'lost'),
    }),
    { maxLength: 2 },
  ),
});

const succeeding = (maxMs: number): fc.Arbitrary<CommandBehaviour> =>
  fc.record({ kind: fc.constant('exit' as const), code: fc.constant(0), ms: fc.integer({ min: 5, max: maxMs }) });

const commandArb = (okWeight: number): fc.Arbitrary<CommandBehaviour> =>
  fc.oneof(
    { weight: okWeight, arbitrary: succeeding(80) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('exit' as const), code: fc.constant(1), ms: fc.integer({ min: 5, max: 80 }) }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'hang' as const }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('lost' as const),
        after: fc.integer({ min: 5, max: 80 }),
        hostMs: fc.integer({ min: 5, max: 3000 }),
      }),
    },
  );

const restartArb = fc.option(
  fc.record({
    bot: fc.constantFrom<BotName | 'runner'>('runner', ...BOTS),
    at: fc.nat(3000),
    graceMs: fc.constantFrom(0, 30, 2000),
    after: fc.nat(1500),
  }),
  { freq: 3 },
);

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  hosts: fc.array(fc.record({ deploy: commandArb(8), healthcheck: commandArb(8) }), { minLength: 1, maxLength: 3 }),
  concurrency: fc.integer({ min: 1, max: 2 }),
  maxFailures: fc.integer({ min: 0, max: 1 }),
  healthcheck: fc.boolean(),
  rollback: fc.boolean(),
  revision: fc.boolean(),
  bots: fc.record({ 'bot-a': botPlanArb, 'bot-b': botPlanArb }),
  crash: fc.option(fc.record({ bot: fc.constantFrom<BotName>(...BOTS), at: fc.nat(3000) }), { freq: 3 }),
  restart: restartArb,
  next: fc.boolean(),
});

/** No store fault, no crash, every command succeeds: only graceful restarts (with grace enough for the hosts in flight). */
const healthyArb: fc.Arbitrary<Scenario> = fc.record({
  hosts: fc.array(fc.record({ deploy: succeeding(400), healthcheck: succeeding(400) }), { minLength: 1, maxLength: 3 }),
  concurrency: fc.integer({ min: 1, max: 2 }),
  maxFailures: fc.integer({ min: 0, max: 1 }),
  healthcheck: fc.boolean(),
  rollback: fc.boolean(),
  revision: fc.boolean(),
  bots: fc.constant({ 'bot-a': { calls: {}, outages: [] }, 'bot-b': { calls: {}, outages: [] } }),
  crash: fc.constant(null),
  restart: fc.record({
    bot: fc.constantFrom<BotName | 'runner'>('runner', 'runner', ...BOTS),
    at: fc.nat(600),
    graceMs: fc.constant(2000),
    after: fc.nat(1000),
  }),
  next: fc.boolean(),
});

// ---------------------------------------------------------------------------------------------------------
// The virtual clock and the driver

const realSetImmediate = globalThis.setImmediate;
const realPerformance = globalThis.performance;
const realNow = () => realPerformance.now();
const realYield = () => new Promise<void>((resolve) => realSetImmediate(resolve));
const never = <T>() => new Promise<T>(() => {});
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

class RunEnv {
  readonly startedAt = Date.now();
  /** Known bugs this run tolerates (see KNOWN). */
  readonly known: readonly string[];
  /** Real store calls in flight: the clock does not move until they are all done. */
  private readonly inflight = new Set<Promise<unknown>>();
  readonly trace: string[] = [];
  /** Violations seen while the run goes (the run stops at the first). */
  readonly violations: string[] = [];
  private seq = 0;
  /** For SHIPGUARD_RANDOM_DEBUG: real store calls, real ms spent in them, timer steps. */
  realCalls = 0;
  realMs = 0;
  steps = 0;

  constructor(known: readonly string[]) {
    this.known = known;
  }

  elapsed(): number {
    return Date.now() - this.startedAt;
  }

  next(): number {
    return ++this.seq;
  }

  log(line: string): void {
    this.trace.push(`${String(this.elapsed()).padStart(6)} ${line}`);
  }

  real<T>(call: () => Promise<T>): Promise<T> {
    const t0 = realNow();
    this.realCalls++;
    const promise = call();
    this.inflight.add(promise);
    const forget = () => {
      this.inflight.delete(promise);
      this.realMs += realNow() - t0;
    };
    promise.then(forget, forget);
    return promise;
  }

  /** Lets every real call finish, and what they trigger, before the clock moves. */
  async quiesce(): Promise<void> {
    for (let idle = 0; idle < 3;) {
      await realYield();
      if (this.inflight.size) {
        idle = 0;
        await Promise.allSettled([...this.inflight]);
      } else idle++;
    }
  }

  /** Runs the virtual clock, timer by timer, until `done` (checked between timers) or the cap. */
  async drive(done: () => boolean | Promise<boolean>, capMs: number, what: () => string): Promise<void> {
    for (;;) {
      await this.quiesce();
      if (this.violations.length) throw new Error(`exactly-once violated: ${this.violations.join(' | ')}`);
      if (await done()) return;
      if (this.elapsed() > capMs) throw new Error(`liveness: ${what()} not reached after ${capMs} virtual ms`);
      if (vi.getTimerCount() === 0) throw new Error(`liveness: ${what()} not reached, and nothing is left to happen`);
      // Synchronously (no real timer turn per step): quiesce() above lets what the timer started finish.
      vi.advanceTimersToNextTimer();
      this.steps++;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Bots and their faulty view of the store

class Bot {
  crashed = false;
  worker: Worker | null = null;
  /** The deployments this bot's worker runs now. */
  active: () => number[] = () => [];
  readonly name: BotName;
  readonly plan: BotPlan;
  constructor(name: BotName, plan: BotPlan) {
    this.name = name;
    this.plan = plan;
  }
}

function faultyStore(real: Store, bot: Bot, env: RunEnv): Store {
  const counts = new Map<string, number>();
  const pick = (method: string): Action | null => {
    const now = env.elapsed();
    const outage = bot.plan.outages.find((o) => now >= o.at && now < o.at + o.length);
    if (outage) return outage.mode === 'hang' ? { kind: 'hang', real: 'never' } : { kind: outage.mode };
    const n = counts.get(method) ?? 0;
    counts.set(method, n + 1);
    return bot.plan.calls[method as keyof BotPlan['calls']]?.[n] ?? null;
  };
  const interesting = (method: string) =>
    !['claimReceived', 'claimNext', 'takeOverLapsed', 'deployment', 'recordHostProgress'].includes(method);
  const show = (value: unknown) =>
    typeof value === 'boolean'
      ? String(value)
      : value === null
        ? 'null'
        : Array.isArray(value)
          ? `[${value.length}]`
          : typeof value === 'object'
            ? 'record'
            : String(value);

  async function call(method: string, run: () => Promise<unknown>, detail: string, lease: LeaseRef | null): Promise<unknown> {
    if (bot.crashed) return never();
    const tag = `${bot.name} ${method}(${detail})`;
    // A runner that has ended must not keep its lease: nobody could take the deployment over, nobody ends it.
    const zombie = method === 'renewLease' && lease !== null && !bot.active().includes(lease.id);
    if (zombie && env.known.includes('zombie-renewal')) {
      env.log(`${tag} [renewal by an ended runner: refused, known bug tolerated]`);
      throw new Error('injected: refused a renewal by an ended runner');
    }
    const taken = <T>(result: T): T => {
      if (zombie && result === true) {
        env.violations.push(
          `${bot.name} renewed the lease of #${lease!.id}@${lease!.epoch} at ${env.elapsed()}ms after its runner had ended: the deployment stays running with a live lease that nobody holds, so it is never taken over nor ended`,
        );
      }
      return result;
    };
    const action = pick(method);
    const deliver = <T>(value: T): Promise<T> => (bot.crashed ? never<T>() : Promise.resolve(value));
    if (!action) {
      const result = taken(await env.real(run));
      if (interesting(method) || (result !== null && !Array.isArray(result))) env.log(`${tag} → ${show(result)}`);
      return deliver(result);
    }
    switch (action.kind) {
      case 'ok': {
        await sleep(action.before);
        if (bot.crashed) return never();
        const result = taken(await env.real(run));
        env.log(`${tag} [+${action.before}ms, answer +${action.after}ms] → ${show(result)}`);
        await sleep(action.after);
        return deliver(result);
      }
      case 'fail':
        env.log(`${tag} [fails, not sent]`);
        throw new Error(`injected: ${method} could not reach the store`);
      case 'lost': {
        const result = await env.real(run).then(
          (r) => show(taken(r)),
          (error: Error) => `threw ${error.message}`,
        );
        env.log(`${tag} [answer lost] → ${result} (not seen)`);
        throw new Error(`injected: ${method}: connection lost before the answer`);
      }
      case 'hang': {
        env.log(
          `${tag} [hangs ${CALL_DEADLINE_MS}ms, request ${action.real === 'never' ? 'dropped' : action.real === 'now' ? 'taken now' : `taken after ${action.real}ms`}]`,
        );
        const send = () =>
          void env.real(run).then(
            (result) => env.log(`${tag} [hung request taken] → ${show(taken(result))} (not seen)`),
            (error: Error) => env.log(`${tag} [hung request failed: ${error.message}]`),
          );
        if (action.real === 'now') send();
        else if (typeof action.real === 'number') setTimeout(send, action.real);
        await sleep(CALL_DEADLINE_MS);
        if (bot.crashed) return never();
        throw new Error(`injected: ${method} timed out after ${CALL_DEADLINE_MS} ms`);
      }
    }
  }

  return new Proxy(real, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function' || property === 'close') return value;
      const method = String(property);
      return (...args: unknown[]) => {
        const lease = args[0] as { id?: number; epoch?: number } | undefined;
        const detail =
          lease && typeof lease === 'object' && 'epoch' in lease
            ? `#${lease.id}@${lease.epoch}${typeof args[1] === 'string' ? ` ${args[1]}` : ''}${typeof args[2] === 'string' ? ` ${args[2]}` : ''}${method === 'recordHostEnd' ? ` ${(args[2] as { outcome: string }).outcome}` : ''}${method === 'finish' ? ` ${(args[1] as { state: string }).state}` : ''}`
            : '';
        return call(
          method,
          () => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args),
          detail,
          lease && typeof lease === 'object' && 'epoch' in lease ? (lease as LeaseRef) : null,
        );
      };
    },
  });
}

// ---------------------------------------------------------------------------------------------------------
// Hosts

interface Execution {
  bot: BotName;
  deployment: number;
  host: string;
  phase: Phase;
  start: number;
  startAt: number;
  end: number | null;
  endAt: number | null;
  how: 'exited' | 'killed by the bot' | 'killed by the hard limit' | 'halted' | null;
  code: number | null;
}

class Fleet {
  readonly live = new Map<string, string>();
  readonly executions: Execution[] = [];
  readonly env: RunEnv;
  private readonly plans: Map<string, HostPlan>;
  constructor(env: RunEnv, plans: Map<string, HostPlan>) {
    this.env = env;
    this.plans = plans;
    for (const host of plans.keys()) this.live.set(host, OLD_SHA);
  }

  transport(bot: Bot, job: DeployJob): HostTransport {
    return { connect: async () => this.connection(bot, job) };
  }

  private connection(bot: Bot, job: DeployJob): HostConnection {
    const fleet = this;
    return {
      run(command: string, options: CommandOptions): Promise<CommandEnd> {
        // Handover (SIGTERM): the hosts in flight finish, no host's first step starts any more.
        if (command === COMMANDS.deploy && job.drain.aborted && !bot.crashed && !fleet.env.known.includes('deploy-after-handover')) {
          fleet.env.violations.push(
            `${bot.name} started deploy on ${options.env.DEPLOY_HOST} at ${fleet.env.elapsed()}ms, after its runner was told to hand over (SIGTERM)`,
          );
        }
        return fleet.run(bot, command, options);
      },
      close() {},
    };
  }

  private run(bot: Bot, command: string, options: CommandOptions): Promise<CommandEnd> {
    if (bot.crashed) return never();
    if (options.halt.aborted) return Promise.resolve({ kind: 'halted', confirmed: true });
    const phase = (Object.keys(COMMANDS) as Phase[]).find((p) => COMMANDS[p] === command)!;
    const host = options.env.DEPLOY_HOST!;
    const sha = options.env.DEPLOY_SHA!;
    if (phase === 'revision') {
      return sleep(5).then(() => {
        options.onOutput('stdout', `${this.live.get(host)}\n`);
        return { kind: 'exit', code: 0 };
      });
    }
    const plan = this.plans.get(host)!;
    const behaviour: CommandBehaviour =
      phase === 'deploy' ? plan.deploy : phase === 'healthcheck' ? plan.healthcheck : { kind: 'exit', code: 0, ms: 10 };
    const execution: Execution = {
      bot: bot.name,
      deployment: Number(options.env.DEPLOY_ID),
      host,
      phase,
      start: this.env.next(),
      startAt: this.env.elapsed(),
      end: null,
      endAt: null,
      how: null,
      code: null,
    };
    this.executions.push(execution);
    this.env.log(`${bot.name} HOST ${host}: ${phase} starts (${behaviour.kind})`);
    return new Promise<CommandEnd>((resolve) => {
      const timers: NodeJS.Timeout[] = [];
      let connected = true;
      // The command on the host.
      const hostEnd = (how: NonNullable<Execution['how']>, code: number | null) => {
        if (execution.end !== null) return;
        execution.end = this.env.next();
        execution.endAt = this.env.elapsed();
        execution.how = how;
        execution.code = code;
        this.env.log(`${bot.name} HOST ${host}: ${phase} ends (${how}${code === null ? '' : ` ${code}`})`);
        if (how === 'exited' && code === 0) {
          if (phase === 'deploy') this.live.set(host, sha);
          if (phase === 'rollback') this.live.set(host, OLD_SHA);
        }
        if (!connected) for (const timer of timers) clearTimeout(timer);
      };
      // What the bot sees.
      const answer = (end: CommandEnd) => {
        if (!connected) return;
        connected = false;
        options.halt.removeEventListener('abort', onHalt);
        if (execution.end !== null) for (const timer of timers) clearTimeout(timer);
        if (!bot.crashed) resolve(end);
      };
      const kill = (how: 'killed by the bot' | 'halted', end: CommandEnd) => {
        // A dead bot kills nothing; a dropped connection cannot carry the kill.
        if (bot.crashed || !connected) return;
        hostEnd(how, null);
        answer(end);
      };
      const onHalt = () => kill('halted', { kind: 'halted', confirmed: true });
      options.halt.addEventListener('abort', onHalt, { once: true });
      timers.push(setTimeout(() => kill('killed by the bot', { kind: 'timeout', limit: 'command' }), options.timeoutMs));
      // The host-side `timeout -s KILL`: whatever happens to the bot.
      timers.push(
        setTimeout(() => {
          hostEnd('killed by the hard limit', null);
          answer({ kind: 'killed', signal: 'SIGKILL' });
        }, options.hardDeadline - Date.now()),
      );
      if (behaviour.kind === 'exit') {
        timers.push(
          setTimeout(() => {
            hostEnd('exited', behaviour.code);
            answer({ kind: 'exit', code: behaviour.code });
          }, behaviour.ms),
        );
      } else if (behaviour.kind === 'lost') {
        timers.push(setTimeout(() => answer({ kind: 'lost', reason: 'connection reset' }), behaviour.after));
        timers.push(setTimeout(() => hostEnd('exited', 0), behaviour.hostMs));
      }
    });
  }
}

function deployerFor(fleet: Fleet, bot: Bot): Deployer {
  return { deploy: (job: DeployJob, events: DeployEvents) => rollout(job, fleet.transport(bot, job), events) };
}

// ---------------------------------------------------------------------------------------------------------
// One run

interface Shared {
  store: Store;
  /** The same database, for what no Store method reads (every terminal status queued for a deployment). */
  db: DatabaseSync;
  runs: number;
  /** Virtual time only goes forward across runs (the store keeps its timestamps). */
  clock: number;
}

const TERMINAL = ['succeeded', 'failed', 'error', 'cancelled'];

function isHealthy(s: Scenario): boolean {
  const quiet = (p: BotPlan) =>
    p.outages.length === 0 &&
    Object.values(p.calls).every((actions) => actions.every((a) => a.kind === 'ok' && a.before === 0 && a.after === 0));
  const ok = (c: CommandBehaviour) => c.kind === 'exit' && c.code === 0;
  return (
    !s.crash &&
    (!s.restart || s.restart.graceMs >= 1000) &&
    BOTS.every((b) => quiet(s.bots[b])) &&
    s.hosts.every((h) => ok(h.deploy) && (!s.healthcheck || ok(h.healthcheck)))
  );
}

function deployYml(s: Scenario, hosts: string[]): string {
  const lines = [
    'environments:',
    '  staging:',
    '    deployer: ssh', // the registry below maps it to the in-memory fleet
    `    hosts: [${hosts.join(', ')}]`,
    `    concurrency: ${s.concurrency}`,
    `    max_failures: ${s.maxFailures}`,
    `    deploy: ${COMMANDS.deploy}`,
    '    timeouts: { connect: 100ms, command: 1s, total: 10m }',
  ];
  if (s.healthcheck) lines.push(`    healthcheck: ${COMMANDS.healthcheck}`);
  if (s.rollback) lines.push(`    rollback: ${COMMANDS.rollback}`);
  if (s.revision) lines.push(`    revision: ${COMMANDS.revision}`);
  return lines.join('\n');
}

async function runScenario(shared: Shared, s: Scenario, known: readonly string[] = KNOWN): Promise<void> {
  const run = ++shared.runs;
  const repository = `acme/run-${run}`;
  const deployments = (s.next ? [0, 1] : [0]).map((n) => ({
    id: 100_000 + run * 10 + n,
    sha: `${'cd'[n]}${run.toString(16).padStart(39, '0')}`,
  }));
  const id = deployments[0]!.id;
  const hosts = s.hosts.map((_, i) => `web-${i + 1}`);
  shared.clock = Math.max(shared.clock, Date.now()) + 1000;
  const realStart = realNow();
  vi.useFakeTimers({ now: shared.clock, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
  const env = new RunEnv(known);
  const bots = BOTS.map((name) => new Bot(name, s.bots[name]));
  const fleet = new Fleet(env, new Map(hosts.map((h, i) => [h, s.hosts[i]!])));
  const config: DeployConfig = parseDeployConfig(deployYml(s, hosts));
  const log = pino({ level: 'silent' });
  const links = new LogLinks('http://bot.test', 'link-secret');
  try {
    // The deployments, received and admitted without faults: the runs are about what happens after.
    for (const d of deployments) {
      await shared.store.recordReceived({
        id: d.id,
        installationId: run,
        repository,
        environment: 'staging',
        sha: d.sha,
        ref: 'main',
        task: 'deploy',
        forced: false,
        requestedBy: 'alice',
        payload: {},
      });
    }
    await admitReceived({
      store: shared.store,
      owner: 'admission',
      links,
      log,
      loadConfig: async () => config,
      deploymentStates: async () => ['queued'],
    });
    // What the status publisher (absent here) records once `queued` is on GitHub: runners read GitHub after it.
    for (const d of deployments) await shared.store.setGitHubState(d.id, 'queued');

    const startWorker = (bot: Bot) => {
      const worker = new Worker({
        store: faultyStore(shared.store, bot, env),
        owner: bot.name,
        links,
        log,
        deployers: new Map([['ssh', deployerFor(fleet, bot)]]),
        secrets: [],
        loadConfig: async () => config,
        deploymentStates: async () => ['queued'],
        statusQueued: () => {},
        lease: LEASE,
        pollMs: POLL_MS,
      });
      bot.worker = worker;
      bot.active = () => worker.active;
      worker.start();
    };
    for (const bot of bots) startWorker(bot);
    if (s.crash) {
      const crash = s.crash;
      setTimeout(() => {
        env.log(`${crash.bot} CRASHES (kill -9)`);
        bots.find((b) => b.name === crash.bot)!.crashed = true;
      }, crash.at);
    }
    let ending = false;
    let restart: 'none' | 'stopping' | 'done' = 'none';
    let restarting: Bot | null = null;
    if (s.restart) {
      const plan = s.restart;
      setTimeout(() => {
        // `runner`: whichever bot runs the deployment now (none: no restart).
        const bot = bots.find((b) => (plan.bot === 'runner' ? b.active().length > 0 : b.name === plan.bot));
        if (ending || !bot || bot.crashed) return;
        restart = 'stopping';
        restarting = bot;
        env.log(`${bot.name} STOPS (SIGTERM, grace ${plan.graceMs}ms)`);
        void bot.worker!.stop(plan.graceMs).then(async () => {
          env.log(`${bot.name} stopped`);
          await sleep(plan.after);
          if (!bot.crashed) {
            env.log(`${bot.name} STARTS AGAIN`);
            startWorker(bot);
          }
          restart = 'done';
        });
      }, plan.at);
    }

    const living = () => bots.filter((b) => !b.crashed).map((b) => b.worker!);
    let state = 'queued';
    await env.drive(
      async () => {
        const states = await Promise.all(deployments.map(async (d) => (await shared.store.deployment(d.id))!.state));
        state = states.join(', ');
        // A bot stopping (SIGTERM) is waited for, unless it crashed meanwhile (its stop never ends then).
        const stopping = restart === 'stopping' && !restarting!.crashed;
        return (
          states.every((st) => TERMINAL.includes(st)) &&
          !stopping &&
          living().every((w) => w.active.length === 0) &&
          fleet.executions.every((e) => e.end !== null)
        );
      },
      RUN_CAP_MS,
      () =>
        `a terminal state with every runner done (state now: ${state}; running here: ${bots.map((b) => `${b.name}${b.crashed ? ' (crashed)' : ''} [${b.worker!.active.join(', ')}]`).join(', ')})`,
    );
    ending = true;
    for (const worker of living()) {
      let done = false;
      void worker.stop().then(() => (done = true));
      await env.drive(
        () => done,
        env.elapsed() + 30_000,
        () => 'the workers stopped',
      );
    }
    const problems: string[] = [];
    for (const d of deployments) problems.push(...(await checkDeployment(shared, s, { ...d, hosts, fleet, env, healthy: isHealthy(s) })));
    problems.push(...checkEnvironment(s, fleet));
    if (problems.length) {
      const details = [];
      for (const d of deployments) {
        const record = (await shared.store.deployment(d.id))!;
        const rows = (await shared.store.hosts(d.id)).map((h) => `${h.host}=${h.state}${h.message ? ` (${h.message})` : ''}`).join('; ');
        const events = (await shared.store.events(d.id)).map((e) => `  ${e.at.getTime() - env.startedAt}ms ${e.message}`).join('\n');
        details.push(`#${d.id}: ${record.state} "${record.description}"; hosts: ${rows}\nevents:\n${events}`);
      }
      throw new Error(`exactly-once violated: ${problems.join(' | ')}\n${details.join('\n')}`);
    }
    if (DEBUG && SCENARIO)
      writeFileSync(join(tmpdir(), `shipguard-random-run-${run}.txt`), `${state}\n--- trace (virtual ms) ---\n${env.trace.join('\n')}`);
    if (DEBUG)
      process.stderr.write(
        `run ${run}: ${state} (epoch ${(await shared.store.deployment(id))!.leaseEpoch}, restart ${restart}${s.crash ? ', crash' : ''}) after ${env.elapsed()} virtual ms, ${Math.round(realNow() - realStart)} real ms (${env.realCalls} store calls, ${Math.round(env.realMs)} ms in them, ${env.steps} timer steps)\n`,
      );
  } catch (error) {
    const message = (error as Error).message;
    const report = `${message}\n--- scenario ---\n${JSON.stringify(s)}\n--- trace (virtual ms) ---\n${env.trace.join('\n')}`;
    if (DEBUG) {
      process.stderr.write(
        `run ${run}: FAILED after ${env.elapsed()} virtual ms, ${Math.round(realNow() - realStart)} real ms: ${message.split('\n')[0]}\n`,
      );
      writeFileSync(join(tmpdir(), `shipguard-random-run-${run}.txt`), report);
    }
    throw new Error(report);
  } finally {
    shared.clock = Date.now();
    for (const bot of bots) bot.crashed = true; // silences what is left of this run
    vi.clearAllTimers();
    vi.useRealTimers();
    // A run that failed may have left its deployments running or queued: end them, so they cannot leak into
    // the next runs (another run's bots would take them over).
    for (const d of deployments) {
      const left = await shared.store.deployment(d.id);
      const status = {
        deploymentId: d.id,
        installationId: run,
        repository,
        kind: 'terminal' as const,
        state: 'error' as const,
        description: 'test cleanup',
        logUrl: null,
        environmentUrl: null,
      };
      if (left?.state === 'running')
        await shared.store.finish({ id: d.id, epoch: left.leaseEpoch }, { state: 'error', description: 'test cleanup', status });
      if (left?.state === 'queued') await shared.store.cancelQueued(d.id, status);
    }
  }
}

async function checkDeployment(
  shared: Shared,
  s: Scenario,
  r: { id: number; sha: string; hosts: string[]; fleet: Fleet; env: RunEnv; healthy: boolean },
): Promise<string[]> {
  const { id, hosts, fleet } = r;
  const problems: string[] = [];
  const mine = fleet.executions.filter((e) => e.deployment === id);
  const record = (await shared.store.deployment(id))!;
  const hostRows = await shared.store.hosts(id);
  const deploysOn = (host: string) => mine.filter((e) => e.host === host && e.phase === 'deploy');
  const deployedOn = (host: string) => {
    const deploys = deploysOn(host);
    const rolledBack = mine.some((e) => e.host === host && e.phase === 'rollback' && e.how === 'exited' && e.code === 0);
    return deploys.length === 1 && deploys[0]!.how === 'exited' && deploys[0]!.code === 0 && !rolledBack;
  };

  // 1. At most one deploy per host.
  for (const host of hosts) {
    const deploys = deploysOn(host);
    if (deploys.length > 1) problems.push(`#${id}: ${host} deployed ${deploys.length} times (by ${deploys.map((e) => e.bot).join(', ')})`);
  }

  // 2. Never more hosts acting at once than `concurrency` (within the deployment; across them: checkEnvironment).
  const overlap = maxActing(mine, s.concurrency);
  if (overlap) problems.push(`#${id}: ${overlap}`);

  // 3. Exactly one terminal status, matching the final state.
  const terminal = shared.db
    .prepare("SELECT state FROM status_outbox WHERE deployment_id = ?1 AND kind = 'terminal' ORDER BY seq")
    .all(id) as Array<{ state: string }>;
  if (terminal.length !== 1) problems.push(`#${id}: ${terminal.length} terminal statuses: ${terminal.map((t) => t.state).join(', ')}`);
  if (!TERMINAL.includes(record.state)) problems.push(`#${id}: not terminal: ${record.state}`);
  else if (terminal[0] && terminal[0].state !== githubStateFor(record.state as 'succeeded'))
    problems.push(`#${id}: terminal status ${terminal[0].state} for state ${record.state}`);

  // 4. Write-ahead: every acting step started only after its intent was in the store.
  const events = await shared.store.events(id);
  for (const e of mine.filter((x) => ACTING.includes(x.phase))) {
    const at = r.env.startedAt + e.startAt;
    if (!events.some((ev) => ev.message === `${e.host}: ${e.phase} starting` && ev.at.getTime() <= at))
      problems.push(`#${id}: ${e.bot} ran ${e.phase} on ${e.host} at ${e.startAt}ms with no intent recorded before`);
  }

  // 5. Fencing: a bot starts no step after another bot took the deployment over (until it takes it back).
  const owners = events
    .map((ev) => ({ at: ev.at.getTime() - r.env.startedAt, owner: /^(?:started|taken over) by (bot-[ab])\b/.exec(ev.message)?.[1] }))
    .filter((o): o is { at: number; owner: string } => o.owner !== undefined);
  for (const e of mine.filter((x) => ACTING.includes(x.phase))) {
    const owner = owners.filter((o) => o.at <= e.startAt).at(-1)?.owner;
    if (owner !== e.bot)
      problems.push(
        `#${id}: ${e.bot} started ${e.phase} on ${e.host} at ${e.startAt}ms, but ${owner ?? 'nobody'} held the deployment then`,
      );
  }

  // 6. `succeeded` only when every host was deployed exactly once, by a deploy that exited 0 (and was not rolled back)…
  if (record.state === 'succeeded') {
    for (const host of hosts) {
      if (!deployedOn(host))
        problems.push(
          `#${id}: succeeded, but ${host} saw ${deploysOn(host).length} deploy(s) (${deploysOn(host)
            .map((d) => `${d.how} ${d.code ?? ''}`)
            .join(', ')})`,
        );
    }
  }
  // …and no host is recorded succeeded that was not.
  for (const row of hostRows) {
    if (row.state === 'succeeded' && !deployedOn(row.host))
      problems.push(`#${id}: ${row.host} recorded succeeded, but its deploy did not run to success once`);
  }

  // 7. A healthy rollout stays healthy: with no store fault and no crash, every command succeeding, graceful
  //    restarts (with grace enough for the hosts in flight) end it `succeeded`, never `unknown`/`error`.
  if (r.healthy && record.state !== 'succeeded')
    problems.push(`#${id}: a healthy rollout (no store fault, no crash, every command succeeding) ended ${record.state}`);
  return problems;
}

/** Across the environment's deployments: one command at a time per host, `concurrency` hosts at a time. */
function checkEnvironment(s: Scenario, fleet: Fleet): string[] {
  const problems: string[] = [];
  // Known: the next deployment starts while a host of the previous one is in doubt (its command may still run).
  const tolerated = (a: Execution, b: Execution) => fleet.env.known.includes('next-deployment-overlaps') && a.deployment !== b.deployment;
  const acting = fleet.executions.filter((e) => ACTING.includes(e.phase));
  for (const a of acting) {
    const b = acting.find(
      (x) => x !== a && x.host === a.host && x.start > a.start && x.start < (a.end ?? Number.MAX_SAFE_INTEGER) && !tolerated(a, x),
    );
    if (b) problems.push(`two commands at once on ${a.host}: ${describeExecution(a)} and ${describeExecution(b)}`);
  }
  const overlap = fleet.env.known.includes('next-deployment-overlaps') ? null : maxActing(acting, s.concurrency);
  if (overlap) problems.push(`in the environment: ${overlap}`);
  return problems;
}

function describeExecution(e: Execution): string {
  return `#${e.deployment} ${e.bot} ${e.phase} [${e.startAt}ms..${e.endAt ?? '∞'}ms${e.how ? `, ${e.how}` : ''}]`;
}

/** Null when never more than `limit` hosts ran an acting step at once; else who did. */
function maxActing(executions: Execution[], limit: number): string | null {
  const points = executions
    .filter((e) => ACTING.includes(e.phase))
    .flatMap((e) => [
      { at: e.start, delta: 1, e },
      { at: e.end ?? Number.MAX_SAFE_INTEGER, delta: -1, e },
    ])
    .sort((a, b) => a.at - b.at);
  const acting = new Map<string, Execution[]>();
  for (const p of points) {
    const list = acting.get(p.e.host) ?? [];
    if (p.delta > 0) list.push(p.e);
    else list.splice(list.indexOf(p.e), 1);
    if (list.length) acting.set(p.e.host, list);
    else acting.delete(p.e.host);
    if (acting.size > limit)
      return `${acting.size} hosts acting at once with concurrency ${limit}: ${[...acting.values()].flat().map(describeExecution).join('; ')}`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------

const DEBUG = process.env.SHIPGUARD_RANDOM_DEBUG === '1';
const RUNS = process.env.SHIPGUARD_RANDOM_RUNS ? Number(process.env.SHIPGUARD_RANDOM_RUNS) : undefined;
/** Shrink a failure (`1`) or report it as found (`0`). Default: the long variant shrinks, the short one (npm test) does not. */
const SHRINK = process.env.SHIPGUARD_RANDOM_SHRINK;
const LONG = process.env.SHIPGUARD_LONG_RANDOM === '1';
const SEED = process.env.SHIPGUARD_RANDOM_SEED ? Number(process.env.SHIPGUARD_RANDOM_SEED) : undefined;
const PATH = process.env.SHIPGUARD_RANDOM_PATH;
const SCENARIO = process.env.SHIPGUARD_RANDOM_SCENARIO;
/**
 * Bugs in bot/ that this search found and that are still there, tolerated by the random properties so that
 * they look for others; each is pinned, without tolerance, by its own test below (which fails once bot/ is
 * fixed, and then says to drop its key here). SHIPGUARD_RANDOM_KNOWN overrides the list (comma-separated;
 * `none` tolerates nothing). Keys found so far, all fixed: `zombie-renewal`, `deploy-after-handover`,
 * `next-deployment-overlaps`.
 */
const KNOWN_BUGS: string[] = [];
const KNOWN =
  process.env.SHIPGUARD_RANDOM_KNOWN === undefined
    ? KNOWN_BUGS
    : process.env.SHIPGUARD_RANDOM_KNOWN.split(',').filter((k) => k && k !== 'none');

const quiet = (): BotPlan => ({ calls: {}, outages: [] });
const ok20: CommandBehaviour = { kind: 'exit', code: 0, ms: 20 };
const base = {
  concurrency: 1,
  maxFailures: 0,
  healthcheck: false,
  rollback: false,
  revision: false,
  crash: null,
  restart: null,
  next: false,
};

/** Counterexamples the search found, shrunk (and tidied by hand), replayed without tolerance. */
const FOUND = {
  // bot-a's runner cannot read its hosts (answer lost: it waits 1 s to retry) while its renewals fail, so it halts
  // at two thirds of the lease and ends without running anything. A renewal sent at 451 ms is answered at 1051 ms,
  // after the runner ended (stopTimers at 1000 ms): its success handler armed a new renewal timer, and the ended
  // runner renewed the lease every 150 ms forever — nobody could take the deployment over, nobody ended it.
  zombieRenewal: {
    ...base,
    hosts: [{ deploy: ok20, healthcheck: ok20 }],
    bots: {
      'bot-a': {
        calls: {
          hosts: [{ kind: 'lost' }],
          renewLease: [{ kind: 'fail' }, { kind: 'fail' }, { kind: 'fail' }, { kind: 'ok', before: 0, after: 600 }],
        },
        outages: [],
      },
      'bot-b': quiet(),
    },
  },
  // bot-a's first intent write for web-1 fails (the step waits 1 s to retry); SIGTERM comes at 3 ms; at 1000 ms
  // the retried intent is taken and web-1's deploy starts, although the runner was handing over. With a deploy
  // longer than what is left of the grace, it is killed at the end of the grace and the deployment ends `error`
  // (web-1 unknown) where it would have been handed over with web-1 pending.
  deployAfterHandover: {
    ...base,
    hosts: [{ deploy: { kind: 'exit', code: 0, ms: 800 }, healthcheck: ok20 }],
    bots: { 'bot-a': { calls: { recordHostIntent: [{ kind: 'fail' }] }, outages: [] }, 'bot-b': quiet() },
    restart: { bot: 'runner', at: 3, graceMs: 1500, after: 100 },
  },
  // No store fault at all: web-1's deploy loses its connection after 5 ms (`lost`) and goes on running on the host
  // (until 2000 ms, within its hard limit). Without `revision` the deployment ends `error` at once (web-1 unknown),
  // and the next queued deployment of the environment is claimed at the same moment and deploys web-1 while the
  // first deploy still runs there.
  nextDeploymentOverlaps: {
    ...base,
    hosts: [{ deploy: { kind: 'lost', after: 5, hostMs: 2000 }, healthcheck: ok20 }],
    bots: { 'bot-a': quiet(), 'bot-b': quiet() },
    next: true,
  },
} satisfies Record<string, Scenario>;

describe('exactly once under random faults: two bots, one store (virtual time)', () => {
  let shared: Shared;
  let dir: string;

  beforeAll(async () => {
    checkLeaseTiming(LEASE);
    dir = mkdtempSync(join(tmpdir(), 'shipguard-random-'));
    const database = openEmbeddedDatabase(dir);
    shared = { db: database.db, store: openSqliteStore(database), runs: 0, clock: Date.now() };
  }, 180_000);

  afterAll(async () => {
    await shared?.store.close().catch(() => {});
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const options = (runs: number, shrink: boolean) => ({
    numRuns: RUNS ?? runs,
    seed: SEED,
    path: PATH,
    endOnFailure: SHRINK === undefined ? !shrink : SHRINK !== '1',
  });

  it('holds for random schedules of store faults, takeovers, a crash and a restart', { timeout: 900_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, (s) => runScenario(shared, s)),
      options(25, false),
    );
  });

  it('graceful restarts never turn a healthy rollout into anything but success', { timeout: 600_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(healthyArb, (s) => runScenario(shared, s)),
      options(8, false),
    );
  });

  it('regression: a renewal answered after its runner ended renews nothing more (zombie-renewal, fixed in 18a6e8f)', async () => {
    await runScenario(shared, FOUND.zombieRenewal, []);
  });

  it('regression: a host whose intent write is being retried at SIGTERM does not start its deploy (deploy-after-handover)', async () => {
    await runScenario(shared, FOUND.deployAfterHandover, []);
  });

  it('regression: the next deployment waits for a host whose previous deploy may still run (next-deployment-overlaps)', async () => {
    await runScenario(shared, FOUND.nextDeploymentOverlaps, []);
  });

  it.runIf(SCENARIO !== undefined)(
    'replays the scenario in SHIPGUARD_RANDOM_SCENARIO (JSON, as a counterexample prints it)',
    { timeout: 600_000 },
    async () => {
      await runScenario(shared, JSON.parse(SCENARIO!) as Scenario);
    },
  );

  it.runIf(LONG)('holds for many more schedules (SHIPGUARD_LONG_RANDOM=1)', { timeout: 3_600_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, (s) => runScenario(shared, s)),
      options(500, true),
    );
  });
});

// The rolling deploy over hosts shared by the local and ssh deployers: wave by wave (`waves`), `concurrency`
// hosts at a time, per host revision → deploy → healthcheck → (on failure) rollback, a bake with its gate
// between waves, and on failure (`on_failure: rollback_fleet`) every host it changed rolled back. Every step
// is bounded, nothing that may have run is ever run again, and a host whose end was not observed is `unknown`.
import { environmentNameError, refError, repositoryNameError, shaError, taskNameError } from '../../common/names.ts';
import {
  fleetRollbackTargets,
  fleetRollbackVerdict,
  mayStartAnotherHost,
  rolloutVerdict,
  shouldRollBackFleet,
  type HostTally,
  type StopReason,
} from '../engine/rollout-verdict.ts';
import { bakeBefore, planWaves, waveRanges } from '../engine/waves.ts';
import type { DeployEvents, DeployJob } from './deployer.ts';
import type { ActingPhase, DeployResult, HostOutcome } from '../engine/outcomes.ts';
import { gateChecker, type GateCheck } from './gate.ts';
import { ConnectFailure, type CommandEnd, type HostConnection, type HostTransport } from './host-transport.ts';
import { RedactingLineStream } from './output.ts';

/** How much later than the step's own timeout the host-side `timeout` kills it: the bot's kill comes first. */
export const HOST_KILL_GRACE_MS = 5_000;
/** Added to a step's hard limit in its recorded intent: clock offset, and the command's way to the host. */
export const INTENT_SLACK_MS = 10_000;
/** A bake without a gate still says how long is left this often. */
const BAKE_TICK_MS = 30_000;

/** The bake's clock: injected, so that tests follow the order of events rather than wall time. */
export interface BakeClock {
  now(): number;
  /** Resolves true after `ms`, false as soon as `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<boolean>;
}

export const realBakeClock: BakeClock = {
  now: () => Date.now(),
  sleep: (ms, signal) => waitUntil(Date.now() + ms, signal),
};

export interface RolloutOptions {
  clock?: BakeClock;
  checkGate?: GateCheck;
}

export async function rollout(
  job: DeployJob,
  transport: HostTransport,
  events: DeployEvents,
  options: RolloutOptions = {},
): Promise<DeployResult> {
  // Bad values end the deployment before any host is contacted, not halfway through the rollout.
  try {
    for (const host of job.hosts) deployEnvironment(job, host.name);
  } catch (error) {
    return { state: 'error', description: (error as Error).message };
  }
  const plan = planWaves(job.config.waves, job.hosts.length);
  if ('error' in plan) return { state: 'error', description: `deploy.yml: ${plan.error}; nothing deployed` };
  const tallies: HostTally[] = job.hosts.map((h) => ({
    name: h.name,
    outcome: h.state === 'pending' || h.state === 'running' ? null : h.state,
    message: '',
  }));
  const finishedAt = new Map(job.hosts.flatMap((h) => (h.finishedAt ? [[h.name, h.finishedAt] as const] : [])));
  const finish = (tally: HostTally, end: HostEnd) => {
    tally.outcome = end.outcome;
    tally.message = end.message;
    finishedAt.set(tally.name, Date.now());
    events.hostFinished(tally.name, end.outcome, end.message, end.settled);
  };
  if (job.fleetRollback !== null) return rollBackFleet(job, transport, events, tallies, finishedAt, job.fleetRollback);

  // Hosts whose step's end was never recorded (a previous runner stopped mid-command) come first: their
  // outcome decides whether the rollout may go on at all (rule 4).
  for (const host of job.hosts.filter((h) => h.state === 'running' || h.state === 'unknown')) {
    const tally = tallies.find((t) => t.name === host.name)!;
    events.hostStarted(tally.name);
    const why = 'the bot running it stopped mid-command';
    finish(tally, await resolveInDoubt(job, transport, tally.name, events, why, Date.now() + host.inDoubtForMs, 'deploy'));
  }

  let stop: StopReason = null;
  let gateFailure: string | undefined;
  const ranges = waveRanges(plan.ends);
  for (const [index, range] of ranges.entries()) {
    const wave = { wave: index + 1, waves: ranges.length };
    const waiting = tallies.slice(range.start, range.end).filter((t) => t.outcome === null);
    stop ??= stopReason(job);
    if (stop || !mayStartAnotherHost(tallies, job.config.max_failures)) break;
    // A wave done before a takeover starts nothing; its bake (interrupted by the takeover) runs again below.
    if (ranges.length > 1 && waiting.length > 0) {
      const hosts = tallies.slice(range.start, range.end);
      const done = hosts.filter((t) => t.outcome === 'succeeded' || t.outcome === 'skipped').length;
      events.wave({ kind: 'started', ...wave, hosts: hosts.map((t) => t.name), done });
    }
    const nextHost = (): HostTally | undefined => {
      stop ??= stopReason(job);
      if (stop || !mayStartAnotherHost(tallies, job.config.max_failures)) return undefined;
      return waiting.shift();
    };
    const lane = async () => {
      for (let tally = nextHost(); tally; tally = nextHost()) {
        events.hostStarted(tally.name);
        const end = await deployHost(job, transport, tally.name, events);
        if (end === NOT_STARTED) {
          stop ??= 'halted';
          continue;
        }
        finish(tally, end);
      }
    };
    if (waiting.length > 0) await Promise.all(Array.from({ length: Math.min(job.config.concurrency, waiting.length) }, lane));
    const next = ranges[index + 1];
    if (stop || !mayStartAnotherHost(tallies, job.config.max_failures) || !next) continue;
    if (!bakeBefore(tallies.slice(next.start, next.end))) continue;
    const baked = await bake(job, events, wave, options);
    if (baked === 'passed') continue;
    if (baked === 'stopped') stop ??= stopReason(job) ?? 'deadline';
    else {
      stop = 'gate';
      gateFailure = `${baked.failed} after wave ${wave.wave}/${wave.waves}`;
    }
  }
  const verdict = rolloutVerdict(tallies, stop ?? (job.halt.aborted ? 'halted' : null), gateFailure);
  const rollBack = shouldRollBackFleet(job.config.on_failure, verdict, stop, {
    noop: job.noop,
    cancelWithRollback: job.cancelWithRollback,
    hasRollback: job.config.rollback !== undefined,
  });
  // Nothing this deployment changed is still on its SHA: nothing to roll back, and nothing to say about it.
  if (!rollBack || fleetRollbackTargets(tallies, finishedAt).length === 0) return verdict;
  return rollBackFleet(job, transport, events, tallies, finishedAt, verdict.description);
}

/**
 * The bake after a wave: `bake` long (none: at once), asking the gate at its start, every `gate.interval`
 * and at its end. `passed`, or what the failing gate said, or `stopped` (cancel, handover, halt, or the
 * total deadline comes before the bake's end).
 */
async function bake(
  job: DeployJob,
  events: DeployEvents,
  wave: { wave: number; waves: number },
  options: RolloutOptions,
): Promise<'passed' | 'stopped' | { failed: string }> {
  const { clock = realBakeClock, checkGate: check = gateChecker() } = options;
  const { bake: bakeMs = 0, gate } = job.config;
  const endsAt = clock.now() + bakeMs;
  if (endsAt >= job.deadline) return 'stopped';
  const interrupt = AbortSignal.any([job.halt, job.drain, job.cancel]);
  for (;;) {
    const msLeft = endsAt - clock.now();
    if (msLeft > 0) events.wave({ kind: 'baking', ...wave, msLeft });
    if (gate) {
      const answer = await check(gate, deployEnvironment(job, ''), job.halt, job.secrets);
      events.wave({ kind: 'gate', ...wave, passed: answer.passed, message: answer.message });
      if (!answer.passed) return { failed: answer.message };
    }
    if (interrupt.aborted) return 'stopped';
    if (msLeft <= 0) return 'passed';
    const left = endsAt - clock.now();
    if (left > 0 && !(await clock.sleep(Math.min(left, gate?.interval ?? BAKE_TICK_MS), interrupt))) return 'stopped';
  }
}

/**
 * `on_failure: rollback_fleet`: every host this deployment changed (ended deployed) runs `rollback` with
 * DEPLOY_PREVIOUS_SHA, newest first, `concurrency` at a time, each through its write-ahead intent; a host
 * `revision` shows at the previous SHA already is left alone; a host in doubt is reported, never rolled back.
 * Recorded in the store before any step, so a takeover continues the rollback instead of the deploy.
 */
async function rollBackFleet(
  job: DeployJob,
  transport: HostTransport,
  events: DeployEvents,
  tallies: HostTally[],
  finishedAt: ReadonlyMap<string, number>,
  cause: string,
): Promise<DeployResult> {
  const causeResult: DeployResult = { state: 'failed', description: cause };
  const unknown = tallies.filter((t) => t.outcome === 'unknown');
  if (!job.previousSha) {
    const verdict = rolloutVerdict(tallies, null);
    return { ...verdict, description: `not rolled back: no earlier successful deploy to go back to; ${cause}` };
  }
  const previousSha = job.previousSha;
  // The total timeout may be what failed the deploy: the rollback gets a total of its own from here.
  const rollbackJob: DeployJob = { ...job, deadline: Math.max(job.deadline, Date.now() + job.config.timeouts.total) };
  if (job.fleetRollback === null && !(await events.beginFleetRollback(cause))) {
    return { state: 'handed_over', description: 'this bot may no longer act: the fleet rollback is handed over' };
  }
  events.progress(`rolling back to ${previousSha.slice(0, 7)}: ${cause}`);
  // A host whose rollback step a previous runner started and never saw end: in doubt, resolved like a deploy.
  const done: HostTally[] = tallies.filter((t) => t.outcome === 'rolled_back');
  for (const host of job.hosts.filter((h) => h.state === 'running')) {
    const tally = tallies.find((t) => t.name === host.name)!;
    events.hostStarted(tally.name);
    const why = 'the bot rolling it back stopped mid-command';
    const end = await resolveInDoubt(rollbackJob, transport, tally.name, events, why, Date.now() + host.inDoubtForMs, 'rollback');
    Object.assign(tally, { outcome: end.outcome, message: end.message });
    events.hostFinished(tally.name, end.outcome, end.message, end.settled);
    done.push(tally);
  }
  const waiting = fleetRollbackTargets(tallies, finishedAt).map((name) => tallies.find((t) => t.name === name)!);
  const alreadyThere = new Set<string>();
  let stopped = false;
  const lane = async () => {
    for (;;) {
      stopped ||= job.halt.aborted || job.drain.aborted || Date.now() >= rollbackJob.deadline;
      const tally = stopped ? undefined : waiting.shift();
      if (!tally) return;
      events.hostStarted(tally.name);
      const end = await rollBackHost(rollbackJob, transport, tally.name, events, previousSha);
      if (end === NOT_STARTED) {
        stopped = true;
        waiting.unshift(tally);
        continue;
      }
      if (end.alreadyThere) alreadyThere.add(tally.name);
      Object.assign(tally, { outcome: end.outcome, message: end.message });
      events.hostFinished(tally.name, end.outcome, end.message, end.settled);
      done.push(tally);
    }
  };
  await Promise.all(Array.from({ length: Math.min(job.config.concurrency, Math.max(waiting.length, 1)) }, lane));
  if (waiting.length > 0 && (job.halt.aborted || job.drain.aborted)) {
    const why = job.halt.aborted ? 'this bot may no longer act' : 'this bot is stopping';
    return { state: 'handed_over', description: `${why}: fleet rollback handed over with ${waiting.length} hosts to go` };
  }
  for (const tally of waiting) Object.assign(tally, { outcome: 'failed', message: 'not rolled back: the rollback ran out of time' });
  return fleetRollbackVerdict(causeResult, previousSha, [...done, ...waiting], unknown, alreadyThere);
}

/** One host's fleet rollback: revision (already back? then nothing), then `rollback` through its intent. */
async function rollBackHost(
  job: DeployJob,
  transport: HostTransport,
  host: string,
  events: DeployEvents,
  previousSha: string,
): Promise<(HostEnd & { alreadyThere?: boolean }) | typeof NOT_STARTED> {
  const config = job.config;
  const previous = previousSha.slice(0, 7);
  events.hostPhase(host, 'connect');
  let connection: HostConnection;
  try {
    connection = await transport.connect(host, { timeoutMs: Math.min(config.timeouts.connect, remaining(job)) });
  } catch (error) {
    return { outcome: 'failed', message: `not rolled back: ${(error as Error).message}`, settled: true };
  }
  try {
    const timeoutMs = () => Math.max(1, Math.min(config.timeouts.command, remaining(job)));
    if (config.revision) {
      events.hostPhase(host, 'revision');
      const output: string[] = [];
      const limit = timeoutMs();
      const end = await runStep(
        job,
        connection,
        host,
        config.revision,
        events,
        { timeoutMs: limit, hardDeadline: Date.now() + limit + HOST_KILL_GRACE_MS },
        output,
      );
      if (end.kind === 'exit' && end.code === 0 && output.join('').trim() === previousSha) {
        return { outcome: 'rolled_back', message: `already at ${previous}: rollback not needed`, settled: true, alreadyThere: true };
      }
    }
    const limit = timeoutMs();
    const hardDeadline = Date.now() + limit + HOST_KILL_GRACE_MS;
    if (!(await events.beginStep(host, 'rollback', limit + HOST_KILL_GRACE_MS + INTENT_SLACK_MS))) return NOT_STARTED;
    const end = await runStep(job, connection, host, config.rollback!, events, { timeoutMs: limit, hardDeadline });
    if (end.kind === 'exit' && end.code === 0) return { outcome: 'rolled_back', message: `rolled back to ${previous}`, settled: true };
    if (end.kind === 'halted') return haltedEnd('rollback', end);
    if (end.kind === 'lost') return resolveInDoubt(job, transport, host, events, `rollback ${describeEnd(end)}`, hardDeadline, 'rollback');
    return { outcome: 'failed', message: `not rolled back: rollback ${describeEnd(end)}`, settled: true };
  } finally {
    connection.close();
  }
}

function stopReason(job: DeployJob): StopReason {
  if (job.halt.aborted) return 'halted';
  if (job.drain.aborted) return 'handover';
  if (job.cancel.aborted) return 'cancelled';
  if (Date.now() >= job.deadline) return 'deadline';
  return null;
}

interface HostEnd {
  outcome: HostOutcome;
  message: string;
  /** The host's last command is known gone (exited, or its kill confirmed). */
  settled: boolean;
}

/** The host's first acting step could not be recorded: nothing ran on it, and it stays pending. */
const NOT_STARTED = null;

/** A command's end, with the time by which it is dead on the host whatever happened (its hard limit). */
type StepEnd = CommandEnd & { hardDeadline: number };
type Step = (phase: ActingPhase | 'revision', command: string, capture?: string[]) => Promise<StepEnd | typeof NOT_STARTED>;

async function deployHost(
  job: DeployJob,
  transport: HostTransport,
  host: string,
  events: DeployEvents,
): Promise<HostEnd | typeof NOT_STARTED> {
  const config = job.config;
  events.hostPhase(host, 'connect');
  let connection: HostConnection;
  try {
    connection = await transport.connect(host, { timeoutMs: Math.min(config.timeouts.connect, remaining(job)) });
  } catch (error) {
    return { outcome: 'failed', message: `not deployed: ${(error as Error).message}`, settled: true };
  }
  try {
    const step: Step = async (phase, command, capture) => {
      const timeoutMs = Math.max(1, Math.min(config.timeouts.command, remaining(job)));
      // Counted from before the intent is written: the command is dead on the host before the deadline the
      // intent records (which adds INTENT_SLACK_MS for clock offset and the command's way to the host).
      const hardDeadline = Date.now() + timeoutMs + HOST_KILL_GRACE_MS;
      if (phase === 'revision') events.hostPhase(host, phase);
      // Write-ahead: a step that may act starts only once the store holds its intent.
      else if (!(await events.beginStep(host, phase, timeoutMs + HOST_KILL_GRACE_MS + INTENT_SLACK_MS))) return NOT_STARTED;
      return runStep(job, connection, host, command, events, { timeoutMs, hardDeadline }, capture);
    };
    if (config.revision) {
      const output: string[] = [];
      const end = (await step('revision', config.revision, output))!;
      if (end.kind === 'exit' && end.code === 0 && output.join('').trim() === job.sha) {
        return { outcome: 'skipped', message: `already at ${job.sha.slice(0, 7)}`, settled: true };
      }
      if (end.kind !== 'exit' || end.code !== 0)
        return { outcome: 'failed', message: `not deployed: revision check ${describeEnd(end)}`, settled: true };
    }
    const deploy = await step('deploy', config.deploy!);
    if (deploy === NOT_STARTED) return NOT_STARTED;
    const afterDeploy = await judge(job, transport, host, events, 'deploy', deploy, step);
    if (afterDeploy || !config.healthcheck) return afterDeploy ?? { outcome: 'succeeded', message: 'deployed', settled: true };
    const health = await step('healthcheck', config.healthcheck);
    if (health === NOT_STARTED)
      return { outcome: 'unknown', message: 'deployed, but the healthcheck could not start: this bot may no longer act', settled: true };
    return (
      (await judge(job, transport, host, events, 'healthcheck', health, step)) ?? {
        outcome: 'succeeded',
        message: 'deployed',
        settled: true,
      }
    );
  } finally {
    connection.close();
  }
}

/** A deploy or healthcheck step's end: null when it succeeded and the host goes on; else the host's end. */
async function judge(
  job: DeployJob,
  transport: HostTransport,
  host: string,
  events: DeployEvents,
  what: 'deploy' | 'healthcheck',
  end: StepEnd,
  step: Step,
): Promise<HostEnd | null> {
  if (end.kind === 'exit' && end.code === 0) return null;
  if (end.kind === 'halted') return haltedEnd(what, end);
  if (end.kind === 'lost') return resolveInDoubt(job, transport, host, events, `${what} ${describeEnd(end)}`, end.hardDeadline);
  return rollbackAfter(`${what} ${describeEnd(end)}`, step, job.config.rollback);
}

function haltedEnd(what: string, end: Extract<CommandEnd, { kind: 'halted' }>): HostEnd {
  const killed = end.confirmed ? 'killed' : 'kill not confirmed';
  return {
    outcome: 'unknown',
    message: `${what} stopped mid-command (${killed}): this bot may no longer act; outcome unknown, not retried`,
    settled: end.confirmed,
  };
}

async function rollbackAfter(failure: string, step: Step, rollbackCommand: string | undefined): Promise<HostEnd> {
  if (!rollbackCommand) return { outcome: 'failed', message: failure, settled: true };
  const end = await step('rollback', rollbackCommand);
  if (end === NOT_STARTED)
    return { outcome: 'failed', message: `${failure}; rollback not started: this bot may no longer act`, settled: true };
  if (end.kind === 'halted')
    return { ...haltedEnd('rollback', end), outcome: 'failed', message: `${failure}; ${haltedEnd('rollback', end).message}` };
  const rolledBack = end.kind === 'exit' && end.code === 0 ? 'rolled back' : `rollback ${describeEnd(end)}`;
  return { outcome: 'failed', message: `${failure}; ${rolledBack}`, settled: end.kind !== 'lost' };
}

/**
 * A host whose last command's end was not observed. With `revision`, and once the command can no longer
 * act (its host-side hard limit, `actDeadline`, has passed), ask the host over a new connection which
 * SHA it runs; without `revision`, or when the total deadline comes first, the host stays `unknown`.
 * `step`: what the command was for: a deploy (the deployment's SHA is the aim) or a fleet rollback (the previous one).
 */
async function resolveInDoubt(
  job: DeployJob,
  transport: HostTransport,
  host: string,
  events: DeployEvents,
  what: string,
  actDeadline: number,
  step: 'deploy' | 'rollback' = 'deploy',
): Promise<HostEnd> {
  const unknown: HostEnd = { outcome: 'unknown', message: `${what}; outcome unknown, not retried`, settled: false };
  if (!job.config.revision) return unknown;
  if (actDeadline >= job.deadline)
    return { ...unknown, message: `${unknown.message} (the command could still act until the total deadline)` };
  if (!(await waitUntil(actDeadline, job.halt))) return unknown;
  if (remaining(job) <= 0) return unknown;
  let connection: HostConnection;
  try {
    connection = await transport.connect(host, { timeoutMs: Math.min(job.config.timeouts.connect, remaining(job)) });
  } catch (error) {
    if (error instanceof ConnectFailure) return { ...unknown, message: `${unknown.message} (revision unreachable: ${error.message})` };
    throw error;
  }
  try {
    events.hostPhase(host, 'revision');
    const output: string[] = [];
    const timeoutMs = Math.max(1, Math.min(job.config.timeouts.command, remaining(job)));
    const end = await runStep(
      job,
      connection,
      host,
      job.config.revision,
      events,
      { timeoutMs, hardDeadline: Date.now() + timeoutMs + HOST_KILL_GRACE_MS },
      output,
    );
    if (end.kind !== 'exit' || end.code !== 0) return unknown;
    const live = output.join('').trim();
    const aim = step === 'deploy' ? job.sha : job.previousSha!;
    if (live === aim) {
      return {
        outcome: step === 'deploy' ? 'succeeded' : 'rolled_back',
        message: `${what}; revision shows ${aim.slice(0, 7)} live`,
        settled: true,
      };
    }
    const notDone = step === 'deploy' ? '' : 'not rolled back: ';
    return {
      outcome: 'failed',
      message: `${notDone}${what}; revision shows ${live.slice(0, 12) || 'nothing'} live, not ${aim.slice(0, 7)}`,
      settled: true,
    };
  } finally {
    connection.close();
  }
}

/** Resolves true at `deadline` (epoch ms), false at once if `halt` aborts first. */
function waitUntil(deadline: number, halt: AbortSignal): Promise<boolean> {
  if (halt.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => {
        halt.removeEventListener('abort', onHalt);
        resolve(true);
      },
      Math.max(0, deadline - Date.now()),
    );
    const onHalt = () => {
      clearTimeout(timer);
      resolve(false);
    };
    halt.addEventListener('abort', onHalt, { once: true });
  });
}

async function runStep(
  job: DeployJob,
  connection: HostConnection,
  host: string,
  command: string,
  events: DeployEvents,
  limits: { timeoutMs: number; hardDeadline: number },
  capture?: string[],
): Promise<StepEnd> {
  const streams = {
    stdout: new RedactingLineStream(job.secrets, (text) => events.hostOutput(host, 'stdout', text)),
    stderr: new RedactingLineStream(job.secrets, (text) => events.hostOutput(host, 'stderr', text)),
  };
  const end = await connection.run(command, {
    env: deployEnvironment(job, host),
    timeoutMs: limits.timeoutMs,
    hardDeadline: limits.hardDeadline,
    halt: job.halt,
    inactivityMs: job.config.inactivity,
    onOutput(stream, text) {
      if (capture && stream === 'stdout') capture.push(text);
      streams[stream].write(text);
    },
  });
  streams.stdout.flush();
  streams.stderr.flush();
  return { ...end, hardDeadline: limits.hardDeadline };
}

function remaining(job: DeployJob): number {
  return job.deadline - Date.now();
}

export function describeEnd(end: CommandEnd): string {
  switch (end.kind) {
    case 'exit':
      return `exited ${end.code}`;
    case 'killed':
      return `killed by ${end.signal}`;
    case 'timeout':
      return end.limit === 'inactivity' ? 'silent too long, killed' : 'timed out, killed';
    case 'lost':
      return `lost: ${end.reason}`;
    case 'halted':
      return end.confirmed ? 'killed: this bot may no longer act' : 'kill not confirmed: this bot may no longer act';
  }
}

/** The DEPLOY_* variables (docs/engine-rules.md), every value validated here once more before any shell. */
export function deployEnvironment(job: DeployJob, host: string): Record<string, string> {
  const problems = [
    repositoryNameError(job.repository),
    environmentNameError(job.environment),
    shaError(job.sha),
    refError(job.ref),
    taskNameError(job.task),
    job.previousSha ? shaError(job.previousSha) : null,
  ].filter(Boolean);
  if (problems.length) throw new Error(`refusing to run: ${problems.join('; ')}`);
  const env: Record<string, string> = {
    DEPLOY_ID: String(job.deploymentId),
    DEPLOY_SHA: job.sha,
    DEPLOY_REF: job.ref,
    DEPLOY_ENVIRONMENT: job.environment,
    DEPLOY_REPOSITORY: job.repository,
    DEPLOY_TASK: job.task,
    DEPLOY_HOST: host,
    DEPLOY_PREVIOUS_SHA: job.previousSha ?? '',
  };
  if (job.noop) env.DEPLOY_NOOP = '1';
  return env;
}

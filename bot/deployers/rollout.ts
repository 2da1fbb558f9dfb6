// The rolling deploy over hosts shared by the local and ssh deployers: `concurrency` hosts at a time,
// per host revision → deploy → healthcheck → (on failure) rollback, every step bounded, nothing that
// may have run is ever run again, and a host whose end was not observed is `unknown`.
import { environmentNameError, refError, repositoryNameError, shaError, taskNameError } from '../../common/names.ts';
import { mayStartAnotherHost, rolloutVerdict, type HostTally, type StopReason } from '../engine/rollout-verdict.ts';
import type { DeployEvents, DeployJob } from './deployer.ts';
import type { ActingPhase, DeployResult, HostOutcome } from '../engine/outcomes.ts';
import { ConnectFailure, type CommandEnd, type HostConnection, type HostTransport } from './host-transport.ts';
import { RedactingLineStream } from './output.ts';

/** How much later than the step's own timeout the host-side `timeout` kills it: the bot's kill comes first. */
export const HOST_KILL_GRACE_MS = 5_000;
/** Added to a step's hard limit in its recorded intent: clock offset, and the command's way to the host. */
export const INTENT_SLACK_MS = 10_000;

export async function rollout(job: DeployJob, transport: HostTransport, events: DeployEvents): Promise<DeployResult> {
  // Bad values end the deployment before any host is contacted, not halfway through the rollout.
  try {
    for (const host of job.hosts) deployEnvironment(job, host.name);
  } catch (error) {
    return { state: 'error', description: (error as Error).message };
  }
  const tallies: HostTally[] = job.hosts.map((h) => ({
    name: h.name,
    outcome: h.state === 'succeeded' || h.state === 'skipped' || h.state === 'failed' ? h.state : null,
    message: '',
  }));
  const inDoubt = job.hosts.filter((h) => h.state === 'running' || h.state === 'unknown');
  let stop: StopReason = null;

  // Hosts whose step's end was never recorded (a previous runner stopped mid-command) come first: their
  // outcome decides whether the rollout may go on at all (rule 4).
  for (const host of inDoubt) {
    const tally = tallies.find((t) => t.name === host.name)!;
    events.hostStarted(tally.name);
    const resolved = await resolveInDoubt(
      job,
      transport,
      tally.name,
      events,
      'the bot running it stopped mid-command',
      Date.now() + host.inDoubtForMs,
    );
    finish(events, tally, resolved);
  }

  const waiting = tallies.filter((t) => t.outcome === null);
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
      finish(events, tally, end);
    }
  };
  await Promise.all(Array.from({ length: Math.min(job.config.concurrency, Math.max(waiting.length, 1)) }, lane));
  return rolloutVerdict(tallies, stop ?? (job.halt.aborted ? 'halted' : null));
}

function stopReason(job: DeployJob): StopReason {
  if (job.halt.aborted) return 'halted';
  if (job.drain.aborted) return 'handover';
  if (job.cancel.aborted) return 'cancelled';
  if (Date.now() >= job.deadline) return 'deadline';
  return null;
}

function finish(events: DeployEvents, tally: HostTally, end: HostEnd): void {
  tally.outcome = end.outcome;
  tally.message = end.message;
  events.hostFinished(tally.name, end.outcome, end.message, end.settled);
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
 */
async function resolveInDoubt(
  job: DeployJob,
  transport: HostTransport,
  host: string,
  events: DeployEvents,
  what: string,
  actDeadline: number,
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
    if (live === job.sha) return { outcome: 'succeeded', message: `${what}; revision shows ${job.sha.slice(0, 7)} live`, settled: true };
    return {
      outcome: 'failed',
      message: `${what}; revision shows ${live.slice(0, 12) || 'nothing'} live, not ${job.sha.slice(0, 7)}`,
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

/** The DEPLOY_* variables of DESIGN.md, every value validated here once more before any shell. */
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

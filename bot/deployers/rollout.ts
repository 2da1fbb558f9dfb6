// The rolling deploy over hosts shared by the local and ssh deployers: `concurrency` hosts at a time,
// per host revision → deploy → healthcheck → (on failure) rollback, every step bounded, nothing that
// may have run is ever run again, and a host whose end was not observed is `unknown`.
import { environmentNameError, refError, repositoryNameError, shaError, taskNameError } from '../../common/names.ts';
import { mayStartAnotherHost, rolloutVerdict, type HostTally, type StopReason } from '../engine/rollout-verdict.ts';
import type { DeployEvents, DeployJob, DeployResult, HostOutcome } from './deployer.ts';
import { ConnectFailure, type CommandEnd, type HostConnection, type HostTransport } from './host-transport.ts';
import { RedactingLineStream } from './output.ts';

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
  const wasRunning = new Set(job.hosts.filter((h) => h.state === 'running' || h.state === 'unknown').map((h) => h.name));
  let stop: StopReason = null;

  // Hosts that were mid-command when a previous bot died come first: their outcome decides whether
  // the rollout may go on at all (rule 4).
  for (const tally of tallies.filter((t) => wasRunning.has(t.name))) {
    events.hostStarted(tally.name);
    const resolved = await resolveUnknown(job, transport, tally.name, events, 'the bot running it stopped mid-command');
    finish(events, tally, resolved.outcome, resolved.message);
  }

  const waiting = tallies.filter((t) => t.outcome === null);
  const nextHost = (): HostTally | undefined => {
    if (stop) return undefined;
    if (job.cancel.aborted) stop = 'cancelled';
    else if (Date.now() >= job.deadline) stop = 'deadline';
    else if (!mayStartAnotherHost(tallies, job.config.max_failures)) return undefined;
    return stop ? undefined : waiting.shift();
  };
  const lane = async () => {
    for (let tally = nextHost(); tally; tally = nextHost()) {
      events.hostStarted(tally.name);
      const { outcome, message } = await deployHost(job, transport, tally.name, events);
      finish(events, tally, outcome, message);
    }
  };
  await Promise.all(Array.from({ length: Math.min(job.config.concurrency, Math.max(waiting.length, 1)) }, lane));
  return rolloutVerdict(tallies, stop);
}

function finish(events: DeployEvents, tally: HostTally, outcome: HostOutcome, message: string): void {
  tally.outcome = outcome;
  tally.message = message;
  events.hostFinished(tally.name, outcome, message);
}

interface HostEnd {
  outcome: HostOutcome;
  message: string;
}

async function deployHost(job: DeployJob, transport: HostTransport, host: string, events: DeployEvents): Promise<HostEnd> {
  const config = job.config;
  events.hostPhase(host, 'connect');
  let connection: HostConnection;
  try {
    connection = await transport.connect(host, { timeoutMs: Math.min(config.timeouts.connect, remaining(job)) });
  } catch (error) {
    return { outcome: 'failed', message: `not deployed: ${(error as Error).message}` };
  }
  try {
    const step = (phase: 'revision' | 'deploy' | 'healthcheck' | 'rollback', command: string, capture?: string[]) => {
      events.hostPhase(host, phase);
      return runStep(job, connection, host, command, events, capture);
    };
    if (config.revision) {
      const output: string[] = [];
      const end = await step('revision', config.revision, output);
      if (end.kind === 'exit' && end.code === 0 && output.join('').trim() === job.sha) {
        return { outcome: 'skipped', message: `already at ${job.sha.slice(0, 7)}` };
      }
      if (end.kind !== 'exit' || end.code !== 0) return { outcome: 'failed', message: `not deployed: revision check ${describeEnd(end)}` };
    }
    const deploy = await step('deploy', config.deploy!);
    if (deploy.kind === 'lost') {
      return resolveUnknown(job, transport, host, events, `deploy ${describeEnd(deploy)}`);
    }
    if (!(deploy.kind === 'exit' && deploy.code === 0)) {
      return await rollbackAfter(`deploy ${describeEnd(deploy)}`, step, config.rollback);
    }
    if (config.healthcheck) {
      const health = await step('healthcheck', config.healthcheck);
      if (health.kind === 'lost') return resolveUnknown(job, transport, host, events, `healthcheck ${describeEnd(health)}`);
      if (!(health.kind === 'exit' && health.code === 0)) {
        return await rollbackAfter(`healthcheck ${describeEnd(health)}`, step, config.rollback);
      }
    }
    return { outcome: 'succeeded', message: 'deployed' };
  } finally {
    connection.close();
  }
}

async function rollbackAfter(
  failure: string,
  step: (phase: 'rollback', command: string) => Promise<CommandEnd>,
  rollbackCommand: string | undefined,
): Promise<HostEnd> {
  if (!rollbackCommand) return { outcome: 'failed', message: failure };
  const end = await step('rollback', rollbackCommand);
  const rolledBack = end.kind === 'exit' && end.code === 0 ? 'rolled back' : `rollback ${describeEnd(end)}`;
  return { outcome: 'failed', message: `${failure}; ${rolledBack}` };
}

/**
 * A host whose last command's end was not observed. With `revision`, ask the host (over a new
 * connection) which SHA it runs; without, or when it cannot answer, the host stays `unknown`.
 */
async function resolveUnknown(job: DeployJob, transport: HostTransport, host: string, events: DeployEvents, what: string): Promise<HostEnd> {
  const unknown: HostEnd = { outcome: 'unknown', message: `${what}; outcome unknown, not retried` };
  if (!job.config.revision || remaining(job) <= 0) return unknown;
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
    const end = await runStep(job, connection, host, job.config.revision, events, output);
    if (end.kind !== 'exit' || end.code !== 0) return unknown;
    const live = output.join('').trim();
    if (live === job.sha) return { outcome: 'succeeded', message: `${what}; revision shows ${job.sha.slice(0, 7)} live` };
    return { outcome: 'failed', message: `${what}; revision shows ${live.slice(0, 12) || 'nothing'} live, not ${job.sha.slice(0, 7)}` };
  } finally {
    connection.close();
  }
}

async function runStep(job: DeployJob, connection: HostConnection, host: string, command: string, events: DeployEvents, capture?: string[]): Promise<CommandEnd> {
  const streams = {
    stdout: new RedactingLineStream(job.secrets, (text) => events.hostOutput(host, 'stdout', text)),
    stderr: new RedactingLineStream(job.secrets, (text) => events.hostOutput(host, 'stderr', text)),
  };
  const timeoutMs = Math.max(1, Math.min(job.config.timeouts.command, remaining(job)));
  const end = await connection.run(command, {
    env: deployEnvironment(job, host),
    timeoutMs,
    inactivityMs: job.config.inactivity,
    onOutput(stream, text) {
      if (capture && stream === 'stdout') capture.push(text);
      streams[stream].write(text);
    },
  });
  streams.stdout.flush();
  streams.stderr.flush();
  return end;
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

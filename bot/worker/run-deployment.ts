// Runs one claimed deployment through its deployer: holds and renews the lease (rule 6), turns the
// deployer's events into host records, log output and throttled progress statuses, and ends it with a
// terminal status in the same transaction as its final state.
import type { Logger } from 'pino';
import { progressDescription, PROGRESS_INTERVAL_MS } from '../engine/descriptions.ts';
import type { LeaseTiming } from '../engine/leases.ts';
import { githubStateFor } from '../engine/states.ts';
import type { DeployEvents, DeployJob, DeployResult, HostOutcome, HostState } from '../deployers/deployer.ts';
import { deployerFor, type DeployerRegistry } from '../deployers/registry.ts';
import { BoundedText } from '../deployers/output.ts';
import type { LogLinks } from '../github/log-links.ts';
import type { DeploymentRecord, Finish, Store } from '../store/store.ts';
import { statusFor } from './status-for.ts';

export interface RunContext {
  store: Store;
  owner: string;
  deployers: DeployerRegistry;
  links: LogLinks;
  lease: LeaseTiming;
  /** Bot-side secret values, redacted from host output. */
  secrets: string[];
  log: Logger;
  /** A status was queued: the publisher should look now. */
  statusQueued(): void;
  onFinished?(record: DeploymentRecord, finish: Finish, hosts: Array<{ state: HostState; ms: number }>): void;
}

const OUTPUT_FLUSH_MS = 1000;
const CANCEL_POLL_MS = 1000;

export async function runDeployment(context: RunContext, record: DeploymentRecord, resumed: boolean): Promise<void> {
  const { store, owner, log } = context;
  const config = record.config!;
  const hosts = await store.hosts(record.id);
  const cancel = new AbortController();
  let leaseLost = false;
  let cancelledBy: string | null = record.cancelRequestedBy;
  if (cancelledBy) cancel.abort();

  const renewal = setInterval(() => {
    store.renewLease(record.id, owner, context.lease.durationMs).then(
      (held) => {
        if (held) return;
        leaseLost = true;
        cancel.abort();
      },
      // The store is unreachable: keep going; if it stays so, the lease lapses and another bot
      // takes over, which is what the lease is for.
      (error) => log.warn({ err: error, deployment: record.id }, 'could not renew lease'),
    );
  }, context.lease.renewMs);
  // `/cancel` is a row in the store (any replica may have received it): look for it every second.
  const cancelWatch = setInterval(() => {
    if (cancelledBy) return;
    store.deployment(record.id).then(async (current) => {
      if (!current?.cancelRequestedBy || cancelledBy) return;
      cancelledBy = current.cancelRequestedBy;
      cancel.abort();
      await store.addEvent(record.id, `cancel requested by @${cancelledBy}: no new host will start`);
    }, (error) => log.warn({ err: error, deployment: record.id }, 'could not check for a cancel request'));
  }, CANCEL_POLL_MS);

  const progress = progressReporter(context, record, hosts.length, hosts.filter((h) => h.state === 'succeeded' || h.state === 'skipped').length);
  const output = new Map<string, { text: BoundedText; dirty: boolean }>(hosts.map((h) => [h.host, { text: seeded(h.output), dirty: false }]));
  const flushOutput = async () => {
    for (const [host, buffer] of output) {
      if (!buffer.dirty) continue;
      buffer.dirty = false;
      await store.updateHost(record.id, host, { output: buffer.text.toString() }).catch((error) => log.warn({ err: error }, 'could not save host output'));
    }
  };
  const outputTimer = setInterval(() => void flushOutput(), OUTPUT_FLUSH_MS);
  const hostStarts = new Map<string, number>();
  const hostDurations: Array<{ state: HostState; ms: number }> = [];

  // Store writes from events are chained, so a host's `finished` cannot overtake its `started`.
  let writes = Promise.resolve();
  const write = (work: () => Promise<unknown>) => {
    writes = writes.then(work).then(
      () => {},
      (error) => log.warn({ err: error, deployment: record.id }, 'could not record a deploy event'),
    );
  };
  const events: DeployEvents = {
    hostStarted(host) {
      hostStarts.set(host, Date.now());
      write(() => store.updateHost(record.id, host, { state: 'running', started: true }));
      write(() => store.addEvent(record.id, `${host}: started`));
      progress.hostStarted();
    },
    hostPhase(host, phase) {
      write(() => store.updateHost(record.id, host, { phase }));
    },
    hostOutput(host, _stream, text) {
      const buffer = output.get(host) ?? { text: new BoundedText(), dirty: false };
      buffer.text.append(text);
      buffer.dirty = true;
      output.set(host, buffer);
    },
    hostFinished(host, outcome: HostOutcome, message) {
      hostDurations.push({ state: outcome, ms: Date.now() - (hostStarts.get(host) ?? Date.now()) });
      write(() => store.updateHost(record.id, host, { state: outcome, message, phase: null, finished: true }));
      write(() => store.addEvent(record.id, `${host}: ${outcome}${message ? ` (${message})` : ''}`));
      progress.hostFinished(outcome);
    },
    progress(description, logUrl) {
      write(() => store.addEvent(record.id, description));
      progress.custom(description, logUrl);
    },
  };

  let result: DeployResult;
  const deployer = deployerFor(context.deployers, config.deployer);
  try {
    if (resumed) {
      await store.enqueueStatus(statusFor(record, 'phase', 'in_progress', 'resumed by another bot after its runner stopped', context.links));
      context.statusQueued();
    }
    if (typeof deployer === 'string') {
      result = { state: 'error', description: deployer };
    } else {
      const job: DeployJob = {
        deploymentId: record.id,
        repository: record.repository,
        environment: record.environment,
        sha: record.sha,
        ref: record.ref,
        task: record.task,
        previousSha: record.previousSha,
        noop: record.task.endsWith(':noop'),
        payload: record.payload,
        config,
        hosts: hosts.map((h) => ({ name: h.host, state: h.state })),
        cancel: cancel.signal,
        resumed,
        deadline: (record.deadlineAt ?? new Date(Date.now() + config.timeouts.total)).getTime(),
        secrets: context.secrets,
      };
      result = await deployer.deploy(job, events);
    }
  } catch (error) {
    // A deployer that throws may have acted: unknown, never retried (rule 4).
    log.error({ err: error, deployment: record.id }, 'deployer failed unexpectedly');
    result = { state: 'error', description: `deployer failed: ${(error as Error).message}; outcome unknown, not retried` };
  } finally {
    clearInterval(renewal);
    clearInterval(cancelWatch);
    clearInterval(outputTimer);
    progress.stop();
  }
  await writes;
  await flushOutput();
  if (leaseLost) {
    log.warn({ deployment: record.id }, 'lease lost while deploying: another bot took this deployment over; its end is theirs to record');
    return;
  }
  const finish = finishFor(record, result, cancelledBy, context.links);
  if (await store.finish(record.id, owner, finish)) {
    context.statusQueued();
    context.onFinished?.(record, finish, hostDurations);
  }
}

function finishFor(record: DeploymentRecord, result: DeployResult, cancelledBy: string | null, links: LogLinks): Finish {
  const cancelled = cancelledBy !== null && result.state === 'failed' && result.description.startsWith('cancelled');
  const state = cancelled ? 'cancelled' : result.state;
  const description = cancelled ? result.description.replace(/^cancelled/, `cancelled by @${cancelledBy}`) : result.description;
  return { state, description, status: statusFor(record, 'terminal', githubStateFor(state), description, links, result.logUrl) };
}

function seeded(previous: string): BoundedText {
  const text = new BoundedText();
  if (previous) text.append(previous);
  return text;
}

/** `deploying N/M hosts`, at most every PROGRESS_INTERVAL_MS, always the latest value. */
function progressReporter(context: RunContext, record: DeploymentRecord, total: number, alreadyDone: number) {
  let done = alreadyDone;
  let running = 0;
  let lastSent = 0;
  // The claim already published `deploying 0/N hosts`: a progress saying the same is not news.
  let lastDescription = progressDescription(done, total, 1);
  let timer: NodeJS.Timeout | undefined;
  let latest: { description: string; logUrl?: string } | null = null;
  const send = () => {
    timer = undefined;
    if (!latest) return;
    const { description, logUrl } = latest;
    latest = null;
    if (description === lastDescription && !logUrl) return;
    lastDescription = description;
    lastSent = Date.now();
    void context.store
      .enqueueStatus(statusFor(record, 'progress', 'in_progress', description, context.links, logUrl))
      .then(() => context.statusQueued(), (error) => context.log.warn({ err: error }, 'could not queue a progress status'));
  };
  const update = (description: string, logUrl?: string) => {
    latest = { description, logUrl };
    if (timer) return;
    timer = setTimeout(send, Math.max(0, lastSent + PROGRESS_INTERVAL_MS - Date.now()));
  };
  return {
    hostStarted() {
      running++;
      update(progressDescription(done, total, running));
    },
    hostFinished(outcome: HostOutcome) {
      running--;
      if (outcome === 'succeeded' || outcome === 'skipped') done++;
      update(progressDescription(done, total, running));
    },
    custom: update,
    stop() {
      clearTimeout(timer);
    },
  };
}

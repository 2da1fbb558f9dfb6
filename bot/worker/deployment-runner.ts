// One running deployment, owned by one object: it holds the lease (renewals, its own count of how long it
// may still act), turns the deployer's events into fenced store writes, and ends the deployment with a
// terminal status — or hands it over. The rules it follows (docs/exactly-once.md):
// - write-ahead: a step that may act starts only once its intent is in the store (`beginStep`);
// - fencing: every write carries the lease epoch; the first one refused means another bot owns the
//   deployment now, and this runner kills what it runs and stops;
// - its own clock: once renewals have failed for half a lease it starts nothing, at two thirds it kills
//   what it runs, so that nothing of its own still acts when the lease lapses and another bot takes over;
// - nothing observed is dropped: host ends and the final state are retried until the store takes them
//   (or refuses them: fenced), so a store outage does not turn a deployed host into `unknown`.
import type { Logger } from 'pino';
import { bakeDescription, progressDescription, PROGRESS_INTERVAL_MS, waveDescription } from '../engine/descriptions.ts';
import { markStderr } from '../engine/host-output.ts';
import { leaseStanding, renewalRetryMs, type LeaseTiming } from '../engine/leases.ts';
import { notRunDescription, pickupCheck } from '../engine/pickup.ts';
import type { ActingPhase, DeployResult, HostOutcome, HostState } from '../engine/outcomes.ts';
import type { WaveNews } from '../engine/waves.ts';
import { githubStateFor } from '../engine/states.ts';
import { statusFor, type LogLinkSigner } from '../engine/status-for.ts';
import type { DeployEvents, DeployJob } from '../deployers/deployer.ts';
import { deployerFor, type DeployerRegistry } from '../deployers/registry.ts';
import { BoundedText } from '../deployers/output.ts';
import { LifecycleLog } from './lifecycle-log.ts';
import type { DeploymentRecord, Finish, LeaseRef, Store } from '../store/store.ts';

export interface RunContext {
  store: Store;
  owner: string;
  deployers: DeployerRegistry;
  links: LogLinkSigner;
  lease: LeaseTiming;
  /** Bot-side secret values, redacted from host output. */
  secrets: string[];
  log: Logger;
  /** A status was queued: the publisher should look now. */
  statusQueued(): void;
  /** The states GitHub holds for a deployment, newest first (checked before the first host starts). */
  deploymentStates(installationId: number, repository: string, deploymentId: number): Promise<string[]>;
  onFinished?(record: DeploymentRecord, finish: Finish, hosts: Array<{ state: HostState; ms: number }>): void;
}

const OUTPUT_FLUSH_MS = 1000;
const CANCEL_POLL_MS = 1000;
/** Between attempts of a write that must not be lost (a host's end, the final state). */
const WRITE_RETRY_MS = 1000;
/** How long the first host waits for GitHub to show the bot's pickup and no ending (a GitHub outage). */
const PICKUP_CONFIRM_MS = 5 * 60_000;

export class DeploymentRunner {
  readonly id: number;
  /** Settles when the runner is done: finished, handed over, or fenced out. */
  readonly done: Promise<void>;
  private readonly context: RunContext;
  private readonly record: DeploymentRecord;
  private readonly lease: LeaseRef;
  private readonly resumed: boolean;
  private readonly cancelSignal = new AbortController();
  private readonly drainSignal = new AbortController();
  private readonly haltSignal = new AbortController();
  /** Local time at which the last successful renewal (or the claim) was sent. */
  private renewedAt: number;
  private fenced = false;
  /** Stop retrying writes (the bot is stopping): what is left is the takeover's to resolve. */
  private abandoned = false;
  private cancelledBy: string | null;
  private cancelRollback: boolean;
  private readonly timers: NodeJS.Timeout[] = [];
  private renewalTimer: NodeJS.Timeout | undefined;
  /** The renewal in flight, if any; once `renewalsStopped`, none is sent or scheduled again. */
  private renewing: Promise<void> = Promise.resolve();
  private renewalsStopped = false;
  /** Writes that must reach the store, in order; retried until taken or fenced. */
  private journal: Promise<boolean> = Promise.resolve(true);

  constructor(context: RunContext, record: DeploymentRecord, resumed: boolean, leaseSince: number) {
    this.context = context;
    this.record = record;
    this.id = record.id;
    this.lease = { id: record.id, epoch: record.leaseEpoch };
    this.resumed = resumed;
    this.renewedAt = leaseSince;
    this.cancelledBy = record.cancelRequestedBy;
    this.cancelRollback = record.cancelRollback;
    if (this.cancelledBy) this.cancelSignal.abort();
    this.done = this.run();
  }

  /** SIGTERM: start no new host, let the running ones end, record them, release the lease. */
  handOver(): void {
    this.drainSignal.abort();
  }

  /** The bot is going away now: kill what runs and stop retrying writes. */
  abandon(): void {
    this.abandoned = true;
    this.halt('the bot is stopping');
  }

  private halt(why: string): void {
    if (this.haltSignal.signal.aborted) return;
    this.context.log.warn({ deployment: this.id, why }, 'runner halted: killing what it runs, starting nothing more');
    this.haltSignal.abort();
  }

  private async run(): Promise<void> {
    const { store, log } = this.context;
    this.keepLease();
    const hosts = await this.mustRead(() => store.hosts(this.id));
    if (!hosts) return this.stopTimers();
    this.watchForCancel();
    const progress = progressReporter(this, hosts.length, hosts.filter((h) => h.state === 'succeeded' || h.state === 'skipped').length);
    const output = this.outputBuffers(hosts);
    const hostStarts = new Map<string, number>();
    const hostDurations: Array<{ state: HostState; ms: number }> = [];
    const events: DeployEvents = {
      hostStarted: (host) => {
        hostStarts.set(host, Date.now());
        progress.hostStarted();
      },
      hostPhase: (host, phase) => void this.tryWrite(() => store.recordHostProgress(this.lease, host, { phase })),
      beginStep: (host, phase, hardLimitMs) => this.beginStep(host, phase, hardLimitMs),
      hostOutput: (host, stream, text) => output.append(host, stream === 'stderr' ? markStderr(text) : text),
      hostFinished: (host, outcome: HostOutcome, message, settled) => {
        const ms = Date.now() - (hostStarts.get(host) ?? Date.now());
        hostDurations.push({ state: outcome, ms });
        new LifecycleLog(log).hostEnded(this.record, host, outcome, ms, message);
        this.mustWrite(() => store.recordHostEnd(this.lease, host, { outcome, message, settled }));
        progress.hostFinished(outcome);
      },
      progress: (description, logUrl) => {
        void this.tryWrite(() => store.recordEvent(this.lease, description));
        progress.custom(description, logUrl);
      },
      wave: (news) => {
        const line = waveTimelineLine(news);
        if (line) void this.tryWrite(() => store.recordEvent(this.lease, line));
        progress.wave(news);
      },
      beginFleetRollback: (reason) => this.beginFleetRollback(reason),
    };

    let result: DeployResult;
    try {
      if (this.resumed) this.queueStatus('phase', 'resumed by another bot after its runner stopped');
      const deployer = deployerFor(this.context.deployers, this.record.config!.deployer);
      // Before the first host (also when a takeover finds none started): still wanted on GitHub?
      const notStarted = hosts.every((h) => h.state === 'pending') ? await this.confirmPickup() : null;
      result =
        notStarted ??
        (typeof deployer === 'string' ? { state: 'error', description: deployer } : await deployer.deploy(this.job(hosts), events));
    } catch (error) {
      // A deployer that throws may have acted: unknown, never retried (rule 4).
      log.error({ err: error, deployment: this.id }, 'deployer failed unexpectedly');
      result = { state: 'error', description: `deployer failed: ${(error as Error).message}; outcome unknown, not retried` };
    } finally {
      progress.stop();
    }
    await output.flush();
    if (result.state === 'handed_over') {
      // Record what was observed, then let the lease go at once: the next bot continues from there. No
      // renewal may land after the release (it would hold the lease again): stop them, let the last one settle.
      if (await this.journal) {
        await this.stopRenewals();
        await this.tryWrite(() => store.releaseLease(this.lease));
      }
      log.info({ deployment: this.id, why: result.description }, 'deployment handed over');
      return this.stopTimers();
    }
    const finish = finishFor(this.record, result, this.cancelledBy, this.context.links);
    this.mustWrite(() => store.finish(this.lease, finish));
    const finished = await this.journal;
    this.stopTimers();
    if (finished) {
      this.context.statusQueued();
      this.context.onFinished?.(this.record, finish, hostDurations);
    } else if (this.fenced) {
      log.warn({ deployment: this.id }, 'lease lost while deploying: another bot took this deployment over; its end is theirs to record');
    }
  }

  /**
   * Null when the deployment may start: GitHub shows the bot's pickup and nobody ended it there. Otherwise
   * why it does not run: ended on GitHub (the Action gave up on it), GitHub silent for too long, or the
   * runner was stopped while asking (handed over: nothing has run).
   */
  private async confirmPickup(): Promise<DeployResult | null> {
    const { log } = this.context;
    const giveUpAt = Date.now() + PICKUP_CONFIRM_MS;
    for (;;) {
      if (this.drainSignal.signal.aborted || this.haltSignal.signal.aborted || this.fenced) {
        return { state: 'handed_over', description: 'stopped before the first host started' };
      }
      try {
        // GitHub is read once the store says the pickup status reached it: one read, not one a second.
        const published = (await this.context.store.deployment(this.id))?.githubState != null;
        const check = published
          ? pickupCheck(await this.context.deploymentStates(this.record.installationId, this.record.repository, this.id))
          : ({ kind: 'pickup-not-visible' } as const);
        if (check.kind === 'clear') return null;
        if (check.kind === 'ended') {
          log.warn({ deployment: this.id, githubState: check.state }, 'not run: GitHub shows it ended before the first host started');
          return { state: 'error', description: notRunDescription(check.state) };
        }
      } catch (error) {
        log.warn({ err: error, deployment: this.id }, 'could not check the deployment’s statuses (store or GitHub); asking again');
      }
      if (Date.now() >= giveUpAt) {
        return { state: 'error', description: 'not run: GitHub did not show this deployment as still wanted within 5m' };
      }
      await sleep(WRITE_RETRY_MS);
    }
  }

  private job(hosts: Awaited<ReturnType<Store['hosts']>>): DeployJob {
    const record = this.record;
    const runner = this;
    const config = record.config!;
    return {
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
      hosts: hosts.map((h) => ({
        name: h.host,
        state: h.state,
        inDoubtForMs: h.inDoubtForMs,
        finishedAt: h.finishedAt?.getTime() ?? null,
      })),
      fleetRollback: record.fleetRollback,
      // Read when the rollout ends: a `/cancel --rollback` comes while it runs.
      get cancelWithRollback() {
        return runner.cancelRollback;
      },
      cancel: this.cancelSignal.signal,
      drain: this.drainSignal.signal,
      halt: this.haltSignal.signal,
      resumed: this.resumed,
      deadline: (record.deadlineAt ?? new Date(Date.now() + config.timeouts.total)).getTime(),
      secrets: this.context.secrets,
    };
  }

  /**
   * Write-ahead intent. Waits while the lease is stale (a short store outage), retrying the write; gives up
   * (false: the step must not start) once the lease is lapsing, the runner is fenced or halted, or, for a
   * host's first step, the bot is handing over.
   */
  private async beginStep(host: string, phase: ActingPhase, hardLimitMs: number): Promise<boolean> {
    const { store, log } = this.context;
    for (;;) {
      // Checked on every try: a handover that comes while the write is retried still keeps a new host off.
      if (phase === 'deploy' && this.drainSignal.signal.aborted) return false;
      if (this.haltSignal.signal.aborted || this.fenced) return false;
      if (this.standing() === 'held') {
        try {
          if (await store.recordHostIntent(this.lease, host, phase, hardLimitMs)) {
            // The write may have taken long: act only if the lease is still held now.
            if (this.standing() === 'held' && !this.haltSignal.signal.aborted) return true;
            log.warn({ deployment: this.id, host }, 'intent recorded too late to act on: the step is not started');
            return false;
          }
          this.fencedOut();
          return false;
        } catch (error) {
          log.warn({ err: error, deployment: this.id, host }, `could not record the intent to run ${phase}; the step waits`);
        }
      }
      await sleep(WRITE_RETRY_MS);
    }
  }

  /**
   * Write-ahead for a fleet rollback: once every host end observed so far is in the store, records that the
   * rollback begins; retried while the lease is stale, given up (false) once halted or fenced.
   */
  private async beginFleetRollback(reason: string): Promise<boolean> {
    const { store, log } = this.context;
    if (!(await this.journal)) return false;
    for (;;) {
      if (this.haltSignal.signal.aborted || this.fenced) return false;
      if (this.standing() === 'held') {
        try {
          if (await store.recordFleetRollback(this.lease, reason, this.record.config!.timeouts.total)) {
            return this.standing() === 'held' && !this.haltSignal.signal.aborted;
          }
          this.fencedOut();
          return false;
        } catch (error) {
          log.warn({ err: error, deployment: this.id }, 'could not record the fleet rollback; it waits');
        }
      }
      await sleep(WRITE_RETRY_MS);
    }
  }

  private standing() {
    return leaseStanding(Date.now() - this.renewedAt, this.context.lease);
  }

  /** Renews the lease, and halts the runner before the lease can lapse without a renewal. */
  private keepLease(): void {
    const { store, lease: timing, log } = this.context;
    // A renewal answered after the runner stopped schedules nothing: a timer armed then would outlive
    // stopTimers() and renew the lease of a runner that is gone (after a handover: forever, and nobody
    // could take the deployment over).
    const schedule = (ms: number) => {
      if (!this.renewalsStopped) this.renewalTimer = setTimeout(() => (this.renewing = renew()), ms);
    };
    const renew = async () => {
      const sentAt = Date.now();
      try {
        const renewed = await store.renewLease(this.lease, timing.durationMs);
        if (this.renewalsStopped) return;
        if (renewed) {
          this.renewedAt = sentAt;
          // Counted from when this renewal was sent: a slow answer does not push the next one later.
          schedule(Math.max(0, sentAt + timing.renewMs - Date.now()));
          return;
        }
        this.fencedOut();
        return;
      } catch (error) {
        if (this.renewalsStopped) return;
        log.warn({ err: error, deployment: this.id }, 'could not renew the lease');
      }
      if (!this.fenced && !this.abandoned) schedule(renewalRetryMs(timing));
    };
    schedule(timing.renewMs);
    this.timers.push(
      setInterval(() => {
        if (this.standing() === 'lapsing') this.halt('the lease could not be renewed and is about to lapse');
      }, renewalRetryMs(timing)),
    );
  }

  /** `/cancel` is a row in the store (any replica may have received it): look for it every second. */
  private watchForCancel(): void {
    const { store, log } = this.context;
    this.timers.push(
      setInterval(() => {
        if (this.cancelledBy) return;
        store.deployment(this.id).then(
          (current) => {
            if (!current?.cancelRequestedBy || this.cancelledBy) return;
            this.cancelledBy = current.cancelRequestedBy;
            this.cancelRollback = current.cancelRollback;
            this.cancelSignal.abort();
            void this.tryWrite(() => store.recordEvent(this.lease, `cancel requested by @${this.cancelledBy}: no new host will start`));
          },
          (error) => log.warn({ err: error, deployment: this.id }, 'could not check for a cancel request'),
        );
      }, CANCEL_POLL_MS),
    );
  }

  /** Host output, bounded, flushed every second (best effort: the page shows what got through). */
  private outputBuffers(hosts: Array<{ host: string; output: string }>) {
    const buffers = new Map(hosts.map((h) => [h.host, { text: seeded(h.output), dirty: false }]));
    const flush = async () => {
      for (const [host, buffer] of buffers) {
        if (!buffer.dirty) continue;
        buffer.dirty = false;
        await this.tryWrite(() => this.context.store.recordHostProgress(this.lease, host, { output: buffer.text.toString() }));
      }
    };
    this.timers.push(setInterval(() => void flush(), OUTPUT_FLUSH_MS));
    return {
      append(host: string, text: string) {
        const buffer = buffers.get(host) ?? { text: new BoundedText(), dirty: false };
        buffer.text.append(text);
        buffer.dirty = true;
        buffers.set(host, buffer);
      },
      flush,
    };
  }

  queueStatus(kind: 'phase' | 'progress', description: string, logUrl?: string): void {
    const status = statusFor(this.record, kind, 'in_progress', description, this.context.links, logUrl);
    void this.tryWrite(() => this.context.store.recordStatus(this.lease, status)).then((written) => written && this.context.statusQueued());
  }

  /** A write worth making but not worth waiting for (phase, output, progress): once, errors logged. */
  private async tryWrite(write: () => Promise<boolean>): Promise<boolean> {
    if (this.fenced) return false;
    try {
      if (await write()) return true;
      this.fencedOut();
    } catch (error) {
      this.context.log.warn({ err: error, deployment: this.id }, 'could not record a deploy event');
    }
    return false;
  }

  /** A write that must not be lost: queued behind the others and retried until taken or fenced. */
  private mustWrite(write: () => Promise<boolean>): void {
    this.journal = this.journal.then(async (ok) => {
      if (!ok) return false;
      for (;;) {
        if (this.fenced || this.abandoned) return false;
        try {
          if (await write()) return true;
          this.fencedOut();
          return false;
        } catch (error) {
          this.context.log.warn({ err: error, deployment: this.id }, 'could not record an outcome; retrying');
        }
        await sleep(WRITE_RETRY_MS);
      }
    });
  }

  /** A read the runner cannot start without: retried like a must-write, while the lease allows. */
  private async mustRead<T>(read: () => Promise<T>): Promise<T | null> {
    for (;;) {
      if (this.fenced || this.abandoned || this.haltSignal.signal.aborted) return null;
      try {
        return await read();
      } catch (error) {
        this.context.log.warn({ err: error, deployment: this.id }, 'could not read the deployment; retrying');
      }
      await sleep(WRITE_RETRY_MS);
    }
  }

  private fencedOut(): void {
    if (this.fenced) return;
    this.fenced = true;
    this.halt('the lease is no longer this runner’s (another bot took the deployment over, or it ended)');
  }

  /** No renewal is sent after this; resolves once the one in flight, if any, has its answer. */
  private async stopRenewals(): Promise<void> {
    this.renewalsStopped = true;
    clearTimeout(this.renewalTimer);
    await this.renewing;
  }

  private stopTimers(): void {
    this.renewalsStopped = true;
    clearTimeout(this.renewalTimer);
    for (const timer of this.timers) clearInterval(timer);
  }
}

function finishFor(record: DeploymentRecord, result: DeployResult, cancelledBy: string | null, links: LogLinkSigner): Finish {
  const finalState = result.state === 'handed_over' ? 'error' : result.state;
  // Who cancelled is the runner's to know: the rollout only says it was cancelled, and after how many hosts.
  const description =
    finalState === 'cancelled' && cancelledBy !== null
      ? result.description.replace(/^cancelled/, `cancelled by @${cancelledBy}`)
      : result.description;
  return {
    state: finalState,
    description,
    status: statusFor(record, 'terminal', githubStateFor(finalState), description, links, result.logUrl),
  };
}

function seeded(previous: string): BoundedText {
  const text = new BoundedText();
  if (previous) text.append(previous);
  return text;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `deploying N/M hosts`, at most every PROGRESS_INTERVAL_MS, always the latest value. */
function progressReporter(runner: DeploymentRunner, total: number, alreadyDone: number) {
  let done = alreadyDone;
  let running = 0;
  // The claim queued `deploying 0/N hosts` just now: the first update waits a whole interval after it, so a
  // rollout that ends within one costs no progress write at all.
  let lastSent = Date.now();
  // A progress saying the same as the claim's status is not news.
  let lastDescription = progressDescription(done, total, 1);
  let timer: NodeJS.Timeout | undefined;
  let latest: { description: string; logUrl?: string } | null = null;
  // In waves: the wave in progress, and how many of its hosts are done (the description counts those).
  let wave: { wave: number; waves: number; size: number; done: number } | null = null;
  let bakeAnnounced = -1;
  const hostsDescription = () =>
    wave ? waveDescription(wave.wave, wave.waves, wave.done, wave.size) : progressDescription(done, total, running);
  const send = () => {
    timer = undefined;
    if (!latest) return;
    const { description, logUrl } = latest;
    latest = null;
    if (description === lastDescription && !logUrl) return;
    lastDescription = description;
    lastSent = Date.now();
    runner.queueStatus('progress', description, logUrl);
  };
  const phase = (description: string) => {
    latest = { description };
    clearTimeout(timer);
    send();
  };
  const update = (description: string, logUrl?: string) => {
    latest = { description, logUrl };
    if (timer) return;
    timer = setTimeout(send, Math.max(0, lastSent + PROGRESS_INTERVAL_MS - Date.now()));
  };
  return {
    hostStarted() {
      running++;
      update(hostsDescription());
    },
    hostFinished(outcome: HostOutcome) {
      running--;
      if (outcome === 'succeeded' || outcome === 'skipped') {
        done++;
        if (wave) wave.done++;
      }
      update(hostsDescription());
    },
    custom: update,
    // A wave's start, a bake's start and a failed gate are phases: they go out at once, whatever the interval.
    wave(news: WaveNews) {
      if (news.kind === 'started') {
        wave = { wave: news.wave, waves: news.waves, size: news.hosts.length, done: news.done };
        phase(hostsDescription());
      } else if (news.kind === 'baking') {
        if (bakeAnnounced === news.wave) update(bakeDescription(news.wave, news.waves, news.msLeft));
        else phase(bakeDescription(news.wave, news.waves, news.msLeft));
        bakeAnnounced = news.wave;
      } else if (!news.passed) phase(`wave ${news.wave}/${news.waves}: ${news.message}`);
    },
    stop() {
      clearTimeout(timer);
    },
  };
}

/** The timeline's line for a wave's news; a bake's countdown only updates the status. */
function waveTimelineLine(news: WaveNews): string | null {
  const wave = `wave ${news.wave}/${news.waves}`;
  switch (news.kind) {
    case 'started':
      return `${wave} starts: ${news.hosts.length} host${news.hosts.length === 1 ? '' : 's'} (${news.hosts.slice(0, 5).join(', ')}${news.hosts.length > 5 ? ', …' : ''})`;
    case 'baking':
      return null;
    case 'gate':
      return `${wave}: ${news.message}`;
  }
}

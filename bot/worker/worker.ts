// The bot's work loop: admit received deployments, start the next one of each free environment, and
// take over deployments whose bot died (rule 6). Each replica runs one; the store arbitrates.
import { startHeldByFreeze } from '../engine/freeze.ts';
import { progressDescription } from '../engine/descriptions.ts';
import { rolloutHosts } from '../engine/deploy-config.ts';
import { checkLeaseTiming, DEFAULT_LEASE_TIMING, type LeaseTiming } from '../engine/leases.ts';
import { statusFor } from '../engine/status-for.ts';
import { admitReceived, type AdmissionContext } from './admit-received.ts';
import { DeploymentRunner, type RunContext } from './deployment-runner.ts';
import { deploymentFields, LifecycleLog } from './lifecycle-log.ts';
import { reconcileGatedJobs, releaseOverdueGated, type GatedReconcileContext } from './reconcile-gated.ts';

/** How often gated jobs' deployments and runs are read from GitHub, for ends no webhook told. */
const GATE_RECONCILE_MS = 60_000;

export interface WorkerOptions extends Omit<AdmissionContext, 'onAdmitted'>, Omit<RunContext, 'lease'> {
  lease?: LeaseTiming;
  pollMs?: number;
  onAdmitted?: AdmissionContext['onAdmitted'];
  /** A gate review was queued: the reviewer should look now. */
  reviewsQueued?(): void;
  /** Reads of a gated job's run state (reconciliation); absent: only webhooks and deadlines end them. */
  runState?: GatedReconcileContext['runState'];
}

export class Worker {
  private readonly options: WorkerOptions & { lease: LeaseTiming; pollMs: number };
  private readonly running = new Map<number, DeploymentRunner>();
  private readonly lifecycle: LifecycleLog;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | null = null;
  private stopped = true;
  private lastTakeoverScan = 0;
  private lastGateReconcile = 0;
  private wakeRequested = false;

  constructor(options: WorkerOptions) {
    const lifecycle = new LifecycleLog(options.log);
    this.lifecycle = lifecycle;
    this.options = {
      pollMs: 1000,
      ...options,
      lease: options.lease ?? DEFAULT_LEASE_TIMING,
      onAdmitted(record, admission) {
        lifecycle.admitted(record, admission);
        options.onAdmitted?.(record, admission);
      },
      onFinished(record, finish, hosts) {
        lifecycle.finished(record, finish.state, finish.description);
        options.onFinished?.(record, finish, hosts);
      },
    };
    checkLeaseTiming(this.options.lease);
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Something arrived: look now. */
  wake(): void {
    if (this.stopped) return;
    if (this.ticking) this.wakeRequested = true;
    else this.schedule(0);
  }

  /**
   * Stops taking work and hands running deployments over: each starts no new host, lets the hosts in
   * flight end (for up to `graceMs`; past it they are killed and stay in doubt), records them and releases
   * its lease, so that another bot, or this one restarted, continues at once.
   */
  async stop(graceMs = 0): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    const runners = [...this.running.values()];
    for (const runner of runners) runner.handOver();
    const ended = Promise.all(runners.map((r) => r.done));
    const grace = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), graceMs).unref());
    if ((await Promise.race([ended, grace])) === 'late') {
      for (const runner of runners) runner.abandon();
      await ended;
    }
  }

  /** Deployments this process is running now. */
  get active(): number[] {
    return [...this.running.keys()];
  }

  /** Resolves when every deployment this process runs has ended. */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running.values()].map((r) => r.done));
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.ticking = this.tick()
        .catch((error) => this.options.log.error({ err: error }, 'worker: a round failed; trying again'))
        .finally(() => {
          this.ticking = null;
          if (this.stopped) return;
          const again = this.wakeRequested;
          this.wakeRequested = false;
          this.schedule(again ? 0 : this.options.pollMs);
        });
    }, ms);
  }

  private async tick(): Promise<void> {
    const options = this.options;
    if (await admitReceived({ ...options, onAdmitted: options.onAdmitted })) {
      options.statusQueued();
      options.reviewsQueued?.();
    }
    await releaseOverdueGated(options.store, options.log);
    if (options.runState && Date.now() - this.lastGateReconcile >= GATE_RECONCILE_MS) {
      this.lastGateReconcile = Date.now();
      await reconcileGatedJobs({ ...options, runState: options.runState });
    }
    for (;;) {
      if (this.stopped) return;
      const since = Date.now();
      const record = await options.store.claimNext(
        options.owner,
        options.lease.durationMs,
        (r) => statusFor(r, 'phase', 'in_progress', progressDescription(0, rolloutHosts(r.config!).length, 1), options.links),
        (r) => startHeldByFreeze(r.config?.freeze, r.payload, Date.now()),
      );
      if (!record) break;
      if (record.workflowRunId !== null) {
        // A gated job: its approval is queued; the job deploys, nothing runs here.
        options.reviewsQueued?.();
        continue;
      }
      options.statusQueued();
      this.lifecycle.started(record, rolloutHosts(record.config!).length);
      this.launch(new DeploymentRunner({ ...options }, record, false, since));
    }
    if (Date.now() - this.lastTakeoverScan >= options.lease.scanMs) {
      this.lastTakeoverScan = Date.now();
      for (;;) {
        if (this.stopped) return;
        const since = Date.now();
        // Never a deployment this process still runs: its runner may be waiting for the store to come back.
        const record = await options.store.takeOverLapsed(options.owner, options.lease.durationMs, this.active);
        if (!record) break;
        options.log.warn(deploymentFields(record), 'taking over a deployment whose runner stopped renewing its lease');
        this.launch(new DeploymentRunner({ ...options }, record, true, since));
      }
    }
  }

  private launch(runner: DeploymentRunner): void {
    this.running.set(runner.id, runner);
    runner.done
      .catch((error) => this.options.log.error({ err: error, deployment: runner.id }, 'deployment runner failed'))
      .finally(() => {
        this.running.delete(runner.id);
        this.wake();
      });
  }
}

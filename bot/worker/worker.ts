// The bot's work loop: admit received deployments, start the next one of each free environment, and
// take over deployments whose bot died (rule 6). Each replica runs one; the store arbitrates.
import type { Logger } from 'pino';
import { progressDescription } from '../engine/descriptions.ts';
import { checkLeaseTiming, DEFAULT_LEASE_TIMING, type LeaseTiming } from '../engine/leases.ts';
import { hostNamesFor } from '../deployers/registry.ts';
import { admitReceived, type AdmissionContext } from './admit-received.ts';
import { runDeployment, type RunContext } from './run-deployment.ts';
import { statusFor } from './status-for.ts';

export interface WorkerOptions extends Omit<AdmissionContext, 'onAdmitted'>, Omit<RunContext, 'lease'> {
  lease?: LeaseTiming;
  pollMs?: number;
  onAdmitted?: AdmissionContext['onAdmitted'];
}

export class Worker {
  private readonly options: WorkerOptions & { lease: LeaseTiming; pollMs: number };
  private readonly running = new Map<number, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | null = null;
  private stopped = true;
  private lastTakeoverScan = 0;
  private wakeRequested = false;

  constructor(options: WorkerOptions) {
    this.options = { pollMs: 1000, ...options, lease: options.lease ?? DEFAULT_LEASE_TIMING };
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

  /** Stops taking work; waits up to `graceMs` for running deployments (their leases cover the rest). */
  async stop(graceMs = 0): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    if (graceMs > 0) await Promise.race([Promise.all(this.running.values()), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
  }

  /** Deployments this process is running now. */
  get active(): number[] {
    return [...this.running.keys()];
  }

  /** Resolves when every deployment this process runs has ended. */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.all(this.running.values());
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
    if (await admitReceived({ ...options, onAdmitted: options.onAdmitted })) options.statusQueued();
    for (;;) {
      if (this.stopped) return;
      const record = await options.store.claimNext(
        options.owner,
        options.lease.durationMs,
        (r) => hostNamesFor(r.config!),
        (r) => statusFor(r, 'phase', 'in_progress', progressDescription(0, hostNamesFor(r.config!).length, 1), options.links),
      );
      if (!record) break;
      options.statusQueued();
      this.launch(record.id, () => runDeployment({ ...options }, record, false));
    }
    if (Date.now() - this.lastTakeoverScan >= options.lease.scanMs) {
      this.lastTakeoverScan = Date.now();
      for (;;) {
        if (this.stopped) return;
        const record = await options.store.takeOverLapsed(options.owner, options.lease.durationMs);
        if (!record) break;
        options.log.warn({ deployment: record.id }, 'taking over a deployment whose bot stopped renewing its lease');
        this.launch(record.id, () => runDeployment({ ...options }, record, true));
      }
    }
  }

  private launch(id: number, run: () => Promise<void>): void {
    const done = run()
      .catch((error) => this.options.log.error({ err: error, deployment: id }, 'deployment runner failed'))
      .finally(() => {
        this.running.delete(id);
        this.wake();
      });
    this.running.set(id, done);
  }
}

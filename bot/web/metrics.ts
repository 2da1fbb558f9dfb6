// Prometheus metrics (`/metrics`), one registry per bot so tests and several bots in one process
// never mix their counts. Deployments carry `repository` and `environment` labels: only deployments that
// were admitted get them, and admission needs the environment defined in deploy.yml, so the label values
// are bounded by what the installed repositories define, and capped besides (EnvironmentLabels).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EnvironmentActivity, Store } from '../store/store.ts';

/** At most this many (repository, environment) pairs get series of their own; the rest share `_other`. */
export const MAX_LABELLED_ENVIRONMENTS = 200;

const OTHER = { repository: '_other', environment: '_other' } as const;

/** Label values for a repository's environment: its own while within the cap (first come), else `_other`. */
export class EnvironmentLabels {
  private readonly known = new Map<string, { repository: string; environment: string }>();
  private readonly cap: number;
  constructor(cap = MAX_LABELLED_ENVIRONMENTS) {
    this.cap = cap;
  }

  of(repository: string, environment: string): { repository: string; environment: string } {
    const key = JSON.stringify([repository, environment]);
    const known = this.known.get(key);
    if (known) return known;
    if (this.known.size >= this.cap) return OTHER;
    const labels = { repository, environment };
    this.known.set(key, labels);
    return labels;
  }

  /** Every pair that has its own series (so a drained queue shows 0, not a gap). */
  all(): Array<{ repository: string; environment: string }> {
    return [...this.known.values()];
  }
}

export class BotMetrics {
  readonly registry = new Registry();
  readonly environments = new EnvironmentLabels();
  readonly deploymentsFinished = new Counter({
    name: 'shipguard_deployments_finished_total',
    help: 'Deployments that reached a final state, by state, repository and environment',
    labelNames: ['state', 'repository', 'environment'],
    registers: [this.registry],
  });
  readonly deploymentsRefused = new Counter({
    name: 'shipguard_deployments_refused_total',
    help: 'Deployments refused at admission, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly deploymentsIgnored = new Counter({
    name: 'shipguard_deployments_ignored_total',
    help: 'Deployments left alone because they are not shipguard’s (environment not in deploy.yml, no shipguard payload keys)',
    registers: [this.registry],
  });
  readonly deployDuration = new Histogram({
    name: 'shipguard_deploy_duration_seconds',
    help: 'Time from start to end of a deployment, by state, repository and environment',
    labelNames: ['state', 'repository', 'environment'],
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200],
    registers: [this.registry],
  });
  readonly hostDuration = new Histogram({
    name: 'shipguard_host_duration_seconds',
    help: 'Time a host took, by outcome',
    labelNames: ['outcome'],
    buckets: [0.5, 1, 5, 15, 30, 60, 300, 900],
    registers: [this.registry],
  });
  readonly webhookAck = new Histogram({
    name: 'shipguard_webhook_ack_seconds',
    help: 'Time to record a webhook before answering it',
    labelNames: ['event'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly storeErrors = new Counter({
    name: 'shipguard_store_errors_total',
    help: 'Store operations that failed',
    labelNames: ['operation'],
    registers: [this.registry],
  });
  readonly statusesPublished = new Counter({
    name: 'shipguard_statuses_published_total',
    help: 'Deployment statuses written to GitHub',
    labelNames: ['state'],
    registers: [this.registry],
  });

  // Read from the store at each scrape: every replica on one PostgreSQL reports the same values.
  readonly deploymentsRunning = new Gauge({
    name: 'shipguard_deployments_in_flight',
    help: 'Deployments running now, by repository and environment (from the store: the same on every replica)',
    labelNames: ['repository', 'environment'],
    registers: [this.registry],
    collect: () => this.collectActivity(),
  });
  readonly deploymentsWaiting = new Gauge({
    name: 'shipguard_deployments_waiting',
    help: 'Deployments queued behind another in their environment, by repository and environment',
    labelNames: ['repository', 'environment'],
    registers: [this.registry],
    collect: () => this.collectActivity(),
  });
  readonly oldestWaiting = new Gauge({
    name: 'shipguard_deployment_oldest_waiting_seconds',
    help: 'How long the oldest queued deployment has waited (0: none waits), by repository and environment',
    labelNames: ['repository', 'environment'],
    registers: [this.registry],
    collect: () => this.collectActivity(),
  });

  private activitySource: (() => Promise<EnvironmentActivity[]>) | null = null;
  private activityRead: { at: number; done: Promise<void> } | null = null;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** The labels a finished deployment is counted under. */
  labels(state: string, repository: string, environment: string) {
    return { state, ...this.environments.of(repository, environment) };
  }

  /** Where the in-flight and waiting gauges read from, once the store is open. */
  readActivityFrom(source: () => Promise<EnvironmentActivity[]>): void {
    this.activitySource = source;
  }

  /** One store read per scrape for the three gauges (they are collected one after another). */
  private collectActivity(): Promise<void> {
    if (this.activityRead && Date.now() - this.activityRead.at < 1000) return this.activityRead.done;
    this.activityRead = { at: Date.now(), done: this.readActivity() };
    return this.activityRead.done;
  }

  private async readActivity(): Promise<void> {
    let activity: EnvironmentActivity[] | null = null;
    try {
      activity = this.activitySource ? await this.activitySource() : null;
    } catch {
      // Counted in shipguard_store_errors_total; the gauges show nothing rather than stale values.
    }
    for (const gauge of [this.deploymentsRunning, this.deploymentsWaiting, this.oldestWaiting]) gauge.reset();
    if (!activity) return;
    const sums = new Map<
      string,
      { labels: { repository: string; environment: string }; running: number; waiting: number; oldest: number }
    >();
    for (const labels of this.environments.all()) sums.set(JSON.stringify(labels), { labels, running: 0, waiting: 0, oldest: 0 });
    for (const row of activity) {
      const labels = this.environments.of(row.repository, row.environment);
      const key = JSON.stringify(labels);
      const sum = sums.get(key) ?? { labels, running: 0, waiting: 0, oldest: 0 };
      sum.running += row.running;
      sum.waiting += row.waiting;
      sum.oldest = Math.max(sum.oldest, row.oldestWaitingSeconds);
      sums.set(key, sum);
    }
    for (const { labels, running, waiting, oldest } of sums.values()) {
      this.deploymentsRunning.set(labels, running);
      this.deploymentsWaiting.set(labels, waiting);
      this.oldestWaiting.set(labels, oldest);
    }
  }
}

/**
 * The store as the bot uses it, counting every call that fails in `shipguard_store_errors_total` by
 * operation (the method's name). Callers still see the failure: counting changes nothing else.
 */
export function countingStoreErrors(store: Store, metrics: BotMetrics): Store {
  return new Proxy(store, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== 'function' || typeof name !== 'string') return value;
      return (...args: unknown[]) => {
        const count = (error: unknown) => {
          metrics.storeErrors.inc({ operation: name });
          throw error;
        };
        try {
          const result: unknown = value.apply(target, args);
          return result instanceof Promise ? result.catch(count) : result;
        } catch (error) {
          return count(error);
        }
      };
    },
  });
}

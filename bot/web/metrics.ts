// Prometheus metrics (`/metrics`), one registry per bot so tests and several bots in one process
// never mix their counts.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Store } from '../store/store.ts';

export class BotMetrics {
  readonly registry = new Registry();
  readonly deploymentsFinished = new Counter({
    name: 'shipguard_deployments_finished_total',
    help: 'Deployments that reached a final state, by state',
    labelNames: ['state'],
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
    help: 'Time from start to end of a deployment',
    labelNames: ['state'],
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

  constructor() {
    collectDefaultMetrics({ register: this.registry });
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

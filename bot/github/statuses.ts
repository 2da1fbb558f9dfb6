// Publishes deployment statuses from the store's outbox to GitHub, one installation queue at a time.
// Status writes are safe to repeat, so they are retried (5xx, rate limits, expired tokens); a status
// GitHub refuses for good (4xx) is logged and dropped, never retried forever.
import type { Logger } from 'pino';
import { planStatusSends } from '../engine/status-queue.ts';
import type { PendingStatus, Store } from '../store/store.ts';
import { OutboxLoop } from './outbox-loop.ts';

/**
 * A sender holds its installation's queue this long past its last attempt: a bot killed mid-send frees
 * it for the others (and for its own restart) as fast as a deployment's lease lapses.
 */
const STATUS_HOLD_MS = 30_000;
/** Everything pending is planned at once (so terminal statuses go first), a few are sent per round. */
const STATUS_CLAIM = 500;
const STATUS_BATCH = 5;

export interface StatusWriter {
  /** Creates the status on GitHub; throws an error with `.status` (HTTP code) when GitHub refuses. */
  write(status: PendingStatus): Promise<void>;
  /** Whether an earlier attempt, whose answer was lost, did create it (a terminal one: any terminal). */
  alreadyWritten(status: PendingStatus): Promise<boolean>;
}

export interface StatusPublisherOptions {
  store: Store;
  writer: StatusWriter;
  owner: string;
  log: Logger;
  /** Waits between attempts of one write; after the last, the queue backs off for `backoffMs`. */
  retryDelaysMs?: number[];
  backoffMs?: number;
  pollMs?: number;
  onPublished?: (status: PendingStatus) => void;
}

export class StatusPublisher {
  private readonly options: Required<Omit<StatusPublisherOptions, 'onPublished'>> & Pick<StatusPublisherOptions, 'onPublished'>;
  private readonly busy = new Set<number>();
  private readonly loop: OutboxLoop;

  constructor(options: StatusPublisherOptions) {
    this.options = { retryDelaysMs: [1000, 2000, 4000, 8000], backoffMs: 30_000, pollMs: 500, ...options };
    this.loop = new OutboxLoop('status publisher', () => this.drain(), this.options.pollMs, this.options.log);
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** A new status is waiting: look now rather than at the next poll. */
  wake(): void {
    this.loop.wake();
  }

  /** Sends what is pending, installation by installation, until nothing is left to claim. */
  async drain(): Promise<void> {
    const { store, owner } = this.options;
    const senders: Promise<void>[] = [];
    // A sender's failure is caught the moment it happens, not when the round ends: a rejection without a
    // handler while the round still claims (the store went away mid-round) would end the whole process.
    let failure: unknown = null;
    try {
      for (;;) {
        const claimed = await store.claimStatuses(owner, STATUS_HOLD_MS, STATUS_CLAIM, [...this.busy]);
        if (claimed.length === 0) break;
        const installation = claimed[0]!.installationId;
        this.busy.add(installation);
        senders.push(
          this.sendAll(claimed)
            .catch((error: unknown) => {
              failure ??= error;
            })
            .finally(() => this.busy.delete(installation)),
        );
      }
    } catch (error) {
      failure ??= error;
    }
    await Promise.all(senders);
    if (failure !== null) throw failure;
  }

  private async sendAll(claimed: PendingStatus[]): Promise<void> {
    const { store } = this.options;
    const plan = planStatusSends(claimed);
    await store.markStatusesDone(plan.drop.map((s) => s.seq));
    // The rest waits for the next round, planned afresh with whatever has arrived meanwhile.
    const batch = plan.send.slice(0, STATUS_BATCH);
    await store.releaseStatuses(plan.send.slice(STATUS_BATCH).map((s) => s.seq));
    for (const [index, status] of batch.entries()) {
      const sent = await this.sendWithRetries(
        status,
        batch.slice(index).map((s) => s.seq),
      );
      if (sent === 'lost') return; // held too long (a stuck write): another replica has the queue now
      if (!sent) {
        // Keep the order: the rest of this installation's queue waits for the failed one.
        await store.releaseStatuses(batch.slice(index + 1).map((s) => s.seq));
        return;
      }
    }
  }

  private async sendWithRetries(status: PendingStatus, remaining: number[]): Promise<boolean | 'lost'> {
    const { store, writer, log, retryDelaysMs, backoffMs, owner } = this.options;
    // An attempt may have landed although its answer was lost (a timeout, a reset, a bot killed mid-write):
    // from the second attempt on, GitHub is asked first, so a status is never written twice.
    let triedBefore = status.attempts > 0;
    for (let attempt = 0; ; attempt++) {
      // Renewed before every attempt: the claim outlives this bot by at most STATUS_HOLD_MS.
      if (!(await store.holdStatuses(owner, remaining, STATUS_HOLD_MS))) return 'lost';
      try {
        if (triedBefore && (await writer.alreadyWritten(status))) {
          log.info(
            { deployment: status.deploymentId, state: status.state },
            'a status whose answer was lost had reached GitHub; not sent again',
          );
        } else {
          await store.markStatusAttempted(status.seq);
          triedBefore = true;
          await writer.write(status);
        }
        await store.markStatusesDone([status.seq]);
        if (status.kind !== 'progress') await store.setGitHubState(status.deploymentId, status.state);
        this.options.onPublished?.(status);
        return true;
      } catch (error) {
        const code = (error as { status?: number }).status;
        if (code !== undefined && isPermanent(code)) {
          log.error({ err: error, deployment: status.deploymentId, state: status.state }, 'GitHub refused a deployment status; dropped');
          await store.markStatusesDone([status.seq]);
          return true;
        }
        if (attempt >= retryDelaysMs.length) {
          log.warn(
            { err: error, deployment: status.deploymentId },
            `status write failed ${attempt + 1} times; retrying in ${backoffMs} ms`,
          );
          await store.markStatusFailed(status.seq, String((error as Error).message), backoffMs);
          return false;
        }
        await sleep(retryAfterMs(error) ?? retryDelaysMs[attempt]!);
      }
    }
  }
}

/** 4xx other than auth and rate limits will not change on retry. */
function isPermanent(code: number): boolean {
  return code >= 400 && code < 500 && code !== 401 && code !== 403 && code !== 408 && code !== 429;
}

function retryAfterMs(error: unknown): number | null {
  const headers = (error as { response?: { headers?: Record<string, string> } }).response?.headers;
  const seconds = Number(headers?.['retry-after']);
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds * 1000, 60_000) : null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

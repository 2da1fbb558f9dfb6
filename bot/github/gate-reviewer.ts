// Sends gated workflow jobs' reviews from the store's outbox to GitHub: `POST` to the run's
// deployment_protection_rule callback with `{environment_name, state?, comment}`. Like statuses, a review
// whose answer was lost is checked before it is sent again: an approval or rejection has landed once the
// run no longer waits. A review GitHub refuses for good (4xx) is logged and dropped.
import type { Logger } from 'pino';
import type { PendingGateReview, Store } from '../store/store.ts';
import { splitRepository, withFreshToken, type GitHubAccess } from './github-access.ts';
import { OutboxLoop } from './outbox-loop.ts';
import { workflowRun } from './workflow-runs.ts';

const REVIEW_HOLD_MS = 30_000;
const WRITE_TIMEOUT_MS = 15_000;
const RETRY_IN_MS = 5_000;
const CLAIM = 20;

export interface GateReviewerOptions {
  store: Store;
  access: GitHubAccess;
  owner: string;
  log: Logger;
  pollMs?: number;
  onSent?(review: PendingGateReview): void;
}

export class GateReviewer {
  private readonly options: GateReviewerOptions & { pollMs: number };
  private readonly loop: OutboxLoop;

  constructor(options: GateReviewerOptions) {
    this.options = { pollMs: 1000, ...options };
    this.loop = new OutboxLoop('gate reviewer', () => this.drain(), this.options.pollMs, this.options.log);
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  wake(): void {
    this.loop.wake();
  }

  /** Sends what is pending, oldest first; a job's reviews keep their order (a failed one holds the rest back). */
  async drain(): Promise<void> {
    const { store, owner } = this.options;
    for (;;) {
      const claimed = await store.claimGateReviews(owner, REVIEW_HOLD_MS, CLAIM);
      if (!claimed.length) return;
      const held = new Set<number>();
      for (const review of claimed) {
        if (this.loop.stopped || held.has(review.deploymentId)) {
          // Waits as long as the failed one before it, so that a job's reviews keep their order.
          await store.markGateReviewFailed(
            review.seq,
            'held back behind an earlier review of its job',
            this.loop.stopped ? 0 : RETRY_IN_MS,
          );
          continue;
        }
        if (!(await this.send(review))) held.add(review.deploymentId);
      }
      if (held.size) return;
    }
  }

  private async send(review: PendingGateReview): Promise<boolean> {
    const { store, access, log } = this.options;
    try {
      if (review.attempts > 0 && review.state !== null && (await this.landed(review))) {
        log.info({ deployment: review.deploymentId, state: review.state }, 'a review whose answer was lost had reached GitHub');
      } else {
        await store.markGateReviewAttempted(review.seq);
        await withFreshToken(access, review.installationId, (client) =>
          client.request('POST /repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule', {
            ...splitRepository(review.repository),
            run_id: review.runId,
            environment_name: review.environment,
            comment: review.comment,
            ...(review.state ? { state: review.state } : {}),
            request: { signal: AbortSignal.timeout(WRITE_TIMEOUT_MS), retries: 0 },
          }),
        );
      }
      await store.markGateReviewDone(review.seq);
      this.options.onSent?.(review);
      return true;
    } catch (error) {
      const code = (error as { status?: number }).status;
      if (code !== undefined && code >= 400 && code < 500 && ![401, 403, 408, 429].includes(code)) {
        log.error({ err: error, deployment: review.deploymentId, state: review.state }, 'GitHub refused a gate review; dropped');
        await store.markGateReviewDone(review.seq);
        return true;
      }
      log.warn({ err: error, deployment: review.deploymentId }, `gate review failed; retrying in ${RETRY_IN_MS} ms`);
      await store.markGateReviewFailed(review.seq, String((error as Error).message), RETRY_IN_MS);
      return false;
    }
  }

  /** An approval or rejection has landed once the run no longer waits for this environment. */
  private async landed(review: PendingGateReview): Promise<boolean> {
    const run = await workflowRun(this.options.access, review.installationId, review.repository, review.runId);
    return run.status !== 'waiting';
  }
}

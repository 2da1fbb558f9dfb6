// GitHub's limits are per token, and a token is per installation: one limiter per installation, so that one
// busy installation never slows another. Writes (POST, PATCH, PUT, DELETE) of an installation go one at a
// time, a second apart (start to start, each after the previous answer), as GitHub asks; a `retry-after`
// answer (secondary limit) or an exhausted primary quota (`x-ratelimit-remaining: 0` until
// `x-ratelimit-reset`) holds every request of that installation until then. Nothing is retried here: callers that retry (the status publisher) do so through the limiter.
import type { GitHubClient } from './github-access.ts';

export const WRITE_SPACING_MS = 1_000;
/** A hold longer than this is cut to it: a deadline elsewhere (a webhook, a lease) must still be met. */
const MAX_HOLD_MS = 60_000;

export interface LimiterClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: LimiterClock = { now: () => Date.now(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };

interface InstallationLane {
  /** The last write's turn: the next one starts after it (and its spacing). */
  lastWrite: Promise<void>;
  /** No request before this (retry-after, exhausted quota). */
  holdUntil: number;
}

export class WriteLimiter {
  private readonly lanes = new Map<number, InstallationLane>();
  private readonly clock: LimiterClock;
  private readonly spacingMs: number;

  constructor(options: { clock?: LimiterClock; spacingMs?: number } = {}) {
    this.clock = options.clock ?? realClock;
    this.spacingMs = options.spacingMs ?? WRITE_SPACING_MS;
  }

  /** Sends `request` for `installationId` when its installation's limits allow, and learns from the answer. */
  async schedule<T>(installationId: number, method: string, request: () => Promise<T>): Promise<T> {
    const lane = this.lane(installationId);
    if (!isWrite(method)) {
      await this.waitForHold(lane);
      return this.observe(lane, request);
    }
    const previous = lane.lastWrite;
    let turnOver!: () => void;
    lane.lastWrite = new Promise<void>((resolve) => (turnOver = resolve));
    await previous;
    await this.waitForHold(lane);
    // The next write of this installation starts a second after this one started, and not before this one's
    // answer is in (so that a retry-after in it holds the next one).
    const spaced = this.clock.sleep(this.spacingMs);
    const sent = this.observe(lane, request);
    void Promise.all([spaced, sent.catch(() => {})]).then(turnOver);
    return sent;
  }

  /** Wraps an installation's client: every request it sends goes through this limiter. */
  limit(client: GitHubClient, installationId: number): GitHubClient {
    client.hook.wrap('request', (request, options) =>
      // The app's own calls (minting this installation's token, with the app's JWT) are not the
      // installation's, and they run *inside* an installation request that needs a token: limiting them
      // would make a first write wait for itself.
      String(options.url).startsWith('/app/')
        ? request(options)
        : this.schedule(installationId, options.method, async () => request(options)),
    );
    return client;
  }

  private lane(installationId: number): InstallationLane {
    let lane = this.lanes.get(installationId);
    if (!lane) this.lanes.set(installationId, (lane = { lastWrite: Promise.resolve(), holdUntil: 0 }));
    return lane;
  }

  private async waitForHold(lane: InstallationLane): Promise<void> {
    const wait = Math.min(lane.holdUntil - this.clock.now(), MAX_HOLD_MS);
    if (wait > 0) await this.clock.sleep(wait);
  }

  private async observe<T>(lane: InstallationLane, request: () => Promise<T>): Promise<T> {
    try {
      const response = await request();
      this.learn(lane, (response as { headers?: Headers }).headers);
      return response;
    } catch (error) {
      this.learn(lane, (error as { response?: { headers?: Headers } }).response?.headers);
      throw error;
    }
  }

  private learn(lane: InstallationLane, headers: Headers | undefined): void {
    if (!headers) return;
    const now = this.clock.now();
    const retryAfter = Number(headers['retry-after']);
    if (Number.isFinite(retryAfter) && retryAfter > 0) lane.holdUntil = Math.max(lane.holdUntil, now + retryAfter * 1000);
    if (String(headers['x-ratelimit-remaining']) === '0') {
      const reset = Number(headers['x-ratelimit-reset']) * 1000;
      if (Number.isFinite(reset) && reset > now) lane.holdUntil = Math.max(lane.holdUntil, reset);
    }
  }
}

type Headers = Record<string, string | number | undefined>;

function isWrite(method: string): boolean {
  return method === 'POST' || method === 'PATCH' || method === 'PUT' || method === 'DELETE';
}

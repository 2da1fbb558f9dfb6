// Time as the Action sees it: a clock, a way to wait, and the intervals it polls and gives up at.
// Tests pass a virtual clock so that minutes of waiting take no real time.

export interface Timing {
  /** Milliseconds since the epoch (also compared with GitHub's x-ratelimit-reset). */
  now(): number;
  sleep(ms: number): Promise<void>;
  /** First pause between two polls of the statuses; it grows while nothing changes. */
  pollFirstMs: number;
  /** Longest pause between two polls. */
  pollMaxMs: number;
  /** Bound on the create call: past it the outcome is unknown and the Action looks before it creates again. */
  createTimeoutMs: number;
  /** Pause before looking for a deployment whose create call had an unknown outcome, so it can land. */
  settleMs: number;
}

export const REAL_TIMING: Timing = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  pollFirstMs: 2_000,
  pollMaxMs: 15_000,
  createTimeoutMs: 30_000,
  settleMs: 3_000,
};

/** 2s, 3s, 4.5s, … up to the maximum. */
export function nextPollDelay(previousMs: number, timing: Timing): number {
  return Math.min(Math.round(previousMs * 1.5), timing.pollMaxMs);
}

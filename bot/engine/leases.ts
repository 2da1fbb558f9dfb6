// Rule 6's timing and the runner's view of its own lease. A running deployment's lease is renewed every
// 10 s and lapses after 30 s without renewal; replicas look for lapsed leases often enough to take over
// within 30 s more. A runner never relies on the store to tell it that its lease is gone (the store may
// be what it cannot reach): it counts from the last renewal it *sent* that succeeded, which the database
// can only have granted later, so its own count always ends before the lease does.

export const LEASE_RENEW_MS = 10_000;
export const LEASE_DURATION_MS = 30_000;
export const TAKEOVER_SCAN_MS = 10_000;
/** A `received` deployment being admitted is held this long by one replica. */
export const ADMISSION_HOLD_MS = 60_000;

export interface LeaseTiming {
  renewMs: number;
  durationMs: number;
  scanMs: number;
}

export const DEFAULT_LEASE_TIMING: LeaseTiming = { renewMs: LEASE_RENEW_MS, durationMs: LEASE_DURATION_MS, scanMs: TAKEOVER_SCAN_MS };

/** Timing for a lease of `durationMs` (SHIPGUARD_LEASE): renewed and scanned three times per lease. */
export function leaseTimingFor(durationMs: number): LeaseTiming {
  return { durationMs, renewMs: Math.floor(durationMs / 3), scanMs: Math.floor(durationMs / 3) };
}

/** Renewal must come well before lapse, or a healthy bot would lose its own deployments. */
export function checkLeaseTiming(timing: LeaseTiming): void {
  if (!(timing.renewMs * 2 < timing.durationMs)) throw new Error('lease renewal must be less than half the lease duration');
}

/**
 * What a runner may do, `msSinceRenewal` after it sent the last renewal that succeeded:
 * - `held`: act (start steps);
 * - `stale`: start nothing new, let running commands go on, keep trying to renew;
 * - `lapsing`: kill what it runs (before the lease lapses and another bot may take over): a third of the
 *   lease is left for the kills to be confirmed.
 */
export type LeaseStanding = 'held' | 'stale' | 'lapsing';

export function leaseStanding(msSinceRenewal: number, timing: LeaseTiming): LeaseStanding {
  if (msSinceRenewal < timing.durationMs / 2) return 'held';
  if (msSinceRenewal < (timing.durationMs * 2) / 3) return 'stale';
  return 'lapsing';
}

/** After a failed renewal, try again this soon (a short outage must not cost the lease). */
export function renewalRetryMs(timing: LeaseTiming): number {
  return Math.min(timing.renewMs, Math.max(100, Math.floor(timing.durationMs / 30)));
}

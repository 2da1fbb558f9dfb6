// Rule 6's timing: a running deployment's lease is renewed every 10 s and lapses after 30 s without
// renewal; replicas and restarts look for lapsed leases often enough to take over within 30 s more.

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

/** Renewal must come well before lapse, or a healthy bot would lose its own deployments. */
export function checkLeaseTiming(timing: LeaseTiming): void {
  if (!(timing.renewMs * 2 < timing.durationMs)) throw new Error('lease renewal must be less than half the lease duration');
}

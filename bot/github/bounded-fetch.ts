// Every GitHub call has a deadline (exactly once under faults: "bounded"): a hung API answers as an
// error within seconds, so one slow installation cannot stall admission, claims or statuses for others.
import { ProbotOctokit } from 'probot';

/** Longer than any answer GitHub gives when it is well, far shorter than a webhook's or a lease's life. */
export const GITHUB_CALL_TIMEOUT_MS = 15_000;

export function boundedFetch(timeoutMs = GITHUB_CALL_TIMEOUT_MS): typeof fetch {
  return (input, init) => {
    const deadline = AbortSignal.timeout(timeoutMs);
    return fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, deadline]) : deadline });
  };
}

/** Probot's Octokit with that deadline on every request. */
export const BoundedOctokit = ProbotOctokit.defaults({ request: { fetch: boundedFetch() } });

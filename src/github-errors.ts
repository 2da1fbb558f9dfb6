// How the Action reads a failed GitHub call: did GitHub answer (and what), was it a rate limit, or is the
// outcome unknown (no answer, or a 5xx that may come after the work was done)?

export interface GitHubFailure {
  /** HTTP status GitHub answered with; undefined when no answer arrived (network error, timeout). */
  status: number | undefined;
  message: string;
  headers: Record<string, string | undefined>;
  data: unknown;
}

export function describeFailure(error: unknown): GitHubFailure {
  const failure = error as {
    status?: unknown;
    message?: unknown;
    response?: { status?: unknown; headers?: Record<string, string | undefined>; data?: unknown };
  };
  // @octokit/request gives network errors and aborts status 500 too, but without a response.
  const answered = typeof failure?.response?.status === 'number';
  const data = failure?.response?.data;
  const githubMessage = typeof (data as { message?: unknown })?.message === 'string' ? (data as { message: string }).message : undefined;
  return {
    status: answered ? (failure.response!.status as number) : undefined,
    message: githubMessage ?? (typeof failure?.message === 'string' ? failure.message : String(error)),
    headers: failure?.response?.headers ?? {},
    data,
  };
}

/** No answer, or a server error: the request may or may not have been acted on. */
export function isUnknownOutcome(failure: GitHubFailure): boolean {
  return failure.status === undefined || failure.status >= 500;
}

/**
 * For a rate-limited answer (429, or 403 with retry-after or no remaining quota): how long GitHub asks
 * to wait. undefined for any other answer, including a 403 for missing permissions.
 */
export function rateLimitDelayMs(failure: GitHubFailure, nowMs: number): number | undefined {
  if (failure.status !== 403 && failure.status !== 429) return undefined;
  const retryAfter = failure.headers['retry-after'];
  if (retryAfter !== undefined && /^\d+$/.test(retryAfter.trim())) return Number(retryAfter.trim()) * 1000;
  const reset = failure.headers['x-ratelimit-reset'];
  if (failure.headers['x-ratelimit-remaining'] === '0' && reset !== undefined && /^\d+$/.test(reset.trim())) {
    return Math.max(0, Number(reset.trim()) * 1000 - nowMs) + 1000;
  }
  // GitHub's documented advice for a secondary rate limit that names no time: wait at least a minute.
  if (failure.status === 429 || /rate limit/i.test(failure.message)) return 60_000;
  return undefined;
}

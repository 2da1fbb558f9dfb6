// One write limiter per installation (GitHub's limits are per token): writes a second apart within an
// installation, installations side by side; retry-after and an exhausted quota hold that installation only.
// Virtual time: vitest's fake clock drives the limiter's clock; start times are read from it.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProbotOctokit } from 'probot';
import { WriteLimiter } from '../../bot/github/write-limiter.ts';

describe('per-installation write limiter', () => {
  let t0: number;
  let starts: Array<{ what: string; at: number }>;
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
    t0 = Date.now();
    starts = [];
  });
  afterEach(() => vi.useRealTimers());

  /** By start time; requests that start at the same virtual moment, by name. */
  const sorted = () => [...starts].sort((a, b) => a.at - b.at || a.what.localeCompare(b.what));
  const answer =
    (what: string, headers: Record<string, string> = {}) =>
    async () => {
      starts.push({ what, at: Date.now() - t0 });
      return { status: 200, headers };
    };
  const refusal = (what: string, headers: Record<string, string>) => async () => {
    starts.push({ what, at: Date.now() - t0 });
    throw Object.assign(new Error('limited'), { status: 403, response: { headers } });
  };

  it('spaces one installation’s writes a second apart, and never makes another installation wait for them', async () => {
    const limiter = new WriteLimiter();
    const all = Promise.all([
      limiter.schedule(1, 'POST', answer('a1')),
      limiter.schedule(1, 'POST', answer('a2')),
      limiter.schedule(1, 'PATCH', answer('a3')),
      limiter.schedule(2, 'POST', answer('b1')),
      limiter.schedule(1, 'GET', answer('a-read')),
    ]);
    await vi.advanceTimersByTimeAsync(5_000);
    await all;
    expect(sorted()).toEqual([
      { what: 'a-read', at: 0 },
      { what: 'a1', at: 0 },
      { what: 'b1', at: 0 },
      { what: 'a2', at: 1_000 },
      { what: 'a3', at: 2_000 },
    ]);
  });

  it('holds an installation after retry-after or an exhausted quota, and only that one', async () => {
    const limiter = new WriteLimiter();
    await expect(limiter.schedule(1, 'POST', refusal('a1', { 'retry-after': '30' }))).rejects.toThrow('limited');
    const reset = String(Math.floor((t0 + 120_000) / 1000));
    await limiter.schedule(3, 'GET', answer('c1', { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset }));
    const later = Promise.all([
      limiter.schedule(1, 'GET', answer('a-read')),
      limiter.schedule(2, 'POST', answer('b1')),
      limiter.schedule(3, 'GET', answer('c2')),
    ]);
    await vi.advanceTimersByTimeAsync(130_000);
    await later;
    expect(sorted()).toEqual([
      { what: 'a1', at: 0 },
      { what: 'b1', at: 0 },
      { what: 'c1', at: 0 },
      { what: 'a-read', at: 30_000 },
      { what: 'c2', at: 60_000 }, // a hold is cut at a minute: every other deadline must still be met
    ]);
  });
});

describe('a limited installation client', () => {
  it('mints its token inside its first write without waiting for itself (the app’s calls are not limited)', async () => {
    // Octokit's app auth mints the installation token with the client's own request, from inside the
    // request that needs it: through the limiter, a first write would wait for its own turn forever.
    const seen: string[] = [];
    const client = new ProbotOctokit({
      request: {
        fetch: async (url: string, init: { method: string }) => {
          seen.push(`${init.method} ${new URL(url).pathname}`);
          return new Response('{}', { status: 201, headers: { 'content-type': 'application/json' } });
        },
      },
    });
    client.hook.before('request', async (options) => {
      if (options.url.startsWith('/repos/') && !seen.length) await client.request('POST /app/installations/{id}/access_tokens', { id: 1 });
    });
    new WriteLimiter({ spacingMs: 0 }).limit(client, 1);
    await client.request('POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', {
      owner: 'acme',
      repo: 'app',
      deployment_id: 1,
      state: 'success',
    });
    expect(seen).toEqual(['POST /app/installations/1/access_tokens', 'POST /repos/acme/app/deployments/1/statuses']);
  });
});

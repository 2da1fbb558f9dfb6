// Gated workflow jobs in the store, on both backends: their reviews are queued with the decisions they
// report, an approval is queued exactly once with the claim that makes the job running (no lease: nothing
// runs in the bot), no status is ever queued for them, and their end frees the environment.
import { afterEach, describe, expect, it } from 'vitest';
import { parseDeployConfig } from '../../bot/engine/deploy-config.ts';
import type { StatusToPublish } from '../../bot/engine/status-for.ts';
import type { NewDeployment } from '../../bot/store/store.ts';
import { admitDeployment } from '../../bot/worker/admit-received.ts';
import { freshStore, STORE_KINDS, type TestStore } from '../support/databases.ts';

const config = parseDeployConfig('environments:\n  staging: { deployer: workflow, timeouts: { total: 1s } }\n');
const staging = { ok: true as const, environment: config.environments.staging! };
const gate = { runId: 0, requester: 'alice', requesterRole: 'write', permitted: true, failingContexts: [], forced: false };

function job(id: number, sha: string): NewDeployment {
  return {
    id,
    installationId: 1,
    repository: 'acme/app',
    environment: 'staging',
    sha: sha.repeat(40),
    ref: 'main',
    task: 'deploy',
    forced: false,
    requestedBy: 'alice',
    payload: {},
    workflowRunId: id + 1000,
  };
}

/** What the admission's caller would queue: statuses the store must drop for gated jobs. */
const statuses = (_: unknown, record: { id: number }): StatusToPublish[] => [
  {
    deploymentId: record.id,
    installationId: 1,
    repository: 'acme/app',
    kind: 'phase',
    state: 'queued',
    description: 'queued',
    logUrl: null,
    environmentUrl: null,
  },
];
const started = (record: { id: number }): StatusToPublish => ({ ...statuses(null, record)[0]!, state: 'in_progress' });

describe.each(STORE_KINDS)('store: gated workflow jobs (%s)', (kind) => {
  let t: TestStore;
  afterEach(async () => {
    await t?.cleanup();
  });

  it('queues one approval per turn, a progress comment for the waiting one, no status, and frees the environment at the job end', async () => {
    t = await freshStore(kind);
    const { store } = t;
    for (const [id, sha] of [
      [1, 'a'],
      [2, 'b'],
    ] as const) {
      expect(await store.recordReceived(job(id, sha))).toBe(true);
      expect(await store.recordReceived(job(id, sha))).toBe(false); // redelivery
      await admitDeployment(store, id, { config: staging, endedOnGitHub: null, gate: { ...gate, runId: id + 1000 } }, (a) =>
        statuses(a, { id: id }),
      );
    }
    const first = await Promise.all([store.claimNext('a', 10_000, started), store.claimNext('b', 10_000, started)]);
    expect(first.filter(Boolean).map((r) => r!.id)).toEqual([1]);
    expect(first.find(Boolean)).toMatchObject({ state: 'running', leaseExpiresAt: null, workflowRunId: 1001 });
    expect(await store.takeOverLapsed('c', 10_000, [])).toBeNull();

    const reviews = await store.claimGateReviews('sender', 30_000, 10);
    expect(reviews.map((r) => [r.deploymentId, r.runId, r.state])).toEqual([
      [2, 1002, null],
      [1, 1001, 'approved'],
    ]);
    expect(reviews[0]!.comment).toBe('waiting for its turn; 1 ahead in the queue of staging');
    expect(await store.claimGateReviews('other', 30_000, 10)).toEqual([]);
    for (const review of reviews) await store.markGateReviewDone(review.seq);
    expect(await store.claimStatuses('sender', 30_000, 10, [])).toEqual([]);

    expect(await store.endGated(1, { state: 'succeeded', description: 'deployed' })).toBe(true);
    expect(await store.endGated(1, { state: 'failed', description: 'again' })).toBe(false);
    expect((await store.deployment(1))!.state).toBe('succeeded');
    expect((await store.claimNext('a', 10_000, started))!.id).toBe(2);
    expect((await store.claimGateReviews('sender', 30_000, 10)).map((r) => [r.deploymentId, r.state])).toEqual([[2, 'approved']]);
  });

  it('an approved job past timeouts.total is ended error and its environment released; a waiting one can only be cancelled', async () => {
    t = await freshStore(kind);
    const { store } = t;
    await store.recordReceived(job(1, 'a'));
    await admitDeployment(store, 1, { config: staging, endedOnGitHub: null, gate: { ...gate, runId: 1001 } }, (a) =>
      statuses(a, { id: 1 }),
    );
    await store.claimNext('a', 10_000, started);
    await store.recordReceived(job(2, 'b'));
    await admitDeployment(store, 2, { config: staging, endedOnGitHub: null, gate: { ...gate, runId: 1002 } }, (a) =>
      statuses(a, { id: 2 }),
    );
    const deadline = Date.now() + 30_000;
    let overdue = await store.endOverdueGated();
    while (!overdue.length && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      overdue = await store.endOverdueGated();
    }
    expect(overdue.map((r) => [r.id, r.state, r.description])).toEqual([
      [1, 'error', 'no end reported by workflow run 1001 within timeouts.total; environment released, outcome unknown'],
    ]);
    expect(await store.endGated(2, { state: 'succeeded', description: 'run ended before its turn' })).toBe(true);
    expect((await store.deployment(2))!.state).toBe('cancelled');
    expect(await store.claimNext('a', 10_000, started)).toBeNull();
  });

  it('a new attempt of a run replaces its earlier attempt still open here (cancelled, then re-run): no duplicate, no approval for it', async () => {
    t = await freshStore(kind);
    const { store } = t;
    const attempt = (id: number): NewDeployment => ({ ...job(id, 'a'), workflowRunId: 500 });
    await store.recordReceived(job(9, 'c'));
    await admitDeployment(store, 9, { config: staging, endedOnGitHub: null, gate: { ...gate, runId: 1009 } }, (a) =>
      statuses(a, { id: 9 }),
    );
    await store.claimNext('a', 10_000, started); // the environment is busy: the attempts wait
    await store.recordReceived(attempt(1));
    await admitDeployment(store, 1, { config: staging, endedOnGitHub: null, gate: { ...gate, runId: 500 } }, (a) => statuses(a, { id: 1 }));
    await store.recordReceived(attempt(2));
    expect(
      await admitDeployment(store, 2, { config: staging, endedOnGitHub: null, gate: { ...gate, runId: 500 } }, (a) =>
        statuses(a, { id: 2 }),
      ),
    ).toMatchObject({ kind: 'queue' });
    expect(await store.deployment(1)).toMatchObject({
      state: 'cancelled',
      description: 'an earlier attempt of workflow run 500, replaced by #2; its end was not reported',
    });
    await store.endGated(9, { state: 'succeeded', description: 'deployed' });
    expect((await store.claimNext('a', 10_000, started))!.id).toBe(2);
  });
});

import { describe, expect, it } from 'vitest';
import { admit, type AdmissionFacts, type GateFacts } from '../../bot/engine/admission.ts';
import { parseDeployConfig } from '../../bot/engine/deploy-config.ts';
import { admissionReviews, approvalReview, fitGateComment, MAX_GATE_COMMENT } from '../../bot/engine/gate-reviews.ts';
import { gatedEndFromRun, gatedEndFromStatus } from '../../bot/engine/gated-end.ts';
import { runForces } from '../../bot/worker/admit-received.ts';

const SHA = 'd0b1e00'.padEnd(40, '0');
const config = parseDeployConfig(`
environments:
  staging: { deployer: workflow }
  production: { deployer: workflow, permission: maintain, required_contexts: [ci], queue: latest, timeouts: { total: 30s } }
  vms: { deployer: local, deploy: ./deploy }
`);

const gate = (change: Partial<GateFacts> = {}): GateFacts => ({
  runId: 77,
  requester: 'alice',
  requesterRole: 'write',
  permitted: true,
  failingContexts: [],
  forced: false,
  ...change,
});

function facts(change: Partial<AdmissionFacts> = {}, env = 'staging'): AdmissionFacts {
  return {
    candidate: {
      id: 1050,
      repository: 'acme/app',
      environment: env,
      sha: SHA,
      ref: 'main',
      task: 'deploy',
      forced: false,
      requestedBy: 'alice',
    },
    config: { ok: true, environment: config.environments[env]! },
    sameKey: [],
    sameIdempotencyKey: [],
    endedOnGitHub: null,
    lock: null,
    succeededIn: [],
    waiting: [],
    running: null,
    live: null,
    gate: gate(),
    now: new Date('2026-12-01T15:00:00Z'),
    ...change,
  };
}

const decide = (f: AdmissionFacts) => ({ admission: admit(f), reviews: admissionReviews(admit(f), f) });

describe('gated workflow jobs: the engine decides with the same rules', () => {
  it('approves at once (queues, no comment) when the environment is free', () => {
    expect(decide(facts())).toEqual({ admission: { kind: 'queue', supersede: [] }, reviews: [] });
  });

  it('rule 1: a SHA live on the environment is rejected, saying since when, by which run, and how to force', () => {
    const original = { id: 1042, state: 'succeeded' as const, finishedAt: new Date('2026-12-01T14:02:00Z'), workflowRunId: 70 };
    const { reviews } = decide(facts({ sameKey: [original], live: { id: 1042, sha: SHA, finishedAt: original.finishedAt } }));
    expect(reviews).toEqual([
      {
        deploymentId: 1050,
        state: 'rejected',
        comment:
          'd0b1e00 is already live on staging since 14:02 UTC (#1042, run 70); to deploy it again, run the workflow by workflow_dispatch with a run-name ending in --force',
      },
    ]);
  });

  it('rule 1: a failed attempt does not block; a forcing run passes a live SHA', () => {
    expect(decide(facts({ sameKey: [{ id: 1042, state: 'failed' }] })).admission.kind).toBe('queue');
    expect(decide(facts({ sameKey: [{ id: 1042, state: 'succeeded' }], gate: gate({ forced: true }) })).admission.kind).toBe('queue');
  });

  it('rule 2: waits behind the running deploy with a progress comment; queue: latest rejects the older waiting runs', () => {
    expect(decide(facts({ running: { id: 1042, workflowRunId: 70 }, waiting: [1043] })).reviews).toEqual([
      { deploymentId: 1050, state: null, comment: 'waiting for #1042, run 70 to finish; 1 ahead in the queue of staging' },
    ]);
    const latest = decide(facts({ running: { id: 1042, workflowRunId: null }, waiting: [1043] }, 'production'));
    expect(latest.admission).toEqual({ kind: 'queue', supersede: [1043] });
    expect(latest.reviews).toEqual([
      {
        deploymentId: 1043,
        state: 'rejected',
        comment: 'superseded by #1050 (run 77): production keeps only the newest waiting deploy (queue: latest)',
      },
      { deploymentId: 1050, state: null, comment: 'waiting for #1042 to finish; 0 ahead in the queue of production' },
    ]);
  });

  it('rejects a user below the permission, red required checks, and an environment shipguard deploys itself', () => {
    const denied = decide(facts({ gate: gate({ permitted: false, requester: 'bob', requesterRole: 'write' }) }, 'production'));
    expect(denied.reviews[0]).toMatchObject({
      state: 'rejected',
      comment: '@bob (write) may not deploy to production: it needs maintain permission',
    });
    const red = decide(facts({ gate: gate({ failingContexts: [{ context: 'ci', state: 'pending' }] }) }, 'production'));
    expect(red.reviews[0]!.comment).toBe('required checks are not green on d0b1e00: ci (pending)');
    const own = decide(facts({}, 'vms'));
    expect(own.reviews[0]!.comment).toMatch(/^vms is deployed by shipguard itself \(deployer: local\)/);
  });

  it('a deployment (Action, ChatOps) for a deployer: workflow environment is refused: the bot runs nothing there', () => {
    expect(admit(facts({ gate: null }))).toMatchObject({
      kind: 'refuse',
      status: 'error',
      description: expect.stringContaining('deployer: workflow'),
    });
  });

  it('a locked environment rejects the runs of others, naming the lock', () => {
    const lock = { owner: 'carol', reason: 'migration', lockedAt: new Date('2026-12-01T14:50:00Z') };
    expect(decide(facts({ lock })).reviews[0]!.comment).toBe('staging is locked by @carol (10m ago): migration');
    expect(decide(facts({ lock: { ...lock, owner: 'alice' } })).admission.kind).toBe('queue');
  });

  it('comments fit GitHub (1,024 characters); force only by workflow_dispatch with a run-name ending in --force', () => {
    expect(fitGateComment('x'.repeat(2000))).toHaveLength(MAX_GATE_COMMENT);
    expect(approvalReview(5, 'staging')).toMatchObject({ state: 'approved' });
    expect(runForces({ event: 'workflow_dispatch', displayTitle: 'deploy d0b1e00 --force' })).toBe(true);
    expect(runForces({ event: 'push', displayTitle: 'deploy --force' })).toBe(false);
    expect(runForces({ event: 'workflow_dispatch', displayTitle: 'deploy --force-freeze' })).toBe(false);
  });

  it('an end is what GitHub showed: success and failure as reported; anything unobserved is unknown, never success', () => {
    expect(gatedEndFromStatus('success', '', 9).state).toBe('succeeded');
    expect(gatedEndFromStatus('failure', 'boom', 9)).toEqual({ state: 'failed', description: "the workflow job's deploy failed: boom" });
    expect(gatedEndFromStatus('inactive', '', 9).state).toBe('error');
    expect(gatedEndFromRun(77, 'success').state).toBe('error');
  });
});

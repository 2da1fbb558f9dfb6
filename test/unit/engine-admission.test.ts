import { describe, expect, it } from 'vitest';
import { admit, sameAdmissionFacts, type AdmissionFacts, type Candidate } from '../../bot/engine/admission.ts';
import { parseDeployConfig } from '../../bot/engine/deploy-config.ts';

const SHA = 'a'.repeat(40);
const config = parseDeployConfig(`
environments:
  staging: { deployer: local, deploy: ./deploy }
  latest: { deployer: local, deploy: ./deploy, queue: latest }
  production: { deployer: local, deploy: ./deploy, requires: [staging] }
`);

function facts(change: Partial<Omit<AdmissionFacts, 'candidate'>> & { candidate?: Partial<Candidate>; env?: string } = {}): AdmissionFacts {
  const env = change.env ?? 'staging';
  return {
    config: { ok: true, environment: config.environments[env]! },
    sameKey: [],
    sameIdempotencyKey: [],
    endedOnGitHub: null,
    lock: null,
    succeededIn: [],
    waiting: [],
    now: new Date('2026-11-27T12:00:00Z'),
    ...change,
    candidate: {
      id: 10,
      repository: 'acme/app',
      environment: env,
      sha: SHA,
      ref: 'main',
      task: 'deploy',
      forced: false,
      requestedBy: 'alice',
      ...change.candidate,
    },
  };
}

describe('rule 1 (duplicates)', () => {
  for (const state of ['queued', 'running', 'succeeded'] as const) {
    it(`refuses a deployment whose key is ${state}, as inactive "duplicate of #N (${state})"`, () => {
      const result = admit(facts({ sameKey: [{ id: 7, state }] }));
      expect(result).toMatchObject({ kind: 'refuse', status: 'inactive', description: `duplicate of #7 (${state})`, duplicateOf: 7 });
    });
  }

  for (const state of ['failed', 'error', 'refused', 'cancelled', 'superseded'] as const) {
    it(`lets a new attempt through when the earlier one is ${state}`, () => {
      expect(admit(facts({ sameKey: [{ id: 7, state }] }))).toEqual({ kind: 'queue', supersede: [] });
    });
  }

  it('runs a known intent again when forced', () => {
    expect(admit(facts({ sameKey: [{ id: 7, state: 'succeeded' }], candidate: { forced: true } }))).toEqual({
      kind: 'queue',
      supersede: [],
    });
  });

  it('refuses the same create call landing twice (same idempotency key), even when forced', () => {
    const result = admit(facts({ sameIdempotencyKey: [{ id: 8, state: 'failed' }], candidate: { forced: true } }));
    expect(result).toMatchObject({ kind: 'refuse', status: 'inactive', description: 'duplicate of #8 (failed)', duplicateOf: 8 });
  });

  it('does not run a deployment that already ended on GitHub, and posts nothing more on it', () => {
    expect(admit(facts({ endedOnGitHub: 'error' }))).toMatchObject({
      kind: 'refuse',
      status: null,
      description: 'already error on GitHub',
    });
  });

  it('names the first blocking original, not a failed one', () => {
    const result = admit(
      facts({
        sameKey: [
          { id: 3, state: 'failed' },
          { id: 5, state: 'running' },
          { id: 6, state: 'succeeded' },
        ],
      }),
    );
    expect(result).toMatchObject({ kind: 'refuse', duplicateOf: 5 });
  });
});

describe('rule 2 (one at a time per environment)', () => {
  it('queue: fifo keeps every waiting deployment', () => {
    expect(admit(facts({ waiting: [4, 5] }))).toEqual({ kind: 'queue', supersede: [] });
  });

  it('queue: latest supersedes the older waiting ones', () => {
    expect(admit(facts({ env: 'latest', waiting: [4, 5] }))).toEqual({ kind: 'queue', supersede: [4, 5] });
  });
});

describe('rule 8 (bad input gets a clear answer and changes nothing)', () => {
  it.each([
    ['sha', { sha: 'abc' }, /invalid sha "abc"/],
    ['ref with a space', { ref: 'a b' }, /invalid ref "a b"/],
    ['ref starting with -', { ref: '-rf' }, /starts with "-"/],
    ['environment name', { environment: 'prod;rm' }, /invalid environment name "prod;rm"/],
    ['task', { task: 'deploy now' }, /invalid task/],
    ['repository', { repository: 'nope' }, /invalid repository/],
  ])('refuses an invalid %s with status error', (_what, candidate, message) => {
    const result = admit(facts({ candidate }));
    expect(result.kind).toBe('refuse');
    if (result.kind === 'refuse') {
      expect(result.status).toBe('error');
      expect(result.description).toMatch(message);
      expect(result.description.length).toBeLessThanOrEqual(140);
    }
  });

  it('accepts a legal ref that carries shell syntax (it is quoted later, never trusted)', () => {
    expect(admit(facts({ candidate: { ref: 'zzz";echo${IFS}"hello";#' } }))).toEqual({ kind: 'queue', supersede: [] });
  });

  it('refuses with the config problem when deploy.yml is invalid, keeping the full message', () => {
    const result = admit(
      facts({ config: { ok: false, summary: '.github/deploy.yml: environments.staging.deploy: is required', detail: 'full detail' } }),
    );
    expect(result).toMatchObject({
      kind: 'refuse',
      status: 'error',
      description: '.github/deploy.yml: environments.staging.deploy: is required',
      detail: 'full detail',
    });
  });
});

describe('gates', () => {
  it('refuses a deploy by someone else while the environment is locked, with owner, age and reason', () => {
    const lock = { owner: 'bob', reason: 'db migration', lockedAt: new Date('2026-11-27T11:45:00Z') };
    const result = admit(facts({ lock }));
    expect(result).toMatchObject({ kind: 'refuse', status: 'error', description: 'staging is locked by @bob (15m ago): db migration' });
  });

  it("lets the lock owner's deploys through", () => {
    const lock = { owner: 'alice', reason: '', lockedAt: new Date() };
    expect(admit(facts({ lock }))).toEqual({ kind: 'queue', supersede: [] });
  });

  it('requires: refuses a SHA that has not succeeded on the required environments, and says where to go first', () => {
    expect(admit(facts({ env: 'production' }))).toMatchObject({
      kind: 'refuse',
      status: 'error',
      description: 'aaaaaaa has not succeeded on staging: deploy it there first',
    });
    expect(admit(facts({ env: 'production', succeededIn: ['staging'] }))).toEqual({ kind: 'queue', supersede: [] });
  });

  it('checks duplicates before locks: a duplicate is inactive even in a locked environment', () => {
    const lock = { owner: 'bob', reason: '', lockedAt: new Date() };
    expect(admit(facts({ lock, sameKey: [{ id: 2, state: 'succeeded' }] }))).toMatchObject({ status: 'inactive', duplicateOf: 2 });
  });
});

describe('a decision made on facts that changed is made again', () => {
  it('the same facts a moment later still hold; a new waiting deployment, a lock or a running one do not', () => {
    const decidedOn = facts();
    expect(sameAdmissionFacts(decidedOn, { ...facts(), now: new Date(decidedOn.now.getTime() + 5) })).toBe(true);
    expect(sameAdmissionFacts(decidedOn, facts({ waiting: [7] }))).toBe(false);
    expect(sameAdmissionFacts(decidedOn, facts({ lock: { owner: 'bob', reason: '', lockedAt: new Date(0) } }))).toBe(false);
    expect(sameAdmissionFacts(decidedOn, facts({ running: { id: 7, workflowRunId: null } }))).toBe(false);
    expect(sameAdmissionFacts(decidedOn, facts({ sameKey: [{ id: 7, state: 'queued' }] }))).toBe(false);
  });
});

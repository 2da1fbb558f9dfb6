import { describe, expect, it } from 'vitest';
import { fitDescription, progressDescription } from '../../bot/engine/descriptions.ts';
import { checkLeaseTiming, DEFAULT_LEASE_TIMING } from '../../bot/engine/leases.ts';
import { mayStartAnotherHost, rolloutVerdict, type HostTally } from '../../bot/engine/rollout-verdict.ts';
import { githubStateFor, isFinal, statesBefore } from '../../bot/engine/states.ts';
import { planStatusSends } from '../../bot/engine/status-queue.ts';

const host = (name: string, outcome: HostTally['outcome'], message = ''): HostTally => ({ name, outcome, message });

describe('rule 4 (unknown is not success)', () => {
  it('an unknown host makes the deployment error, naming the host, even when others succeeded', () => {
    const verdict = rolloutVerdict([host('10.0.0.5', 'succeeded'), host('10.0.0.6', 'unknown')], null);
    expect(verdict).toEqual({ state: 'error', description: 'outcome unknown on 10.0.0.6; not retried' });
  });

  it('no host starts after one is unknown', () => {
    expect(mayStartAnotherHost([host('a', 'unknown'), host('b', null)], 5)).toBe(false);
  });

  it('unknown outranks failure', () => {
    expect(rolloutVerdict([host('a', 'failed', 'exited 1'), host('b', 'unknown')], null).state).toBe('error');
  });
});

describe('max_failures', () => {
  it('stops starting hosts once more than max_failures failed', () => {
    expect(mayStartAnotherHost([host('a', 'failed')], 0)).toBe(false);
    expect(mayStartAnotherHost([host('a', 'failed')], 1)).toBe(true);
    expect(mayStartAnotherHost([host('a', 'failed'), host('b', 'failed')], 1)).toBe(false);
  });

  it('a failed rollout reports every failed host and how many were deployed', () => {
    const verdict = rolloutVerdict(
      [host('a', 'succeeded'), host('b', 'failed', 'deploy exited 2'), host('c', 'failed', 'x'), host('d', null)],
      null,
    );
    expect(verdict).toEqual({ state: 'failed', description: 'failed on b, c (deploy exited 2); 1/4 hosts deployed' });
  });

  it('success counts hosts already at the SHA', () => {
    expect(rolloutVerdict([host('a', 'succeeded'), host('b', 'skipped')], null)).toEqual({
      state: 'succeeded',
      description: 'deployed to 2/2 hosts (1 already at this sha)',
    });
  });

  it('a cancelled rollout says so, and how far it got', () => {
    expect(rolloutVerdict([host('a', 'succeeded'), host('b', null)], 'cancelled')).toEqual({
      state: 'cancelled',
      description: 'cancelled after 1/2 hosts',
    });
  });

  it('rule 5 (bounded): a rollout cut by the total timeout is a failure', () => {
    expect(rolloutVerdict([host('a', 'succeeded'), host('b', null)], 'deadline')).toEqual({
      state: 'failed',
      description: 'total timeout reached after 1/2 hosts',
    });
  });
});

describe('rule 6 (terminal): the state machine', () => {
  it('every path ends in a final state, and final states go nowhere', () => {
    for (const final of ['refused', 'succeeded', 'failed', 'error', 'superseded', 'cancelled'] as const) {
      expect(isFinal(final)).toBe(true);
      expect(statesBefore('running')).not.toContain(final);
    }
    // The store's conditional updates use exactly these source states.
    expect(statesBefore('queued')).toEqual(['received']);
    expect(statesBefore('refused')).toEqual(['received']);
    expect(statesBefore('running')).toEqual(['queued']);
    expect(statesBefore('succeeded')).toEqual(['running']);
    expect(statesBefore('cancelled')).toEqual(['queued', 'running']);
    expect(statesBefore('received')).toEqual([]);
  });

  it('maps states to GitHub statuses as docs/engine-rules.md lists them', () => {
    expect(githubStateFor('queued')).toBe('queued');
    expect(githubStateFor('running')).toBe('in_progress');
    expect(githubStateFor('succeeded')).toBe('success');
    expect(githubStateFor('failed')).toBe('failure');
    expect(githubStateFor('cancelled')).toBe('failure');
    expect(githubStateFor('error')).toBe('error');
    expect(githubStateFor('superseded')).toBe('inactive');
  });

  it('lease renewal must be well inside the lease', () => {
    expect(() => checkLeaseTiming(DEFAULT_LEASE_TIMING)).not.toThrow();
    expect(() => checkLeaseTiming({ renewMs: 20_000, durationMs: 30_000, scanMs: 1000 })).toThrow(/less than half/);
  });
});

describe('status queue (coalescing)', () => {
  const s = (seq: number, deploymentId: number, kind: 'phase' | 'progress' | 'terminal') => ({ seq, deploymentId, kind });

  it('a newer progress description replaces an unsent older one of the same deployment', () => {
    const plan = planStatusSends([s(1, 1, 'phase'), s(2, 1, 'progress'), s(3, 1, 'progress'), s(4, 1, 'progress')]);
    expect(plan.send.map((x) => x.seq)).toEqual([1, 4]);
    expect(plan.drop.map((x) => x.seq)).toEqual([2, 3]);
  });

  it('never drops queued, phase or terminal statuses, and keeps each deployment in order', () => {
    const plan = planStatusSends([s(1, 1, 'phase'), s(2, 1, 'progress'), s(3, 1, 'phase'), s(4, 1, 'terminal')]);
    expect(plan.send.map((x) => x.seq)).toEqual([1, 3, 4]);
  });

  it('deployments with a terminal status go first', () => {
    const plan = planStatusSends([s(1, 1, 'phase'), s(2, 2, 'phase'), s(3, 1, 'progress'), s(4, 2, 'terminal')]);
    expect(plan.send.map((x) => x.seq)).toEqual([2, 4, 1, 3]);
  });

  it('of the finished deployments, those with fewest writes left go first', () => {
    // Deployment 1 still needs queued + in_progress + success; deployment 2 only its success.
    const plan = planStatusSends([s(1, 1, 'phase'), s(2, 1, 'phase'), s(3, 1, 'terminal'), s(4, 2, 'terminal')]);
    expect(plan.send.map((x) => x.seq)).toEqual([4, 1, 2, 3]);
  });
});

describe('descriptions', () => {
  it('fit in 140 characters on one line', () => {
    const long = fitDescription(`failed:\n${'x'.repeat(300)}`);
    expect(long.length).toBe(140);
    expect(long).not.toContain('\n');
    expect(long.endsWith('…')).toBe(true);
  });

  it('report progress as deploying N/M hosts', () => {
    expect(progressDescription(3, 10, 2)).toBe('deploying 3/10 hosts');
  });
});

// Fleet safety's pure rules: waves resolved from deploy.yml, their validation, and the fleet rollback's verdict.
import { describe, expect, it } from 'vitest';
import { DeployConfigError, environmentConfig, parseDeployConfig } from '../../bot/engine/deploy-config.ts';
import { bakeDescription, waveDescription } from '../../bot/engine/descriptions.ts';
import { fleetRollbackTargets, fleetRollbackVerdict, shouldRollBackFleet, type HostTally } from '../../bot/engine/rollout-verdict.ts';
import { bakeBefore, planWaves, waveRanges } from '../../bot/engine/waves.ts';

const host = (name: string, outcome: HostTally['outcome'], message = ''): HostTally => ({ name, outcome, message });
const hosts = (n: number) => Array.from({ length: n }, (_, i) => `deploy@10.0.0.${i + 1}`);

function configError(environment: Record<string, unknown>): string {
  try {
    parseDeployConfig(JSON.stringify({ environments: { production: { hosts: hosts(10), deploy: './deploy', ...environment } } }));
  } catch (error) {
    expect(error).toBeInstanceOf(DeployConfigError);
    return (error as Error).message.replace(/ \(line \d+\)/g, '');
  }
  throw new Error('the configuration was accepted');
}

describe('waves', () => {
  it('resolves cumulative counts and percentages, rounding percentages up', () => {
    expect(planWaves([1, '10%', '100%'], 50)).toEqual({ ends: [1, 5, 50] });
    expect(planWaves([1, '30%', '100%'], 10)).toEqual({ ends: [1, 3, 10] });
    expect(planWaves([2, 5, 10], 10)).toEqual({ ends: [2, 5, 10] });
    expect(waveRanges([1, 3, 10])).toEqual([
      { start: 0, end: 1 },
      { start: 1, end: 3 },
      { start: 3, end: 10 },
    ]);
  });

  it('merges a step that reaches no further than the one before (the same waves fit a small environment)', () => {
    expect(planWaves([1, '10%', '100%'], 5)).toEqual({ ends: [1, 5] });
    expect(planWaves([1, '10%', '100%'], 1)).toEqual({ ends: [1] });
  });

  it('without waves, every host is one wave', () => {
    expect(planWaves(undefined, 4)).toEqual({ ends: [4] });
  });

  it('refuses waves that shrink, overshoot, do not end with every host, or are not counts or percentages', () => {
    expect(planWaves([5, 3, 10], 10)).toEqual({ error: 'waves[1]: 3 is fewer hosts than the wave before (5); waves are cumulative' });
    expect(planWaves([1, 12], 10)).toEqual({ error: 'waves[1]: 12 is more than the 10 hosts' });
    expect(planWaves([1, '50%'], 10)).toEqual({
      error: 'waves: must end with every host (100% or 10); the last wave reaches 5 of 10',
    });
    expect(planWaves([0, '100%'], 10)).toEqual({ error: 'waves[0]: 0 is not a host count (a whole number ≥ 1)' });
    expect(planWaves(['150%'], 10)).toEqual({ error: 'waves[0]: 150% is not a percentage between 0% and 100%' });
    expect(planWaves(['ten'], 10)).toEqual({ error: 'waves[0]: "ten" is neither a host count nor a percentage like 10%' });
  });

  it('deploy.yml: waves, bake, gate and on_failure are read and checked against the environment', () => {
    const config = environmentConfig(
      parseDeployConfig(`
environments:
  production:
    hosts: [${hosts(10).join(', ')}]
    deploy: ./deploy
    rollback: ./rollback
    waves: [1, 10%, 100%]
    bake: 2m
    gate: { run: ./bin/check-error-rate, timeout: 30s }
    on_failure: rollback_fleet
`),
      'production',
    );
    expect(config).toMatchObject({
      waves: [1, '10%', '100%'],
      bake: 120_000,
      gate: { run: './bin/check-error-rate', timeout: 30_000, interval: 30_000 },
      on_failure: 'rollback_fleet',
    });
    expect(environmentConfig(parseDeployConfig('environments:\n  s: { hosts: [a], deploy: x }\n'), 's').on_failure).toBe('stop');
  });

  it('deploy.yml: each wrong fleet key is named with what is wrong', () => {
    expect(configError({ waves: [1, '50%'] })).toContain('environments.production.waves: must end with every host (100% or 10)');
    expect(configError({ waves: [3, 2, '100%'] })).toContain('environments.production.waves.1: 2 is fewer hosts than the wave before (3)');
    expect(configError({ waves: ['x%'] })).toContain('environments.production.waves.0: "x%" is neither a host count nor a percentage');
    expect(configError({ bake: '2m' })).toContain('environments.production.bake: runs between waves: set waves too');
    expect(configError({ waves: [1, '100%'], gate: { run: './check', url: 'http://x' } })).toContain('environments.production.gate');
    expect(configError({ waves: [1, '100%'], gate: { url: 'ftp://x/' } })).toContain('environments.production.gate');
    expect(configError({ waves: [1, '100%'], gate: { run: './check', timeout: '10m' } })).toContain(
      'environments.production.gate.timeout: must be at most 4m',
    );
    expect(configError({ on_failure: 'rollback_fleet' })).toContain(
      'environments.production.on_failure: rollback_fleet needs a rollback command',
    );
    expect(configError({ on_failure: 'undo' })).toContain('environments.production.on_failure');
  });
});

describe('bake and progress words', () => {
  it('bakes before a wave none of whose hosts has started, not one a takeover finds half done', () => {
    expect(bakeBefore([host('a', null), host('b', null)])).toBe(true);
    expect(bakeBefore([host('a', 'succeeded'), host('b', null)])).toBe(false);
  });

  it('descriptions say the wave, its hosts, and the bake time left', () => {
    expect(waveDescription(2, 3, 3, 5)).toBe('wave 2/3: 3/5 hosts');
    expect(bakeDescription(2, 3, 60_000)).toBe('wave 2/3 baking, 1m left');
    expect(bakeDescription(1, 3, 89_400)).toBe('wave 1/3 baking, 1m30s left');
  });
});

describe('fleet rollback', () => {
  const failed = { state: 'failed' as const, description: 'gate failed after wave 2/3; 3/10 hosts deployed' };

  it('rolls back on failure or doubt with rollback_fleet, on /cancel --rollback whatever on_failure says; not on a plain cancel, a noop, success, without a rollback command or the default stop', () => {
    const plain = { noop: false, cancelWithRollback: false, hasRollback: true };
    expect(shouldRollBackFleet('rollback_fleet', failed, 'gate', plain)).toBe(true);
    expect(shouldRollBackFleet('rollback_fleet', { state: 'error', description: '' }, null, plain)).toBe(true);
    expect(shouldRollBackFleet('stop', failed, 'gate', plain)).toBe(false);
    expect(shouldRollBackFleet('rollback_fleet', failed, 'cancelled', plain)).toBe(false);
    expect(shouldRollBackFleet('rollback_fleet', failed, 'cancelled', { ...plain, cancelWithRollback: true })).toBe(true);
    expect(shouldRollBackFleet('stop', failed, 'cancelled', { ...plain, cancelWithRollback: true })).toBe(true);
    expect(shouldRollBackFleet('rollback_fleet', failed, 'gate', { ...plain, noop: true })).toBe(false);
    expect(shouldRollBackFleet('rollback_fleet', failed, 'gate', { ...plain, hasRollback: false })).toBe(false);
    expect(shouldRollBackFleet('rollback_fleet', { state: 'succeeded', description: '' }, null, plain)).toBe(false);
    expect(shouldRollBackFleet('rollback_fleet', { state: 'handed_over', description: '' }, 'handover', plain)).toBe(false);
  });

  it('targets the hosts this deployment deployed, newest first; never the unknown, skipped or failed ones', () => {
    const tallies = [host('a', 'succeeded'), host('b', 'skipped'), host('c', 'succeeded'), host('d', 'unknown'), host('e', 'failed')];
    expect(
      fleetRollbackTargets(
        tallies,
        new Map([
          ['a', 1],
          ['c', 2],
        ]),
      ),
    ).toEqual(['c', 'a']);
  });

  it('says how many hosts went back to which SHA, and exactly which did not and why', () => {
    const prev = 'b'.repeat(40);
    expect(fleetRollbackVerdict(failed, prev, [host('a', 'rolled_back'), host('c', 'rolled_back')], [])).toEqual({
      state: 'failed',
      description: 'rolled back 2 hosts to bbbbbbb; gate failed after wave 2/3; 3/10 hosts deployed',
    });
    expect(
      fleetRollbackVerdict(
        failed,
        prev,
        [host('a', 'rolled_back'), host('c', 'failed', 'not rolled back: rollback exited 1')],
        [host('d', 'unknown')],
      ),
    ).toEqual({
      state: 'error',
      description:
        'rolled back 1 host to bbbbbbb; not rolled back: c (rollback exited 1); outcome unknown on d, not rolled back; gate failed after wave 2/3; 3/10 hosts deployed',
    });
  });
});

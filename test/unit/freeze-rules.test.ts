// Freeze windows as pure rules: local times in a time zone, which window is in force, what admission
// decides, and when a queued deployment may start. Every time is given: no clock is read.
import { describe, expect, it } from 'vitest';
import { admit, type AdmissionFacts } from '../../bot/engine/admission.ts';
import { DeployConfigError, environmentConfig, parseDeployConfig } from '../../bot/engine/deploy-config.ts';
import { freezeAt, startHeldByFreeze, zonedInstant, type FreezeWindow } from '../../bot/engine/freeze.ts';

const window = (start: string, end: string, mode: FreezeWindow['mode'], timezone = 'Europe/Berlin'): FreezeWindow => ({
  start,
  end,
  timezone,
  mode,
});
const at = (iso: string) => Date.parse(iso);

describe('freeze windows', () => {
  it('reads local times in their time zone, across daylight saving time', () => {
    expect(zonedInstant('2026-12-24T00:00', 'Europe/Berlin')).toBe(at('2026-12-23T23:00:00Z')); // CET, +1
    expect(zonedInstant('2026-07-01T00:00', 'Europe/Berlin')).toBe(at('2026-06-30T22:00:00Z')); // CEST, +2
    expect(zonedInstant('2026-03-08T09:30:15', 'America/New_York')).toBe(at('2026-03-08T13:30:15Z')); // EDT from 2 am
    expect(zonedInstant('2026-12-24T00:00', 'UTC')).toBe(at('2026-12-24T00:00:00Z'));
  });

  it('is in force from its start to its end; refuse wins over wait; the latest end says until when', () => {
    const windows = [window('2026-12-24T00:00', '2026-12-27T00:00', 'refuse'), window('2026-12-20T00:00', '2027-01-02T00:00', 'wait')];
    expect(freezeAt(windows, at('2026-12-19T22:59:59Z'))).toBeNull();
    expect(freezeAt(windows, at('2026-12-19T23:00:00Z'))).toEqual({
      mode: 'wait',
      untilMs: at('2027-01-01T23:00:00Z'),
      until: '2027-01-02 00:00 Europe/Berlin',
    });
    expect(freezeAt(windows, at('2026-12-25T12:00:00Z'))).toEqual({
      mode: 'refuse',
      untilMs: at('2026-12-26T23:00:00Z'),
      until: '2026-12-27 00:00 Europe/Berlin',
    });
    expect(freezeAt(windows, at('2027-01-01T23:00:00Z'))).toBeNull();
    expect(freezeAt(undefined, at('2026-12-25T12:00:00Z'))).toBeNull();
  });

  it('holds a queued start while in force, unless an admin overrode it', () => {
    const windows = [window('2026-12-24T00:00', '2026-12-27T00:00', 'wait')];
    expect(startHeldByFreeze(windows, {}, at('2026-12-25T00:00:00Z'))).toBe(true);
    expect(startHeldByFreeze(windows, { force_freeze: true }, at('2026-12-25T00:00:00Z'))).toBe(false);
    expect(startHeldByFreeze(windows, { force_freeze: 'yes' }, at('2026-12-25T00:00:00Z'))).toBe(true);
    expect(startHeldByFreeze(windows, {}, at('2026-12-28T00:00:00Z'))).toBe(false);
  });

  it('deploy.yml: a wrong window says which key and why', () => {
    const problems = (freeze: unknown) => {
      try {
        parseDeployConfig(JSON.stringify({ environments: { production: { deployer: 'local', deploy: 'x', freeze } } }));
      } catch (error) {
        expect(error).toBeInstanceOf(DeployConfigError);
        return (error as Error).message.replace(/ \(line \d+\)/g, '');
      }
      throw new Error('accepted');
    };
    expect(problems([{ start: '2026-12-24', end: '2026-12-27T00:00' }])).toContain(
      'environments.production.freeze.0.start: expected a local date and time like 2026-12-24T00:00, got "2026-12-24"',
    );
    expect(problems([{ start: '2026-02-30T00:00', end: '2026-03-01T00:00' }])).toContain(
      '2026-02-30T00:00 is not a date and time that exists',
    );
    expect(problems([{ start: '2026-12-24T00:00', end: '2026-12-27T00:00', timezone: 'Mars/Olympus' }])).toContain(
      'environments.production.freeze.0.timezone: unknown time zone "Mars/Olympus"',
    );
    expect(problems([{ start: '2026-12-27T00:00', end: '2026-12-24T00:00' }])).toContain(
      'environments.production.freeze.0.end: must be after start (2026-12-27T00:00)',
    );
    expect(problems([{ start: '2026-12-24T00:00', end: '2026-12-27T00:00', mode: 'pause' }])).toContain(
      'environments.production.freeze.0.mode',
    );
    const config = environmentConfig(
      parseDeployConfig(
        'environments:\n  p: { deployer: local, deploy: x, freeze: [{ start: "2026-12-24T00:00", end: "2026-12-27T00:00" }] }\n',
      ),
      'p',
    );
    expect(config.freeze).toEqual([{ start: '2026-12-24T00:00', end: '2026-12-27T00:00', timezone: 'UTC', mode: 'refuse' }]);
  });
});

describe('admission in a freeze window', () => {
  const config = parseDeployConfig(`
environments:
  refusing: { deployer: local, deploy: ./deploy, freeze: [{ start: "2026-12-24T00:00", end: "2026-12-27T00:00", timezone: Europe/Berlin, mode: refuse }] }
  waiting: { deployer: local, deploy: ./deploy, freeze: [{ start: "2026-12-24T00:00", end: "2026-12-27T00:00", timezone: Europe/Berlin, mode: wait }] }
`);
  const facts = (env: string, now: string, payload: Record<string, unknown> = {}): AdmissionFacts => ({
    config: { ok: true, environment: config.environments[env]! },
    sameKey: [],
    sameIdempotencyKey: [],
    endedOnGitHub: null,
    lock: null,
    succeededIn: [],
    waiting: [],
    now: new Date(now),
    candidate: {
      id: 10,
      repository: 'acme/app',
      environment: env,
      sha: 'a'.repeat(40),
      ref: 'main',
      task: 'deploy',
      forced: true,
      requestedBy: 'carol',
      payload,
    },
  });

  it('refuse: refused with until when, even when forced; an admin override is queued and noted', () => {
    expect(admit(facts('refusing', '2026-12-25T12:00:00Z'))).toMatchObject({
      kind: 'refuse',
      status: 'error',
      description: 'refusing is frozen until 2026-12-27 00:00 Europe/Berlin: deploy refused (freeze window)',
    });
    expect(admit(facts('refusing', '2026-12-25T12:00:00Z', { force_freeze: true }))).toEqual({
      kind: 'queue',
      supersede: [],
      note: 'freeze overridden by @carol (--force-freeze, admin): refusing is frozen until 2026-12-27 00:00 Europe/Berlin',
    });
    expect(admit(facts('refusing', '2026-12-27T12:00:00Z'))).toEqual({ kind: 'queue', supersede: [] });
  });

  it('wait: queued, saying until when', () => {
    expect(admit(facts('waiting', '2026-12-25T12:00:00Z'))).toEqual({
      kind: 'queue',
      supersede: [],
      description: 'waiting: waiting is frozen until 2026-12-27 00:00 Europe/Berlin',
      note: 'waiting: waiting is frozen until 2026-12-27 00:00 Europe/Berlin (freeze window)',
    });
  });
});

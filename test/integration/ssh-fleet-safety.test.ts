// Fleet safety over real sshd hosts: waves, a bake with its gate between them (on an injected clock: the
// tests read the order of events, never wall time), and the fleet rollback of `on_failure: rollback_fleet`.
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { shellQuote } from '../../common/shell.ts';
import type { BakeClock } from '../../bot/deployers/rollout.ts';
import { SshdFleet } from '../support/sshd-fleet.ts';
import {
  OLD_SHA,
  SHA,
  eventually,
  fleetDeployer,
  hostFile,
  recordEvents,
  release,
  sshJob,
  untilReleased,
  type RecordedEvents,
} from './ssh-test-job.ts';

const HOSTS = 10;
// Each host logs what ran on it; REVISION is what `revision` reads.
const DEPLOY = `echo deploy >> "$HOST_DIR/ran.log"; test -e "$HOST_DIR/noop-deploy" || printf %s "$DEPLOY_SHA" > "$HOST_DIR/REVISION"; test ! -e "$HOST_DIR/fail-deploy"`;
const ROLLBACK = `echo "rollback to $DEPLOY_PREVIOUS_SHA" >> "$HOST_DIR/ran.log"; test ! -e "$HOST_DIR/fail-rollback" && printf %s "$DEPLOY_PREVIOUS_SHA" > "$HOST_DIR/REVISION"`;
const REVISION = 'cat "$HOST_DIR/REVISION"';

let fleet: SshdFleet;
beforeAll(async () => {
  fleet = await SshdFleet.start(HOSTS);
});
afterAll(async () => {
  await fleet?.close();
});
beforeEach(() => {
  for (const host of fleet.hosts) {
    for (const file of ['ran.log', 'noop-deploy', 'fail-deploy', 'fail-rollback', 'release']) rmSync(join(host.dir, file), { force: true });
    // Written by the hosts' own user later: open to it (the tests run as root, the hosts as another user).
    writeFileSync(join(host.dir, 'REVISION'), OLD_SHA, { mode: 0o666 });
    chmodSync(join(host.dir, 'REVISION'), 0o666);
  }
});

/** A clock whose sleeps return at once and move its time on, each noted in the events' timeline. */
function virtualClock(events: RecordedEvents): BakeClock & { slept: number[] } {
  let now = Date.now();
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms, signal) => {
      if (signal.aborted) return false;
      events.timeline.push(`sleep ${ms}`);
      slept.push(ms);
      now += ms;
      return true;
    },
  };
}

const name = (index: number) => fleet.hosts[index]!.spec;
const ran = (index: number) => hostFile(fleet, index, 'ran.log');
const revisionOf = (index: number) => hostFile(fleet, index, 'REVISION');

/** A gate on the bot's machine that fails once `limit` hosts run the new SHA (an error rate rising with it). */
function gateFailingAt(limit: number): string {
  const files = fleet.hosts.map((h) => shellQuote(join(h.dir, 'REVISION'))).join(' ');
  return `n=$(grep -l ${SHA} ${files} 2>/dev/null | wc -l); echo "$n hosts on the new version"; if [ "$n" -ge ${limit} ]; then echo "error rate 7% (limit 1%)"; exit 1; fi`;
}

describe('fleet safety over real sshd hosts', { timeout: 120_000 }, () => {
  it('waves [1, 30%, 100%] with a 2m bake: a gate failing after wave 2 keeps wave 3 off and rolls every changed host back, newest first', async () => {
    const events = recordEvents();
    const clock = virtualClock(events);
    const job = sshJob(fleet, {
      deploy: DEPLOY,
      rollback: ROLLBACK,
      revision: REVISION,
      concurrency: 2,
      waves: [1, '30%', '100%'],
      bake: '2m',
      gate: { run: gateFailingAt(3), timeout: '20s' },
      on_failure: 'rollback_fleet',
    });
    const result = await fleetDeployer(fleet, { rollout: { clock } }).deploy(job, events);

    // Wave 3 (hosts 4–10) never started; waves 1 and 2 (hosts 1–3) ran and are back on the previous SHA.
    for (const index of [3, 4, 5, 6, 7, 8, 9]) expect(ran(index), `host ${index}`).toBe('');
    for (const index of [0, 1, 2]) {
      expect(ran(index)).toBe(`deploy\nrollback to ${OLD_SHA}\n`);
      expect(revisionOf(index)).toBe(OLD_SHA);
      expect(events.finished.get(name(index))).toEqual({ outcome: 'rolled_back', message: `rolled back to ${OLD_SHA.slice(0, 7)}` });
    }
    expect(result).toEqual({
      state: 'failed',
      description: `rolled back 3 hosts to ${OLD_SHA.slice(0, 7)}; gate exited 1: error rate 7% (limit 1%) after wave 2/3; 3/10 hosts deployed`,
    });
    expect(events.fleetRollbacks).toEqual(['gate exited 1: error rate 7% (limit 1%) after wave 2/3; 3/10 hosts deployed']);

    // The bake: after wave 1 and before wave 2, 2 minutes of the clock, the gate asked at its start, every
    // 30 s and at its end; wave 2 failed its gate at once, so nothing slept after it.
    const t = events.timeline;
    const at = (entry: string) => {
      expect(t).toContain(entry);
      return t.indexOf(entry);
    };
    const bakeStart = at('baking 1');
    const wave2 = at('started 2');
    expect(at(`succeeded ${name(0)}`)).toBeLessThan(bakeStart);
    const during = t.slice(bakeStart, wave2);
    expect(during.filter((e) => e.startsWith('sleep')).reduce((sum, e) => sum + Number(e.split(' ')[1]), 0)).toBe(120_000);
    expect(during.filter((e) => e === 'gate 1 passed')).toHaveLength(5);
    expect(during.some((e) => e.startsWith('start ') || e.startsWith('deploy '))).toBe(false);
    expect(clock.slept).toEqual([30_000, 30_000, 30_000, 30_000]);
    expect(t.indexOf('gate 2 failed')).toBeGreaterThan(Math.max(at(`succeeded ${name(1)}`), at(`succeeded ${name(2)}`)));
    expect(t).not.toContain('started 3');

    // Rolled back newest first, each through its write-ahead intent.
    const finishedOrder = t.filter((e) => e.startsWith('succeeded ')).map((e) => e.slice('succeeded '.length));
    const rollback = t.slice(at('fleet rollback'));
    expect(rollback.filter((e) => e.startsWith('start ')).map((e) => e.slice('start '.length))).toEqual([...finishedOrder].reverse());
    expect(rollback.filter((e) => e.startsWith('rollback ')).sort()).toEqual(finishedOrder.map((h) => `rollback ${h}`).sort());
    // Status words for the waves.
    expect(events.waves).toContainEqual({ kind: 'started', wave: 2, waves: 3, hosts: [name(1), name(2)], done: 0 });
    expect(events.waves).toContainEqual({ kind: 'baking', wave: 1, waves: 3, msLeft: 120_000 });
  });

  it('the fleet rollback leaves hosts already at the previous SHA alone and says which host could not be rolled back', async () => {
    const hosts = [0, 1, 2, 3].map(name);
    writeFileSync(join(fleet.hosts[1]!.dir, 'noop-deploy'), ''); // deploys without changing what runs
    writeFileSync(join(fleet.hosts[2]!.dir, 'fail-rollback'), '');
    writeFileSync(join(fleet.hosts[3]!.dir, 'fail-deploy'), '');
    const events = recordEvents();
    const job = sshJob(fleet, {
      hosts,
      deploy: DEPLOY,
      rollback: ROLLBACK,
      revision: REVISION,
      concurrency: 1,
      on_failure: 'rollback_fleet',
    });
    const result = await fleetDeployer(fleet).deploy(job, events);

    expect(result).toEqual({
      state: 'failed',
      description:
        `rolled back 1 host to ${OLD_SHA.slice(0, 7)} (1 already there); not rolled back: ${name(2)} (rollback exited 1); ` +
        `failed on ${name(3)} (deploy exited 1; rolled back); 3/4 hosts deployed`,
    });
    expect(ran(0)).toBe(`deploy\nrollback to ${OLD_SHA}\n`);
    expect(revisionOf(0)).toBe(OLD_SHA);
    expect(ran(1)).toBe('deploy\n'); // revision showed the previous SHA: no rollback ran
    expect(events.finished.get(name(1))).toEqual({
      outcome: 'rolled_back',
      message: `already at ${OLD_SHA.slice(0, 7)}: rollback not needed`,
    });
    expect(ran(2)).toBe(`deploy\nrollback to ${OLD_SHA}\n`);
    expect(revisionOf(2)).toBe(SHA);
    expect(events.finished.get(name(2))).toEqual({ outcome: 'failed', message: 'not rolled back: rollback exited 1' });
    // The host whose own deploy failed was rolled back by its own rollback, once.
    expect(ran(3)).toBe(`deploy\nrollback to ${OLD_SHA}\n`);
  });

  it('an http gate: 2xx passes, anything else fails the wave and the next one never starts', async () => {
    let answer = 200;
    const asked: number[] = [];
    const server = createServer((_request, response) => {
      asked.push(answer);
      response.writeHead(answer).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const hosts = [4, 5, 6].map(name);
      const events = recordEvents();
      events.onFinished = (host) => {
        if (host === name(5)) answer = 503; // the error rate rises once the second wave is out
      };
      const job = sshJob(fleet, { hosts, deploy: DEPLOY, waves: [1, 2, 3], gate: { url: `http://127.0.0.1:${port}/health` } });
      const result = await fleetDeployer(fleet, { rollout: { clock: virtualClock(events) } }).deploy(job, events);

      expect(result).toEqual({
        state: 'failed',
        description: `gate failed: 127.0.0.1:${port} answered 503 after wave 2/3; 2/3 hosts deployed`,
      });
      expect(asked).toEqual([200, 503]);
      expect(ran(6)).toBe('');
      expect(events.timeline).toContain('gate 1 passed');
    } finally {
      server.close();
    }
  });

  it('a bot taking over between waves bakes again before the next wave', async () => {
    const hosts = [4, 5].map(name);
    const events = recordEvents();
    const clock = virtualClock(events);
    const job = sshJob(
      fleet,
      { hosts, deploy: DEPLOY, revision: REVISION, waves: [1, '100%'], bake: '1m', gate: { run: 'true' } },
      {
        resumed: true,
        hosts: [
          { name: name(4), state: 'succeeded', inDoubtForMs: 0 },
          { name: name(5), state: 'pending', inDoubtForMs: 0 },
        ],
      },
    );
    const result = await fleetDeployer(fleet, { rollout: { clock } }).deploy(job, events);

    expect(result).toEqual({ state: 'succeeded', description: 'deployed to 2/2 hosts' });
    expect(ran(4)).toBe('');
    expect(events.timeline.slice(0, 2)).toEqual(['baking 1', 'gate 1 passed']);
    expect(clock.slept.reduce((a, b) => a + b, 0)).toBe(60_000);
    expect(events.timeline.indexOf(`start ${name(5)}`)).toBeGreaterThan(events.timeline.lastIndexOf('gate 1 passed'));
  });

  it('a bot taking over a fleet rollback continues it: never deploys, resolves a rollback in doubt through revision', async () => {
    // As the store hands it over: the rollback was decided (fleetRollback), host 4 is back already, host 5's
    // rollback intent is recorded with no end (in doubt; its command did run), host 6 is still deployed,
    // host 7 never started.
    // Host 6 runs the new SHA; host 5's rollback had run before the crash: it is on the previous one again.
    writeFileSync(join(fleet.hosts[6]!.dir, 'REVISION'), SHA);
    const hosts = [4, 5, 6, 7].map(name);
    const events = recordEvents();
    const job = sshJob(
      fleet,
      { hosts, deploy: DEPLOY, rollback: ROLLBACK, revision: REVISION, concurrency: 2, on_failure: 'rollback_fleet' },
      {
        resumed: true,
        fleetRollback: 'gate exited 1 after wave 1/2; 3/4 hosts deployed',
        hosts: [
          { name: name(4), state: 'rolled_back', inDoubtForMs: 0 },
          { name: name(5), state: 'running', inDoubtForMs: 0 },
          { name: name(6), state: 'succeeded', inDoubtForMs: 0, finishedAt: 1 },
          { name: name(7), state: 'pending', inDoubtForMs: 0 },
        ],
      },
    );
    const result = await fleetDeployer(fleet).deploy(job, events);

    expect(result).toEqual({
      state: 'failed',
      description: `rolled back 3 hosts to ${OLD_SHA.slice(0, 7)}; gate exited 1 after wave 1/2; 3/4 hosts deployed`,
    });
    expect(events.fleetRollbacks).toEqual([]); // recorded before the takeover, not again
    expect(events.finished.get(name(5))).toEqual({
      outcome: 'rolled_back',
      message: `the bot rolling it back stopped mid-command; revision shows ${OLD_SHA.slice(0, 7)} live`,
    });
    expect(ran(5)).toBe(''); // asked, never run again
    expect(ran(6)).toBe(`rollback to ${OLD_SHA}\n`);
    expect(revisionOf(6)).toBe(OLD_SHA);
    expect(ran(7)).toBe(''); // never deployed
    expect(events.phases.filter((p) => p.phase === 'deploy')).toEqual([]);
  });

  it('a host whose outcome is unknown is reported and never rolled back; the others are', async () => {
    // Without revision, a connection lost mid-deploy leaves its host unknown. Runs last: it kills a host.
    const hosts = [8, 9].map(name);
    const events = recordEvents();
    events.onPhase = (host, phase) => {
      if (host === name(9) && phase === 'deploy') void eventually(() => ran(9) !== '').then(() => fleet.kill(9));
    };
    const job = sshJob(fleet, {
      hosts,
      deploy: `${DEPLOY}; case "$DEPLOY_HOST" in *${fleet.hosts[9]!.port}) ${untilReleased()} ;; esac`,
      rollback: ROLLBACK,
      concurrency: 2,
      on_failure: 'rollback_fleet',
    });
    const result = await fleetDeployer(fleet).deploy(job, events);

    expect(result.state).toBe('error');
    expect(result.description).toMatch(
      new RegExp(`^rolled back 1 host to ${OLD_SHA.slice(0, 7)}; outcome unknown on ${name(9)}, not rolled back; `),
    );
    expect(ran(8)).toBe(`deploy\nrollback to ${OLD_SHA}\n`);
    expect(ran(9)).toBe('deploy\n');
    expect(events.phases.filter((p) => p.phase === 'rollback').map((p) => p.host)).toEqual([name(8)]);
    release(fleet, 9);
  });
});

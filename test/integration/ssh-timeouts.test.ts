// Bounds that cannot be dodged, against real sshd hosts: a timed-out or silent command is killed on the
// host (its processes are gone afterwards), and a host that stops answering mid-command is `unknown`,
// resolved through `revision` when the host can still be asked.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SshdFleet } from '../support/sshd-fleet.ts';
import { eventually, fleetDeployer, hostFile, processAlive, recordEvents, release, sshJob, untilReleased } from './ssh-test-job.ts';

// Limits these tests wait out in full (a host in doubt is asked for its revision only once its command's
// host-side hard limit, the command limit and a grace, has passed), so not long; yet each is many times
// what a handshake, or a channel open and the shell's first line, take on a loaded machine: only the
// silence or the hang a test arranges can reach them.
const FAST = { connect: '8s', command: '10s', total: '2m' };
const INACTIVITY = '3s';
// The command and a background child it started, both recorded so the test can look for them afterwards.
const LONG_RUNNER = 'trap "" HUP TERM; sleep 600 & echo $! > "$HOST_DIR/child.pid"; echo $$ > "$HOST_DIR/shell.pid"; wait';

let fleet: SshdFleet;
beforeAll(async () => {
  fleet = await SshdFleet.start(5);
});
afterEach(() => {
  for (const host of fleet.hosts) {
    fleet.thaw(host.index);
    for (const file of ['child.pid', 'shell.pid', 'REVISION', 'started', 'release', 'rolled-back', 'deployed'])
      rmSync(join(host.dir, file), { force: true });
  }
});
afterAll(async () => {
  await fleet?.close();
});

function recordedPids(index: number): number[] {
  return ['child.pid', 'shell.pid'].map((file) => Number(hostFile(fleet, index, file).trim()));
}

/**
 * Runs `action` once the host's command has signalled that it started (the file `started`). Commands
 * then wait in `untilReleased()` for the action to release them: the test acts while they run, never
 * after they ended on a machine too slow for a fixed sleep.
 */
function whenStarted(index: number, action: () => void | Promise<void>): () => void {
  return () => {
    void eventually(() => existsSync(join(fleet.hosts[index]!.dir, 'started'))).then(action);
  };
}

describe('ssh command bounds', () => {
  it('kills a command that outlives timeouts.command, with everything it started, then rolls back', async () => {
    const events = recordEvents();
    const job = sshJob(fleet, {
      hosts: [fleet.hosts[0]!.spec],
      deploy: LONG_RUNNER,
      rollback: 'echo rb > "$HOST_DIR/rolled-back"',
      timeouts: FAST,
    });
    const result = await fleetDeployer(fleet).deploy(job, events);

    expect(result.state).toBe('failed');
    expect(events.finished.get(fleet.hosts[0]!.spec)).toEqual({ outcome: 'failed', message: 'deploy timed out, killed; rolled back' });
    expect(hostFile(fleet, 0, 'rolled-back')).toBe('rb\n');
    const pids = recordedPids(0);
    for (const pid of pids) expect(pid).toBeGreaterThan(1);
    await eventually(() => pids.every((pid) => !processAlive(pid)));
  });

  it('kills a command that prints nothing for `inactivity`, and spares one that keeps talking', async () => {
    const silent = recordEvents();
    const job = sshJob(fleet, {
      hosts: [fleet.hosts[0]!.spec],
      deploy: `echo begin; ${LONG_RUNNER}`,
      inactivity: INACTIVITY,
      timeouts: { ...FAST, command: '30s' },
    });
    const result = await fleetDeployer(fleet).deploy(job, silent);

    expect(result.state).toBe('failed');
    expect(silent.finished.get(fleet.hosts[0]!.spec)).toEqual({ outcome: 'failed', message: 'deploy silent too long, killed' });
    expect(silent.output(fleet.hosts[0]!.spec)).toBe('begin\n');
    const pids = recordedPids(0);
    await eventually(() => pids.every((pid) => !processAlive(pid)));

    // Talks every quarter second for 5 s, longer than the inactivity limit.
    const chatty = sshJob(fleet, {
      hosts: [fleet.hosts[0]!.spec],
      deploy: 'i=0; while [ $i -lt 20 ]; do i=$((i + 1)); echo tick $i; sleep 0.25; done',
      inactivity: INACTIVITY,
      timeouts: { ...FAST, command: '30s' },
    });
    expect(await fleetDeployer(fleet).deploy(chatty, recordEvents())).toMatchObject({ state: 'succeeded' });
  });

  it('calls a host whose connection hangs mid-command unknown, then resolves it through revision', async () => {
    const host = fleet.hosts[1]!;
    const events = recordEvents();
    // The deploy does its work; meanwhile its connection freezes (the sshd session processes stop).
    events.onPhase = (name, phase) => {
      if (name === host.spec && phase === 'deploy') {
        whenStarted(1, () => {
          fleet.freezeSessions(1);
          release(fleet, 1);
        })();
      }
    };
    const job = sshJob(fleet, {
      hosts: [host.spec],
      revision: 'cat "$HOST_DIR/REVISION" 2>/dev/null || echo none',
      deploy: `echo "$DEPLOY_SHA" > "$HOST_DIR/REVISION"; touch "$HOST_DIR/started"; ${untilReleased()}`,
      timeouts: FAST,
    });
    const result = await fleetDeployer(fleet).deploy(job, events);

    expect(result).toMatchObject({ state: 'succeeded' });
    const finished = events.finished.get(host.spec)!;
    expect(finished.outcome).toBe('succeeded');
    expect(finished.message).toMatch(
      /^deploy lost: connection to 127\.0\.0\.1:\d+ lost \(Keepalive timeout\) mid-command; revision shows aaaaaaa live$/,
    );
    expect(events.phases.filter((p) => p.phase === 'revision')).toHaveLength(2);
  });

  it('calls a host whose sshd dies mid-command unknown, and stops the rollout (no revision to ask)', async () => {
    const host = fleet.hosts[2]!;
    const events = recordEvents();
    events.onPhase = (name, phase) => {
      if (name === host.spec && phase === 'deploy') {
        whenStarted(2, async () => {
          await fleet.kill(2);
          release(fleet, 2); // the command outlives its sshd: let it end rather than wait out its bound
        })();
      }
    };
    const job = sshJob(fleet, {
      hosts: [host.spec, fleet.hosts[3]!.spec],
      deploy: `touch "$HOST_DIR/started"; ${untilReleased()}; touch "$HOST_DIR/deployed"`,
      concurrency: 1,
      timeouts: FAST,
    });
    const result = await fleetDeployer(fleet).deploy(job, events);

    expect(result).toEqual({ state: 'error', description: `outcome unknown on ${host.spec}; not retried` });
    expect(events.finished.get(host.spec)?.outcome).toBe('unknown');
    expect(events.finished.get(host.spec)?.message).toMatch(
      /^deploy lost: connection to 127\.0\.0\.1:\d+ (closed by the host|lost \(.*\)) mid-command; outcome unknown, not retried$/,
    );
    expect(events.finished.has(fleet.hosts[3]!.spec)).toBe(false);
    expect(hostFile(fleet, 3, 'started')).toBe('');
  });

  it('keeps a host unknown when it stops answering altogether, even with revision configured', async () => {
    const host = fleet.hosts[3]!;
    const events = recordEvents();
    events.onPhase = (name, phase) => {
      if (name === host.spec && phase === 'deploy') {
        whenStarted(3, () => {
          fleet.freeze(3);
          release(fleet, 3);
        })();
      }
    };
    const job = sshJob(fleet, {
      hosts: [host.spec],
      revision: 'cat "$HOST_DIR/REVISION" 2>/dev/null || echo none',
      deploy: `touch "$HOST_DIR/started"; ${untilReleased()}; echo "$DEPLOY_SHA" > "$HOST_DIR/REVISION"`,
      timeouts: FAST,
    });
    const result = await fleetDeployer(fleet).deploy(job, events);

    expect(result).toEqual({ state: 'error', description: `outcome unknown on ${host.spec}; not retried` });
    expect(events.finished.get(host.spec)?.message).toMatch(
      /mid-command; outcome unknown, not retried \(revision unreachable: handshake with 127\.0\.0\.1:\d+ did not complete within \d+ ms\)$/,
    );
  });

  it('bounds a command whose channel cannot even be opened (timer armed before the open)', async () => {
    const host = fleet.hosts[4]!;
    const events = recordEvents();
    events.onPhase = (name, phase) => {
      if (name === host.spec && phase === 'healthcheck') fleet.freezeSessions(4);
    };
    const job = sshJob(fleet, { hosts: [host.spec], deploy: 'true', healthcheck: 'true', timeouts: FAST });
    // Keepalive far slower than the command timeout: only the command timer can end this wait.
    const result = await fleetDeployer(fleet, { keepaliveIntervalMs: 60_000 }).deploy(job, events);

    expect(result.state).toBe('error');
    expect(events.finished.get(host.spec)).toEqual({
      outcome: 'unknown',
      message: `healthcheck lost: no answer from 127.0.0.1:${host.port} within the command limit; it may still be running; outcome unknown, not retried`,
    });
  });
});

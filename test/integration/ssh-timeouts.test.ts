// Bounds that cannot be dodged, against real sshd hosts: a timed-out or silent command is killed on the
// host (its processes are gone afterwards), and a host that stops answering mid-command is `unknown`,
// resolved through `revision` when the host can still be asked.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SshdFleet } from '../support/sshd-fleet.ts';
import { eventually, fleetDeployer, hostFile, processAlive, recordEvents, sshJob } from './ssh-test-job.ts';

// Room for a loaded CI machine's handshakes, yet short enough to wait for.
const FAST = { connect: '4s', command: '5s', total: '2m' };
// The command and a background child it started, both recorded so the test can look for them afterwards.
const LONG_RUNNER = 'trap "" HUP TERM; sleep 600 & echo $! > "$HOST_DIR/child.pid"; echo $$ > "$HOST_DIR/shell.pid"; wait';

let fleet: SshdFleet;
beforeAll(async () => {
  fleet = await SshdFleet.start(5);
});
afterEach(() => {
  for (const host of fleet.hosts) {
    fleet.thaw(host.index);
    for (const file of ['child.pid', 'shell.pid', 'REVISION', 'started', 'rolled-back', 'deployed']) rmSync(join(host.dir, file), { force: true });
  }
});
afterAll(async () => {
  await fleet?.close();
});

function recordedPids(index: number): number[] {
  return ['child.pid', 'shell.pid'].map((file) => Number(hostFile(fleet, index, file).trim()));
}

/** Runs `action` once the host's command has signalled that it started (the file `started`). */
function whenStarted(index: number, action: () => void | Promise<void>): () => void {
  return () => {
    void eventually(() => existsSync(join(fleet.hosts[index]!.dir, 'started'))).then(action);
  };
}

describe('ssh command bounds', () => {
  it('kills a command that outlives timeouts.command, with everything it started, then rolls back', async () => {
    const events = recordEvents();
    const job = sshJob(fleet, { hosts: [fleet.hosts[0]!.spec], deploy: LONG_RUNNER, rollback: 'echo rb > "$HOST_DIR/rolled-back"', timeouts: FAST });
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
    const job = sshJob(fleet, { hosts: [fleet.hosts[0]!.spec], deploy: `echo begin; ${LONG_RUNNER}`, inactivity: '2s', timeouts: { ...FAST, command: '30s' } });
    const result = await fleetDeployer(fleet).deploy(job, silent);

    expect(result.state).toBe('failed');
    expect(silent.finished.get(fleet.hosts[0]!.spec)).toEqual({ outcome: 'failed', message: 'deploy silent too long, killed' });
    expect(silent.output(fleet.hosts[0]!.spec)).toBe('begin\n');
    const pids = recordedPids(0);
    await eventually(() => pids.every((pid) => !processAlive(pid)));

    const chatty = sshJob(fleet, { hosts: [fleet.hosts[0]!.spec], deploy: 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo tick $i; sleep 0.25; done', inactivity: '2s', timeouts: { ...FAST, command: '30s' } });
    expect(await fleetDeployer(fleet).deploy(chatty, recordEvents())).toMatchObject({ state: 'succeeded' });
  });

  it('calls a host whose connection hangs mid-command unknown, then resolves it through revision', async () => {
    const host = fleet.hosts[1]!;
    const events = recordEvents();
    // The deploy does its work; meanwhile its connection freezes (the sshd session processes stop).
    events.onPhase = (name, phase) => {
      if (name === host.spec && phase === 'deploy') whenStarted(1, () => fleet.freezeSessions(1))();
    };
    const job = sshJob(fleet, {
      hosts: [host.spec],
      revision: 'cat "$HOST_DIR/REVISION" 2>/dev/null || echo none',
      deploy: 'echo "$DEPLOY_SHA" > "$HOST_DIR/REVISION"; touch "$HOST_DIR/started"; sleep 1',
      timeouts: { connect: '5s', command: '30s', total: '2m' },
    });
    const result = await fleetDeployer(fleet).deploy(job, events);

    expect(result).toMatchObject({ state: 'succeeded' });
    const finished = events.finished.get(host.spec)!;
    expect(finished.outcome).toBe('succeeded');
    expect(finished.message).toMatch(/^deploy lost: connection to 127\.0\.0\.1:\d+ lost \(Keepalive timeout\) mid-command; revision shows aaaaaaa live$/);
    expect(events.phases.filter((p) => p.phase === 'revision')).toHaveLength(2);
  });

  it('calls a host whose sshd dies mid-command unknown, and stops the rollout (no revision to ask)', async () => {
    const host = fleet.hosts[2]!;
    const events = recordEvents();
    events.onPhase = (name, phase) => {
      if (name === host.spec && phase === 'deploy') whenStarted(2, () => fleet.kill(2))();
    };
    const job = sshJob(fleet, {
      hosts: [host.spec, fleet.hosts[3]!.spec],
      deploy: 'touch "$HOST_DIR/started"; sleep 5; touch "$HOST_DIR/deployed"',
      concurrency: 1,
      timeouts: { connect: '5s', command: '30s', total: '2m' },
    });
    const result = await fleetDeployer(fleet).deploy(job, events);

    expect(result).toEqual({ state: 'error', description: `outcome unknown on ${host.spec}; not retried` });
    expect(events.finished.get(host.spec)?.outcome).toBe('unknown');
    expect(events.finished.get(host.spec)?.message).toMatch(/^deploy lost: connection to 127\.0\.0\.1:\d+ (closed by the host|lost \(.*\)) mid-command; outcome unknown, not retried$/);
    expect(events.finished.has(fleet.hosts[3]!.spec)).toBe(false);
    expect(hostFile(fleet, 3, 'started')).toBe('');
  });

  it('keeps a host unknown when it stops answering altogether, even with revision configured', async () => {
    const host = fleet.hosts[3]!;
    const events = recordEvents();
    events.onPhase = (name, phase) => {
      if (name === host.spec && phase === 'deploy') whenStarted(3, () => fleet.freeze(3))();
    };
    const job = sshJob(fleet, {
      hosts: [host.spec],
      revision: 'cat "$HOST_DIR/REVISION" 2>/dev/null || echo none',
      deploy: 'touch "$HOST_DIR/started"; sleep 1; echo "$DEPLOY_SHA" > "$HOST_DIR/REVISION"',
      timeouts: { connect: '4s', command: '30s', total: '2m' },
    });
    const result = await fleetDeployer(fleet).deploy(job, events);

    expect(result).toEqual({ state: 'error', description: `outcome unknown on ${host.spec}; not retried` });
    expect(events.finished.get(host.spec)?.message).toMatch(/mid-command; outcome unknown, not retried \(revision unreachable: handshake with 127\.0\.0\.1:\d+ did not complete within \d+ ms\)$/);
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

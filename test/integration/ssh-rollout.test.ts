// The ssh deployer's rollout against real sshd hosts: order and concurrency read from the hosts' own
// logs, failures with and without max_failures, healthcheck → rollback, revision skips, cancel.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SshdFleet } from '../support/sshd-fleet.ts';
import { SHA, eventually, fleetDeployer, hostFile, recordEvents, release, sshJob, untilReleased } from './ssh-test-job.ts';

const HOSTS = 5;
// Each host appends its start and end (nanoseconds, one clock: they all run on this machine); `middle`
// runs between them.
const loggedDeploy = (middle: string) =>
  `echo "start $(date +%s%N)" >> "$HOST_DIR/deploy.log"; ${middle}; test ! -e "$HOST_DIR/fail-deploy"; status=$?; echo "end $(date +%s%N)" >> "$HOST_DIR/deploy.log"; exit $status`;
const LOGGED_DEPLOY = loggedDeploy('sleep 0.4');

let fleet: SshdFleet;
beforeAll(async () => {
  fleet = await SshdFleet.start(HOSTS);
});
afterAll(async () => {
  await fleet?.close();
});
beforeEach(() => {
  for (const host of fleet.hosts) {
    for (const file of ['deploy.log', 'fail-deploy', 'fail-health', 'rolled-back', 'REVISION', 'env.txt', 'release'])
      rmSync(join(host.dir, file), { force: true });
  }
});

function intervals(): Array<{ host: number; start: bigint; end: bigint }> {
  return fleet.hosts.flatMap((host) => {
    const log = hostFile(fleet, host.index, 'deploy.log');
    if (!log) return [];
    const start = BigInt(/start (\d+)/.exec(log)![1]!);
    const end = BigInt(/end (\d+)/.exec(log)![1]!);
    return [{ host: host.index, start, end }];
  });
}

function maxOverlap(spans: Array<{ start: bigint; end: bigint }>): number {
  const points = spans.flatMap((s) => [
    { at: s.start, delta: 1 },
    { at: s.end, delta: -1 },
  ]);
  points.sort((a, b) => (a.at === b.at ? a.delta - b.delta : a.at < b.at ? -1 : 1));
  let current = 0;
  let max = 0;
  for (const point of points) max = Math.max(max, (current += point.delta));
  return max;
}

describe('ssh rollout over real sshd hosts', () => {
  it('deploys one by one in the listed order when concurrency is 1', async () => {
    const events = recordEvents();
    const result = await fleetDeployer(fleet).deploy(sshJob(fleet, { deploy: LOGGED_DEPLOY, concurrency: 1 }), events);

    expect(result).toMatchObject({ state: 'succeeded', description: `deployed to ${HOSTS}/${HOSTS} hosts` });
    const spans = intervals();
    expect(spans.map((s) => s.host)).toEqual(fleet.hosts.map((h) => h.index));
    for (let i = 1; i < spans.length; i++) expect(spans[i]!.start).toBeGreaterThan(spans[i - 1]!.end);
    for (const host of fleet.hosts) expect(fleet.sshdLog(host.index)).toMatch(/Accepted publickey for \S+ from 127\.0\.0\.1/);
  });

  it('never runs more hosts at once than concurrency, and does run them together', async () => {
    // A host's deploy goes on (after 0.4 s in which a third host could start) only once another host runs
    // beside it, or once no other host is left to come: on a machine too slow for two handshakes within
    // 0.4 s, the hosts still overlap whenever the deployer runs two at once, and never when it does not.
    const logOf = (index: number) => hostFile(fleet, index, 'deploy.log');
    const releaser = setInterval(() => {
      const started = fleet.hosts.filter((h) => logOf(h.index).includes('start'));
      const running = started.filter((h) => !logOf(h.index).includes('end'));
      if (running.length >= 2 || started.length === HOSTS) for (const host of running) release(fleet, host.index);
    }, 20);
    const job = sshJob(fleet, { deploy: loggedDeploy(`sleep 0.4; ${untilReleased()}`), concurrency: 2 });
    const result = await fleetDeployer(fleet)
      .deploy(job, recordEvents())
      .finally(() => clearInterval(releaser));

    expect(result.state).toBe('succeeded');
    const spans = intervals();
    expect(spans).toHaveLength(HOSTS);
    expect(maxOverlap(spans)).toBe(2);
  });

  it('sets the DEPLOY_* variables and streams each host its own output', async () => {
    const events = recordEvents();
    const deploy =
      'echo "sha=$DEPLOY_SHA ref=$DEPLOY_REF env=$DEPLOY_ENVIRONMENT repo=$DEPLOY_REPOSITORY task=$DEPLOY_TASK host=$DEPLOY_HOST prev=$DEPLOY_PREVIOUS_SHA id=$DEPLOY_ID"; echo warning >&2';
    const job = sshJob(fleet, { deploy, concurrency: 3 });
    const result = await fleetDeployer(fleet).deploy(job, events);

    expect(result.state).toBe('succeeded');
    for (const host of fleet.hosts) {
      expect(events.output(host.spec)).toContain(
        `sha=${SHA} ref=main env=staging repo=acme/app task=deploy host=${host.spec} prev=${job.previousSha} id=42\n`,
      );
      expect(events.output(host.spec)).toContain('warning\n');
      expect(events.output(host.spec)).not.toContain('shipguard-pgid');
    }
  });

  it('stops starting hosts after the first failure with max_failures 0, and lets the running host finish', async () => {
    writeFileSync(join(fleet.hosts[1]!.dir, 'fail-deploy'), '');
    // Host 1 fails once host 0's deploy has started; host 0's deploy ends only after host 1 has failed.
    const deploy = loggedDeploy(untilReleased());
    const events = recordEvents();
    events.onPhase = (host, phase) => {
      if (host === fleet.hosts[0]!.spec && phase === 'deploy')
        void eventually(() => hostFile(fleet, 0, 'deploy.log').includes('start')).then(() => release(fleet, 1));
    };
    events.onFinished = (host) => {
      if (host === fleet.hosts[1]!.spec) release(fleet, 0);
    };
    const result = await fleetDeployer(fleet).deploy(sshJob(fleet, { deploy, concurrency: 2, max_failures: 0 }), events);

    expect(result.state).toBe('failed');
    expect(result.description).toContain(`failed on ${fleet.hosts[1]!.spec} (deploy exited 1)`);
    // Host 0 was in progress when host 1 failed: it finished and is reported; no other host started.
    expect(events.finished.get(fleet.hosts[0]!.spec)).toMatchObject({ outcome: 'succeeded' });
    expect(events.finished.get(fleet.hosts[1]!.spec)).toMatchObject({ outcome: 'failed', message: 'deploy exited 1' });
    expect(intervals().map((s) => s.host)).toEqual([0, 1]);
    expect(events.finished.size).toBe(2);
  });

  it('goes on past failures up to max_failures, then stops', async () => {
    writeFileSync(join(fleet.hosts[1]!.dir, 'fail-deploy'), '');
    writeFileSync(join(fleet.hosts[3]!.dir, 'fail-deploy'), '');
    const events = recordEvents();
    const result = await fleetDeployer(fleet).deploy(sshJob(fleet, { deploy: LOGGED_DEPLOY, concurrency: 1, max_failures: 1 }), events);

    expect(result.state).toBe('failed');
    expect(result.description).toContain(`failed on ${fleet.hosts[1]!.spec}, ${fleet.hosts[3]!.spec}`);
    expect(intervals().map((s) => s.host)).toEqual([0, 1, 2, 3]);
    expect([...events.finished.values()].map((f) => f.outcome)).toEqual(['succeeded', 'failed', 'succeeded', 'failed']);
  });

  it('rolls back a host whose healthcheck fails, and only that host', async () => {
    writeFileSync(join(fleet.hosts[2]!.dir, 'fail-health'), '');
    const events = recordEvents();
    const job = sshJob(fleet, {
      deploy: 'true',
      healthcheck: 'test ! -e "$HOST_DIR/fail-health"',
      rollback: 'echo "to $DEPLOY_PREVIOUS_SHA" > "$HOST_DIR/rolled-back"',
      concurrency: 1,
      max_failures: 5,
    });
    const result = await fleetDeployer(fleet).deploy(job, events);

    expect(result.state).toBe('failed');
    expect(events.finished.get(fleet.hosts[2]!.spec)).toEqual({ outcome: 'failed', message: 'healthcheck exited 1; rolled back' });
    expect(hostFile(fleet, 2, 'rolled-back')).toBe(`to ${job.previousSha}\n`);
    for (const index of [0, 1, 3, 4]) {
      expect(hostFile(fleet, index, 'rolled-back')).toBe('');
      expect(events.finished.get(fleet.hosts[index]!.spec)?.outcome).toBe('succeeded');
    }
    expect(events.phases.filter((p) => p.phase === 'rollback')).toEqual([{ host: fleet.hosts[2]!.spec, phase: 'rollback' }]);
  });

  it('skips hosts whose revision already shows the sha', async () => {
    writeFileSync(join(fleet.hosts[0]!.dir, 'REVISION'), `${SHA}\n`);
    const events = recordEvents();
    const job = sshJob(fleet, {
      deploy: 'echo deployed >> "$HOST_DIR/deploy.log"; echo "$DEPLOY_SHA" > "$HOST_DIR/REVISION"',
      revision: 'cat "$HOST_DIR/REVISION" 2>/dev/null || echo none',
      concurrency: 2,
    });
    const result = await fleetDeployer(fleet).deploy(job, events);

    expect(result).toMatchObject({ state: 'succeeded', description: `deployed to ${HOSTS}/${HOSTS} hosts (1 already at this sha)` });
    expect(hostFile(fleet, 0, 'deploy.log')).toBe('');
    for (const index of [1, 2, 3, 4]) expect(hostFile(fleet, index, 'deploy.log')).toBe('deployed\n');
  });

  it('on cancel starts no new host and lets the running one finish', async () => {
    const cancel = new AbortController();
    const events = recordEvents();
    events.onPhase = (host, phase) => {
      if (host === fleet.hosts[1]!.spec && phase === 'deploy') cancel.abort();
    };
    const job = sshJob(fleet, { deploy: LOGGED_DEPLOY, concurrency: 1 }, { cancel: cancel.signal });
    const result = await fleetDeployer(fleet).deploy(job, events);

    expect(result).toMatchObject({ state: 'cancelled', description: `cancelled after 2/${HOSTS} hosts` });
    expect(intervals().map((s) => s.host)).toEqual([0, 1]);
    expect(events.finished.get(fleet.hosts[1]!.spec)?.outcome).toBe('succeeded');
  });
});

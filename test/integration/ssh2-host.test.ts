// The demo's SSH hosts for machines without OpenSSH (test/support/ssh2-host.ts), checked with the real
// ssh deployer: commands run in the host's folder with $HOST_DIR, exit codes come back, only the fleet's
// client key gets in, and a host key other than the pinned one is refused.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fleetDeployer, recordEvents, SHA, sshJob } from './ssh-test-job.ts';
import type { SshdFleet } from '../support/sshd-fleet.ts';
import { Ssh2Fleet } from '../support/ssh2-host.ts';
import ssh2 from 'ssh2';

let fleet: Ssh2Fleet;
// The ssh test helpers take an sshd fleet; this one has the same surface they use.
let asFleet: SshdFleet;
beforeAll(async () => {
  fleet = await Ssh2Fleet.start(2);
  asFleet = fleet as unknown as SshdFleet;
});
afterAll(async () => {
  await fleet?.close();
});

it('runs each host’s commands in its folder and reports their exit codes', async () => {
  const events = recordEvents();
  const deploy = 'echo "$DEPLOY_SHA" > "$HOST_DIR/REVISION"; pwd; test "$DEPLOY_HOST" != "' + fleet.hosts[1]!.spec + '"';
  const result = await fleetDeployer(asFleet).deploy(
    sshJob(asFleet, { deploy, revision: 'cat "$HOST_DIR/REVISION" 2>/dev/null || true', max_failures: 1 }),
    events,
  );

  expect(result.state).toBe('failed');
  expect(events.finished.get(fleet.hosts[0]!.spec)).toEqual({ outcome: 'succeeded', message: 'deployed' });
  expect(events.finished.get(fleet.hosts[1]!.spec)).toEqual({ outcome: 'failed', message: 'deploy exited 1' });
  expect(events.output(fleet.hosts[0]!.spec)).toContain(`${fleet.hosts[0]!.dir}\n`);

  // The revision command sees what the deploy wrote: host 0 is skipped the second time.
  const again = recordEvents();
  await fleetDeployer(asFleet).deploy(sshJob(asFleet, { deploy: 'true', revision: 'cat "$HOST_DIR/REVISION" 2>/dev/null || true' }), again);
  expect(again.finished.get(fleet.hosts[0]!.spec)).toEqual({ outcome: 'skipped', message: `already at ${SHA.slice(0, 7)}` });
});

it('lets in only the fleet’s client key, and is refused by a client that pinned another host key', async () => {
  const stranger = ssh2.utils.generateKeyPairSync('ed25519').private;
  const wrongKey = await fleetDeployer(asFleet, { privateKey: stranger }).deploy(
    sshJob(asFleet, { deploy: 'true', hosts: [fleet.hosts[0]!.spec] }),
    recordEvents(),
  );
  expect(wrongKey.state).toBe('failed');
  expect(wrongKey.description).toMatch(/auth/i);

  const otherHostKey = fleet.hosts[1]!.knownHostsLine.replace(/^\S+/, `[127.0.0.1]:${fleet.hosts[0]!.port}`);
  const wrongHost = await fleetDeployer(asFleet, { knownHosts: otherHostKey }).deploy(
    sshJob(asFleet, { deploy: 'true', hosts: [fleet.hosts[0]!.spec] }),
    recordEvents(),
  );
  expect(wrongHost.state).toBe('failed');
  expect(wrongHost.description).toMatch(/host key/i);
});

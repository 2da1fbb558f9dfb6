// A fleet at once, against real sshd hosts with OpenSSH's default MaxStartups (10:30:100) and
// MaxSessions (10): 32 hosts in one rollout without a connection error, 40 connections to a single
// server (past MaxStartups) and 20 commands at once on one connection (past MaxSessions), all served
// because the deployer caps handshakes in flight and channels per connection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandEnd } from '../../bot/deployers/host-transport.ts';
import {
  DEFAULT_MAX_CHANNELS_PER_CONNECTION,
  DEFAULT_MAX_HANDSHAKES,
  DEFAULT_MAX_HANDSHAKES_PER_SERVER,
  HandshakeSlots,
} from '../../bot/deployers/ssh/connection-limits.ts';
import { KnownHosts } from '../../bot/deployers/ssh/known-hosts.ts';
import { SshTransport } from '../../bot/deployers/ssh/ssh-transport.ts';
import { SshdFleet } from '../support/sshd-fleet.ts';
import { fleetDeployer, hostFile, recordEvents, sshJob } from './ssh-test-job.ts';

const HOSTS = 32;
// What these tests check is that no connection or channel is refused, not how fast a loaded machine
// serves 32 hosts at once: every limit below is far beyond what that takes, so that a slow handshake
// or a command queued behind the others can never pass for a refusal (or end `unknown`).
const CONNECT_MS = 60_000;
const COMMAND_MS = 60_000;

let fleet: SshdFleet;
beforeAll(async () => {
  fleet = await SshdFleet.start(HOSTS);
}, 300_000);
afterAll(async () => {
  await fleet?.close();
});

function transport(): SshTransport {
  return new SshTransport({
    privateKey: fleet.privateKey,
    knownHosts: KnownHosts.parse(fleet.knownHosts),
    defaultUser: fleet.user,
    handshakes: new HandshakeSlots(DEFAULT_MAX_HANDSHAKES_PER_SERVER, DEFAULT_MAX_HANDSHAKES),
    maxChannelsPerConnection: DEFAULT_MAX_CHANNELS_PER_CONNECTION,
    keepaliveIntervalMs: 5000,
    keepaliveCountMax: 3,
    killGraceMs: 5000,
    connectAttempts: 1, // no retry: a refused burst must show up as a failure here
    connectRetryDelayMs: 0,
  });
}

describe('ssh at fleet scale', () => {
  it(`deploys to ${HOSTS} hosts at once without a connection error`, async () => {
    const events = recordEvents();
    const job = sshJob(fleet, {
      deploy: 'echo "$DEPLOY_HOST" > "$HOST_DIR/deployed"',
      concurrency: HOSTS,
      timeouts: { connect: '60s', command: '2m', total: '4m' },
    });
    // Keepalive slower than fleetDeployer's test default: a connection starved of CPU for 3 s is alive.
    const result = await fleetDeployer(fleet, { keepaliveIntervalMs: 5000 }).deploy(job, events);

    expect(result).toEqual({ state: 'succeeded', description: `deployed to ${HOSTS}/${HOSTS} hosts` });
    for (const host of fleet.hosts) {
      expect(hostFile(fleet, host.index, 'deployed')).toBe(`${host.spec}\n`);
      const log = fleet.sshdLog(host.index);
      expect(log.match(/^Accepted publickey/gm)).toHaveLength(1);
      expect(log).not.toMatch(/drop connection|beginning MaxStartups throttling/);
    }
  }, 300_000);

  it('opens 40 connections to one server at once (past MaxStartups) without one refused', async () => {
    const ssh = transport();
    const host = fleet.hosts[0]!;
    const ends = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const connection = await ssh.connect(host.spec, { timeoutMs: CONNECT_MS });
        try {
          return await connection.run(`exit ${i % 7}`, {
            env: {},
            timeoutMs: COMMAND_MS,
            hardDeadline: Date.now() + COMMAND_MS + 5_000,
            halt: new AbortController().signal,
            onOutput: () => {},
          });
        } finally {
          connection.close();
        }
      }),
    );
    expect(ends).toEqual(Array.from({ length: 40 }, (_, i): CommandEnd => ({ kind: 'exit', code: i % 7 })));
    expect(fleet.sshdLog(0)).not.toMatch(/drop connection|beginning MaxStartups throttling/);
  }, 180_000);

  it('runs 20 commands at once on one connection (past MaxSessions) without a channel refused', async () => {
    const connection = await transport().connect(fleet.hosts[1]!.spec, { timeoutMs: CONNECT_MS });
    try {
      const outputs = Array.from({ length: 20 }, () => [] as string[]);
      const ends = await Promise.all(
        outputs.map((output, i) =>
          // stdout only: each command's own line is what is compared.
          connection.run(`sleep 0.3; echo command ${i}`, {
            env: {},
            timeoutMs: COMMAND_MS,
            hardDeadline: Date.now() + COMMAND_MS + 5_000,
            halt: new AbortController().signal,
            onOutput: (stream, text) => stream === 'stdout' && output.push(text),
          }),
        ),
      );
      expect(ends).toEqual(outputs.map((): CommandEnd => ({ kind: 'exit', code: 0 })));
      expect(outputs.map((o) => o.join(''))).toEqual(outputs.map((_, i) => `command ${i}\n`));
    } finally {
      connection.close();
    }
  }, 180_000);
});

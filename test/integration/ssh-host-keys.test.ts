// Host keys pinned by SHIPGUARD_KNOWN_HOSTS, against real sshd hosts: an unknown, changed or revoked key
// fails the host naming the fingerprint it offered, before any login (the host's own log shows none);
// hashed entries work; refused connections and refused client keys fail cleanly; and the deployer built
// from the bot's environment says what is missing.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sshDeployerFromEnvironment } from '../../bot/deployers/ssh/from-environment.ts';
import { SshdFleet } from '../support/sshd-fleet.ts';
import { fleetDeployer, hostFile, recordEvents, sshJob } from './ssh-test-job.ts';

const DEPLOY = 'echo yes > "$HOST_DIR/deployed"';

let fleet: SshdFleet;
beforeAll(async () => {
  fleet = await SshdFleet.start(3);
});
afterEach(() => {
  for (const host of fleet.hosts) rmSync(join(host.dir, 'deployed'), { force: true });
});
afterAll(async () => {
  await fleet?.close();
});

/** What `ssh-keygen -l` says the fingerprint of a known_hosts line's key is. */
function opensshFingerprint(knownHostsLine: string): string {
  const file = join(fleet.dir, 'fingerprint-input');
  writeFileSync(file, `${knownHostsLine}\n`);
  return execFileSync('ssh-keygen', ['-l', '-f', file], { encoding: 'utf8' }).split(' ')[1]!;
}

function freshPublicKey(): string {
  const path = join(fleet.dir, `other-key-${Date.now()}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path]);
  return readFileSync(`${path}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
}

async function deployTo(index: number, options: Parameters<typeof fleetDeployer>[1] = {}) {
  const events = recordEvents();
  const host = fleet.hosts[index]!;
  const result = await fleetDeployer(fleet, options).deploy(
    sshJob(fleet, { hosts: [host.spec], deploy: DEPLOY, timeouts: { connect: '10s', command: '20s', total: '1m' } }),
    events,
  );
  return { result, message: events.finished.get(host.spec)?.message ?? '', outcome: events.finished.get(host.spec)?.outcome };
}

function loginsOn(index: number): number {
  return fleet
    .sshdLog(index)
    .split('\n')
    .filter((line) => line.startsWith('Accepted publickey')).length;
}

describe('ssh host key pinning', () => {
  it('refuses a host whose key is not listed, naming the host and the fingerprint it offered', async () => {
    const host = fleet.hosts[0]!;
    const logins = loginsOn(0);
    const onlyOthers = fleet.hosts
      .filter((h) => h.index !== 0)
      .map((h) => h.knownHostsLine)
      .join('\n');
    const { result, outcome, message } = await deployTo(0, { knownHosts: onlyOthers });

    expect(result.state).toBe('failed');
    expect(outcome).toBe('failed');
    expect(message).toBe(
      `not deployed: host [127.0.0.1]:${host.port} offered ssh-ed25519 key ${opensshFingerprint(host.knownHostsLine)}, which is not in SHIPGUARD_KNOWN_HOSTS; refused; nothing run`,
    );
    expect(hostFile(fleet, 0, 'deployed')).toBe('');
    expect(loginsOn(0)).toBe(logins);
  });

  it('refuses a host whose key changed, as a possible man-in-the-middle', async () => {
    const host = fleet.hosts[0]!;
    const logins = loginsOn(0);
    const pinnedElsewhere = fleet.knownHosts.replace(host.knownHostsLine, `[127.0.0.1]:${host.port} ${freshPublicKey()}`);
    const { outcome, message } = await deployTo(0, { knownHosts: pinnedElsewhere });

    expect(outcome).toBe('failed');
    expect(message).toContain(
      `host [127.0.0.1]:${host.port} offered ssh-ed25519 key ${opensshFingerprint(host.knownHostsLine)}, which differs from the key pinned for it`,
    );
    expect(message).toContain('HOST KEY CHANGED');
    expect(hostFile(fleet, 0, 'deployed')).toBe('');
    expect(loginsOn(0)).toBe(logins);
  });

  it('refuses a key marked @revoked even where it is also listed', async () => {
    const key = fleet.hosts[1]!.knownHostsLine.split(' ').slice(1).join(' ');
    const { outcome, message } = await deployTo(1, { knownHosts: `${fleet.knownHosts}@revoked * ${key}\n` });

    expect(outcome).toBe('failed');
    expect(message).toContain('which is marked @revoked');
    expect(hostFile(fleet, 1, 'deployed')).toBe('');
  });

  it('trusts hashed known_hosts entries (ssh-keygen -H)', async () => {
    const file = join(fleet.dir, 'hashed_known_hosts');
    writeFileSync(file, fleet.knownHosts);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const hashed = readFileSync(file, 'utf8');
    expect(hashed).not.toContain('127.0.0.1');
    expect(hashed).toMatch(/^\|1\|/);

    const events = recordEvents();
    const result = await fleetDeployer(fleet, { knownHosts: hashed }).deploy(sshJob(fleet, { deploy: DEPLOY, concurrency: 3 }), events);
    expect(result.state).toBe('succeeded');
    for (const host of fleet.hosts) expect(hostFile(fleet, host.index, 'deployed')).toBe('yes\n');
    for (const host of fleet.hosts) expect(events.finished.get(host.spec)?.outcome).toBe('succeeded');
  });

  it('fails a host that refuses the deployer key, with nothing run', async () => {
    const other = join(fleet.dir, 'stranger_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const { outcome, message } = await deployTo(1, { privateKey: readFileSync(other, 'utf8') });

    expect(outcome).toBe('failed');
    expect(message).toBe(
      `not deployed: 127.0.0.1:${fleet.hosts[1]!.port} refused the deployer's key for user ${fleet.user} (is its public key in authorized_keys?)`,
    );
    expect(hostFile(fleet, 1, 'deployed')).toBe('');
  });

  it('retries a refused connection briefly: a host whose sshd comes up a moment later is deployed', async () => {
    // A port that refuses at first; shortly after the first attempt it starts forwarding to host 0's sshd.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    let forwarder: Server | undefined;
    const events = recordEvents();
    events.onPhase = (_host, phase) => {
      if (phase !== 'connect') return;
      setTimeout(() => {
        forwarder = createServer((socket) => {
          const upstream = connect(fleet.hosts[0]!.port, '127.0.0.1');
          socket.pipe(upstream).pipe(socket);
          socket.on('error', () => upstream.destroy());
          upstream.on('error', () => socket.destroy());
        }).listen(port, '127.0.0.1');
      }, 150);
    };
    try {
      const spec = `${fleet.user}@127.0.0.1:${port}`;
      const knownHosts = `[127.0.0.1]:${port} ${fleet.hosts[0]!.knownHostsLine.split(' ').slice(1).join(' ')}\n`;
      const job = sshJob(fleet, { hosts: [spec], deploy: DEPLOY, timeouts: { connect: '10s', command: '20s', total: '1m' } });
      const result = await fleetDeployer(fleet, { knownHosts, connectRetryDelayMs: 500 }).deploy(job, events);

      expect(result.state).toBe('succeeded');
      expect(hostFile(fleet, 0, 'deployed')).toBe('yes\n');
    } finally {
      await new Promise((resolve) => (forwarder ? forwarder.close(resolve) : resolve(undefined)));
    }
  });

  it('fails a host that refuses connections, after brief retries', async () => {
    await fleet.stop(2);
    const { result, message } = await deployTo(2, { connectRetryDelayMs: 100 });

    expect(result.state).toBe('failed');
    expect(message).toBe(`not deployed: connection refused by 127.0.0.1:${fleet.hosts[2]!.port}`);
  });
});

describe('ssh deployer built from the environment', () => {
  it('deploys with SHIPGUARD_SSH_KEY_PATH and SHIPGUARD_KNOWN_HOSTS_PATH', async () => {
    const knownHostsPath = join(fleet.dir, 'env_known_hosts');
    writeFileSync(knownHostsPath, fleet.knownHosts);
    const deployer = sshDeployerFromEnvironment({
      SHIPGUARD_SSH_KEY_PATH: fleet.privateKeyPath,
      SHIPGUARD_KNOWN_HOSTS_PATH: knownHostsPath,
    });
    const result = await deployer.deploy(sshJob(fleet, { hosts: [fleet.hosts[0]!.spec], deploy: DEPLOY }), recordEvents());

    expect(result.state).toBe('succeeded');
    expect(hostFile(fleet, 0, 'deployed')).toBe('yes\n');
  });

  it('without a key, ends every deploy in error before contacting any host', async () => {
    const logins = loginsOn(0);
    const deployer = sshDeployerFromEnvironment({ SHIPGUARD_KNOWN_HOSTS: fleet.knownHosts });
    const result = await deployer.deploy(sshJob(fleet, { hosts: [fleet.hosts[0]!.spec], deploy: DEPLOY }), recordEvents());

    expect(result).toEqual({
      state: 'error',
      description: 'ssh deployer: no SHIPGUARD_SSH_KEY or SHIPGUARD_SSH_KEY_PATH set; nothing executed',
    });
    expect(loginsOn(0)).toBe(logins);
  });

  it('without known hosts, or with unusable settings, says what is wrong', async () => {
    const job = sshJob(fleet, { hosts: [fleet.hosts[0]!.spec], deploy: DEPLOY });
    const cases: Array<[NodeJS.ProcessEnv, string]> = [
      [
        { SHIPGUARD_SSH_KEY: fleet.privateKey },
        'ssh deployer: no SHIPGUARD_KNOWN_HOSTS or SHIPGUARD_KNOWN_HOSTS_PATH set; every host refused, nothing executed',
      ],
      [
        { SHIPGUARD_SSH_KEY: fleet.privateKey, SHIPGUARD_KNOWN_HOSTS: '[127.0.0.1]:22 ssh-ed25519 not-base64!' },
        'ssh deployer: SHIPGUARD_KNOWN_HOSTS line 1: the key is not valid base64; every host refused, nothing executed',
      ],
      [{ SHIPGUARD_SSH_KEY: 'not a key', SHIPGUARD_KNOWN_HOSTS: fleet.knownHosts }, 'ssh deployer: the private key cannot be used ('],
      [
        { SHIPGUARD_SSH_KEY_PATH: '/nonexistent/key', SHIPGUARD_KNOWN_HOSTS: fleet.knownHosts },
        'ssh deployer: cannot read SHIPGUARD_SSH_KEY_PATH (/nonexistent/key): ENOENT; nothing executed',
      ],
    ];
    for (const [env, description] of cases) {
      const result = await sshDeployerFromEnvironment(env).deploy(job, recordEvents());
      expect(result.state).toBe('error');
      expect(result.description.startsWith(description)).toBe(true);
    }
    expect(hostFile(fleet, 0, 'deployed')).toBe('');
  });
});

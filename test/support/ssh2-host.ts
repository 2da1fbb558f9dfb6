// SSH hosts for machines without OpenSSH: an `ssh2` server per fake VM on loopback, running each
// command with `sh -c` in the host's own temporary folder. The demo falls back to it when
// /usr/sbin/sshd is missing; tests use real sshd (test/support/sshd-fleet.ts), whose surface this keeps:
//
//   const fleet = await Ssh2Fleet.start(3);
//   fleet.hosts[0].spec     // 'deploy@127.0.0.1:40123', for deploy.yml's `hosts`
//   fleet.hosts[0].dir      // where its commands run; they see it as $HOST_DIR, as on the sshd fleet
//   fleet.knownHosts        // known_hosts text pinning every host's key (SHIPGUARD_KNOWN_HOSTS)
//   fleet.privateKey        // the only client key the hosts accept (SHIPGUARD_SSH_KEY)
//   await fleet.close()     // stops the servers and what their commands still run, deletes the folders
//
// Like sshd without a pty, a command outlives a closed channel; each runs in its own process group, so
// the deployer's `kill -- -<pgid>` reaches it.
import { spawn, type ChildProcess } from 'node:child_process';
import { timingSafeEqual } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2, { type Connection, type ServerChannel } from 'ssh2';

const { Server, utils } = ssh2;

export interface Ssh2Host {
  index: number;
  spec: string;
  port: number;
  dir: string;
  knownHostsLine: string;
}

export class Ssh2Fleet {
  readonly dir: string;
  readonly hosts: Ssh2Host[];
  readonly privateKey: string;
  readonly knownHosts: string;
  private readonly open: OpenThings;

  private constructor(dir: string, hosts: Ssh2Host[], privateKey: string, open: OpenThings) {
    this.dir = dir;
    this.hosts = hosts;
    this.privateKey = privateKey;
    this.open = open;
    this.knownHosts = hosts.map((h) => h.knownHostsLine).join('\n') + '\n';
  }

  static async start(count: number): Promise<Ssh2Fleet> {
    const dir = await mkdtemp(join(tmpdir(), 'shipguard-ssh2-'));
    const client = utils.generateKeyPairSync('ed25519', { comment: 'shipguard-demo-client' });
    const allowed = utils.parseKey(client.public);
    if (allowed instanceof Error) throw allowed;
    const open: OpenThings = { servers: [], connections: new Set(), children: new Set() };
    const hosts: Ssh2Host[] = [];
    try {
      for (let index = 0; index < count; index++) {
        const hostDir = join(dir, `host-${index}`);
        mkdirSync(hostDir);
        const hostKey = utils.generateKeyPairSync('ed25519', { comment: `host-${index}` });
        const server = new Server({ hostKeys: [hostKey.private] }, (connection) => {
          open.connections.add(connection);
          connection.on('close', () => open.connections.delete(connection));
          connection.on('error', () => {
            // a client that went away: 'close' follows
          });
          connection.on('authentication', (context) => {
            if (
              context.method !== 'publickey' ||
              context.key.algo !== allowed.type ||
              !sameBytes(context.key.data, allowed.getPublicSSH())
            ) {
              return context.reject(['publickey']);
            }
            // Without a signature the client only asks whether the key would do; with one, it proves it holds it.
            if (!context.signature) return context.accept();
            if (allowed.verify(context.blob!, context.signature, context.hashAlgo) === true) return context.accept();
            context.reject(['publickey']);
          });
          connection.on('session', (acceptSession) => {
            const session = acceptSession();
            session.on('exec', (acceptExec, _reject, info) => {
              runCommand(info.command, hostDir, acceptExec(), open.children);
            });
          });
        });
        open.servers.push(server);
        const port = await new Promise<number>((resolve, reject) => {
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
        });
        const publicKey = hostKey.public.trim().split(/\s+/).slice(0, 2).join(' ');
        hosts.push({ index, spec: `deploy@127.0.0.1:${port}`, port, dir: hostDir, knownHostsLine: `[127.0.0.1]:${port} ${publicKey}` });
      }
      return new Ssh2Fleet(dir, hosts, client.private, open);
    } catch (error) {
      await closeAll(open);
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  async close(): Promise<void> {
    await closeAll(this.open);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Runs one exec request like sshd without a pty: `sh -c` in the host's folder, output and exit status back. */
function runCommand(command: string, hostDir: string, channel: ServerChannel, children: Set<ChildProcess>): void {
  const child = spawn('sh', ['-c', command], {
    cwd: hostDir,
    env: { ...process.env, HOST_DIR: hostDir },
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  child.stdout!.on('data', (chunk: Buffer) => channel.writable && channel.write(chunk));
  child.stderr!.on('data', (chunk: Buffer) => channel.writable && channel.stderr.write(chunk));
  channel.on('data', (chunk: Buffer) => child.stdin!.write(chunk));
  channel.on('end', () => child.stdin!.end());
  channel.on('error', () => {});
  child.stdin!.on('error', () => {});
  child.once('close', (code, signal) => {
    children.delete(child);
    if (!channel.writable) return;
    // After the output already queued, as sshd does: an exit status must not overtake it.
    channel.write(Buffer.alloc(0), () => {
      if (code !== null) channel.exit(code);
      else channel.exit((signal ?? 'SIGKILL').replace(/^SIG/, ''), false, '');
      channel.end();
    });
  });
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

interface OpenThings {
  servers: InstanceType<typeof Server>[];
  connections: Set<Connection>;
  children: Set<ChildProcess>;
}

async function closeAll(open: OpenThings): Promise<void> {
  for (const child of open.children) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const connection of open.connections) connection.end();
  await Promise.all(open.servers.map((server) => new Promise((resolve) => server.close(resolve))));
}

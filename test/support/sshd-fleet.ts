// A fleet of real OpenSSH servers on loopback: one `/usr/sbin/sshd -D` per fake VM, for the ssh
// deployer's integration tests, the end-to-end tests, the demo and the benchmark.
//
//   const fleet = await SshdFleet.start(3);
//   fleet.hosts[0].spec          // 'shipguard-test@127.0.0.1:40123': what deploy.yml's `hosts` lists
//   fleet.user                   // the login every host accepts ('shipguard-test' when run as root)
//   fleet.hosts[0].dir           // the host's own folder; commands see it as $HOST_DIR
//   fleet.knownHosts             // known_hosts text pinning every host's key (SHIPGUARD_KNOWN_HOSTS)
//   fleet.privateKey             // the client key every host accepts (SHIPGUARD_SSH_KEY)
//   fleet.sshdLog(0)             // what that sshd logged (connections, auth, errors)
//   await fleet.kill(1)          // SIGKILL the host's sshd and its sessions: connections drop at once
//   await fleet.stop(1)          // stop the listener: new connections are refused
//   fleet.freeze(1) / thaw(1)    // SIGSTOP/SIGCONT the listener and its sessions: the host stops answering
//   fleet.freezeSessions(1)      // SIGSTOP only open connections: they hang, new ones still work
//   await fleet.close()          // stops everything and deletes the folder (call it in afterAll)
//
// Each host has its own host key (ssh-keygen), its own folder and log, `MaxStartups` and `MaxSessions`
// at OpenSSH's defaults; key login only, no PAM. Commands run by the host get `HOST_DIR` from sshd's
// SetEnv, so a test can tell which "VM" it is on.
//
// Run as root, every host logs in as `shipguard-test` (created here when missing): its shell is /bin/sh,
// which reads no start-up file for a command, and sshd runs no ~/.ssh/rc. Logging in as root would run
// each command through root's shell and its rc files (a pyenv init that rehashes under a lock, say): the
// cost of a session would then depend on how this machine is set up, and concurrent sessions would queue
// behind one another. Run as another user, sshd can only log that user in, so the hosts use it.
import { freePort } from './ports.ts';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const SSHD = '/usr/sbin/sshd';
const run = promisify(execFile);

/** The account the hosts log in as when the tests run as root. */
export const FLEET_USER = 'shipguard-test';

interface Account {
  name: string;
  uid: number;
  gid: number;
}

export interface FleetHost {
  index: number;
  /** `user@127.0.0.1:port`, as deploy.yml's `hosts` lists it. */
  spec: string;
  port: number;
  /** The host's own folder (its sshd config, key and log live in `dir/.sshd`); `$HOST_DIR` in commands. */
  dir: string;
  /** This host's line for known_hosts. */
  knownHostsLine: string;
}

interface RunningHost extends FleetHost {
  process: ChildProcess;
  configPath: string;
  logPath: string;
}

const startedPids = new Set<number>();
// Last resort when a test process dies without calling close(): no sshd outlives it.
process.once('exit', () => {
  for (const pid of startedPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

export class SshdFleet {
  readonly dir: string;
  /** The login name in every host's spec: FLEET_USER as root, else the current user. */
  readonly user: string;
  readonly hosts: FleetHost[];
  readonly privateKey: string;
  readonly privateKeyPath: string;
  readonly knownHosts: string;
  private readonly running: RunningHost[];

  private constructor(dir: string, user: string, running: RunningHost[], privateKeyPath: string) {
    this.dir = dir;
    this.user = user;
    this.running = running;
    this.hosts = running.map(({ index, spec, port, dir, knownHostsLine }) => ({ index, spec, port, dir, knownHostsLine }));
    this.privateKeyPath = privateKeyPath;
    this.privateKey = readFileSync(privateKeyPath, 'utf8');
    this.knownHosts = running.map((h) => h.knownHostsLine).join('\n') + '\n';
  }

  /** Starts `count` sshd processes, each ready to accept connections when this resolves. */
  static async start(count: number): Promise<SshdFleet> {
    if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: install openssh-server`);
    // sshd refuses to start without its privilege separation directory.
    if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    const account = await fleetAccount();
    const dir = await mkdtemp(join(tmpdir(), 'shipguard-sshd-'));
    const running: RunningHost[] = [];
    try {
      const privateKeyPath = join(dir, 'client_key');
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'shipguard-test-client', '-f', privateKeyPath]);
      const authorizedKeys = join(dir, 'authorized_keys');
      writeFileSync(authorizedKeys, readFileSync(`${privateKeyPath}.pub`), { mode: 0o600 });
      // What the hosts' commands touch belongs to the login user: sshd reads authorized_keys as that
      // user, commands write into the fleet's folder (a test's canary) and read the client key (the
      // redaction test), and each host's folder is theirs. Each host's `.sshd` folder stays root's.
      for (const path of [dir, privateKeyPath, `${privateKeyPath}.pub`, authorizedKeys]) chownSync(path, account.uid, account.gid);
      for (let index = 0; index < count; index += 8) {
        const batch = Array.from({ length: Math.min(8, count - index) }, (_, i) => startHost(dir, index + i, authorizedKeys, account));
        running.push(...(await Promise.all(batch)));
      }
      return new SshdFleet(dir, account.name, running, privateKeyPath);
    } catch (error) {
      for (const host of running) killTree(host.process.pid!, 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  sshdLog(index: number): string {
    const path = this.host(index).logPath;
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  }

  /** Stops the listener (SIGTERM) and waits for it: new connections to this host are refused. */
  async stop(index: number): Promise<void> {
    const host = this.host(index);
    await stopProcess(host.process, 'SIGTERM');
  }

  /** SIGKILLs the listener and every sshd session under it: open connections drop without a goodbye. */
  async kill(index: number): Promise<void> {
    const host = this.host(index);
    for (const pid of sshdSessions(host.process.pid!)) signal(pid, 'SIGKILL');
    await stopProcess(host.process, 'SIGKILL');
  }

  /** SIGSTOPs the listener and its sessions (not the commands they run): the host stops answering. */
  freeze(index: number): void {
    const host = this.host(index);
    signal(host.process.pid!, 'SIGSTOP');
    for (const pid of sshdSessions(host.process.pid!)) signal(pid, 'SIGSTOP');
  }

  /** SIGSTOPs only the sessions open now: those connections hang while new ones are still served. */
  freezeSessions(index: number): void {
    for (const pid of sshdSessions(this.host(index).process.pid!)) signal(pid, 'SIGSTOP');
  }

  /** Undoes freeze/freezeSessions. */
  thaw(index: number): void {
    const host = this.host(index);
    signal(host.process.pid!, 'SIGCONT');
    for (const pid of sshdSessions(host.process.pid!)) signal(pid, 'SIGCONT');
  }

  /** Kills every sshd and what its sessions still run, and deletes the fleet's folder. */
  async close(): Promise<void> {
    await Promise.all(
      this.running.map(async (host) => {
        killTree(host.process.pid!, 'SIGKILL');
        await stopProcess(host.process, 'SIGKILL');
      }),
    );
    for (const pid of strays(this.dir)) signal(pid, 'SIGKILL');
    await rm(this.dir, { recursive: true, force: true });
  }

  private host(index: number): RunningHost {
    const host = this.running[index];
    if (!host) throw new Error(`the fleet has no host ${index} (it has ${this.running.length})`);
    return host;
  }
}

let accountReady: Promise<Account> | undefined;
/** The account the hosts log in as, created once per machine (see the top of this file). */
function fleetAccount(): Promise<Account> {
  accountReady ??= ensureAccount();
  return accountReady;
}

async function ensureAccount(): Promise<Account> {
  if (process.getuid?.() !== 0) {
    // An sshd not run as root can log in no one but its own user.
    const self = userInfo();
    return { name: self.username, uid: self.uid, gid: self.gid };
  }
  // useradd fails when another one holds /etc/passwd's lock: vitest workers starting fleets at the same
  // moment (or .ci/run) take turns under flock, and whoever comes second finds the account made.
  // An empty skeleton: no start-up file in its home. Password `*`: none works, yet the account is not
  // locked (`!`, useradd's default), which sshd without PAM refuses.
  const create = [
    `getent passwd ${FLEET_USER} >/dev/null && exit 0`,
    'skel=$(mktemp -d)',
    `useradd --create-home --skel "$skel" --shell /bin/sh --password '*' ${FLEET_USER}`,
    'status=$?',
    'rmdir "$skel"',
    'exit $status',
  ].join('\n');
  await run('flock', [join(tmpdir(), 'shipguard-test-user.lock'), 'sh', '-c', create]);
  const { stdout } = await run('getent', ['passwd', FLEET_USER]);
  const [name, , uid, gid, , home, shell] = stdout.trim().split(':');
  if (shell !== '/bin/sh')
    throw new Error(`the account ${FLEET_USER} logs in with ${shell}, not /bin/sh: usermod --shell /bin/sh ${FLEET_USER}`);
  if (!home || !existsSync(home))
    throw new Error(`the account ${FLEET_USER} has no home directory (${home}): sshd would run commands in /`);
  const { stdout: shadow } = await run('getent', ['shadow', FLEET_USER]);
  if (shadow.split(':')[1]?.startsWith('!'))
    throw new Error(`the account ${FLEET_USER} is locked, which sshd without PAM refuses: usermod --password '*' ${FLEET_USER}`);
  return { name: name!, uid: Number(uid), gid: Number(gid) };
}

async function startHost(fleetDir: string, index: number, authorizedKeys: string, account: Account): Promise<RunningHost> {
  const dir = join(fleetDir, `host-${index}`);
  const sshdDir = join(dir, '.sshd');
  mkdirSync(sshdDir, { recursive: true, mode: 0o700 });
  chownSync(dir, account.uid, account.gid);
  const hostKey = join(sshdDir, 'ssh_host_ed25519_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `host-${index}`, '-f', hostKey]);
  const publicKey = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const configPath = join(sshdDir, 'sshd_config');
  const logPath = join(sshdDir, 'sshd.log');
  // A port picked free may be taken by the time sshd binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    writeFileSync(
      configPath,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey}`,
        `PidFile ${join(sshdDir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${authorizedKeys}`,
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        `AllowUsers ${account.name}`,
        'StrictModes no',
        'UsePAM no',
        'PermitUserRC no',
        'PermitUserEnvironment no',
        `SetEnv HOST_DIR=${dir}`,
        'LogLevel VERBOSE',
        '',
      ].join('\n'),
    );
    const child = spawn(SSHD, ['-D', '-f', configPath, '-E', logPath], { stdio: 'ignore' });
    startedPids.add(child.pid!);
    child.once('exit', () => startedPids.delete(child.pid!));
    if (await answersSsh(port, child)) {
      return {
        index,
        spec: `${account.name}@127.0.0.1:${port}`,
        port,
        dir,
        knownHostsLine: `[127.0.0.1]:${port} ${publicKey}`,
        process: child,
        configPath,
        logPath,
      };
    }
    await stopProcess(child, 'SIGKILL');
    if (attempt === 5) {
      const log = existsSync(logPath) ? await readFile(logPath, 'utf8') : '(no log)';
      throw new Error(`sshd for host ${index} did not start:\n${log}`);
    }
  }
}

/** Waits until the port sends an SSH banner, or the sshd process has exited (then false). */
async function answersSsh(port: number, child: ChildProcess): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const banner = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.setTimeout(1000);
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString('latin1').startsWith('SSH-2.0-'));
      });
      socket.once('error', () => resolve(false));
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (banner) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function stopProcess(child: ChildProcess, how: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    signal(child.pid!, 'SIGCONT'); // a frozen sshd would never act on SIGTERM
    signal(child.pid!, how);
  });
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

interface ProcessInfo {
  pid: number;
  ppid: number;
  comm: string;
}

function processTable(): ProcessInfo[] {
  const table: ProcessInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      table.push({ pid: Number(name), ppid, comm });
    } catch {
      // the process ended while we looked
    }
  }
  return table;
}

function descendants(root: number): ProcessInfo[] {
  const table = processTable();
  const found: ProcessInfo[] = [];
  const parents = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const info of table) {
      if (parents.has(info.ppid) && !parents.has(info.pid)) {
        parents.add(info.pid);
        found.push(info);
        grew = true;
      }
    }
  }
  return found;
}

/** The per-connection sshd processes under a listener (not the commands they run). */
function sshdSessions(listener: number): number[] {
  return descendants(listener)
    .filter((p) => p.comm === 'sshd')
    .map((p) => p.pid);
}

/**
 * Processes the hosts' commands started that are no longer under any listener (their sshd was killed, or
 * a kill reached only their shell): orphans, found by the HOST_DIR this fleet gave them.
 */
function strays(fleetDir: string): number[] {
  const mark = Buffer.from(`HOST_DIR=${join(fleetDir, 'host-')}`);
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`).includes(mark)) found.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

function killTree(root: number, how: NodeJS.Signals): void {
  for (const info of descendants(root)) signal(info.pid, how);
  signal(root, how);
}

// A throwaway PostgreSQL server of the tests' own, for the faults the shared one (127.0.0.1:5432) must never
// suffer: stops, restarts, crashes.
//
//   const cluster = await PgCluster.start();          // initdb in a temp folder, then pg_ctl start
//   const url = await cluster.createDatabase();       // postgres://postgres@127.0.0.1:PORT/shipguard_...
//   await cluster.stop({ mode: 'immediate' });        // new connections are refused until start()
//   await cluster.start();                            // same port, same data
//   await cluster.restart();
//   await cluster.kill9();                            // a crash: start() then runs crash recovery
//   cluster.log();                                    // what the server logged, for failure messages
//   await cluster.close();                            // stops it and deletes the folder (call it in afterAll)
//
// PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user, or to a system
// user `shipguard-pg` created for it. It listens on 127.0.0.1 only, on a free port, with its unix socket in
// its own folder, trust auth for the `postgres` superuser. Several test processes may start clusters at
// once: each has its own folder and port. Every wait has a deadline, there only so that a stuck server
// fails the test instead of hanging it.
import { freePort } from './ports.ts';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { appendFile, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export type PgStopMode = 'fast' | 'immediate';

interface ServerUser {
  uid: number;
  gid: number;
}

const SERVER_USERS = ['postgres', 'shipguard-pg'];
const COMMAND_DEADLINE_MS = 120_000;
// pg_ctl's own wait (-t, seconds), inside the deadline above so that pg_ctl reports it, not a kill.
const PG_CTL_WAIT_S = '90';
const EXIT_DEADLINE_MS = 30_000;

// Last resort when a test process exits without calling close(): no server outlives it. ('exit' only:
// a worker killed by a signal cannot run anything.)
const exitCleanups = new Set<() => void>();
process.once('exit', () => {
  for (const cleanup of exitCleanups) cleanup();
});

export class PgCluster {
  /** The cluster's folder: the data folder, the server log and the unix socket. */
  readonly dir: string;
  readonly dataDir: string;
  readonly logPath: string;
  private currentPort: number;
  private postmasterPid: number | null = null;
  private readonly bin: string;
  private readonly user: ServerUser | null;
  private readonly exitCleanup: () => void;

  private constructor(dir: string, port: number, bin: string, user: ServerUser | null) {
    this.dir = dir;
    this.dataDir = join(dir, 'data');
    this.logPath = join(dir, 'postgres.log');
    this.currentPort = port;
    this.bin = bin;
    this.user = user;
    this.exitCleanup = () => {
      try {
        // Dead before the folder goes, so that no dying process writes into it afterwards.
        if (this.postmasterPid) waitSync(killServer(this.postmasterPid));
        rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        // the process is exiting: nothing left to report to
      }
    };
    exitCleanups.add(this.exitCleanup);
  }

  /** A new cluster (initdb), started and accepting connections when this resolves. */
  static async start(): Promise<PgCluster> {
    const bin = postgresBinDir();
    const user = await serverUser();
    const dir = await mkdtemp(join(tmpdir(), 'shipguard-pg-'));
    if (user) await chown(dir, user.uid, user.gid);
    const cluster = new PgCluster(dir, await freePort(), bin, user);
    try {
      await cluster.command('initdb', ['-D', cluster.dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
      await appendFile(
        join(cluster.dataDir, 'postgresql.conf'),
        `
# shipguard test cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = '${dir}'
# Speed: a killed server loses nothing that way (written pages stay in the kernel's cache); only a crash
# of the machine would.
fsync = off
full_page_writes = off
# A commit is written out (to that cache) before it is acknowledged: kill9() must not lose it.
synchronous_commit = on
shared_buffers = 32MB
port = ${cluster.currentPort}
`,
      );
      await cluster.startOnSomeFreePort();
      return cluster;
    } catch (error) {
      await cluster.close().catch(() => {});
      throw error;
    }
  }

  get port(): number {
    return this.currentPort;
  }

  /** The postmaster's PID while the server runs, else null. */
  get pid(): number | null {
    return this.postmasterPid;
  }

  get running(): boolean {
    return this.postmasterPid !== null;
  }

  get adminUrl(): string {
    return this.urlFor('postgres');
  }

  urlFor(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.currentPort}/${database}`;
  }

  /** Creates a database (default: a fresh unique name) and returns its URL. */
  async createDatabase(name = `shipguard_${process.pid}_${Math.random().toString(36).slice(2, 10)}`): Promise<string> {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
    const admin = new pg.Client({ connectionString: this.adminUrl, connectionTimeoutMillis: COMMAND_DEADLINE_MS });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }
    return this.urlFor(name);
  }

  /**
   * `fast` (default): sessions are ended, a checkpoint is written. `immediate`: every process quits at once,
   * and the next start runs crash recovery. Either way new connections are refused until start().
   */
  async stop(options: { mode?: PgStopMode } = {}): Promise<void> {
    if (!this.postmasterPid) return;
    await this.command('pg_ctl', ['stop', '-D', this.dataDir, '-m', options.mode ?? 'fast', '-w', '-t', PG_CTL_WAIT_S]);
    this.postmasterPid = null;
  }

  /** Starts the stopped (or killed) server again, on the same port and data. */
  async start(): Promise<void> {
    if (this.postmasterPid) return;
    try {
      await this.command('pg_ctl', ['start', '-D', this.dataDir, '-l', this.logPath, '-w', '-t', PG_CTL_WAIT_S]);
    } catch (error) {
      // pg_ctl may have given up on a server that still came up: it must not be left running.
      const pid = readPostmasterPid(this.dataDir);
      if (pid) await killServerAndWait(pid);
      throw new Error(`${(error as Error).message}\nserver log:\n${this.log().slice(-4000)}`, { cause: error });
    }
    this.postmasterPid = readPostmasterPid(this.dataDir);
    if (!this.postmasterPid) throw new Error(`pg_ctl started the server but ${this.dataDir}/postmaster.pid is missing`);
  }

  async restart(options: { mode?: PgStopMode } = {}): Promise<void> {
    await this.stop(options);
    await this.start();
  }

  /**
   * A crash: SIGKILL to the postmaster and to every process it started (backends, checkpointer, ...), as
   * when the machine or its container dies. Connections drop at once; committed data survives, and the
   * next start() runs crash recovery ("database system was not properly shut down" in the log).
   */
  async kill9(): Promise<void> {
    const pid = this.postmasterPid;
    if (!pid) return;
    this.postmasterPid = null;
    await killServerAndWait(pid);
    // The killed postmaster stays a zombie until whoever adopted it reaps it (PID 1 here: late, or never
    // in some containers), and a new postmaster takes a zombie's PID in these lock files for a server still
    // running. Every process of the old server is dead, so they are stale: remove them, as an operator
    // would after a crash.
    rmSync(join(this.dataDir, 'postmaster.pid'), { force: true });
    rmSync(join(this.dir, `.s.PGSQL.${this.currentPort}.lock`), { force: true });
  }

  /** Stops the server (immediately: its data is about to go) and deletes the folder. */
  async close(): Promise<void> {
    exitCleanups.delete(this.exitCleanup);
    try {
      await this.stop({ mode: 'immediate' });
    } catch {
      await this.kill9();
    }
    await rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }

  /** The server's log so far. */
  log(): string {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  private async startOnSomeFreePort(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const logLength = this.log().length;
      try {
        await this.start();
        return;
      } catch (error) {
        // Another process (a cluster of a parallel test worker, say) took the port between freePort() and
        // the server's bind: try another one.
        if (attempt >= 5 || !/could not bind|Address already in use/.test(this.log().slice(logLength))) throw error;
        this.currentPort = await freePort();
        await appendFile(join(this.dataDir, 'postgresql.conf'), `port = ${this.currentPort}\n`);
      }
    }
  }

  /** Runs one of PostgreSQL's programs as the server's user, from the cluster's folder. */
  private command(program: 'initdb' | 'pg_ctl', args: string[]): Promise<string> {
    // PG* variables of the test's own environment must not point the programs elsewhere.
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, LC_ALL: 'C', TZ: 'UTC' };
    return new Promise((resolve, reject) => {
      execFile(
        join(this.bin, program),
        args,
        { cwd: this.dir, env, uid: this.user?.uid, gid: this.user?.gid, timeout: COMMAND_DEADLINE_MS, killSignal: 'SIGKILL' },
        (error, stdout, stderr) => {
          const output = stderr.trim() || stdout.trim() || error?.message;
          if (error) reject(new Error(`${program} ${args.join(' ')} failed: ${output}`, { cause: error }));
          else resolve(stdout);
        },
      );
    });
  }
}

let binDir: string | null = null;

/** The folder with initdb, pg_ctl and postgres: /usr/local/bin, or Debian's newest /usr/lib/postgresql/N/bin. */
function postgresBinDir(): string {
  if (binDir) return binDir;
  const debian = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql')
        .filter((version) => /^\d+$/.test(version))
        .sort((a, b) => Number(b) - Number(a))
        .map((version) => `/usr/lib/postgresql/${version}/bin`)
    : [];
  const found = ['/usr/local/bin', ...debian].find((dir) => ['initdb', 'pg_ctl', 'postgres'].every((name) => existsSync(join(dir, name))));
  if (!found) throw new Error('PostgreSQL server programs (initdb, pg_ctl, postgres) not found: install postgresql');
  binDir = found;
  return found;
}

let serverUserLookup: Promise<ServerUser | null> | null = null;

/** Who runs the server: null (ourselves) unless we are root, which PostgreSQL refuses. */
function serverUser(): Promise<ServerUser | null> {
  serverUserLookup ??= findOrCreateServerUser();
  return serverUserLookup;
}

async function findOrCreateServerUser(): Promise<ServerUser | null> {
  if (process.getuid?.() !== 0) return null;
  for (const name of SERVER_USERS) {
    const user = await lookupUser(name);
    if (user) return user;
  }
  const name = SERVER_USERS.at(-1)!;
  // Test workers may all get here at once: useradd fails for all but one (name taken, or /etc/passwd
  // locked), and the user exists all the same.
  for (let attempt = 1; ; attempt++) {
    const failure = await run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]).then(
      () => null,
      (error: Error) => error,
    );
    const user = await lookupUser(name);
    if (user) return user;
    if (attempt === 20) throw new Error(`cannot create the user ${name} to run PostgreSQL: ${failure?.message}`);
    await sleep(250);
  }
}

async function lookupUser(name: string): Promise<ServerUser | null> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name])]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  } catch {
    return null;
  }
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: COMMAND_DEADLINE_MS }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim() || error.message}`, { cause: error }));
      else resolve(stdout);
    });
  });
}

function readPostmasterPid(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** SIGKILLs the postmaster and its children; returns their PIDs. Synchronous: the 'exit' hook uses it. */
function killServer(postmasterPid: number): number[] {
  // Stopped first, so that it cannot start a backend between the listing of its children and its death.
  signal(postmasterPid, 'SIGSTOP');
  const family = [postmasterPid, ...childrenOf(postmasterPid)];
  for (const pid of family) signal(pid, 'SIGKILL');
  return family;
}

async function killServerAndWait(postmasterPid: number): Promise<void> {
  const family = killServer(postmasterPid);
  const deadline = Date.now() + EXIT_DEADLINE_MS;
  while (!family.every(isDead)) {
    if (Date.now() > deadline) throw new Error(`PostgreSQL processes ${family.filter((pid) => !isDead(pid)).join(', ')} survived SIGKILL`);
    await sleep(20);
  }
}

/** The same wait, blocking: in the 'exit' hook nothing asynchronous runs any more. */
function waitSync(family: number[]): void {
  const deadline = Date.now() + EXIT_DEADLINE_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (!family.every(isDead) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 10);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/** The fields of /proc/PID/stat after the command name, which may itself hold spaces and parentheses. */
function procStat(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

function childrenOf(parentPid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => procStat(pid)?.[1] === String(parentPid));
}

/** Gone, or a zombie: nothing left of it but its exit status. */
function isDead(pid: number): boolean {
  const state = procStat(pid)?.[0];
  return state === undefined || state === 'Z' || state === 'X';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

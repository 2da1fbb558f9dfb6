// The rollout's HostTransport over ssh2: one pinned-key connection per host, every command bounded.
//
// ssh2 alone would hang or lie in several ways (docs/platform-facts.md, "ssh2"), handled here:
// - it accepts any host key: `hostVerifier` checks the key against SHIPGUARD_KNOWN_HOSTS (known-hosts.ts);
// - keepalive is off and `readyTimeout` covers only the handshake: keepalive is always on, and every
//   command has its own timer, armed before the channel is opened (that open can hang on a dead link);
// - without a pty a remote process outlives its closed channel: each command reports its process group
//   first (OpenSSH makes the command a session leader), and a timeout kills that group through a
//   second channel; if the kill cannot be confirmed the command's end is `lost`, not a clean timeout;
// - a connection that drops mid-command, or a channel that closes without an exit status, is `lost`.
import { randomBytes } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import type { Client, ClientChannel, ConnectConfig } from 'ssh2';
import { shellCommandWithEnv } from '../../../common/shell.ts';
import { parseHostSpec, type HostAddress } from '../../engine/host-spec.ts';
import { ConnectFailure, type CommandEnd, type HostConnection, type HostTransport, type CommandOptions } from '../host-transport.ts';
import { Slots, type HandshakeSlots } from './connection-limits.ts';
import { loadSsh2 } from './load-ssh2.ts';
import type { KnownHosts } from './known-hosts.ts';

export interface SshTransportOptions {
  privateKey: string;
  knownHosts: KnownHosts;
  /** Login name for hosts listed without `user@`. */
  defaultUser: string;
  /** Shared by every connection of the deployer: handshakes in flight at once. */
  handshakes: HandshakeSlots;
  maxChannelsPerConnection: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  /** How long a timed-out command may take to be confirmed dead before its end is called `lost`. */
  killGraceMs: number;
  /** Attempts for errors that prove nothing ran (connection refused, DNS), within the connect timeout. */
  connectAttempts: number;
  connectRetryDelayMs: number;
}

// Host key algorithms ssh2 supports, in its default order; the host's pinned types are asked for first.
const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];
const ALGORITHMS_FOR_KEY_TYPE: Record<string, string[]> = { 'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] };

/** A connect error after which a retry is safe: no byte of SSH was exchanged. */
class NothingReachedError extends Error {}

export class SshTransport implements HostTransport {
  private readonly options: SshTransportOptions;

  constructor(options: SshTransportOptions) {
    this.options = options;
  }

  async connect(spec: string, { timeoutMs }: { timeoutMs: number }): Promise<HostConnection> {
    const address = parseHostSpec(spec);
    if (!address) throw new ConnectFailure(`invalid host ${JSON.stringify(spec)}: expected [user@]host[:port]`);
    const deadline = Date.now() + timeoutMs;
    let release: () => void;
    try {
      release = await this.options.handshakes.acquire(`${address.host}:${address.port}`, AbortSignal.timeout(Math.max(1, timeoutMs)));
    } catch {
      throw new ConnectFailure(`no connection slot free within the ${timeoutMs} ms connect timeout (too many handshakes in flight)`);
    }
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.handshake(address, deadline - Date.now());
        } catch (error) {
          const left = deadline - Date.now();
          const retry =
            error instanceof NothingReachedError &&
            attempt < this.options.connectAttempts &&
            left > this.options.connectRetryDelayMs * attempt;
          if (!retry) throw new ConnectFailure((error as Error).message);
          await new Promise((resolve) => setTimeout(resolve, this.options.connectRetryDelayMs * attempt));
        }
      }
    } finally {
      release();
    }
  }

  private handshake(address: HostAddress, timeoutMs: number): Promise<SshConnection> {
    const { host, port } = address;
    const where = `${host}:${port}`;
    return new Promise((resolve, reject) => {
      if (timeoutMs <= 0) return reject(new Error(`no time left to connect to ${where}`));
      const client = new (loadSsh2().Client)();
      let refusedKey: string | null = null;
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.destroy();
        reject(error);
      };
      // Our own bound on the whole attempt as well as ssh2's readyTimeout: the limit holds whatever ssh2 does.
      const timer = setTimeout(() => fail(new Error(`handshake with ${where} did not complete within ${timeoutMs} ms`)), timeoutMs);
      client.on('error', (error: Error & { code?: string; level?: string }) => {
        if (refusedKey) return fail(new Error(`${refusedKey}; nothing run`));
        fail(describeConnectError(error, address, this.options.defaultUser, timeoutMs));
      });
      client.on('close', () => fail(new Error(`${where} closed the connection during the handshake`)));
      client.on('ready', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(new SshConnection(client, where, this.options));
      });
      const pinnedTypes = this.options.knownHosts.keyTypesFor(host, port);
      const preferred = pinnedTypes
        .flatMap((type) => ALGORITHMS_FOR_KEY_TYPE[type] ?? [type])
        .filter((a) => HOST_KEY_ALGORITHMS.includes(a));
      const config: ConnectConfig = {
        host,
        port,
        username: address.user ?? this.options.defaultUser,
        privateKey: this.options.privateKey,
        readyTimeout: timeoutMs,
        keepaliveInterval: this.options.keepaliveIntervalMs,
        keepaliveCountMax: this.options.keepaliveCountMax,
        algorithms: {
          serverHostKey: [...new Set([...preferred, ...HOST_KEY_ALGORITHMS])] as NonNullable<ConnectConfig['algorithms']>['serverHostKey'],
        },
        hostVerifier: (key: Buffer) => {
          const verdict = this.options.knownHosts.verify(host, port, key);
          if (!verdict.trusted) refusedKey = verdict.message;
          return verdict.trusted;
        },
      };
      client.connect(config);
    });
  }
}

function describeConnectError(
  error: Error & { code?: string; level?: string },
  address: HostAddress,
  defaultUser: string,
  timeoutMs: number,
): Error {
  const where = `${address.host}:${address.port}`;
  switch (error.code) {
    case 'ECONNREFUSED':
      return new NothingReachedError(`connection refused by ${where}`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new NothingReachedError(`cannot resolve host name ${address.host} (${error.code})`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new NothingReachedError(`${where} is unreachable (${error.code})`);
    case 'ECONNRESET':
      // Before `ready` no command was sent: a reset during the handshake (sshd dropping connections past
      // MaxStartups, say) ran nothing, and a retry within the connect timeout is safe.
      return new NothingReachedError(`${where} reset the connection during the handshake`);
  }
  if (error.level === 'client-authentication') {
    return new Error(`${where} refused the deployer's key for user ${address.user ?? defaultUser} (is its public key in authorized_keys?)`);
  }
  if (error.level === 'client-timeout') return new Error(`handshake with ${where} did not complete within ${timeoutMs} ms`);
  return new Error(`cannot connect to ${where}: ${error.message}`);
}

class SshConnection implements HostConnection {
  private readonly client: Client;
  private readonly where: string;
  private readonly channels: Slots;
  private readonly killGraceMs: number;
  private readonly closeListeners = new Set<(reason: string) => void>();
  private closedBecause: string | null = null;
  private lastError: string | null = null;

  constructor(client: Client, where: string, options: SshTransportOptions) {
    this.client = client;
    this.where = where;
    this.channels = new Slots(options.maxChannelsPerConnection);
    this.killGraceMs = options.killGraceMs;
    client.removeAllListeners('close');
    client.removeAllListeners('error');
    // 'error' carries the why (e.g. "Keepalive timeout"); 'close' always follows it.
    client.on('error', (error: Error) => {
      this.lastError = error.message;
    });
    client.on('close', () => {
      this.closedBecause = this.lastError ? `connection to ${where} lost (${this.lastError})` : `connection to ${where} closed by the host`;
      for (const listener of this.closeListeners) listener(this.closedBecause);
    });
  }

  run(command: string, options: CommandOptions): Promise<CommandEnd> {
    return new Promise((resolve) => {
      // Printed first by the login shell, then `exec` keeps the same pid: the command's process group.
      const marker = `shipguard-pgid:${randomBytes(6).toString('hex')}:`;
      // The host-side hard limit counts from now: the command is dead on the host by `hardDeadline`.
      const line = `printf '%s%s\\n' '${marker}' "$$"; ${shellCommandWithEnv(command, options.env, (options.hardDeadline - Date.now()) / 1000)}`;
      const abortWait = new AbortController();
      let channel: ClientChannel | null = null;
      let channelRequested = false;
      let releaseChannel: (() => void) | null = null;
      let processGroup: number | null = null;
      // Why the command is being killed: one of its limits, or `halt` (this bot may no longer act).
      let expired: 'command' | 'inactivity' | 'halt' | null = null;
      let exit: { code: number } | { signal: string } | null = null;
      let settled = false;
      let graceTimer: NodeJS.Timeout | undefined;
      let inactivityTimer: NodeJS.Timeout | undefined;

      const done = (end: CommandEnd) => {
        if (settled) return;
        settled = true;
        clearTimeout(commandTimer);
        clearTimeout(inactivityTimer);
        clearTimeout(graceTimer);
        this.closeListeners.delete(onConnectionClosed);
        options.halt.removeEventListener('abort', onHalt);
        abortWait.abort();
        releaseChannel?.();
        if (channel && !channel.destroyed) channel.close();
        resolve(end);
      };

      const onConnectionClosed = (reason: string) => {
        if (expired === 'halt') return done({ kind: 'halted', confirmed: false });
        done({ kind: 'lost', reason: expired ? `timed out, then ${reason} before the kill was confirmed` : `${reason} mid-command` });
      };
      // The kill worked (the shell is gone): the end the reason for killing calls for.
      const killed = (): CommandEnd =>
        expired === 'halt' ? { kind: 'halted', confirmed: true } : { kind: 'timeout', limit: expired as 'command' | 'inactivity' };

      const expire = (limit: 'command' | 'inactivity' | 'halt') => {
        if (settled || expired) return;
        expired = limit;
        clearTimeout(inactivityTimer);
        if (!channelRequested) return done(killed()); // never sent: nothing ran
        if (processGroup === null) {
          // The command may have started but cannot be told apart from the shell: drop the connection.
          this.client.destroy();
          if (limit === 'halt') return done({ kind: 'halted', confirmed: false });
          return done({ kind: 'lost', reason: `no answer from ${this.where} within the ${limit} limit; it may still be running` });
        }
        graceTimer = setTimeout(() => {
          this.client.destroy();
          if (limit === 'halt') return done({ kind: 'halted', confirmed: false });
          done({ kind: 'lost', reason: `timed out and could not be confirmed stopped within ${this.killGraceMs} ms` });
        }, this.killGraceMs);
        this.killProcessGroup(processGroup);
      };
      const onHalt = () => expire('halt');

      // Armed before the channel is opened: opening a channel on a half-dead connection can hang.
      const commandTimer = setTimeout(() => expire('command'), options.timeoutMs);
      const armInactivity = () => {
        if (!options.inactivityMs || expired) return;
        clearTimeout(inactivityTimer);
        inactivityTimer = setTimeout(() => expire('inactivity'), options.inactivityMs);
      };
      armInactivity();

      if (this.closedBecause) return done({ kind: 'lost', reason: `${this.closedBecause} before the command started` });
      this.closeListeners.add(onConnectionClosed);
      if (options.halt.aborted) return done({ kind: 'halted', confirmed: true }); // nothing sent
      options.halt.addEventListener('abort', onHalt, { once: true });

      this.channels.acquire(abortWait.signal).then(
        (release) => {
          releaseChannel = release;
          if (settled || expired) return;
          channelRequested = true;
          this.openExec(
            line,
            (opened) => {
              channel = opened;
              if (settled) return opened.close();
              this.attach(opened, marker, options, armInactivity, (group) => (processGroup = group));
              opened.on('exit', (code: number | null, signal?: string) => {
                exit = code !== null ? { code } : { signal: signal ?? 'unknown signal' };
                if (expired) done(killed()); // the shell is dead: the kill worked
              });
              opened.on('close', () => {
                if (expired) return done(killed());
                if (!exit) return done({ kind: 'lost', reason: `the channel on ${this.where} closed without an exit status` });
                done('code' in exit ? { kind: 'exit', code: exit.code } : { kind: 'killed', signal: exit.signal });
              });
            },
            (error: Error) => done({ kind: 'lost', reason: `could not open a channel on ${this.where}: ${error.message}` }),
          );
        },
        () => {
          // Waiting for a channel was abandoned by done(): nothing to do.
        },
      );
    });
  }

  /** Streams the channel's output, holding stdout back until the process-group line is seen. */
  private attach(
    channel: ClientChannel,
    marker: string,
    options: CommandOptions,
    armInactivity: () => void,
    setGroup: (pgid: number) => void,
  ): void {
    const stdout = new StringDecoder('utf8');
    const stderr = new StringDecoder('utf8');
    let preamble: string | null = '';
    const onStdout = (text: string) => {
      if (preamble === null) return text && options.onOutput('stdout', text);
      preamble += text;
      const start = preamble.indexOf(marker);
      const end = start >= 0 ? preamble.indexOf('\n', start) : -1;
      if (end >= 0) {
        const group = Number(preamble.slice(start + marker.length, end));
        if (Number.isSafeInteger(group) && group > 1) setGroup(group);
        const before = preamble.slice(0, start); // anything the login shell's rc files printed
        const after = preamble.slice(end + 1);
        preamble = null;
        if (before + after) options.onOutput('stdout', before + after);
      } else if (preamble.length > 65_536) {
        // No marker: a shell that does not run our line as expected. Output still flows; no kill possible.
        options.onOutput('stdout', preamble);
        preamble = null;
      }
    };
    channel.on('data', (chunk: Buffer) => {
      armInactivity();
      onStdout(stdout.write(chunk));
    });
    channel.stderr.on('data', (chunk: Buffer) => {
      armInactivity();
      const text = stderr.write(chunk);
      if (text) options.onOutput('stderr', text);
    });
    channel.on('end', () => {
      onStdout(stdout.end());
      if (preamble) options.onOutput('stdout', preamble);
      preamble = null;
      const rest = stderr.end();
      if (rest) options.onOutput('stderr', rest);
    });
  }

  /** Kills the command's whole process group through a second channel (the first is busy with it). */
  private killProcessGroup(group: number): void {
    this.channels.acquire(AbortSignal.timeout(this.killGraceMs)).then(
      (release) => {
        this.openExec(
          // `-s KILL`: dash, /bin/sh on Debian, takes no `-KILL` before `--` and would kill only the leader.
          `kill -s KILL -- -${group} 2>/dev/null || kill -s KILL ${group}`,
          (channel) => {
            channel.on('close', release);
            channel.resume();
            channel.stderr.resume();
          },
          release,
        );
      },
      () => {
        // No channel free in time: the grace timer decides.
      },
    );
  }

  /**
   * ssh2's exec; its synchronous throw (connection already gone) goes to `failed`. `opened` runs inside
   * ssh2's callback, not a promise's: a fast command's `exit` and `close` can come in the same read as
   * the channel's opening, and would be gone before a `.then` attached its listeners.
   */
  private openExec(command: string, opened: (channel: ClientChannel) => void, failed: (error: Error) => void): void {
    try {
      this.client.exec(command, (error, channel) => (error ? failed(error) : opened(channel)));
    } catch (error) {
      failed(error as Error);
    }
  }

  close(): void {
    if (this.closedBecause) return;
    this.client.end();
    // A host that stopped answering never acknowledges the goodbye: do not keep its socket around.
    setTimeout(() => this.client.destroy(), 2000).unref();
  }
}

// What a fleet of OpenSSH servers tolerates. Each sshd starts dropping new connections that are still
// in their handshake past `MaxStartups` (10 by default), and allows `MaxSessions` (10) channels per
// connection. The deployer stays below both: a cap on handshakes in flight to one server (and one on
// all handshakes, which bounds the bot's own CPU and sockets), and a cap on channels per connection.

// Handshakes: well under MaxStartups. sshd's listener counts a connection as starting until it has read
// the child's "authenticated" note, which on a busy server lags behind the client seeing success: the
// client may already have opened the next connections. Twice the cap must stay below 10 (CI saw a reset
// at 8), and another tool or an admin's own session may be connecting too.
export const DEFAULT_MAX_HANDSHAKES_PER_SERVER = 4;
// Channels: half of MaxSessions. OpenSSH frees a session only after it has processed the channel opens
// already queued behind its close, while the client frees its slot at the close: a cap near 10 overruns it.
export const DEFAULT_MAX_CHANNELS_PER_CONNECTION = 5;
export const DEFAULT_MAX_HANDSHAKES = 32;

/** A counting semaphore whose waits can be abandoned (a connect or command timeout elapsed). */
export class Slots {
  private free: number;
  private readonly waiters: Array<() => void> = [];

  constructor(count: number) {
    if (!Number.isInteger(count) || count < 1) throw new Error(`a limit must be a positive integer, got ${count}`);
    this.free = count;
  }

  /** Resolves with a release function once a slot is free; rejects if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        const next = this.waiters.shift();
        if (next) next();
        else this.free++;
      };
      if (this.free > 0) {
        this.free--;
        return resolve(release);
      }
      const grant = () => {
        signal?.removeEventListener('abort', abandon);
        resolve(release);
      };
      const abandon = () => {
        const index = this.waiters.indexOf(grant);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', abandon, { once: true });
      this.waiters.push(grant);
    });
  }
}

/** Handshakes in flight: at most `perServer` to one address and port, at most `total` overall. */
export class HandshakeSlots {
  private readonly perServer: number;
  private readonly total: Slots;
  private readonly servers = new Map<string, { slots: Slots; users: number }>();

  constructor(perServer: number, total: number) {
    this.perServer = perServer;
    this.total = new Slots(total);
  }

  async acquire(server: string, signal?: AbortSignal): Promise<() => void> {
    let entry = this.servers.get(server);
    if (!entry) this.servers.set(server, (entry = { slots: new Slots(this.perServer), users: 0 }));
    entry.users++;
    const forget = () => {
      if (--entry.users === 0) this.servers.delete(server);
    };
    let releaseServer: () => void;
    try {
      // The server's own slot first, so a busy server does not hold slots the others could use.
      releaseServer = await entry.slots.acquire(signal);
    } catch (error) {
      forget();
      throw error;
    }
    try {
      const releaseTotal = await this.total.acquire(signal);
      return () => {
        releaseTotal();
        releaseServer();
        forget();
      };
    } catch (error) {
      releaseServer();
      forget();
      throw error;
    }
  }
}

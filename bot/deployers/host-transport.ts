// How the rollout reaches one host: `local` (processes here) and `ssh` (ssh2) implement this, and
// the rollout's rules (order, concurrency, failures, unknown outcomes) stay in one place: rollout.ts.

export interface CommandOptions {
  /** DEPLOY_* variables; the transport sets them by a quoted prefix, never by templating. */
  env: Record<string, string>;
  /** Kill the command after this long; the host then counts as failed. */
  timeoutMs: number;
  /** Kill the command when it prints nothing for this long. */
  inactivityMs?: number;
  /**
   * Epoch ms (this machine's clock) by which the command is dead on the host whatever happens to this bot:
   * the transport runs it under a host-side `timeout -s KILL` that ends no later than this.
   */
  hardDeadline: number;
  /** Aborted when the bot may no longer act: kill the command now (its end is then `halted`). */
  halt: AbortSignal;
  onOutput(stream: 'stdout' | 'stderr', text: string): void;
}

/**
 * How a command ended, as far as the transport observed it.
 * `lost`: the command may have run, but its end was not seen (connection dropped, channel closed with
 * no exit status). The rollout turns that into an `unknown` host, never into success or a retry.
 */
export type CommandEnd =
  | { kind: 'exit'; code: number }
  | { kind: 'killed'; signal: string }
  | { kind: 'timeout'; limit: 'command' | 'inactivity' }
  | { kind: 'lost'; reason: string }
  /** Killed because this bot may no longer act; `confirmed`: the kill was seen to work. */
  | { kind: 'halted'; confirmed: boolean };

export interface HostConnection {
  run(command: string, options: CommandOptions): Promise<CommandEnd>;
  close(): void;
}

/** Thrown by connect when nothing ran on the host (refused, DNS, bad host key, handshake timeout). */
export class ConnectFailure extends Error {}

export interface HostTransport {
  connect(host: string, options: { timeoutMs: number }): Promise<HostConnection>;
}

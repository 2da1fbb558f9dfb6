// The loop an outbox publisher runs on (deployment statuses, gate reviews): drain what the store holds,
// look again `pollMs` after the round ends, or at once when woken; stopping waits for the round in flight.
import type { Logger } from 'pino';

export class OutboxLoop {
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | null = null;
  private stopping = true;

  private readonly name: string;
  private readonly drain: () => Promise<void>;
  private readonly pollMs: number;
  private readonly log: Logger;

  constructor(name: string, drain: () => Promise<void>, pollMs: number, log: Logger) {
    this.name = name;
    this.drain = drain;
    this.pollMs = pollMs;
    this.log = log;
  }

  /** Stopping, or not started: a drain in progress ends its round early. */
  get stopped(): boolean {
    return this.stopping;
  }

  start(): void {
    this.stopping = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.draining;
  }

  /** Something new is waiting: look now rather than at the next poll. */
  wake(): void {
    if (!this.stopping && !this.draining) this.schedule(0);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.draining = this.drain()
        .catch((error) => this.log.error({ err: error }, `${this.name}: store unavailable`))
        .finally(() => {
          this.draining = null;
          if (!this.stopping) this.schedule(this.pollMs);
        });
    }, ms);
  }
}

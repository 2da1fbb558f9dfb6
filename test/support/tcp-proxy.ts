// A TCP proxy on loopback between a client (the bot) and a server (PostgreSQL), for fault injection: the
// test switches its mode at run time, for every open connection and every later one.
//
//   const proxy = await TcpProxy.start({ targetHost: '127.0.0.1', targetPort: cluster.port });
//   const url = proxy.proxiedUrl(await cluster.createDatabase());   // the bot connects through the proxy
//   proxy.blackhole()   // a partition: nothing crosses, nothing is closed (no FIN, no RST)
//   proxy.reset()       // every connection is reset (RST), and every new one at once
//   proxy.delay(200)    // every chunk arrives 200 ms late, in order
//   proxy.heal()        // bytes flow again, on new connections (black-holed ones stay dead, see below)
//   await proxy.close()
//
// Black-holed connections are dead for good. Bytes received while black-holed are dropped, not kept for
// later: resuming a PostgreSQL stream with a hole in it would hand the client a corrupt protocol, and
// replaying it would not be a partition. So a connection that lived through a black hole never gets
// another byte, FIN or RST from the proxy, even after heal() (only reset() and close() end it): the
// client learns of it only through its own timeouts, as it must in production. (Closing it at heal()
// would rescue a client that has none.)
// Its server side stays open too, so a transaction it held keeps its locks, as on a real partition; the
// server learns that the client left only once the network is back (the client closed and heal() was
// called), or at close(). A connection accepted during a black hole is held the same way; its server
// side is never opened. Caveat: the proxy's kernel still acknowledges what the client sends, so TCP
// keepalive and TCP_USER_TIMEOUT on the client's socket do not notice; only application timeouts do.
import net, { type AddressInfo, type Socket } from 'node:net';

export type TcpProxyMode = 'pass' | 'blackhole' | 'reset' | 'delay';

export interface TcpProxyOptions {
  targetHost: string;
  targetPort: number;
  /** Default: a free port, chosen by the kernel. */
  port?: number;
}

const ignore = () => {};

/** One direction of a connection: chunks wait for their due time and leave in the order they came. */
class Conveyor {
  private readonly source: Socket;
  private readonly sink: Socket;
  private readonly queue: { due: number; chunk: Buffer }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private sourceEnded = false;
  private stopped = false;

  constructor(source: Socket, sink: Socket) {
    this.source = source;
    this.sink = sink;
  }

  push(chunk: Buffer, latencyMs: number): void {
    if (this.stopped) return;
    // Never earlier than the chunk before it: lowering the delay must not reorder the stream.
    const due = Math.max(Date.now() + latencyMs, this.queue.at(-1)?.due ?? 0);
    this.queue.push({ due, chunk });
    this.pump();
  }

  /** The source sent FIN: pass it on once every chunk before it has left. */
  endAfterQueue(): void {
    this.sourceEnded = true;
    this.pump();
  }

  /** Drops what is in flight and forwards nothing more. */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private pump(): void {
    if (this.stopped || this.timer) return;
    const now = Date.now();
    while (this.queue.length > 0 && this.queue[0]!.due <= now) {
      const { chunk } = this.queue.shift()!;
      if (this.sink.destroyed) continue;
      if (!this.sink.write(chunk)) {
        this.source.pause();
        this.sink.once('drain', () => this.source.resume());
      }
    }
    if (this.queue.length > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, this.queue[0]!.due - now);
    } else if (this.sourceEnded && !this.sink.destroyed && !this.sink.writableEnded) {
      this.sink.end();
    }
  }
}

interface ProxyState {
  mode(): TcpProxyMode;
  latencyMs(): number;
  readonly targetHost: string;
  readonly targetPort: number;
  closed(connection: ProxiedConnection): void;
  /** A held connection's server side, left open after its client went during the black hole. */
  orphaned(upstream: Socket): void;
}

class ProxiedConnection {
  readonly client: Socket;
  upstream: Socket | null = null;
  held = false;
  private readonly proxy: ProxyState;
  private toUpstream: Conveyor | null = null;
  private toClient: Conveyor | null = null;

  constructor(client: Socket, proxy: ProxyState) {
    this.client = client;
    this.proxy = proxy;
    client.on('error', ignore);
    client.on('end', () => {
      // A held client that closes its side is gone: its socket closes, for the count and for the server side.
      if (this.held) client.destroy();
      else this.toUpstream?.endAfterQueue();
    });
    client.on('close', (hadError) => this.clientClosed(hadError));
    if (proxy.mode() === 'blackhole') {
      // Accepted (the kernel did that already) but never connected through: held from the start.
      this.held = true;
      client.resume();
      return;
    }
    const upstream = net.connect({ host: proxy.targetHost, port: proxy.targetPort, allowHalfOpen: true });
    this.upstream = upstream;
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const toUpstream = new Conveyor(client, upstream);
    const toClient = new Conveyor(upstream, client);
    this.toUpstream = toUpstream;
    this.toClient = toClient;
    client.on('data', (chunk: Buffer) => {
      if (!this.held) toUpstream.push(chunk, this.proxy.latencyMs());
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!this.held) toClient.push(chunk, this.proxy.latencyMs());
    });
    upstream.on('end', () => {
      if (!this.held) toClient.endAfterQueue();
      else upstream.destroy();
    });
    let upstreamError: NodeJS.ErrnoException | null = null;
    upstream.on('error', (error) => (upstreamError = error));
    upstream.on('close', () => {
      if (this.held || this.client.destroyed) return;
      // The server refused or reset: the client gets the nearest thing, a reset. A clean close already
      // went through as FIN ('end' above), and the client finishes its side itself.
      if (upstreamError) this.client.resetAndDestroy();
    });
  }

  /** The partition starts: from now on nothing crosses, in either direction, ever. */
  hold(): void {
    if (this.held) return;
    this.held = true;
    this.toUpstream?.stop();
    this.toClient?.stop();
    // Keep reading both sides (and dropping it all), so neither is stalled by a full buffer of ours.
    this.client.resume();
    this.upstream?.resume();
  }

  reset(): void {
    this.toUpstream?.stop();
    this.toClient?.stop();
    if (!this.client.destroyed) this.client.resetAndDestroy();
    this.upstream?.destroy();
  }

  destroy(): void {
    this.toUpstream?.stop();
    this.toClient?.stop();
    this.client.destroy();
    this.upstream?.destroy();
  }

  private clientClosed(hadError: boolean): void {
    this.proxy.closed(this);
    const upstream = this.upstream;
    if (!upstream || upstream.destroyed) return;
    // A client that leaves during the black hole: its FIN is lost in the partition until heal().
    if (this.held && this.proxy.mode() === 'blackhole') this.proxy.orphaned(upstream);
    else if (this.held || hadError) upstream.destroy();
    // A clean close: the client's FIN goes through the conveyor, after the chunks still in it.
    else this.toUpstream?.endAfterQueue();
  }
}

export class TcpProxy {
  readonly port: number;
  readonly targetHost: string;
  readonly targetPort: number;
  private readonly server: net.Server;
  private readonly open = new Set<ProxiedConnection>();
  private readonly orphanedUpstreams = new Set<Socket>();
  private currentMode: TcpProxyMode = 'pass';
  private latencyMs = 0;

  private constructor(server: net.Server, port: number, options: TcpProxyOptions) {
    this.server = server;
    this.port = port;
    this.targetHost = options.targetHost;
    this.targetPort = options.targetPort;
  }

  /** Listens on 127.0.0.1 (`options.port` or a free one) in `pass` mode. */
  static async start(options: TcpProxyOptions): Promise<TcpProxy> {
    const server = net.createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const proxy = new TcpProxy(server, (server.address() as AddressInfo).port, options);
    server.on('connection', (client) => proxy.accept(client));
    return proxy;
  }

  get mode(): TcpProxyMode {
    return this.currentMode;
  }

  /** Client connections open now, held ones included. */
  get connections(): number {
    return this.open.size;
  }

  /** `url` (a postgres:// or other URL) with its host and port replaced by the proxy's. */
  proxiedUrl(url: string): string {
    const proxied = new URL(url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(this.port);
    return proxied.toString();
  }

  /** A partition: every open connection is held for good; new ones are accepted and held too. */
  blackhole(): void {
    this.currentMode = 'blackhole';
    for (const connection of this.open) connection.hold();
  }

  /** Resets every open connection (RST to the client, close to the server); new ones are reset at once until heal(). */
  reset(): void {
    this.currentMode = 'reset';
    for (const connection of this.open) connection.reset();
    this.dropOrphans();
  }

  /** Every chunk received from now on, in either direction, is forwarded `ms` late (in order). */
  delay(ms: number): void {
    this.currentMode = 'delay';
    this.latencyMs = ms;
  }

  /** Back to `pass` for new connections and for the ones that were not held. Held connections stay dead. */
  heal(): void {
    this.currentMode = 'pass';
    this.latencyMs = 0;
    // The network is back: the server now sees that the clients which left during the partition are gone.
    this.dropOrphans();
  }

  /** Stops listening and closes every connection, both sides. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const connection of this.open) connection.destroy();
    this.open.clear();
    this.dropOrphans();
    await closed;
  }

  private accept(client: Socket): void {
    if (this.currentMode === 'reset') {
      client.on('error', ignore);
      client.resetAndDestroy();
      return;
    }
    const connection = new ProxiedConnection(client, {
      mode: () => this.currentMode,
      latencyMs: () => this.latencyMs,
      targetHost: this.targetHost,
      targetPort: this.targetPort,
      closed: (closed) => this.open.delete(closed),
      orphaned: (upstream) => {
        this.orphanedUpstreams.add(upstream);
        upstream.once('close', () => this.orphanedUpstreams.delete(upstream));
      },
    });
    this.open.add(connection);
  }

  private dropOrphans(): void {
    for (const upstream of this.orphanedUpstreams) upstream.destroy();
    this.orphanedUpstreams.clear();
  }
}

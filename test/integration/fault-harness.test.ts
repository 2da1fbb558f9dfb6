// The fault-injection harness, for real: TcpProxy between `pg` and a PostgreSQL cluster of the file's own
// (PgCluster), and that cluster's stops, restarts and crashes. Each test fails if its fault does not happen.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.ts';
import { PgCluster } from '../support/pg-cluster.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';

// A safety net for every wait below: on a busy machine nothing is expected to take that long.
const DEADLINE_MS = 20_000;
// How long a connection must stay silent to count as silent. A window, not a measurement: the checks after
// it hold whatever the machine's speed (an answer that crossed would have been counted).
const SILENCE_MS = 500;
// PostgreSQL's SSLRequest: a server answers it with one byte ('N' without SSL) before any login.
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

const ignore = () => {};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what} after ${DEADLINE_MS} ms`);
    await sleep(20);
  }
}

/** A raw TCP connection that records everything that reaches it. */
async function rawConnection(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  const seen = { bytes: 0, ended: false, error: null as Error | null };
  socket.on('data', (chunk) => (seen.bytes += chunk.length));
  socket.on('end', () => (seen.ended = true));
  socket.on('error', (error) => (seen.error = error));
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return { socket, seen };
}

/** A query with pg's own client-side read timeout (pg honours it per query; its types know it per client only). */
function timedQuery(text: string, timeoutMs: number): pg.QueryConfig {
  const query = { text, query_timeout: timeoutMs };
  return query;
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

let target: PgCluster;
let crashable: PgCluster;

beforeAll(async () => {
  // Two at once, as from parallel test workers: the proxy's target, and one to stop and crash.
  [target, crashable] = await Promise.all([PgCluster.start(), PgCluster.start()]);
});

afterAll(async () => {
  await Promise.all([target?.close(), crashable?.close()]);
});

describe('TcpProxy in front of PostgreSQL', () => {
  let proxy: TcpProxy;
  let database: string;
  const clients: pg.Client[] = [];

  async function connectedClient(url: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: DEADLINE_MS });
    client.on('error', ignore);
    clients.push(client);
    await client.connect();
    return client;
  }

  beforeAll(async () => {
    database = await target.createDatabase();
  });

  beforeEach(async () => {
    proxy = await TcpProxy.start({ targetHost: '127.0.0.1', targetPort: target.port });
  });

  afterEach(async () => {
    await proxy.close();
    // Not end(): on a connection the proxy held, it would wait for an answer that never comes.
    for (const client of clients.splice(0)) client.connection.stream.destroy();
  });

  it('pass: queries reach the target through the proxy, which counts the connection until it closes', async () => {
    const client = await connectedClient(proxy.proxiedUrl(database));
    const { rows } = await client.query('SELECT inet_server_port() AS port');
    expect(rows).toEqual([{ port: target.port }]);
    expect(proxy.connections).toBe(1);
    await client.end();
    await eventually(() => proxy.connections === 0, 'the closed connection to leave the count');
  });

  it('pass: a target that refuses the connection resets the client instead of leaving it hanging', async () => {
    const nowhere = await TcpProxy.start({ targetHost: '127.0.0.1', targetPort: await freePort() });
    try {
      const { socket, seen } = await rawConnection(nowhere.port);
      socket.write(SSL_REQUEST);
      await eventually(() => seen.error !== null, 'the reset');
      expect(seen.error).toMatchObject({ code: 'ECONNRESET' });
    } finally {
      await nowhere.close();
    }
  });

  it('delay: chunks arrive late but whole and in order; a late answer still arrives', async () => {
    const client = await connectedClient(proxy.proxiedUrl(database));
    proxy.delay(30);
    // About 1.3 MB: many chunks each way, any reordering of which breaks the protocol or the list.
    const { rows } = await client.query(`SELECT string_agg(i::text, ',' ORDER BY i) AS list FROM generate_series(1, 200000) AS i`);
    expect(rows[0].list).toBe(Array.from({ length: 200000 }, (_, i) => i + 1).join(','));

    // Each chunk now waits 2 s in the proxy: the 300 ms timeout, a timer of this same process, fires before any answer.
    proxy.delay(2000);
    await expect(client.query(timedQuery('SELECT 2', 300))).rejects.toThrow('Query read timeout');
    proxy.heal();
    // pg sends the next query once the late answer is in: it comes, on the same connection.
    expect((await client.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }]);
  });

  it('blackhole: a query times out instead of answering; its connection stays silent after heal(), a new one works', async () => {
    const url = proxy.proxiedUrl(database);
    const client = await connectedClient(url);
    const {
      rows: [{ pid }],
    } = await client.query('SELECT pg_backend_pid() AS pid');
    let bytesSinceBlackhole = 0;
    client.connection.stream.on('data', (chunk: Buffer) => (bytesSinceBlackhole += chunk.length));

    proxy.blackhole();
    await expect(client.query(timedQuery('SELECT 1', 1000))).rejects.toThrow('Query read timeout');
    proxy.heal();

    const fresh = await connectedClient(url);
    expect((await fresh.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    const backends = async () => (await fresh.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [pid])).rows[0].n;
    // As on a real partition, the server still has the held connection's session.
    expect(await backends()).toBe(1);
    await sleep(SILENCE_MS);
    expect(bytesSinceBlackhole).toBe(0);
    expect(client.connection.stream.destroyed).toBe(false);
    expect(client.connection.stream.readableEnded).toBe(false);
    expect(proxy.connections).toBe(2);

    // The client gives up on it; the network being back, the server sees the session go.
    client.connection.stream.destroy();
    await eventually(async () => (await backends()) === 0, 'the held session to end on the server');
  });

  it('blackhole: no byte, FIN or RST reaches a held connection, even after heal(); nor one opened during it', async () => {
    const before = await rawConnection(proxy.port);
    before.socket.write(SSL_REQUEST);
    await eventually(() => before.seen.bytes === 1, "the server's answer in pass mode");

    proxy.blackhole();
    // Answered (an error, then a close) if it reached the server.
    before.socket.write(SSL_REQUEST);
    const during = await rawConnection(proxy.port);
    during.socket.write(SSL_REQUEST);
    await sleep(SILENCE_MS);
    expect(proxy.connections).toBe(2);

    proxy.heal();
    before.socket.write(SSL_REQUEST);
    during.socket.write(SSL_REQUEST);
    const after = await rawConnection(proxy.port);
    after.socket.write(SSL_REQUEST);
    await eventually(() => after.seen.bytes === 1, 'an answer on a connection opened after heal()');
    await sleep(SILENCE_MS);

    expect(before.seen).toEqual({ bytes: 1, ended: false, error: null });
    expect(during.seen).toEqual({ bytes: 0, ended: false, error: null });
    expect(before.socket.destroyed || during.socket.destroyed).toBe(false);
    for (const { socket } of [before, during, after]) socket.destroy();
  });

  it('reset: open connections get ECONNRESET, new ones are reset until heal()', async () => {
    const url = proxy.proxiedUrl(database);
    const client = await connectedClient(url);
    const errors: NodeJS.ErrnoException[] = [];
    client.on('error', (error) => errors.push(error));

    proxy.reset();
    await eventually(() => errors.length > 0, 'the open connection to be reset');
    expect(errors[0]).toMatchObject({ code: 'ECONNRESET' });
    await expect(client.query('SELECT 1')).rejects.toThrow();

    const refused = new pg.Client({ connectionString: url, connectionTimeoutMillis: DEADLINE_MS });
    refused.on('error', ignore);
    await expect(refused.connect()).rejects.toThrow(/ECONNRESET|EPIPE|terminated/);
    expect(proxy.connections).toBe(0);

    proxy.heal();
    const fresh = await connectedClient(url);
    expect((await fresh.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });
});

describe('PgCluster', () => {
  it('clusters started at once have their own folders, ports and servers, run by an unprivileged user', async () => {
    expect(target.port).not.toBe(crashable.port);
    expect(target.dir).not.toBe(crashable.dir);
    for (const cluster of [target, crashable]) {
      const client = new pg.Client({ connectionString: cluster.adminUrl, connectionTimeoutMillis: DEADLINE_MS });
      await client.connect();
      try {
        const { rows } = await client.query(`
          SELECT current_setting('data_directory') AS data, current_setting('listen_addresses') AS listen,
                 current_setting('fsync') AS fsync`);
        expect(rows).toEqual([{ data: cluster.dataDir, listen: '127.0.0.1', fsync: 'off' }]);
      } finally {
        await client.end();
      }
      if (process.getuid?.() === 0) expect(statSync(cluster.dataDir).uid).not.toBe(0);
    }
  });

  it('stop() refuses connections (ECONNREFUSED) until start(); restart() keeps the data', async () => {
    const url = await crashable.createDatabase();
    const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: DEADLINE_MS });
    pool.on('error', ignore);
    try {
      await pool.query('CREATE TABLE notes (body text)');
      await pool.query(`INSERT INTO notes VALUES ('written before the stop')`);

      await crashable.stop();
      expect(crashable.running).toBe(false);
      // A new connection is refused (a pooled one may first hear its backend's own goodbye instead).
      await expect(new pg.Client({ connectionString: url, connectionTimeoutMillis: DEADLINE_MS }).connect()).rejects.toMatchObject({
        code: 'ECONNREFUSED',
      });

      await crashable.start();
      expect((await pool.query('SELECT body FROM notes')).rows).toEqual([{ body: 'written before the stop' }]);

      await crashable.restart({ mode: 'immediate' });
      expect((await pool.query('SELECT body FROM notes')).rows).toEqual([{ body: 'written before the stop' }]);
    } finally {
      await pool.end();
    }
  });

  it('kill9() then start(): crash recovery runs, and what was committed before the crash is there', async () => {
    const url = await crashable.createDatabase();
    const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: DEADLINE_MS });
    pool.on('error', ignore);
    try {
      await pool.query('CREATE TABLE ledger (entry int)');
      await pool.query('INSERT INTO ledger SELECT generate_series(1, 1000)');

      await crashable.kill9();
      expect(crashable.running).toBe(false);
      // A new connection is refused (a pooled one may first hear its backend's own goodbye instead).
      await expect(new pg.Client({ connectionString: url, connectionTimeoutMillis: DEADLINE_MS }).connect()).rejects.toMatchObject({
        code: 'ECONNREFUSED',
      });

      const logBefore = crashable.log().length;
      await crashable.start();
      expect(crashable.log().slice(logBefore)).toContain('database system was not properly shut down; automatic recovery in progress');
      const { rows } = await pool.query('SELECT count(*)::int AS entries, sum(entry)::int AS total FROM ledger');
      expect(rows).toEqual([{ entries: 1000, total: 500500 }]);
    } finally {
      await pool.end();
    }
  });

  it('a test process that exits without close() takes its cluster with it', async () => {
    const script = `
      const { PgCluster } = await import(${JSON.stringify(new URL('../support/pg-cluster.ts', import.meta.url).href)});
      const cluster = await PgCluster.start();
      console.log(JSON.stringify({ port: cluster.port, dir: cluster.dir }));
      process.exit(0);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code, output).toBe(0);

    const left = JSON.parse(output.trim().split('\n').at(-1)!) as { port: number; dir: string };
    try {
      expect(existsSync(left.dir)).toBe(false);
      await eventually(() => refusesConnections(left.port), "the child's cluster to stop listening");
    } finally {
      // Had the hook failed, the cluster would still run: stop it here rather than leak it.
      if (existsSync(left.dir)) {
        const pid = Number(readFileSync(join(left.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
        if (pid > 0) process.kill(pid, 'SIGQUIT');
      }
    }
  });
});

// PostgreSQL through `pg`: what several bot replicas share.
import pg from 'pg';
import type { SqlClient, SqlExecutor } from './sql-client.ts';

/** Every query, connect and transaction step answers within this, or fails. */
export const QUERY_TIMEOUT_MS = 5_000;

export function postgresClient(connectionString: string): SqlClient {
  // Bounded waits everywhere: a database that is down, restarting or cut off answers as an error within
  // seconds (a runner's lease is counted in tens of seconds). `query_timeout` is the client's own bound,
  // which holds when the link is black-holed and the server can say nothing; a connection that timed out is
  // destroyed, never reused. TCP keepalive notices a peer that is gone while the pool is idle.
  const pool = new pg.Pool({
    connectionString,
    max: 10,
    connectionTimeoutMillis: QUERY_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    statement_timeout: QUERY_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 5_000,
  });
  // A dropped idle connection must not crash the bot; the next query gets a fresh one.
  pool.on('error', () => {});
  return {
    async query(sql, params) {
      const result = await pool.query(sql, params as unknown[]);
      return result.rows;
    },
    async transaction(work) {
      const client = await pool.connect();
      // The pool listens for a connection's errors only while it is idle: one cut while checked out (the
      // server restarted mid-transaction) would be an unhandled 'error' event and end the bot. The query in
      // flight fails on its own; the connection is then destroyed on release.
      let broken: Error | undefined;
      const onError = (error: Error) => {
        broken = error;
      };
      client.on('error', onError);
      const tx: SqlExecutor = {
        async query(sql, params) {
          return (await client.query(sql, params as unknown[])).rows;
        },
      };
      let failure: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(tx);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        failure = error as Error;
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        // A connection that failed may be half-dead (a timed-out query still pending on it): destroy it.
        client.removeListener('error', onError);
        client.release(failure ?? broken);
      }
    },
    async close() {
      await pool.end();
    },
  };
}

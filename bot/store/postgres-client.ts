// PostgreSQL through `pg`: what several bot replicas share.
import pg from 'pg';
import type { SqlClient, SqlExecutor } from './sql-client.ts';

export function postgresClient(connectionString: string): SqlClient {
  // Bounded waits everywhere (rule 5): a stuck database must not hang a deploy's bookkeeping forever.
  const pool = new pg.Pool({ connectionString, max: 10, connectionTimeoutMillis: 10_000, statement_timeout: 30_000, idleTimeoutMillis: 30_000 });
  // A dropped idle connection must not crash the bot; the next query gets a fresh one.
  pool.on('error', () => {});
  return {
    async query(sql, params) {
      const result = await pool.query(sql, params as unknown[]);
      return result.rows;
    },
    async transaction(work) {
      const client = await pool.connect();
      const tx: SqlExecutor = {
        async query(sql, params) {
          return (await client.query(sql, params as unknown[])).rows;
        },
      };
      try {
        await client.query('BEGIN');
        const result = await work(tx);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    async close() {
      await pool.end();
    },
  };
}

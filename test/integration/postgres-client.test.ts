// The PostgreSQL client under a connection cut mid-transaction (the server restarted, an admin killed the
// backend): that transaction fails, and the bot process goes on. Seen in the fault tests: a bot ended on an
// unhandled 'error' event when PostgreSQL stopped while one of its transactions was open.
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { postgresClient } from '../../bot/store/postgres-client.ts';
import { freshPostgresDatabase, type TestDatabase } from '../support/databases.ts';

describe('postgres client', () => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.drop();
    database = undefined;
  });

  it('a connection cut while a transaction waits between statements fails that transaction, not the process', async () => {
    database = await freshPostgresDatabase();
    const client = postgresClient(database.url);
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      const transaction = client.transaction(async (tx) => {
        const [row] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await admin.query('SELECT pg_terminate_backend($1)', [row!.pid]);
        // Idle in the transaction until the server has closed the connection and its end reached us.
        while ((await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [row!.pid])).rowCount) await pause(50);
        await pause(200);
        await tx.query('SELECT 1');
      });
      await expect(transaction).rejects.toThrow();
      expect(await client.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await admin.end();
      await client.close();
    }
  });
});

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

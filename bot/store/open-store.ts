// Picks the store from the environment: PostgreSQL when DATABASE_URL is set, else the embedded one. The
// PostgreSQL driver is loaded only then: an embedded bot starts without it.
import { openEmbeddedDatabase } from './embedded-database.ts';
import { openSqlStore } from './sql-store.ts';
import { openSqliteStore } from './sqlite-store.ts';
import type { Store } from './store.ts';

export async function openStore(options: { databaseUrl?: string; dataDir: string }): Promise<Store> {
  if (!options.databaseUrl) {
    const database = openEmbeddedDatabase(options.dataDir);
    try {
      return openSqliteStore(database);
    } catch (error) {
      database.close();
      throw error;
    }
  }
  const { postgresClient } = await import('./postgres-client.ts');
  const client = postgresClient(options.databaseUrl);
  try {
    return await openSqlStore(client);
  } catch (error) {
    await client.close().catch(() => {});
    throw error;
  }
}

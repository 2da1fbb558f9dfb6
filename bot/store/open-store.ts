// Picks the store from the environment: PostgreSQL when DATABASE_URL is set, else the embedded one.
import { embeddedClient } from './embedded-client.ts';
import { postgresClient } from './postgres-client.ts';
import { openSqlStore } from './sql-store.ts';
import type { Store } from './store.ts';

export async function openStore(options: { databaseUrl?: string; dataDir: string }): Promise<Store> {
  const client = options.databaseUrl ? postgresClient(options.databaseUrl) : await embeddedClient(options.dataDir);
  try {
    return await openSqlStore(client);
  } catch (error) {
    await client.close().catch(() => {});
    throw error;
  }
}

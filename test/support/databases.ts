// Fresh stores for tests: an embedded one in a temp folder, or a new database on the real PostgreSQL
// server (127.0.0.1:5432, trust auth), dropped afterwards. Set SHIPGUARD_TEST_PG to another server's
// admin URL to use it instead.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore } from '../../bot/store/open-store.ts';
import type { Store } from '../../bot/store/store.ts';

export const POSTGRES_ADMIN_URL = process.env.SHIPGUARD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function freshPostgresDatabase(): Promise<TestDatabase> {
  const name = `shipguard_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export interface TestStore {
  store: Store;
  /** What `openStore` needs to open the same store again (a restarted bot). */
  options: { databaseUrl?: string; dataDir: string };
  cleanup(): Promise<void>;
}

export type StoreKind = 'embedded' | 'postgres';
export const STORE_KINDS: StoreKind[] = ['embedded', 'postgres'];

export async function freshStore(kind: StoreKind): Promise<TestStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'shipguard-store-'));
  const database = kind === 'postgres' ? await freshPostgresDatabase() : null;
  const options = { databaseUrl: database?.url, dataDir };
  const store = await openStore(options);
  return {
    store,
    options,
    async cleanup() {
      await store.close().catch(() => {});
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// Fresh stores for tests: an embedded one in a temp folder, or a new database on the real PostgreSQL
// server (127.0.0.1:5432, trust auth), dropped afterwards. Set SHIPGUARD_TEST_PG to another server's
// admin URL to use it instead.
import { PGlite } from '@electric-sql/pglite';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
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
  if (kind === 'embedded') await seedEmbeddedStore(dataDir);
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

/**
 * Prepares `dataDir` (a bot's DATA_DIR) for an embedded store that starts empty, faster: PGlite's initdb
 * takes seconds of CPU (a minute and more on a loaded machine running four test files), and every fresh
 * embedded store would run it. One initialised, empty cluster per PGlite version is kept in the temp
 * folder; the store starts from a copy of it, which the bot's own code opens and migrates, as on every
 * start after its first. The first start itself is what the template is made by, so it stays exercised.
 */
export async function seedEmbeddedStore(dataDir: string): Promise<void> {
  const template = await embeddedTemplate();
  mkdirSync(dataDir, { recursive: true });
  cpSync(template, join(dataDir, 'pgdata'), { recursive: true });
}

let templateReady: Promise<string> | undefined;
function embeddedTemplate(): Promise<string> {
  templateReady ??= buildTemplate();
  return templateReady;
}

async function buildTemplate(): Promise<string> {
  const { version } = JSON.parse(
    readFileSync(join(import.meta.dirname, '../../node_modules/@electric-sql/pglite/package.json'), 'utf8'),
  ) as { version: string };
  const template = join(tmpdir(), `shipguard-pglite-${version}-empty`);
  // Only ever renamed into place complete: when it exists, it is usable.
  if (existsSync(template)) return template;
  const building = mkdtempSync(join(tmpdir(), 'shipguard-pglite-building-'));
  try {
    const db = await PGlite.create(join(building, 'pgdata'));
    await db.close();
    try {
      renameSync(join(building, 'pgdata'), template);
    } catch (error) {
      // Another test process built it at the same time: theirs is as good.
      if (!existsSync(template)) throw error;
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  return template;
}

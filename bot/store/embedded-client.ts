// The embedded store: PGlite (PostgreSQL compiled to WebAssembly) in a folder. Chosen over node:sqlite
// because it speaks the same SQL as the PostgreSQL store, so one store implementation and one set of
// tests serve both. PGlite is single-process: a lock file keeps a second bot off the same folder.
import { PGlite } from '@electric-sql/pglite';
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { SqlClient } from './sql-client.ts';

export async function embeddedClient(dataDir: string): Promise<SqlClient> {
  const folder = resolve(dataDir);
  mkdirSync(folder, { recursive: true });
  const lockPath = join(folder, 'bot.pid');
  takeFolderLock(lockPath);
  const db = await PGlite.create(join(folder, 'pgdata'));
  return {
    async query(sql, params) {
      return (await db.query(sql, params as unknown[])).rows as never[];
    },
    transaction(work) {
      return db.transaction((tx) => work({ query: async (sql, params) => (await tx.query(sql, params as unknown[])).rows as never[] }));
    },
    async close() {
      await db.close();
      rmSync(lockPath, { force: true });
    },
  };
}

/** One process per folder; a lock left by a process that is gone (kill -9) is taken over. */
function takeFolderLock(lockPath: string): void {
  try {
    const fd = openSync(lockPath, 'wx');
    writeFileSync(fd, String(process.pid));
    closeSync(fd);
    return;
  } catch {
    const holder = Number(readFileSync(lockPath, 'utf8').trim());
    if (holder && holder !== process.pid && isAlive(holder)) {
      throw new Error(`${lockPath}: the embedded store is in use by process ${holder}; use DATABASE_URL (PostgreSQL) to run several bots`);
    }
    writeFileSync(lockPath, String(process.pid));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

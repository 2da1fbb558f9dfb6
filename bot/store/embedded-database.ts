// The embedded store's database: one SQLite file (`node:sqlite`, built into Node) in DATA_DIR, owned by
// one bot process. A lock file keeps a second process off the folder; several bots share work only
// through PostgreSQL (DATABASE_URL).
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

export const EMBEDDED_FILE = 'shipguard.db';

/**
 * How long a statement waits for a lock held by another connection before it fails. The bot's own
 * connection is the only writer, so this only matters when something else opens the file (a backup, the
 * sqlite3 shell); node:sqlite waits synchronously, so the wait must stay within an event-loop turn.
 */
const BUSY_TIMEOUT_MS = 50;

export interface EmbeddedDatabase {
  db: DatabaseSync;
  close(): void;
}

export function openEmbeddedDatabase(dataDir: string): EmbeddedDatabase {
  const folder = resolve(dataDir);
  mkdirSync(folder, { recursive: true });
  refuseEarlierFormat(folder);
  const lockPath = join(folder, 'bot.pid');
  takeFolderLock(lockPath);
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(join(folder, EMBEDDED_FILE));
    // WAL: a commit appends to the log, readers never block the writer. synchronous=NORMAL: a commit is in
    // the log when it returns and survives the bot's crash (kill -9), not a power loss of the machine (the
    // log is synced at checkpoints). FULL would sync every commit: node:sqlite waits for that on the event
    // loop, and a burst of 200 webhooks then took 2.2 s to acknowledge (rule 7 asks for 1 s).
    db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // The store's clock, read from Date.now() so that tests with a faked clock move it too.
    db.function('now', { deterministic: false }, () => Date.now());
  } catch (error) {
    rmSync(lockPath, { force: true });
    throw error;
  }
  return {
    db,
    close() {
      if (db.isOpen) db.close();
      rmSync(lockPath, { force: true });
    },
  };
}

/**
 * Up to version 0.1 the embedded store was PGlite, in DATA_DIR/pgdata. Its history (what succeeded, which
 * environments are locked) decides duplicates and promotions: starting empty beside it would silently
 * forget that, so the bot refuses and says what to do.
 */
function refuseEarlierFormat(folder: string): void {
  if (!existsSync(join(folder, 'pgdata')) || existsSync(join(folder, EMBEDDED_FILE))) return;
  throw new Error(
    `${folder} holds an embedded store of an earlier shipguard (PGlite, in pgdata/); this version's embedded store is SQLite ` +
      `(${EMBEDDED_FILE}) and does not read it. Let the earlier version finish its running deployments, then move ` +
      `${join(folder, 'pgdata')} away to start with an empty history (duplicates of earlier deploys are then no longer ` +
      `recognised, and /lock-s are lifted), or point DATA_DIR at a new folder, or use DATABASE_URL.`,
  );
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

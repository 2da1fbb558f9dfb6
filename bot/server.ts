// `npm start`: the bot, configured from the environment (docs/configuration.md). This file only turns on
// Node's compile cache, then loads the bot (start-from-environment.ts): most of a start is compiling the
// modules (Probot and its dependencies, and stripping the types of our .ts files), and the cache keeps
// that work from one start to the next. Hence no static import of the bot here: static imports would be
// loaded before the cache is on.
import { mkdir } from 'node:fs/promises';
import { enableCompileCache } from 'node:module';
import { join, resolve } from 'node:path';
import { readEnvFile } from './setup/env-file.ts';

/** Making the cache's folder takes milliseconds; past this the data folder is in trouble, which the checks report. */
const CACHE_FOLDER_DEADLINE_MS = 1_000;

// Settings `npm run setup` wrote; what the environment sets wins.
for (const [name, value] of Object.entries(readEnvFile('.env'))) process.env[name] ??= value;

// NODE_COMPILE_CACHE, when set, chose the folder before this file was read (and Node turned the cache on
// then). Else a folder of the data dir: the bot's own (a shared /tmp folder would let another user plant
// compiled code), kept across restarts (unlike a systemd PrivateTmp). It is made here first, in the
// background with a deadline: Node makes it synchronously, which would hang the start, before any check
// could say why, on a data folder on a hung file system. No folder only means no cache: the start goes on,
// compiling as before. NODE_DISABLE_COMPILE_CACHE=1 turns it off.
if (!process.env.NODE_COMPILE_CACHE) {
  const folder = join(resolve(process.env.DATA_DIR || './.shipguard'), 'compile-cache');
  let timer: NodeJS.Timeout | undefined;
  const made = await Promise.race([
    mkdir(folder, { recursive: true }).then(
      () => true,
      () => false,
    ),
    new Promise<false>((done) => (timer = setTimeout(() => done(false), CACHE_FOLDER_DEADLINE_MS))),
  ]);
  clearTimeout(timer);
  if (made) enableCompileCache(folder);
}

await import('./start-from-environment.ts');

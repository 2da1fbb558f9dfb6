// The bot of `npm start` (server.ts), configured from the environment (docs/configuration.md). Every setting
// is checked first, and all problems are printed at once, one line each, before anything starts.
import { flushCompileCache } from 'node:module';
import { startBot } from './bot.ts';
import { startupProblems } from './startup-checks.ts';

/** Settings to fix (EX_CONFIG, sysexits.h), as opposed to a crash or a database not answering yet (1). */
const EXIT_CONFIG = 78;

const problems = await startupProblems(process.env);
if (problems.length) {
  console.error(`shipguard cannot start: ${problems.length === 1 ? 'one setting needs' : `${problems.length} settings need`} fixing`);
  for (const problem of problems) console.error(`  ${problem.text}`);
  // A supervisor restarts on 1 (PostgreSQL may be up in a moment) but not on 78 (the systemd unit's
  // RestartPreventExitStatus): restarting does not fix a setting. Exit now: a check given up at its
  // deadline may still hold a thread (a hung file system).
  process.exit(problems.every((problem) => problem.retry) ? 1 : EXIT_CONFIG);
}

try {
  const bot = await startBot({ env: process.env });
  bot.log.info(
    `shipguard listening on ${bot.url} (webhooks at /api/github/webhooks, store: ${bot.config.databaseUrl ? 'PostgreSQL' : bot.config.dataDir})`,
  );
  // Everything a start loads is compiled by now: written at once, the next start has it even if this
  // process is killed rather than stopped (Node writes the cache only at a normal exit).
  flushCompileCache();
  const shutdown = async (signal: string) => {
    // Handover: no new host starts; hosts in flight end (killed past the grace), are recorded, and the
    // leases are released so another bot, or this one restarted, continues at once.
    bot.log.info(
      `${signal}: handing running deployments over once their hosts in flight end (at most ${bot.config.shutdownGraceMs / 1000}s)`,
    );
    await bot.stop(bot.config.shutdownGraceMs);
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
} catch (error) {
  console.error(`shipguard could not start: ${(error as Error).message}`);
  process.exit(1);
}

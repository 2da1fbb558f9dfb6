// `npm start`: the bot, configured from the environment (DESIGN.md "Bot configuration").
import { startBot } from './bot.ts';

const SHUTDOWN_GRACE_MS = 25_000;

try {
  const bot = await startBot({ env: process.env });
  bot.probot.log.info(`shipguard listening on ${bot.url} (webhooks at /api/github/webhooks, store: ${bot.config.databaseUrl ? 'PostgreSQL' : bot.config.dataDir})`);
  const shutdown = async (signal: string) => {
    bot.probot.log.info(`${signal}: finishing running deployments for up to ${SHUTDOWN_GRACE_MS / 1000}s; another bot takes over the rest`);
    await bot.stop(SHUTDOWN_GRACE_MS);
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
} catch (error) {
  console.error(`shipguard could not start: ${(error as Error).message}`);
  process.exit(1);
}

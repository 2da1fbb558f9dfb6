// The bot's settings, from the environment only (docs/configuration.md). Secrets live here, on the
// bot's side; the repository never holds a key, a token or a deployer URL. `npm start` checks them all
// first (startup-checks.ts); this reads them, and throws on the first bad one for callers that skip that.
import { readFileSync } from 'node:fs';
import { parseDuration } from '../common/duration.ts';
import { leaseTimingFor, LEASE_DURATION_MS, type LeaseTiming } from './engine/leases.ts';
import { LogLinks } from './github/log-links.ts';

export interface BotConfig {
  port: number;
  /** HOST: the address to listen on (Probot's convention); undefined: every interface. */
  host: string | undefined;
  /** METRICS_TOKEN: the bearer token `/metrics` requires; undefined: `/metrics` is refused. */
  metricsToken: string | undefined;
  publicUrl: string;
  /** Where people open GitHub (links on the bot's pages): GHE_PROTOCOL://GHE_HOST, else https://github.com. */
  githubWebUrl: string;
  databaseUrl: string | undefined;
  dataDir: string;
  webhookSecret: string;
  linkSecret: string;
  sshKey: string | undefined;
  knownHosts: string | undefined;
  /** SHIPGUARD_LEASE: how long a running deployment's lease lasts without renewal (default 30 s). */
  lease: LeaseTiming;
  /** SHIPGUARD_SHUTDOWN_GRACE: on SIGTERM, how long hosts in flight may take to end before they are killed. */
  shutdownGraceMs: number;
}

/** Without SHIPGUARD_SHUTDOWN_GRACE, a stopping bot waits for hosts in flight as long as their command timeout. */
const DEFAULT_SHUTDOWN_GRACE_MS = 15 * 60_000;

export function botConfigFromEnvironment(env: NodeJS.ProcessEnv): BotConfig {
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT=${env.PORT}: expected a port number`);
  const webhookSecret = env.WEBHOOK_SECRET ?? '';
  if (!webhookSecret) throw new Error('WEBHOOK_SECRET is not set: the bot cannot verify that webhooks come from GitHub');
  return {
    port,
    host: env.HOST || undefined,
    metricsToken: env.METRICS_TOKEN || undefined,
    publicUrl: (env.PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/+$/, ''),
    githubWebUrl: env.GHE_HOST ? `${env.GHE_PROTOCOL || 'https'}://${env.GHE_HOST}` : 'https://github.com',
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.DATA_DIR || './.shipguard',
    webhookSecret,
    linkSecret: env.SHIPGUARD_LINK_SECRET || LogLinks.deriveSecret(webhookSecret),
    sshKey: textOrFile(env, 'SHIPGUARD_SSH_KEY'),
    knownHosts: textOrFile(env, 'SHIPGUARD_KNOWN_HOSTS'),
    lease: leaseTimingFor(durationVariable(env, 'SHIPGUARD_LEASE', LEASE_DURATION_MS, 3_000)),
    shutdownGraceMs: durationVariable(env, 'SHIPGUARD_SHUTDOWN_GRACE', DEFAULT_SHUTDOWN_GRACE_MS, 0),
  };
}

/** `NAME` holds the text itself, `NAME_PATH` a file with it. */
export function textOrFile(env: NodeJS.ProcessEnv, name: string): string | undefined {
  if (env[name]) return env[name];
  const path = env[`${name}_PATH`];
  if (!path) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${name}_PATH (${path}): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

export function durationVariable(env: NodeJS.ProcessEnv, name: string, fallback: number, minimumMs: number): number {
  const text = env[name];
  if (!text) return fallback;
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (error) {
    throw new Error(`${name}=${text}: ${(error as Error).message}`);
  }
  if (ms < minimumMs) throw new Error(`${name}=${text}: must be at least ${minimumMs / 1000}s`);
  return ms;
}

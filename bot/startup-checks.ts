// What `npm start` checks before it starts anything: every setting of the environment (docs/configuration.md),
// each problem as one line that names the variable and says what to fix, all of them at once. Checks that
// touch the outside (the database, the data folder) have a deadline: a black-holed address or a folder on a
// hung file system ends the start with a line, never a silent wait. The PostgreSQL driver and ssh2 are loaded
// only to check a setting that uses them: a start loads no more than its configuration needs.
import { createPrivateKey } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { getPrivateKey } from '@probot/get-private-key';
import { durationVariable, textOrFile } from './config.ts';
import { loadHttpDeployerDefinitions } from './deployers/http/definitions.ts';
import { parseKnownHosts } from './deployers/ssh/known-hosts.ts';
import { loadSsh2 } from './deployers/ssh/load-ssh2.ts';

/** How long the database and the data folder get to answer before the start is given up. */
export const STARTUP_CHECK_DEADLINE_MS = 10_000;
/** A shorter token is guessable; `openssl rand -hex 32` makes a good one. */
const METRICS_TOKEN_MIN_LENGTH = 16;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** One line to print; `retry`: something outside did not answer (PostgreSQL restarting?), so starting again may work. */
export interface StartupProblem {
  text: string;
  retry: boolean;
}

type Check = () => string | StartupProblem | null | Promise<string | StartupProblem | null>;

/** Every problem of the environment, one line each; empty when the bot can start. */
export async function startupProblems(env: NodeJS.ProcessEnv, deadlineMs = STARTUP_CHECK_DEADLINE_MS): Promise<StartupProblem[]> {
  const checks: Check[] = [
    () => appIdProblem(env.APP_ID),
    () => privateKeyProblem(env),
    () => (env.WEBHOOK_SECRET ? null : 'WEBHOOK_SECRET is not set: use the webhook secret entered in the GitHub App’s settings'),
    () => portProblem(env.PORT),
    () => hostProblem(env.HOST),
    () => publicUrlProblem(env.PUBLIC_URL),
    () => logLevelProblem(env.LOG_LEVEL),
    () => gheProblem(env),
    () => metricsTokenProblem(env.METRICS_TOKEN),
    () => sshKeyProblem(env),
    () => knownHostsProblem(env),
    () => thrownMessage(() => loadHttpDeployerDefinitions(env)),
    () => thrownMessage(() => durationVariable(env, 'SHIPGUARD_LEASE', 0, 3_000)),
    () => thrownMessage(() => durationVariable(env, 'SHIPGUARD_SHUTDOWN_GRACE', 0, 0)),
    () => (env.DATABASE_URL ? databaseProblem(env.DATABASE_URL, deadlineMs) : dataDirProblem(env.DATA_DIR || './.shipguard', deadlineMs)),
  ];
  const results = await Promise.all(
    checks.map(async (check) => {
      try {
        return await check();
      } catch (error) {
        return errorText(error);
      }
    }),
  );
  return results
    .filter((problem) => problem !== null)
    .map((problem) => (typeof problem === 'string' ? { text: problem, retry: false } : problem));
}

function appIdProblem(value: string | undefined): string | null {
  if (!value)
    return 'APP_ID is not set: use the App ID shown on the GitHub App’s settings page (a number), or create the App with npm run setup';
  if (!/^[1-9][0-9]{0,15}$/.test(value)) return `APP_ID=${value} is not a number: use the App ID shown on the GitHub App’s settings page`;
  return null;
}

/** The key as Probot will read it (PRIVATE_KEY: PEM, base64 or with `\n` escapes; PRIVATE_KEY_PATH: a file). */
function privateKeyProblem(env: NodeJS.ProcessEnv): string | null {
  const name = env.PRIVATE_KEY ? 'PRIVATE_KEY' : env.PRIVATE_KEY_PATH ? `PRIVATE_KEY_PATH=${env.PRIVATE_KEY_PATH}` : 'PRIVATE_KEY';
  let text: string | null;
  try {
    text = getPrivateKey({ env: { PRIVATE_KEY: env.PRIVATE_KEY, PRIVATE_KEY_PATH: env.PRIVATE_KEY_PATH } });
  } catch {
    return env.PRIVATE_KEY
      ? 'PRIVATE_KEY is not a PEM private key: paste the whole .pem file the GitHub App gave you (or set PRIVATE_KEY_PATH to it)'
      : `${name}: no such file: set it to the .pem file the GitHub App gave you`;
  }
  if (!text)
    return 'PRIVATE_KEY or PRIVATE_KEY_PATH is not set: generate a private key on the GitHub App’s settings page and give its .pem';
  try {
    const key = createPrivateKey(text);
    if (key.asymmetricKeyType !== 'rsa') {
      return `${name} is not an RSA key (it is ${String(key.asymmetricKeyType).toUpperCase()}): GitHub Apps sign with RSA; use the App’s .pem`;
    }
  } catch (error) {
    return `${name} cannot be read as a private key (${errorText(error)}): use the .pem file the GitHub App gave you`;
  }
  return null;
}

function portProblem(value: string | undefined): string | null {
  if (value === undefined || value === '') return null;
  if (!/^[0-9]{1,5}$/.test(value) || Number(value) > 65535) return `PORT=${value} is not a port number: use 0 to 65535 (default 3000)`;
  return null;
}

function hostProblem(value: string | undefined): string | null {
  if (!value) return null;
  if (isIP(value) || /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(value)) return null;
  return `HOST=${value} is not an address to listen on: use an IP address (127.0.0.1, ::1, 0.0.0.0) or a host name`;
}

function publicUrlProblem(value: string | undefined): string | null {
  if (!value) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `PUBLIC_URL=${value} is not a URL: use the address people reach this bot at, e.g. https://shipguard.example.com`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `PUBLIC_URL=${value} must start with https:// (or http://)`;
  if (url.search || url.hash || url.username || url.password)
    return `PUBLIC_URL=${value} must be a plain base address: no query, #fragment or credentials`;
  return null;
}

function logLevelProblem(value: string | undefined): string | null {
  if (!value || LOG_LEVELS.includes(value)) return null;
  return `LOG_LEVEL=${value} is not a level: use one of ${LOG_LEVELS.join(', ')}`;
}

function gheProblem(env: NodeJS.ProcessEnv): string | null {
  if (env.GHE_PROTOCOL && env.GHE_PROTOCOL !== 'https' && env.GHE_PROTOCOL !== 'http') {
    return `GHE_PROTOCOL=${env.GHE_PROTOCOL} must be https or http`;
  }
  if (env.GHE_HOST && !/^[A-Za-z0-9.-]+(:[0-9]{1,5})?$/.test(env.GHE_HOST)) {
    return `GHE_HOST=${env.GHE_HOST} must be the server’s host name only (e.g. github.example.com), without https:// or a path`;
  }
  return null;
}

function metricsTokenProblem(value: string | undefined): string | null {
  if (value === undefined || value.length >= METRICS_TOKEN_MIN_LENGTH) return null;
  return `METRICS_TOKEN is shorter than ${METRICS_TOKEN_MIN_LENGTH} characters: use a random one (openssl rand -hex 32), or unset it to turn /metrics off`;
}

function sshKeyProblem(env: NodeJS.ProcessEnv): string | null {
  const text = textOrFile(env, 'SHIPGUARD_SSH_KEY');
  if (text === undefined) return null;
  const parsed = loadSsh2().utils.parseKey(text);
  if (!(parsed instanceof Error)) return null;
  const name = env.SHIPGUARD_SSH_KEY ? 'SHIPGUARD_SSH_KEY' : `SHIPGUARD_SSH_KEY_PATH=${env.SHIPGUARD_SSH_KEY_PATH}`;
  return `${name} is not a usable SSH private key (${parsed.message}): give an unencrypted OpenSSH or PEM key`;
}

function knownHostsProblem(env: NodeJS.ProcessEnv): string | null {
  const text = textOrFile(env, 'SHIPGUARD_KNOWN_HOSTS');
  if (text === undefined) return null;
  const source = env.SHIPGUARD_KNOWN_HOSTS ? 'SHIPGUARD_KNOWN_HOSTS' : `SHIPGUARD_KNOWN_HOSTS_PATH=${env.SHIPGUARD_KNOWN_HOSTS_PATH}`;
  if (!text.trim()) return `${source} is empty: give the hosts’ keys (ssh-keyscan <host>), or unset it`;
  parseKnownHosts(text, source); // throws a message naming the line
  return null;
}

/** Parses, connects and runs one query, all within the deadline; the URL itself is never printed (it may hold a password). */
async function databaseProblem(value: string, deadlineMs: number): Promise<string | StartupProblem | null> {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'DATABASE_URL is not a URL: use postgres://user:password@host:5432/database';
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    return `DATABASE_URL must start with postgres:// (it starts with ${url.protocol}//)`;
  }
  const where = `${url.hostname || url.searchParams.get('host') || 'localhost'}:${url.port || 5432}`;
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: value, connectionTimeoutMillis: deadlineMs, query_timeout: deadlineMs });
  client.on('error', () => {});
  const unreachable = (text: string): StartupProblem => ({ text, retry: true });
  const answer = (async (): Promise<string | StartupProblem | null> => {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  })().catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ECONNREFUSED')
      return unreachable(`DATABASE_URL: nothing accepts connections at ${where} (ECONNREFUSED): is PostgreSQL running there?`);
    if (error.code === 'ENOTFOUND') return `DATABASE_URL: the host of ${where} is not found (ENOTFOUND)`;
    if (error.code === 'EAI_AGAIN') return unreachable(`DATABASE_URL: the host of ${where} could not be looked up now (EAI_AGAIN)`);
    if (/timeout/i.test(error.message)) return unreachable(`DATABASE_URL: ${where} did not answer within ${deadlineMs / 1000}s`);
    return `DATABASE_URL: PostgreSQL at ${where} refused: ${error.message}`;
  });
  const result = await withDeadline(answer, deadlineMs, unreachable(`DATABASE_URL: ${where} did not answer within ${deadlineMs / 1000}s`));
  void client.end().catch(() => {});
  return result;
}

/** Creates the folder if needed and writes a file there; a hung file system fails at the deadline. */
async function dataDirProblem(dataDir: string, deadlineMs: number): Promise<string | null> {
  const folder = resolve(dataDir);
  const probe = join(folder, `.write-check-${process.pid}`);
  const attempt = (async () => {
    await mkdir(folder, { recursive: true });
    await writeFile(probe, '');
    await rm(probe, { force: true });
    return null;
  })().catch(
    (error: NodeJS.ErrnoException) =>
      `DATA_DIR=${dataDir} is not a writable folder (${error.code ?? error.message}): set DATA_DIR to a folder the bot may write, or set DATABASE_URL`,
  );
  return withDeadline(
    attempt,
    deadlineMs,
    `DATA_DIR=${dataDir}: creating or writing this folder did not finish within ${deadlineMs / 1000}s: set DATA_DIR to a folder on a local disk`,
  );
}

function withDeadline<T>(work: Promise<T>, ms: number, late: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(late), ms)));
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** For loaders that throw their problem: null when `work` does not. */
function thrownMessage(work: () => unknown): string | null {
  try {
    work();
    return null;
  } catch (error) {
    return errorText(error);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

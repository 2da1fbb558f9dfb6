// A real bot (Probot, the worker, the store) wired to the GitHub stand-in, in this process or as a
// child process (`node bot/server.ts`, for crash tests). Webhooks flow for real: signed by the
// stand-in, verified by Probot.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBot, type Bot, type StartBotOptions } from '../../bot/bot.ts';
import { LocalDeployer } from '../../bot/deployers/local.ts';
import { startGitHubStandin, type GitHubStandin, type RepoHandle } from './github-standin.ts';

export const WEBHOOK_SECRET = 'test-webhook-secret';
export const USER_TOKEN = 'ghu_test_user_token';
/** `/metrics` answers only to this bearer token (METRICS_TOKEN). */
export const METRICS_TOKEN = 'test-metrics-token-0123456789';
const STARTUP_SAFETY_MS = 150_000;

let cachedKey: string | undefined;
/** One RSA key per test process: the app's private key, for the JWT Probot signs. */
export function appPrivateKey(): string {
  cachedKey ??= generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  }).privateKey;
  return cachedKey;
}

export interface World {
  github: GitHubStandin;
  repo: RepoHandle;
  /** The bot's environment (Probot's variables and ours), pointing at the stand-in. */
  env: Record<string, string>;
  /** Folder for the embedded store, and the local deployer's working folder for child-process bots. */
  dir: string;
  /** Creates a deployment as a user would (the Action's way); returns its id. */
  createDeployment(body: {
    ref?: string;
    environment?: string;
    payload?: object;
    task?: string;
    required_contexts?: string[];
  }): Promise<number>;
  close(): Promise<void>;
}

export async function startWorld(options: { deployYml: string; databaseUrl?: string; tokenLifetimeMs?: number }): Promise<World> {
  const github = await startGitHubStandin({ webhookSecret: WEBHOOK_SECRET, webhookUrl: null, tokenLifetimeMs: options.tokenLifetimeMs });
  const repo = github.addRepository({ owner: 'acme', name: 'app' });
  github.setFile('acme/app', '.github/deploy.yml', options.deployYml);
  github.addUserToken(USER_TOKEN, 'octocat');
  const dir = mkdtempSync(join(tmpdir(), 'shipguard-world-'));
  const env: Record<string, string> = {
    APP_ID: '1',
    PRIVATE_KEY: appPrivateKey(),
    WEBHOOK_SECRET,
    GHE_HOST: github.host,
    GHE_PROTOCOL: 'http',
    LOG_LEVEL: 'fatal',
    PORT: '0',
    METRICS_TOKEN,
    DATA_DIR: join(dir, 'store'),
    // Leases of a third of the default: takeovers in tests come sooner, with the same rules.
    SHIPGUARD_LEASE: '10s',
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
  };
  return {
    github,
    repo,
    env,
    dir,
    createDeployment: (body) => createDeployment(github, 'acme/app', body),
    async close() {
      await github.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Creates a deployment in `repository` as a user would (the Action's way: `auto_merge: false`); returns its id. */
export async function createDeployment(
  github: GitHubStandin,
  repository: string,
  body: Parameters<World['createDeployment']>[0],
): Promise<number> {
  const response = await fetch(`${github.apiUrl}/repos/${repository}/deployments`, {
    method: 'POST',
    headers: { authorization: `token ${USER_TOKEN}`, 'content-type': 'application/json', accept: 'application/vnd.github+json' },
    body: JSON.stringify({ ref: 'main', environment: 'staging', auto_merge: false, required_contexts: [], ...body }),
  });
  const data = (await response.json()) as { id?: number; message?: string };
  if (response.status !== 201) throw new Error(`create deployment in ${repository}: ${response.status} ${JSON.stringify(data)}`);
  return data.id!;
}

/** A bot in this process, receiving the stand-in's webhooks; its local deploys run in `world.dir`. */
export async function startBotIn(
  world: World,
  options: Omit<StartBotOptions, 'env'> & { env?: Record<string, string> } = {},
): Promise<Bot> {
  const deployers = { local: new LocalDeployer({ cwd: world.dir }), ...options.deployers };
  const bot = await startBot({ catchUp: false, ...options, deployers, env: { ...world.env, ...options.env } });
  world.github.setWebhookUrl(`${bot.url}/api/github/webhooks`);
  return bot;
}

export interface BotProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  /** What it wrote to stdout alone: its log lines (JSON, as stdout is no terminal). */
  stdout(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** `node bot/server.ts` as a real process, its local deploys running in `cwd`. */
export async function startBotProcess(
  world: World,
  options: { port: number; cwd: string; env?: Record<string, string> },
): Promise<BotProcess> {
  const child = spawn(process.execPath, [join(import.meta.dirname, '../../bot/server.ts')], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...world.env, PORT: String(options.port), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stdout = '';
  child.stdout!.on('data', (chunk) => {
    output += chunk;
    stdout += chunk;
  });
  child.stderr!.on('data', (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${options.port}`;
  // A safety net only: opening the embedded store takes seconds, and far longer on a busy machine.
  const deadline = Date.now() + STARTUP_SAFETY_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`bot exited with ${child.exitCode}: ${output}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`bot did not start within ${STARTUP_SAFETY_MS / 1000} s: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    child,
    url,
    output: () => output,
    stdout: () => stdout,
    kill(signal = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill(signal);
      });
    },
  };
}

/** A bot's `/metrics` text, read with the token. */
export async function readMetrics(botUrl: string): Promise<string> {
  const response = await fetch(`${botUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  if (!response.ok) throw new Error(`/metrics: ${response.status} ${await response.text()}`);
  return response.text();
}

export function deployYml(body: string): string {
  return `default_environment: staging\nenvironments:\n${body}`;
}

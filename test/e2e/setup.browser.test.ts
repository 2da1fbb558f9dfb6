// `npm run setup`, the GitHub App manifest flow, in a real browser (Debian's headless Chromium): the setup
// page's button posts app.yml's manifest to the GitHub stand-in's "new GitHub App" page, which redirects back
// with a one-time code; the setup server trades it (`POST /app-manifests/{code}/conversions`, checked against
// GitHub's OpenAPI description) and writes APP_ID, PRIVATE_KEY and WEBHOOK_SECRET to .env, with which the bot's
// start-up checks pass. On GHE_HOST, as a GitHub Enterprise Server would be reached.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readEnvFile } from '../../bot/setup/env-file.ts';
import { startSetupServer, type SetupServer } from '../../bot/setup/setup-server.ts';
import { startupProblems } from '../../bot/startup-checks.ts';
import { startGitHubStandin, type GitHubStandin } from '../support/github-standin.ts';

const CHROMIUM = '/usr/bin/chromium';
const PUBLIC_URL = 'https://shipguard.example.com';
const WAIT_MS = 60_000;

let github: GitHubStandin;
let setup: SetupServer;
let browser: BrowserContext | undefined;
let folder: string;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'shipguard-setup-'));
  browser = await chromium.launchPersistentContext(join(folder, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
  });
  github = await startGitHubStandin({ webhookSecret: 'unused-here', webhookUrl: null });
  writeFileSync(join(folder, '.env'), '# kept\nLOG_LEVEL=debug\n');
  setup = await startSetupServer({
    env: { GHE_HOST: github.host, GHE_PROTOCOL: 'http', PUBLIC_URL },
    appYml: readFileSync(join(import.meta.dirname, '../../app.yml'), 'utf8'),
    envFile: join(folder, '.env'),
    port: 0,
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await setup?.close();
  await github?.close();
  rmSync(folder, { recursive: true, force: true });
});

it('creates the App from app.yml and writes its settings to .env, with which the bot starts', async () => {
  const page = await browser!.newPage();
  await page.goto(setup.url);
  await page.getByRole('button', { name: 'Create the GitHub App' }).click();
  await page.getByRole('heading', { name: /^Created the GitHub App shipguard$/ }).waitFor({ timeout: WAIT_MS });
  const app = await setup.created;

  // What GitHub received: app.yml's permissions and events, this bot's webhook address.
  expect(github.manifestApps).toHaveLength(1);
  const created = github.manifestApps[0]!;
  expect(created.page).toBe('/settings/apps/new');
  expect(app.id).toBe(created.id);
  expect(created.manifest).toMatchObject({
    name: 'shipguard',
    hook_attributes: { url: `${PUBLIC_URL}/api/github/webhooks` },
    default_permissions: { deployments: 'write', contents: 'read', issues: 'write', pull_requests: 'write' },
    default_events: expect.arrayContaining(['deployment', 'issue_comment']),
    public: false,
  });

  // What .env holds now: the App's settings, the lines it had before, readable by its owner only.
  const env = readEnvFile(join(folder, '.env'));
  expect(env).toEqual({
    LOG_LEVEL: 'debug',
    APP_ID: String(created.id),
    PRIVATE_KEY: created.pem,
    WEBHOOK_SECRET: created.webhookSecret,
    GHE_HOST: github.host,
    GHE_PROTOCOL: 'http',
    PUBLIC_URL,
  });
  expect(readFileSync(join(folder, '.env'), 'utf8')).toMatch(/^# kept$/m);
  expect(statSync(join(folder, '.env')).mode & 0o777).toBe(0o600);
  expect(await startupProblems({ ...env, DATA_DIR: join(folder, 'data') })).toEqual([]);
  expect(github.problems).toEqual([]);
}, 120_000);

it('an answer without this page’s state is refused before any exchange; a used code is refused by GitHub', async () => {
  const before = github.requests.length;
  const forged = await fetch(`${setup.url}/setup/created?code=abc&state=not-ours`);
  expect(forged.status).toBe(400);
  expect(github.requests.length).toBe(before);

  const state = /name="state" value="([0-9a-f]+)"/.exec(await (await fetch(setup.url)).text())![1];
  const used = github.requests.find((r) => r.path.startsWith('/app-manifests/'))!.path.split('/')[2];
  const again = await fetch(`${setup.url}/setup/created?code=${used}&state=${state}`);
  expect(again.status).toBe(502);
  expect(await again.text()).toContain('the code exchange answered 404');
});

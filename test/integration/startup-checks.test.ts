// `npm start` with a bad environment, as a real process (`node bot/server.ts`): before starting anything it
// prints every problem at once, one line each naming the variable, no stack trace, and exits 78 (a setting to
// fix) or 1 (only the database did not answer: worth a retry).
// Outside faults are real: a closed port, a PostgreSQL server that accepts and never speaks, a folder
// that cannot be created (/proc: some kernels refuse at once, others hang; either way a line, in time).
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appPrivateKey } from '../support/bot-harness.ts';
import { freePort } from '../support/ports.ts';

const SERVER = join(import.meta.dirname, '../../bot/server.ts');
/** A safety net only: a bad environment ends the process within the checks' 10 s deadline plus Node's start. */
const EXIT_SAFETY_MS = 120_000;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'shipguard-startup-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the bot until it exits; its working folder is a fresh one (no stray .pem, no .shipguard here). */
function runBot(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cwd = mkdtempSync(join(dir, 'cwd-'));
  const child = spawn(process.execPath, [SERVER], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const safety = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the bot did not exit: ${stdout}${stderr}`));
    }, EXIT_SAFETY_MS);
    child.once('exit', (code) => {
      clearTimeout(safety);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The problem lines (indented under the heading), by the variable they start with. */
function problemLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('  '))
    .map((line) => line.trim());
}

/** Exit 78 (EX_CONFIG) when a setting must change; 1 when only something outside did not answer (retry). */
function expectCleanFailure(result: { code: number | null; stdout: string; stderr: string }, count: number, code = 78): string[] {
  expect(result.code).toBe(code);
  expect(result.stderr.split('\n')[0]).toBe(
    `shipguard cannot start: ${count === 1 ? 'one setting needs' : `${count} settings need`} fixing`,
  );
  expect(result.stderr).not.toMatch(/^\s+at /m); // no stack trace
  const lines = problemLines(result.stderr);
  expect(lines).toHaveLength(count);
  return lines;
}

describe('npm start with a bad environment', () => {
  it('names every missing variable at once', async () => {
    const lines = expectCleanFailure(await runBot({}), 3);
    expect(lines[0]).toMatch(/^APP_ID is not set: /);
    expect(lines[1]).toMatch(/^PRIVATE_KEY or PRIVATE_KEY_PATH is not set: /);
    expect(lines[2]).toMatch(/^WEBHOOK_SECRET is not set: /);
  }, 150_000);

  it('names every malformed value at once, and what to use instead', async () => {
    const result = await runBot({
      APP_ID: 'my-app',
      PRIVATE_KEY: 'not a key',
      WEBHOOK_SECRET: 'secret',
      PORT: '99999',
      PUBLIC_URL: 'ftp://bot.example.com',
      LOG_LEVEL: 'loud',
      METRICS_TOKEN: 'short',
      SHIPGUARD_SSH_KEY: 'garbage',
      SHIPGUARD_KNOWN_HOSTS: 'web-1 ssh-ed25519',
      SHIPGUARD_LEASE: 'forever',
      DATABASE_URL: 'not-a-url',
    });
    const lines = expectCleanFailure(result, 10);
    expect(lines).toEqual([
      expect.stringMatching(/^APP_ID=my-app is not a number: /),
      expect.stringMatching(/^PRIVATE_KEY is not a PEM private key: /),
      expect.stringMatching(/^PORT=99999 is not a port number: /),
      expect.stringMatching(/^PUBLIC_URL=ftp:\/\/bot.example.com must start with https:\/\//),
      expect.stringMatching(/^LOG_LEVEL=loud is not a level: /),
      expect.stringMatching(/^METRICS_TOKEN is shorter than 16 characters/),
      expect.stringMatching(/^SHIPGUARD_SSH_KEY is not a usable SSH private key /),
      expect.stringMatching(/^SHIPGUARD_KNOWN_HOSTS line 1: /),
      expect.stringMatching(/^SHIPGUARD_LEASE=forever: /),
      expect.stringMatching(/^DATABASE_URL is not a URL: /),
    ]);
  }, 150_000);

  it('checks the key files, and that PostgreSQL answers, without printing the URL’s password', async () => {
    const ecKey = join(dir, 'ec.pem');
    const ec = generateKeyPairSync('ec', {
      namedCurve: 'prime256v1',
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    writeFileSync(ecKey, ec.privateKey);
    const closedPort = await freePort();
    const result = await runBot({
      APP_ID: '12',
      PRIVATE_KEY_PATH: ecKey,
      WEBHOOK_SECRET: 'secret',
      SHIPGUARD_KNOWN_HOSTS_PATH: join(dir, 'missing_known_hosts'),
      DATABASE_URL: `postgres://shipguard:hunter2@127.0.0.1:${closedPort}/shipguard`,
    });
    const lines = expectCleanFailure(result, 3);
    expect(lines[0]).toMatch(/^PRIVATE_KEY_PATH=.*ec\.pem is not an RSA key \(it is EC\)/);
    expect(lines[1]).toMatch(/^cannot read SHIPGUARD_KNOWN_HOSTS_PATH \(.*missing_known_hosts\): ENOENT/);
    expect(lines[2]).toBe(
      `DATABASE_URL: nothing accepts connections at 127.0.0.1:${closedPort} (ECONNREFUSED): is PostgreSQL running there?`,
    );
    expect(result.stderr).not.toContain('hunter2');
  }, 150_000);

  describe('outside things that never answer', () => {
    let silent: Server;
    const sockets: Socket[] = [];
    beforeAll(async () => {
      // Accepts the connection, never says a word: a black-holed database.
      silent = createServer((socket) => sockets.push(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    });
    afterAll(() => {
      for (const socket of sockets) socket.destroy();
      silent.close();
    });

    it('gives up on a silent database at its deadline, naming DATABASE_URL', async () => {
      const port = (silent.address() as { port: number }).port;
      const result = await runBot({
        APP_ID: '12',
        PRIVATE_KEY: appPrivateKey(),
        WEBHOOK_SECRET: 's',
        DATABASE_URL: `postgres://u@127.0.0.1:${port}/db`,
      });
      const lines = expectCleanFailure(result, 1, 1); // a database still starting: a supervisor should retry
      expect(lines[0]).toBe(`DATABASE_URL: 127.0.0.1:${port} did not answer within 10s`);
      expect(sockets.length).toBeGreaterThan(0); // it did try
    }, 150_000);

    it('fails on a DATA_DIR it cannot create, at once or at its deadline, never hanging', async () => {
      const result = await runBot({ APP_ID: '12', PRIVATE_KEY: appPrivateKey(), WEBHOOK_SECRET: 's', DATA_DIR: '/proc/shipguard' });
      const lines = expectCleanFailure(result, 1);
      expect(lines[0]).toMatch(
        /^DATA_DIR=\/proc\/shipguard( is not a writable folder \(E[A-Z]+\)|: creating or writing this folder did not finish within 10s)/,
      );
    }, 150_000);
  });
});

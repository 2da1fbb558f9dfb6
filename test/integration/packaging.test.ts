// Packaging, as far as this machine can test it (it cannot build images): the Dockerfile's own steps are
// replayed in a clean folder — its COPY lines, its `npm ci --omit=dev`, its CMD run as a non-root user with
// a Node that is not the developer's — and that bot deploys, answers the image's HEALTHCHECK command, and
// stops cleanly on SIGTERM. The systemd unit and compose.yaml are checked for what the bot relies on.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { deployYml, startWorld, type World } from '../support/bot-harness.ts';
import { freePort } from '../support/ports.ts';

const root = join(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
/** The non-root user the bot runs as here when the tests run as root (the image's is `node`). */
const NOBODY = { uid: 65534, gid: 65534 };
const STARTUP_SAFETY_MS = 150_000;

/** Dockerfile instructions, continuation lines joined. */
function instructions(text: string): Array<{ op: string; args: string }> {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}

const dockerfile = instructions(read('Dockerfile'));
const only = (op: string) => dockerfile.filter((i) => i.op === op);

describe('the Dockerfile', () => {
  it('builds on the official Node 24 slim image, runs as a non-root user, and checks /healthz', () => {
    expect(only('FROM').map((i) => i.args)).toEqual([expect.stringMatching(/^node:24[\w.-]*-slim$/)]);
    expect(only('USER').at(-1)?.args).toBe('node');
    expect(only('RUN').some((i) => /npm ci --omit=dev/.test(i.args))).toBe(true);
    expect(only('HEALTHCHECK')[0]?.args).toContain('/healthz');
    // Node itself: no `npm start`, so no wrapper that could look for (or download) another Node.
    expect(JSON.parse(only('CMD')[0]!.args)).toEqual(['node', 'bot/server.ts']);
  });
});

describe('the image’s steps, replayed in a clean folder', { timeout: 300_000 }, () => {
  let world: World;
  let app: string;
  let node: string;
  let bot: ChildProcess | undefined;
  let output = '';
  const runAs: { uid?: number; gid?: number } = process.getuid?.() === 0 ? NOBODY : {};

  beforeAll(async () => {
    const folder = mkdtempSync(join(tmpdir(), 'shipguard-image-'));
    chmodSync(folder, 0o755);
    app = join(folder, 'app');
    mkdirSync(app);
    for (const { args } of only('COPY')) {
      const parts = args.split(/\s+/);
      const destination = parts.pop()!;
      for (const source of parts) {
        const target = destination.endsWith('/') ? join(app, destination, basename(source)) : join(app, destination);
        cpSync(join(root, source), target, { recursive: true });
      }
    }
    // The RUN that installs dependencies, without its cache cleaning (that would empty this machine's cache).
    const install = only('RUN')
      .map((i) => i.args.split('&&')[0]!.trim())
      .find((command) => command.startsWith('npm ci'))!;
    const npm = spawnSync('sh', ['-c', `${install} --prefer-offline`], { cwd: app, encoding: 'utf8' });
    expect(npm.status, npm.stderr).toBe(0);
    // The image's Node is its own, outside anyone's home folder: a copy (or link) of this one.
    node = join(folder, 'node');
    try {
      linkSync(process.execPath, node);
    } catch {
      copyFileSync(process.execPath, node);
    }
    chmodSync(node, 0o755);
    if (runAs.uid !== undefined) spawnSync('chown', ['-R', `${runAs.uid}:${runAs.gid}`, app]);

    world = await startWorld({
      deployYml: deployYml(`  staging:\n    deployer: local\n    hosts: [web-1]\n    deploy: 'echo "deploying $DEPLOY_SHA"'\n`),
    });
  }, 300_000);

  afterAll(async () => {
    if (bot && bot.exitCode === null) bot.kill('SIGKILL');
    await world?.close();
    if (app) rmSync(join(app, '..'), { recursive: true, force: true });
  });

  it('runs the CMD as a non-root user: it starts, deploys, passes the HEALTHCHECK, and stops on SIGTERM', async () => {
    const port = await freePort();
    const env: Record<string, string> = {
      ...world.env,
      PATH: '/usr/bin:/bin',
      PORT: String(port),
      DATA_DIR: join(app, 'data'),
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
    };
    const [command, ...args] = JSON.parse(only('CMD')[0]!.args) as string[];
    expect(command).toBe('node');
    const child = spawn(node, args, { cwd: app, env, ...runAs, stdio: ['ignore', 'pipe', 'pipe'] });
    bot = child;
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const url = `http://127.0.0.1:${port}`;
    // A safety net only: on a busy machine the first start takes seconds.
    const deadline = Date.now() + STARTUP_SAFETY_MS;
    while (!(await fetch(`${url}/healthz`).catch(() => null))?.ok) {
      if (child.exitCode !== null) throw new Error(`the bot exited with ${child.exitCode}: ${output}`);
      if (Date.now() > deadline) throw new Error(`the bot did not start: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    world.github.setWebhookUrl(`${url}/api/github/webhooks`);

    // The image's HEALTHCHECK command, as Docker would run it inside the container.
    const healthcheck = JSON.parse(only('HEALTHCHECK')[0]!.args.replace(/^.*?CMD\s+/, '')) as string[];
    expect(healthcheck[0]).toBe('node');
    const health = spawnSync(node, healthcheck.slice(1), { env, ...runAs, encoding: 'utf8', timeout: 30_000 });
    expect(health.status, health.stderr).toBe(0);

    const id = await world.createDeployment({});
    const final = await world.github.waitFor(
      () => world.github.statuses(id).find((s) => ['success', 'failure', 'error', 'inactive'].includes(s.state)),
      60_000,
    );
    expect(final.state, output).toBe('success');
    // The store was made by the bot's own user.
    if (runAs.uid !== undefined) expect(statSync(join(app, 'data')).uid).toBe(runAs.uid);

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

describe('the systemd unit and compose.yaml', () => {
  it('the unit runs what the image runs, as its own user, and does not restart on a setting to fix', () => {
    const unit = read('packaging/shipguard.service');
    const setting = (name: string) => [...unit.matchAll(new RegExp(`^${name}=(.*)$`, 'gm'))].map((m) => m[1]);
    expect(setting('ExecStart')).toEqual(['/usr/bin/node bot/server.ts']);
    expect(setting('User')).toEqual(['shipguard']);
    expect(setting('RestartPreventExitStatus')).toEqual(['78']); // bot/server.ts's exit code for bad settings
    expect(setting('KillSignal')).toEqual(['SIGTERM']);
  });

  it('compose.yaml runs two replicas on one PostgreSQL, started once it is ready', () => {
    const compose = parse(read('compose.yaml'), { merge: true }) as {
      services: Record<string, { build?: string; environment?: Record<string, string>; depends_on?: object; healthcheck?: object }>;
    };
    const bots = Object.values(compose.services).filter((service) => service.build === '.');
    expect(bots).toHaveLength(2);
    for (const service of bots) {
      expect(service.environment?.DATABASE_URL).toMatch(/^postgres:\/\/[^@]+@postgres:5432\//);
      expect(service.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    }
    expect(compose.services.postgres?.healthcheck).toBeDefined();
  });
});

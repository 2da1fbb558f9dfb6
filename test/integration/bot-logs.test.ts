// A deploy tells its story in the log: a real bot process (`node bot/server.ts`, LOG_LEVEL=info, stdout
// not a terminal, so JSON lines) deploys, refuses a duplicate and an unknown environment, and meets a
// webhook with a bad signature and a malformed ChatOps command. Its stdout is parsed line by line.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployYml, startBotProcess, startWorld, WEBHOOK_SECRET, type BotProcess, type World } from '../support/bot-harness.ts';
import { freePort } from '../support/ports.ts';

interface LogLine {
  level: number;
  msg: string;
  name?: string;
  deployment?: number;
  repository?: string;
  environment?: string;
  sha?: string;
  [field: string]: unknown;
}

let world: World;
let bot: BotProcess;
beforeAll(async () => {
  world = await startWorld({
    deployYml: deployYml(
      `  staging:\n    deployer: local\n    hosts: [web-1, web-2]\n    concurrency: 2\n    deploy: 'echo "deploying $DEPLOY_SHA"'\n`,
    ),
  });
  bot = await startBotProcess(world, { port: await freePort(), cwd: world.dir, env: { LOG_LEVEL: 'info' } });
  world.github.setWebhookUrl(`${bot.url}/api/github/webhooks`);
}, 180_000);
afterAll(async () => {
  await bot?.kill('SIGTERM');
  await world?.close();
});

function lines(): LogLine[] {
  return bot
    .stdout()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LogLine);
}

async function terminal(id: number): Promise<string> {
  const status = await world.github.waitFor(
    () => world.github.statuses(id).find((s) => ['success', 'failure', 'error', 'inactive'].includes(s.state)),
    60_000,
  );
  return status.state;
}

/** Waits until a line matching `match` is in the log (the log is written after the status, or just before). */
function logged(match: (line: LogLine) => boolean): Promise<LogLine> {
  return world.github.waitFor(() => lines().find(match), 30_000);
}

describe('the log at LOG_LEVEL=info', { timeout: 180_000 }, () => {
  it('tells a deploy’s story: received, queued, started, each host’s end, finished with state and duration', async () => {
    const sha = world.github.addCommit('acme/app');
    const id = await world.createDeployment({ ref: sha });
    expect(await terminal(id)).toBe('success');
    await logged((l) => l.msg === 'deployment finished' && l.deployment === id);

    const story = lines().filter((l) => l.deployment === id);
    const fields = { deployment: id, repository: 'acme/app', environment: 'staging', sha: sha.slice(0, 7) };
    expect(story.map((l) => l.msg)).toEqual([
      'deployment received',
      'deployment queued',
      'deployment started',
      'host finished',
      'host finished',
      'deployment finished',
    ]);
    for (const line of story) {
      expect(line).toMatchObject({ level: 30, ...fields });
    }
    expect(story.filter((l) => l.msg === 'host finished').map((l) => l.host)).toEqual(expect.arrayContaining(['web-1', 'web-2']));
    expect(story.find((l) => l.msg === 'host finished')).toMatchObject({ outcome: 'succeeded', seconds: expect.any(Number) });
    expect(story.at(-1)).toMatchObject({ state: 'succeeded', seconds: expect.any(Number) });
  });

  it('says why a deployment is refused: a duplicate, an unknown environment', async () => {
    const sha = world.github.addCommit('acme/app');
    const first = await world.createDeployment({ ref: sha });
    expect(await terminal(first)).toBe('success');
    const duplicate = await world.createDeployment({ ref: sha });
    expect(await terminal(duplicate)).toBe('inactive');
    const unknown = await world.createDeployment({ ref: sha, environment: 'nowhere', payload: { requested_by: 'octocat' } });
    expect(await terminal(unknown)).toBe('error');

    const refusedDuplicate = await logged((l) => l.msg === 'deployment refused' && l.deployment === duplicate);
    expect(refusedDuplicate).toMatchObject({
      level: 30,
      repository: 'acme/app',
      environment: 'staging',
      why: `duplicate of #${first} (succeeded)`,
    });
    const refusedUnknown = await logged((l) => l.msg === 'deployment refused' && l.deployment === unknown);
    expect(refusedUnknown).toMatchObject({ level: 30, environment: 'nowhere', why: expect.stringContaining('nowhere') });
  });

  it('a webhook with a bad signature is one warn line, no stack trace', async () => {
    const before = lines().length;
    const response = await fetch(`${bot.url}/api/github/webhooks`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'deployment',
        'x-github-delivery': randomUUID(),
        'x-hub-signature-256': `sha256=${'0'.repeat(64)}`,
      },
      body: JSON.stringify({ action: 'created' }),
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    await logged((l) => /signature/.test(l.msg));
    const added = lines().slice(before);
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({ level: 40, msg: expect.stringContaining('WEBHOOK_SECRET') });
    expect(JSON.stringify(added[0])).not.toMatch(/stack|    at /);
  });

  it('a malformed ChatOps command is one warn line saying why', async () => {
    const pull = world.github.addPullRequest('acme/app', { headRef: 'feature' });
    const before = lines().length;
    const { commentId } = await world.github.postComment('acme/app', pull, 'octocat', '/deploy staging --sideways');
    await world.github.waitFor(() => world.github.reactions(commentId).includes('confused'), 60_000);
    const added = lines()
      .slice(before)
      .filter((l) => l.level >= 40);
    expect(added).toEqual([
      expect.objectContaining({ level: 40, msg: 'ChatOps: command refused', comment: commentId, why: expect.any(String) }),
    ]);
  });

  it('every line is JSON with one name, and none holds the webhook secret or a log link’s signature', () => {
    const raw = bot.stdout().split('\n').filter(Boolean);
    expect(raw.length).toBeGreaterThan(10);
    for (const line of raw) {
      expect(line.match(/"name":/g)?.length ?? 0, line).toBeLessThanOrEqual(1);
      expect(line).not.toContain(WEBHOOK_SECRET);
      expect(line).not.toContain('sig=');
    }
    expect(lines().filter((l) => l.level >= 50)).toEqual([]);
  });
});

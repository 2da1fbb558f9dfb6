// Exactly once under faults, "bounded": one repository whose GitHub reads hang (until their deadline)
// cannot hold up admission in another. The store is real; GitHub is two functions, one of which hangs.
import pino from 'pino';
import { afterEach, expect, it } from 'vitest';
import { parseDeployConfig, type DeployConfig } from '../../bot/engine/deploy-config.ts';
import { admitReceived } from '../../bot/worker/admit-received.ts';
import { freshStore, type TestStore } from '../support/databases.ts';

let t: TestStore | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

it('a repository whose deploy.yml read hangs does not stall admission in another repository', async () => {
  t = await freshStore('postgres');
  const config = parseDeployConfig('environments:\n  staging: { deployer: local, deploy: ./deploy }\n');
  for (const [id, repository] of [
    [1, 'acme/slow'],
    [2, 'acme/fast'],
  ] as const) {
    await t.store.recordReceived({
      id,
      installationId: 1,
      repository,
      environment: 'staging',
      sha: 'a'.repeat(40),
      ref: 'main',
      task: 'deploy',
      forced: false,
      requestedBy: 'alice',
      payload: {},
    });
  }
  let releaseSlow: (config: DeployConfig) => void = () => {};
  const slowRead = new Promise<DeployConfig>((resolve) => (releaseSlow = resolve));
  const round = admitReceived({
    store: t.store,
    owner: 'bot',
    links: { url: (id) => `http://bot.test/deployments/${id}` },
    log: pino({ level: 'silent' }),
    loadConfig: async (_installation, repository) => (repository === 'acme/slow' ? slowRead : config),
    deploymentStates: async () => [],
  });
  // acme/fast is queued while acme/slow's read still hangs.
  for (let i = 0; (await t.store.deployment(2))!.state !== 'queued'; i++) {
    if (i > 600) throw new Error('acme/fast was never admitted');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect((await t.store.deployment(1))!.state).toBe('received');
  releaseSlow(config);
  expect(await round).toBe(2);
  expect((await t.store.deployment(1))!.state).toBe('queued');
});

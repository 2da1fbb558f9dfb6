// The engine without GitHub: a real store, the worker, the local deployer, and a status publisher
// whose writer records what GitHub would have received. For tests of the rules end to end in-process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Deployer } from '../../bot/deployers/deployer.ts';
import { LocalDeployer } from '../../bot/deployers/local.ts';
import type { RolloutOptions } from '../../bot/deployers/rollout.ts';
import { parseDeployConfig } from '../../bot/engine/deploy-config.ts';
import { LogLinks } from '../../bot/github/log-links.ts';
import { StatusPublisher, type StatusWriter } from '../../bot/github/statuses.ts';
import type { NewDeployment, PendingStatus } from '../../bot/store/store.ts';
import { Worker } from '../../bot/worker/worker.ts';
import { freshStore, type StoreKind, type TestStore } from './databases.ts';

export interface EngineHarness extends TestStore {
  worker: Worker;
  publisher: StatusPublisher;
  /** Statuses as GitHub would have received them, in order. */
  published: PendingStatus[];
  /** Folder the local deployer's commands run in. */
  workDir: string;
  links: LogLinks;
  receive(deployment: Partial<NewDeployment> & { id: number }): Promise<void>;
  /** Waits until the deployment's terminal status was published; returns its statuses. */
  settled(id: number, timeoutMs?: number): Promise<PendingStatus[]>;
  statesOf(id: number): string[];
}

export async function startEngine(options: {
  kind: StoreKind;
  deployYml: string;
  writer?: (status: PendingStatus) => Promise<void>;
  deployers?: Record<string, Deployer>;
  owner?: string;
  /** The local deployer's bake clock and gate (fleet safety tests). */
  localRollout?: RolloutOptions;
}): Promise<EngineHarness> {
  const t = await freshStore(options.kind);
  const workDir = mkdtempSync(join(tmpdir(), 'shipguard-work-'));
  const log = pino({ level: 'silent' });
  const links = new LogLinks('http://bot.test', 'link-secret');
  const published: PendingStatus[] = [];
  const writer: StatusWriter = {
    async write(status) {
      await options.writer?.(status);
      published.push(status);
    },
    async alreadyWritten(status) {
      const mine = published.filter((s) => s.deploymentId === status.deploymentId);
      if (status.kind === 'terminal') return mine.some((s) => s.kind === 'terminal');
      return mine.at(-1)?.state === status.state && mine.at(-1)?.description === status.description;
    },
  };
  const publisher = new StatusPublisher({
    store: t.store,
    writer,
    owner: options.owner ?? 'test-bot',
    log,
    retryDelaysMs: [10, 20, 40],
    backoffMs: 200,
    pollMs: 50,
  });
  const config = parseDeployConfig(options.deployYml);
  const worker = new Worker({
    store: t.store,
    owner: options.owner ?? 'test-bot',
    links,
    log,
    deployers: new Map<string, Deployer>([
      ['local', new LocalDeployer({ cwd: workDir, rollout: options.localRollout })],
      ...Object.entries(options.deployers ?? {}),
    ]),
    secrets: ['s3cr3t-value'],
    loadConfig: async () => config,
    deploymentStates: async (_installation, _repository, id) =>
      published
        .filter((s) => s.deploymentId === id)
        .map((s) => s.state)
        .reverse(),
    statusQueued: () => publisher.wake(),
    pollMs: 50,
  });
  publisher.start();
  worker.start();
  const isTerminal = (s: PendingStatus) => ['success', 'failure', 'error', 'inactive'].includes(s.state);
  return {
    ...t,
    worker,
    publisher,
    published,
    workDir,
    links,
    async receive(d) {
      await t.store.recordReceived({
        installationId: 1,
        repository: 'acme/app',
        environment: 'staging',
        sha: 'c'.repeat(40),
        ref: 'main',
        task: 'deploy',
        forced: false,
        requestedBy: 'alice',
        payload: {},
        ...d,
      });
      worker.wake();
    },
    async settled(id, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const mine = published.filter((s) => s.deploymentId === id);
        if (mine.some(isTerminal)) return mine;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(
        `deployment ${id} published no terminal status in ${timeoutMs} ms: ${JSON.stringify(published.filter((s) => s.deploymentId === id))}`,
      );
    },
    statesOf(id) {
      return published.filter((s) => s.deploymentId === id).map((s) => s.state);
    },
    async cleanup() {
      await worker.stop();
      await worker.idle();
      await publisher.stop();
      await t.cleanup();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

// Assembles a running bot: store, Probot app, worker, status publisher, missed-delivery catch-up and
// pages on one HTTP server. `npm start` (server.ts), the demo and the end-to-end tests all start it here.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIPv6, type AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createNodeMiddleware, createProbot, type Probot } from 'probot';
import { shipguardApp, type AppServices } from './app.ts';
import { ChatOps } from './chatops/handle-comment.ts';
import { botConfigFromEnvironment, type BotConfig } from './config.ts';
import type { Deployer } from './deployers/deployer.ts';
import { loadHttpDeployerDefinitions } from './deployers/http/definitions.ts';
import { httpDeployerFor } from './deployers/http/http-deployer.ts';
import { LocalDeployer } from './deployers/local.ts';
import { createLog } from './log.ts';
import { sshDeployerFromEnvironment } from './deployers/ssh/from-environment.ts';
import type { LeaseTiming } from './engine/leases.ts';
import { BoundedOctokit } from './github/bounded-fetch.ts';
import { deploymentStatesOnGitHub } from './github/deployment-states.ts';
import { GateReviewer } from './github/gate-reviewer.ts';
import { loadDeployConfig } from './github/load-deploy-config.ts';
import { probotAccess, type GitHubAccess } from './github/github-access.ts';
import { LogLinks } from './github/log-links.ts';
import { redeliverMissedDeliveries } from './github/missed-deliveries.ts';
import { StatusPublisher } from './github/statuses.ts';
import { githubStatusWriter } from './github/status-writer.ts';
import { failingContexts, userPermission, workflowRun } from './github/workflow-runs.ts';
import { openStore } from './store/open-store.ts';
import type { Store } from './store/store.ts';
import { BotMetrics, countingStoreErrors } from './web/metrics.ts';
import { readBoundedBody } from './web/bounded-body.ts';
import { handlePage } from './web/routes.ts';
import { Worker } from './worker/worker.ts';

const CATCH_UP_EVERY_MS = 5 * 60_000;
const CATCH_UP_WINDOW_MS = 24 * 3_600_000;
const STORE_RECOVERY_CHECK_MS = 2_000;
/** How soon GitHub (or whoever redelivers) should try a webhook refused with 503 again. */
const RETRY_AFTER_SECONDS = 30;
const WEBHOOKS_PATH = '/api/github/webhooks';

export interface StartBotOptions {
  /** Probot's variables and ours (docs/configuration.md). */
  env: NodeJS.ProcessEnv;
  /** Extra or replacement deployers by name (tests). */
  deployers?: Record<string, Deployer>;
  /** Shorter leases for tests; production uses the defaults of engine/leases.ts. */
  lease?: LeaseTiming;
  /** Turn off the missed-delivery catch-up (tests that count API calls). */
  catchUp?: boolean;
  /** Opens the store (tests hold it to see what a starting bot answers); default: from DATABASE_URL / DATA_DIR. */
  openStore?: typeof openStore;
}

export interface Bot {
  url: string;
  port: number;
  config: BotConfig;
  store: Store;
  worker: Worker;
  publisher: StatusPublisher;
  reviewer: GateReviewer;
  metrics: BotMetrics;
  probot: Probot;
  log: Logger;
  access: GitHubAccess;
  links: LogLinks;
  stop(graceMs?: number): Promise<void>;
}

export async function startBot(options: StartBotOptions): Promise<Bot> {
  const config = botConfigFromEnvironment(options.env);
  const deployers = buildDeployers(options);
  const deployerTokens = [...loadHttpDeployerDefinitions(options.env).values()].map((definition) => definition.token ?? undefined);
  const log = createLog({
    level: options.env.LOG_LEVEL,
    secrets: [config.webhookSecret, config.linkSecret, config.metricsToken, config.sshKey, options.env.PRIVATE_KEY, ...deployerTokens],
  });
  const probot = createProbot({ env: options.env, overrides: { log, Octokit: BoundedOctokit } });
  // Listen first: with PORT=0 the address, and so the default PUBLIC_URL, is known only now.
  // Until the store is open every request is answered 503 at once, its (bounded) body read first so that the
  // answer never cuts off a client still sending.
  let handle: (req: IncomingMessage, res: ServerResponse) => Promise<void> = async (req, res) => {
    if ((await readBoundedBody(req, res)) === null) return;
    res.writeHead(503, { 'retry-after': '1' }).end('starting\n');
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      log.error({ err: error }, 'request failed');
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await listen(server, config.port, config.host);
  const port = (server.address() as AddressInfo).port;
  const publicUrl = options.env.PUBLIC_URL ? config.publicUrl : `http://localhost:${port}`;
  const metrics = new BotMetrics();
  const openedStore = await (options.openStore ?? openStore)({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }).catch(
    async (error) => {
      server.close();
      throw error;
    },
  );
  const store = countingStoreErrors(openedStore, metrics);
  metrics.readActivityFrom(() => store.activity());
  const owner = `bot-${process.pid}-${randomUUID().slice(0, 8)}`;
  const access = probotAccess(probot);
  const links = new LogLinks(publicUrl, config.linkSecret);
  const secrets = [config.sshKey, config.webhookSecret, config.linkSecret].filter((s): s is string => Boolean(s));

  const publisher = new StatusPublisher({
    store,
    writer: githubStatusWriter(access),
    owner,
    log,
    onPublished: (status) => {
      metrics.statusesPublished.inc({ state: status.state });
      chatops.statusPublished(status);
    },
  });
  const reviewer = new GateReviewer({ store, access, owner, log });
  const loadConfig = (installationId: number, repository: string) => loadDeployConfig(access, installationId, repository);
  const chatops = new ChatOps({
    store,
    access,
    links,
    log,
    loadConfig,
    appLogin: () => services.appLogin(),
    statusQueued: () => publisher.wake(),
  });
  const worker = new Worker({
    store,
    owner,
    links,
    log,
    deployers,
    secrets,
    lease: options.lease ?? config.lease,
    loadConfig,
    deploymentStates: (installationId, repository, id) => deploymentStatesOnGitHub(access, installationId, repository, id),
    statusQueued: () => publisher.wake(),
    reviewsQueued: () => reviewer.wake(),
    gateReads: {
      run: (installationId, repository, runId) => workflowRun(access, installationId, repository, runId),
      permission: (installationId, repository, user) => userPermission(access, installationId, repository, user),
      failingContexts: (installationId, repository, sha, required) => failingContexts(access, installationId, repository, sha, required),
    },
    runState: (installationId, repository, runId) => workflowRun(access, installationId, repository, runId),
    onAdmitted(_record, admission) {
      if (admission.kind === 'refuse') metrics.deploymentsRefused.inc({ reason: admission.duplicateOf !== null ? 'duplicate' : 'invalid' });
    },
    onIgnored: () => metrics.deploymentsIgnored.inc(),
    onFinished(record, finish, hosts) {
      const labels = metrics.labels(finish.state, record.repository, record.environment);
      metrics.deploymentsFinished.inc(labels);
      if (record.startedAt) metrics.deployDuration.observe(labels, (Date.now() - record.startedAt.getTime()) / 1000);
      for (const host of hosts) metrics.hostDuration.observe({ outcome: host.state }, host.ms / 1000);
    },
  });

  // Webhooks refused while the store was down are failed deliveries on GitHub: fetch them again as soon
  // as the store answers, not at the next periodic round.
  let refusedWhileDown = false;
  let appLogin: Promise<string> | null = null;
  const services: AppServices = {
    store,
    metrics,
    appLogin() {
      appLogin ??= access
        .app()
        .then((client) => client.request('GET /app'))
        .then(({ data }) => `${data!.slug}[bot]`)
        .catch((error) => {
          appLogin = null;
          throw error;
        });
      return appLogin;
    },
    deploymentReceived: () => worker.wake(),
    storeUnavailable: () => {
      refusedWhileDown = true;
    },
    onComment: (context) => chatops.onComment(context),
  };
  const middleware = await createNodeMiddleware(shipguardApp(services), { probot, webhooksPath: WEBHOOKS_PATH });
  handle = async (req, res) => {
    if (await handlePage({ store, links, metrics, metricsToken: config.metricsToken, githubWebUrl: config.githubWebUrl }, req, res)) return;
    retryAfterOn503(res);
    if (req.method === 'POST' && req.url?.split('?')[0] === WEBHOOKS_PATH) {
      const body = await readBoundedBody(req, res);
      if (body === null) return;
      // Probot's middleware takes a body already read as it is (and verifies its signature as usual).
      Object.assign(req, { body });
    }
    await middleware(req, res, () => {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    });
  };

  publisher.start();
  reviewer.start();
  worker.start();
  const catchUp = async () => {
    try {
      await redeliverMissedDeliveries({
        access,
        log,
        since: new Date(Date.now() - CATCH_UP_WINDOW_MS),
        received: (guid) => store.hasDelivery(guid),
      });
    } catch (error) {
      log.warn({ err: error }, 'could not check for missed webhook deliveries');
    }
  };
  const catchUpTimer = options.catchUp === false ? undefined : setInterval(() => void catchUp(), CATCH_UP_EVERY_MS);
  if (options.catchUp !== false) void catchUp();
  const recoveryTimer = setInterval(() => {
    if (!refusedWhileDown) return;
    store.hasDelivery('').then(
      () => {
        refusedWhileDown = false;
        log.info('the store answers again: fetching the webhooks refused meanwhile');
        if (options.catchUp !== false) void catchUp();
      },
      () => {},
    );
  }, STORE_RECOVERY_CHECK_MS);

  return {
    url: localUrl(config.host, port),
    port,
    config: { ...config, publicUrl },
    store,
    worker,
    publisher,
    reviewer,
    metrics,
    probot,
    log,
    access,
    links,
    async stop(graceMs = 0) {
      clearInterval(catchUpTimer);
      clearInterval(recoveryTimer);
      await worker.stop(graceMs);
      await publisher.stop();
      await reviewer.stop();
      await chatops.stop();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await store.close();
    },
  };
}

/** `local`, `ssh`, and the named http deployers of SHIPGUARD_DEPLOYERS (an invalid one stops the start). */
function buildDeployers(options: StartBotOptions): Map<string, Deployer> {
  const deployers = new Map<string, Deployer>([
    ['local', new LocalDeployer()],
    ['ssh', sshDeployerFromEnvironment(options.env)],
  ]);
  for (const [name, definition] of loadHttpDeployerDefinitions(options.env)) deployers.set(name, httpDeployerFor(definition));
  for (const [name, deployer] of Object.entries(options.deployers ?? {})) deployers.set(name, deployer);
  return deployers;
}

/** A 503 (store unavailable, or still starting) always says when to come back. */
function retryAfterOn503(res: ServerResponse): void {
  const writeHead = res.writeHead.bind(res) as (status: number, headers?: Record<string, string>) => ServerResponse;
  res.writeHead = ((status: number, headers?: Record<string, string>) =>
    writeHead(status, status === 503 ? { ...headers, 'retry-after': String(RETRY_AFTER_SECONDS) } : headers)) as typeof res.writeHead;
}

/** On HOST (every interface when unset); a failure names the variables to change. */
function listen(server: Server, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = host ? `HOST=${host} PORT=${port}` : `PORT=${port}`;
      reject(new Error(`cannot listen on ${where} (${error.code ?? error.message}): choose another ${host ? 'address or port' : 'port'}`));
    });
    server.listen(port, host, () => resolve());
  });
}

/** Where this process reaches its own server: HOST itself, unless it means every interface. */
function localUrl(host: string | undefined, port: number): string {
  if (!host || host === '0.0.0.0' || host === '::') return `http://127.0.0.1:${port}`;
  return `http://${isIPv6(host) ? `[${host}]` : host}:${port}`;
}

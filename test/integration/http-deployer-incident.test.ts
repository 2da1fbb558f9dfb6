// The incident this product exists to prevent, with real processes: a synchronous deployer service whose
// deploy outlives a real reverse proxy (nginx) in front of it, the proxy's timeout equal to the service's
// own worker timeout. The service records every execution per idempotency key. shipguard must deploy
// exactly once, report the truth (the status endpoint's answer; `error`, not retried, when there is
// none) and never send a second POST for the key. Then the variants listed in issue 6.
import { afterEach, describe, expect, it } from 'vitest';
import { HttpDeployer, deployerIdempotencyKey } from '../../bot/deployers/http/http-deployer.ts';
import type { DeployResult } from '../../bot/engine/outcomes.ts';
import { startDeployerService, type DeployerService, type DeployerServiceOptions } from '../support/deployer-service.ts';
import { deployJob, httpDefinition, recordEvents, type RecordedEvents } from '../support/http-deploy-fixtures.ts';
import { freePort } from '../support/ports.ts';
import { startReverseProxy, type ReverseProxy, type ReverseProxyOptions } from '../support/reverse-proxy.ts';

// The incident's shape, shortened: workers and proxy give up at 1 s, a deploy takes 2.5 s.
const WORKER_TIMEOUT_MS = 1000;
const DEPLOY_MS = 2500;
// Bound on waiting for what the deployer reports: far beyond what a loaded machine takes.
const WAIT_MS = 30_000;
const job = deployJob();
const KEY = deployerIdempotencyKey(job);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function deployerService(options: Partial<DeployerServiceOptions> = {}): Promise<DeployerService> {
  const service = await startDeployerService({ deployMs: DEPLOY_MS, workerTimeoutMs: WORKER_TIMEOUT_MS, ...options });
  cleanups.push(() => service.stop());
  return service;
}

async function reverseProxy(upstreamPort: number, options: Partial<ReverseProxyOptions> = {}): Promise<ReverseProxy> {
  const proxy = await startReverseProxy({ upstreamPort, readTimeoutMs: WORKER_TIMEOUT_MS, ...options });
  cleanups.push(() => proxy.close());
  return proxy;
}

/** shipguard's http deployer pointed at the proxy, as a team would define it. */
function shipguard(proxyUrl: string, statusUrl: boolean) {
  return new HttpDeployer(
    httpDefinition({
      url: `${proxyUrl}/deploy`,
      ...(statusUrl ? { status_url: `${proxyUrl}/deploy/{key}` } : {}),
      // connect: many times a loopback connect on a loaded machine (only refusals are tested here).
      timeouts: { connect: '3s', response: '10s', total: '30s' },
      poll_interval: '200ms',
      max_poll_interval: '500ms',
    }),
  );
}

/** What the service saw: executions of the key, and POSTs for the key. */
async function serviceRecord(service: DeployerService) {
  const executions = (await service.executions()).filter((e) => e.key === KEY);
  const posts = (await service.requests()).filter((r) => r.method === 'POST');
  return { executions, posts };
}

function progressText(recorded: RecordedEvents): string {
  return recorded.progress.map((p) => p.description).join('\n');
}

async function expectDeployedOnceWithOnePost(service: DeployerService): Promise<void> {
  const { executions, posts } = await serviceRecord(service);
  expect(executions).toHaveLength(1);
  expect(posts.map((p) => p.idempotencyKey)).toEqual([KEY]);
}

describe('the incident: a deploy that outlives the proxy in front of the service', () => {
  it('with a status endpoint: one execution, one POST, success as the status endpoint says', async () => {
    const service = await deployerService();
    const proxy = await reverseProxy(service.port);
    const recorded = recordEvents();

    const result = await shipguard(proxy.url, true).deploy(job, recorded.events);

    expect(result).toEqual({
      state: 'succeeded',
      description: 'deploy done (service)',
      logUrl: 'http://deployer.test/logs/acme%2Fapp%231042',
    });
    // The proxy did cut the call (a 504, or a 502 when the worker gave up first): the outcome was unknown.
    expect(progressText(recorded)).toMatch(
      /outcome unknown \(HTTP 50[24] from deployer legacy or a proxy in front of it\); asking deployer legacy/,
    );
    await expectDeployedOnceWithOnePost(service);
    const { executions } = await serviceRecord(service);
    expect(executions[0]!.state).toBe('success');
  });

  it('without a status endpoint: error, outcome unknown, not retried; the deploy still ran exactly once', async () => {
    const service = await deployerService();
    const proxy = await reverseProxy(service.port);

    const result = await shipguard(proxy.url, false).deploy(job, recordEvents().events);

    expect(result.state).toBe('error');
    expect(result.description).toMatch(/^outcome unknown: HTTP 50[24] from deployer legacy or a proxy in front of it; not retried$/);
    // The truth on the service's side: the deploy went on and succeeded, once; shipguard did not claim it.
    await expect.poll(async () => (await serviceRecord(service)).executions.map((e) => e.state), { timeout: WAIT_MS }).toEqual(['success']);
    await expectDeployedOnceWithOnePost(service);
  });
});

describe('variants', () => {
  it('the proxy cuts the connection at once, without an answer', async () => {
    const service = await deployerService();
    const proxy = await reverseProxy(service.port, { readTimeoutMs: 50, onTimeout: 'cut' });
    const recorded = recordEvents();

    const result = await shipguard(proxy.url, true).deploy(job, recorded.events);

    expect(result.state).toBe('succeeded');
    expect(progressText(recorded)).toMatch(/outcome unknown \(connection closed with no answer after the request was sent\)/);
    await expectDeployedOnceWithOnePost(service);
  });

  it('the proxy cuts after a partial body: a 200 that never ended is unknown, not success', async () => {
    const service = await deployerService({ answer: 'partial-body', deployOutcome: 'failure' });
    const proxy = await reverseProxy(service.port);
    const recorded = recordEvents();

    const result = await shipguard(proxy.url, true).deploy(job, recorded.events);

    // The half body began `{"state":"failure"…` — whatever it said, only the status endpoint's answer counts.
    expect(result).toMatchObject({ state: 'failed', description: 'deploy failed (service)' });
    expect(progressText(recorded)).toMatch(/outcome unknown \(HTTP 200 then .* after \d+ bytes of the body after the request was sent\)/);
    await expectDeployedOnceWithOnePost(service);
  });

  it('a 502 with an HTML body (the worker died) is unknown, resolved by the status endpoint', async () => {
    const service = await deployerService({ answer: 'close-at-once' });
    const proxy = await reverseProxy(service.port);
    const recorded = recordEvents();

    const result = await shipguard(proxy.url, true).deploy(job, recorded.events);

    expect(result.state).toBe('succeeded');
    expect(progressText(recorded)).toMatch(/outcome unknown \(HTTP 502 from deployer legacy or a proxy in front of it\)/);
    await expectDeployedOnceWithOnePost(service);
  });

  it('a service that answers 409 for a running key: followed, not run again', async () => {
    const service = await deployerService({ onKnownKey: 'conflict' });
    await service.startExecution(KEY); // an earlier attempt for this key is running on the service
    const proxy = await reverseProxy(service.port);
    const recorded = recordEvents();

    const result = await shipguard(proxy.url, true).deploy(job, recorded.events);

    expect(result.state).toBe('succeeded');
    expect(progressText(recorded)).toMatch(/already knows this deploy \(HTTP 409\)/);
    await expectDeployedOnceWithOnePost(service);
  });

  it('a slow status endpoint (its first answers cut by the proxy) is asked again, never posted to', async () => {
    // Slow by far more than the proxy's 1 s: nginx cuts these answers first, however busy the machine.
    const service = await deployerService({ slowStatusMs: 4000, slowStatusCount: 2 });
    const proxy = await reverseProxy(service.port);
    const recorded = recordEvents();

    const result = await shipguard(proxy.url, true).deploy(job, recorded.events);

    expect(result.state).toBe('succeeded');
    expect(progressText(recorded)).toMatch(/status check: HTTP 504; retrying/);
    expect((await service.requests()).filter((r) => r.method === 'GET').length).toBeGreaterThanOrEqual(3);
    await expectDeployedOnceWithOnePost(service);
  });

  it('a status endpoint down for a while (proxy stopped): polls retried until it is back', async () => {
    const service = await deployerService();
    const proxy = await reverseProxy(service.port);
    const recorded = recordEvents();

    const deploying = shipguard(proxy.url, true).deploy(job, recorded.events);
    await expect.poll(() => progressText(recorded), { timeout: WAIT_MS }).toMatch(/outcome unknown/);
    await proxy.stop();
    await expect.poll(() => progressText(recorded), { timeout: WAIT_MS }).toMatch(/status check: connection refused; retrying/);
    await proxy.start();
    const result = await deploying;

    expect(result.state).toBe('succeeded');
    await expectDeployedOnceWithOnePost(service);
  });

  it('a service down before the request: the POST is retried until it is up, and runs once', async () => {
    const proxyPort = await freePort();
    const recorded = recordEvents();

    const deploying: Promise<DeployResult> = shipguard(`http://127.0.0.1:${proxyPort}`, true).deploy(job, recorded.events);
    await expect
      .poll(() => progressText(recorded), { timeout: WAIT_MS })
      .toMatch(/deployer legacy unreachable \(connection refused\); nothing sent, retrying/);
    const service = await deployerService({ deployMs: 200 });
    await reverseProxy(service.port, { port: proxyPort });
    const result = await deploying;

    expect(result.state).toBe('succeeded');
    await expectDeployedOnceWithOnePost(service);
  });

  it('the proxy up but the service down: its 502 is unknown; the status endpoint, once up, has no record', async () => {
    const servicePort = await freePort();
    const proxy = await reverseProxy(servicePort);
    const recorded = recordEvents();

    const deploying = shipguard(proxy.url, true).deploy(job, recorded.events);
    await expect.poll(() => progressText(recorded), { timeout: WAIT_MS }).toMatch(/status check: HTTP 502; retrying/);
    const service = await deployerService({ port: servicePort });
    const result = await deploying;

    expect(result).toEqual({ state: 'error', description: 'deployer has no record of this deploy; not retried' });
    const { executions, posts } = await serviceRecord(service);
    expect(executions).toHaveLength(0);
    expect(posts).toHaveLength(0);
  });
});

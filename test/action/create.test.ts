// The create call, timeout-safe: an answer lost after GitHub acted must not become a second deployment;
// GitHub's refusals (409 checks, 403 permissions, rate limits) are reported or waited out as they mean.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeGitHub, serveOverHttp, serveWithNock } from './support/fake-github.ts';
import { runAction, virtualTiming } from './support/run-action.ts';

const API = 'https://ghe.example.com/api/v3';

let github: FakeGitHub;
let stopServing: () => void;

beforeEach(() => {
  // GitHub Enterprise Server style: the API under /api/v3, taken from GITHUB_API_URL.
  github = new FakeGitHub('/api/v3');
  stopServing = serveWithNock(github, 'https://ghe.example.com');
  github.onStatusPoll = (deployment, poll) => void (poll === 1 && github.addStatus(deployment, 'success', 'deployed'));
});

afterEach(() => {
  stopServing();
  expect(github.problems).toEqual([]);
});

const creates = () => github.requestsTo('POST', /\/deployments$/);
const listings = () => github.requestsTo('GET', /\/deployments$/);

describe('an unknown outcome of the create call', () => {
  it.each([
    ['the connection breaks after GitHub created it', 'create-then-drop' as const],
    ['GitHub answers 502 after creating it', 'create-then-502' as const],
  ])('%s: adopts the deployment carrying its key, creates no second one', async (_, behaviour) => {
    github.onCreate = (call) => (call === 1 ? behaviour : 'create');
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging' } });

    expect(result.failed).toBe(false);
    expect(creates()).toHaveLength(1);
    expect(github.deployments).toHaveLength(1);
    expect(result.outputs['deployment-id']).toBe(String(github.deployments[0]!.id));
    expect(result.outputs.state).toBe('success');
    expect(listings()[0]!.query.get('sha')).toBe(github.deployments[0]!.sha);
    expect(listings()[0]!.query.get('environment')).toBe('staging');
  });

  it('adopts only a deployment with its own key, not another run’s for the same SHA and environment', async () => {
    const other = github.addDeployment({
      sha: 'a'.repeat(40),
      environment: 'staging',
      payload: { idempotency_key: '4241/1/deploy/staging' },
    });
    github.onCreate = (call) => (call === 1 ? 'create-then-drop' : 'create');
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging' } });
    const ours = github.deployments.find((deployment) => deployment.payload.idempotency_key === '4242/1/deploy/staging');
    expect(result.outputs['deployment-id']).toBe(String(ours!.id));
    expect(ours!.id).not.toBe(other.id);
    expect(github.deployments).toHaveLength(2);
  });

  it('creates again only after finding that none exists', async () => {
    github.onCreate = (call) => (call === 1 ? { drop: true } : 'create');
    const timing = virtualTiming();
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging' }, timing });

    expect(result.failed).toBe(false);
    expect(github.requests.map((request) => `${request.method} ${request.path.replace(/\d{4,}/, 'N')}`)).toEqual([
      'POST /repos/acme/app/deployments',
      'GET /repos/acme/app/deployments',
      'POST /repos/acme/app/deployments',
      'GET /repos/acme/app/deployments/N/statuses',
    ]);
    expect(github.deployments).toHaveLength(1);
    // It let an in-flight create land before looking.
    expect(timing.sleeps[0]).toBe(3000);
  });

  it('gives up after three create calls without a clear answer, having created nothing', async () => {
    github.onCreate = () => ({ status: 503, body: { message: 'Service Unavailable' } });
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging' } });
    expect(result.failed).toBe(true);
    expect(creates()).toHaveLength(3);
    expect(result.errors).toEqual([
      'could not create the deployment: 3 create calls had no clear answer (last: Service Unavailable), and none was made',
    ]);
    expect(result.outputs['deployment-id']).toBe('');
  });

  it('never creates a second one when it cannot list deployments to look for the first', async () => {
    github.onCreate = () => 'create-then-drop';
    const realHandle = github.handle.bind(github);
    github.handle = (method, url, body) =>
      method === 'GET' && /\/deployments\?/.test(url)
        ? (realHandle(method, url, body), { status: 500, body: { message: 'boom' } })
        : realHandle(method, url, body);
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging' } });
    expect(result.failed).toBe(true);
    expect(creates()).toHaveLength(1);
    expect(listings()).toHaveLength(4);
    expect(result.errors).toEqual([
      'cannot tell whether the deployment was created: listing deployments failed (500: boom); not creating another',
    ]);
  });
});

describe('GitHub refusing the create call', () => {
  it('409 is reported plainly as checks not passing, naming the checks that are not green', async () => {
    github.onCreate = () => ({
      status: 409,
      body: {
        message: 'Conflict: Commit status checks failed for main.',
        errors: [
          {
            contexts: [
              { context: 'ci/build', state: 'success' },
              { context: 'security/brakeman', state: 'failure' },
              { context: 'lint', state: 'pending' },
            ],
            resource: 'Deployment',
            field: 'required_contexts',
            code: 'invalid',
          },
        ],
      },
    });
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging' } });
    expect(result.failed).toBe(true);
    expect(result.errors).toEqual([
      'checks not passing: security/brakeman (failure), lint (pending); no deployment was created (set required-contexts to choose the checks, or none)',
    ]);
    expect(creates()).toHaveLength(1);
    expect(listings()).toEqual([]);
  });

  it('403 without rate-limit headers is a permission problem: said so, not retried', async () => {
    github.onCreate = () => ({ status: 403, body: { message: 'Resource not accessible by integration' } });
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging' } });
    expect(result.errors).toEqual([
      'GitHub refused to create the deployment (403 Resource not accessible by integration): the token needs access to acme/app with permissions deployments: write',
    ]);
    expect(creates()).toHaveLength(1);
  });

  it('422 carries GitHub’s reasons', async () => {
    github.onCreate = () => ({ status: 422, body: { message: 'Validation Failed', errors: [{ message: 'environment is too long' }] } });
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging' } });
    expect(result.errors).toEqual(['GitHub refused to create the deployment (422 Validation Failed: environment is too long)']);
  });

  it.each([
    ['403 with retry-after', 403, { 'retry-after': '7' }, 7000],
    ['429 with retry-after', 429, { 'retry-after': '30' }, 30_000],
    [
      '403 with the quota used up until x-ratelimit-reset',
      403,
      { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Date.parse('2026-11-27T12:00:20Z') / 1000) },
      21_000,
    ],
  ])('%s: waits as GitHub asks, then creates', async (_, status, headers, expectedPause) => {
    github.onCreate = (call) => (call === 1 ? { status, headers, body: { message: 'API rate limit exceeded' } } : 'create');
    const timing = virtualTiming();
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging' }, timing });
    expect(result.failed).toBe(false);
    expect(timing.sleeps[0]).toBe(expectedPause);
    expect(creates()).toHaveLength(2);
    expect(github.deployments).toHaveLength(1);
  });

  it('a 202 (GitHub merged instead of deploying) is a failure: no deployment exists', async () => {
    github.onCreate = () => ({ status: 202, body: { message: 'Auto-merged main into topic-branch on deployment.' } });
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging' } });
    expect(result.failed).toBe(true);
    expect(result.errors).toEqual(['GitHub answered 202 (Auto-merged main into topic-branch on deployment.) and created no deployment']);
  });
});

describe('a create call that hangs (real HTTP server on loopback)', () => {
  it('is cut off at the create timeout, then the deployment GitHub did make is adopted', async () => {
    const hanging = new FakeGitHub();
    hanging.onCreate = (call) => (call === 1 ? { hang: true } : 'create');
    hanging.onStatusPoll = (deployment, poll) => void (poll === 1 && hanging.addStatus(deployment, 'success', 'deployed'));
    // The hanging call still creates: GitHub acted, only the answer never came.
    const realHandle = hanging.handle.bind(hanging);
    hanging.handle = (method, url, body) => {
      const answer = realHandle(method, url, body);
      if ('hang' in answer)
        hanging.addDeployment({
          sha: String((body as { ref: string }).ref),
          environment: 'staging',
          payload: (body as { payload: Record<string, unknown> }).payload,
        });
      return answer;
    };
    const server = await serveOverHttp(hanging);
    try {
      const result = await runAction({
        apiUrl: server.origin,
        inputs: { environment: 'staging' },
        timing: virtualTiming({ createTimeoutMs: 300 }),
      });
      expect(result.failed).toBe(false);
      expect(hanging.requestsTo('POST', /\/deployments$/)).toHaveLength(1);
      expect(hanging.deployments).toHaveLength(1);
      expect(result.outputs['deployment-id']).toBe(String(hanging.deployments[0]!.id));
      expect(hanging.problems).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

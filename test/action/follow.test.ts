// Following statuses: a refusal as a duplicate under each on-duplicate, and polling that honours GitHub's
// rate limits and rides out its errors.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeGitHub, serveWithNock, type FakeDeployment } from './support/fake-github.ts';
import { runAction, virtualTiming, WORKFLOW_SHA } from './support/run-action.ts';

const API = 'https://api.github.com';
const ORIGINAL_LOG = 'https://shipguard.example/deployments/77?sig=orig';

let github: FakeGitHub;
let stopServing: () => void;

beforeEach(() => {
  github = new FakeGitHub();
  stopServing = serveWithNock(github, API);
});

afterEach(() => {
  stopServing();
  expect(github.problems).toEqual([]);
});

describe('a deployment refused as a duplicate', () => {
  let original: FakeDeployment;

  beforeEach(() => {
    original = github.addDeployment({ sha: WORKFLOW_SHA, environment: 'staging', payload: { idempotency_key: '4100/1/deploy/staging' } });
    github.addStatus(original, 'in_progress', 'deploying 1/4 hosts', { log_url: ORIGINAL_LOG });
    // The bot refuses ours at once, naming the original; the original goes on and ends later.
    github.onStatusPoll = (deployment, poll) => {
      if (deployment.id !== original.id && poll === 1)
        github.addStatus(deployment, 'inactive', `duplicate of #${original.id} (running)`, { log_url: ORIGINAL_LOG });
      if (deployment.id === original.id && poll === 3)
        github.addStatus(original, 'success', 'deployed to 4 hosts', {
          log_url: ORIGINAL_LOG,
          environment_url: 'https://staging.example.com',
        });
    };
  });

  const ours = () => github.deployments.find((deployment) => deployment.id !== original.id)!;

  it('follow: waits for the original and reports its outcome', async () => {
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging' } });
    expect(result.failed).toBe(false);
    expect(result.outputs).toEqual({
      'deployment-id': String(ours().id),
      state: 'success',
      'duplicate-of': String(original.id),
      'environment-url': 'https://staging.example.com',
      'log-url': ORIGINAL_LOG,
    });
    expect(result.lines.some((line) => line.includes(`following #${original.id} instead`))).toBe(true);
    expect(result.summary).toContain(`duplicate of deployment #${original.id}`);
  });

  it('follow: an original that fails fails the step', async () => {
    github.onStatusPoll = (deployment, poll) => {
      if (deployment.id !== original.id && poll === 1) github.addStatus(deployment, 'inactive', `duplicate of #${original.id} (running)`);
      if (deployment.id === original.id && poll === 2)
        github.addStatus(original, 'failure', 'deploy failed on 10.0.0.6', { log_url: ORIGINAL_LOG });
    };
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging', 'on-duplicate': 'follow' } });
    expect(result.failed).toBe(true);
    expect(result.outputs.state).toBe('failure');
    expect(result.outputs['duplicate-of']).toBe(String(original.id));
    expect(result.errors).toEqual([`deployment #${original.id} ended failure: deploy failed on 10.0.0.6`]);
  });

  it('skip: succeeds at once with state inactive, without reading the original', async () => {
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging', 'on-duplicate': 'skip' } });
    expect(result.failed).toBe(false);
    expect(result.outputs.state).toBe('inactive');
    expect(result.outputs['duplicate-of']).toBe(String(original.id));
    expect(result.outputs['log-url']).toBe(ORIGINAL_LOG);
    expect(github.requestsTo('GET', new RegExp(`/deployments/${original.id}/statuses$`))).toEqual([]);
  });

  it('fail: fails the step, naming the original', async () => {
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging', 'on-duplicate': 'fail' } });
    expect(result.failed).toBe(true);
    expect(result.outputs.state).toBe('inactive');
    expect(result.errors).toEqual([
      `deployment #${ours().id} is a duplicate of #${original.id} (running); on-duplicate is fail (force: true deploys it again)`,
    ]);
  });
});

describe('polling through GitHub’s rate limits and errors', () => {
  it.each([
    ['429 with retry-after', 429, { 'retry-after': '45' }, 45_000],
    ['403 with retry-after (secondary rate limit)', 403, { 'retry-after': '61' }, 61_000],
    [
      '403 with x-ratelimit-remaining 0',
      403,
      { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Date.parse('2026-11-27T12:00:40Z') / 1000) },
      41_000,
    ],
  ])('%s: pauses as long as GitHub asks, then goes on', async (_, status, headers, expectedPause) => {
    github.onStatusPoll = (deployment, poll) => {
      if (poll === 1) return { status, headers, body: { message: 'API rate limit exceeded for installation.' } };
      if (poll === 2) github.addStatus(deployment, 'success', 'deployed');
    };
    const timing = virtualTiming();
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging' }, timing });
    expect(result.failed).toBe(false);
    expect(result.outputs.state).toBe('success');
    expect(timing.sleeps).toEqual([expectedPause]);
  });

  it('a rate-limit pause longer than what is left of wait-timeout ends at the deadline', async () => {
    github.onStatusPoll = (deployment, poll) => {
      if (poll === 1) github.addStatus(deployment, 'in_progress', 'deploying');
      if (poll === 2) return { status: 429, headers: { 'retry-after': '3600' }, body: { message: 'API rate limit exceeded' } };
    };
    const timing = virtualTiming();
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging', 'wait-timeout': '5m' }, timing });
    expect(result.outputs.state).toBe('timeout');
    expect(timing.sleeps.reduce((sum, ms) => sum + ms, 0)).toBe(5 * 60_000);
  });

  it('5xx and broken connections while polling are retried (reads are safe to repeat)', async () => {
    github.onStatusPoll = (deployment, poll) => {
      if (poll === 1) return { status: 502, body: { message: 'Bad Gateway' } };
      if (poll === 2) return { drop: true };
      if (poll === 3) github.addStatus(deployment, 'success', 'deployed');
    };
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging' } });
    expect(result.failed).toBe(false);
    expect(result.outputs.state).toBe('success');
    expect(github.requestsTo('GET', /\/statuses$/)).toHaveLength(3);
  });

  it('a 401 while polling ends the step with what GitHub said', async () => {
    github.onStatusPoll = () => ({ status: 401, body: { message: 'Bad credentials' } });
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging' } });
    expect(result.failed).toBe(true);
    expect(result.errors).toEqual([
      `cannot read the statuses of deployment #${github.deployments[0]!.id}: GitHub answered 401 (Bad credentials)`,
    ]);
    expect(result.outputs['deployment-id']).toBe(String(github.deployments[0]!.id));
  });
});

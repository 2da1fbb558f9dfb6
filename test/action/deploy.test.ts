// The Action from inputs to outputs against a scripted GitHub (nock): the request it sends, the statuses
// it follows, and how each ending sets outputs, the job summary and the step's result.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeGitHub, serveWithNock, type FakeDeployment } from './support/fake-github.ts';
import { runAction, virtualTiming, WORKFLOW_SHA } from './support/run-action.ts';

const API = 'https://api.github.com';
const LOG_URL = 'https://shipguard.example/deployments/1?sig=abc';

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

/** The deployment the Action created in this test (the newest). */
const created = () => github.deployments.at(-1)?.id;

describe('a deploy that succeeds', () => {
  it('creates one deployment with the contract fields, prints each status once and sets every output', async () => {
    github.revealStatusesPerPoll(created, [
      ['queued', 'waiting for #3 to finish'],
      ['in_progress', 'deploying 1/2 hosts', { log_url: LOG_URL }],
      ['in_progress', 'deploying 2/2 hosts', { log_url: LOG_URL }],
      ['success', 'deployed to 2 hosts', { log_url: LOG_URL, environment_url: 'https://staging.example.com' }],
    ]);

    const result = await runAction({
      apiUrl: API,
      inputs: { environment: 'staging', payload: '{"region":"eu","idempotency_key":"mine"}', description: 'nightly' },
    });

    expect(result.failed).toBe(false);
    const posts = github.requestsTo('POST', /\/deployments$/);
    expect(posts).toHaveLength(1);
    expect(posts[0]!.body).toEqual({
      ref: WORKFLOW_SHA,
      task: 'deploy',
      environment: 'staging',
      auto_merge: false,
      description: 'nightly',
      // The Action's own keys win over the payload input's.
      payload: { region: 'eu', force: false, requested_by: 'octocat', idempotency_key: '4242/1/deploy/staging' },
    });
    expect(result.outputs).toEqual({
      'deployment-id': String(created()),
      state: 'success',
      'duplicate-of': '',
      'environment-url': 'https://staging.example.com',
      'log-url': LOG_URL,
    });
    for (const description of ['waiting for #3 to finish', 'deploying 1/2 hosts', 'deploying 2/2 hosts', 'deployed to 2 hosts']) {
      expect(result.lines.filter((line) => line.includes(description))).toHaveLength(1);
    }
    expect(result.summary).toContain('| environment | SHA | state | duration | log |');
    expect(result.summary).toContain(`| [staging](https://staging.example.com) | \`${WORKFLOW_SHA}\` | ✅ success |`);
    expect(result.summary).toContain(`[log](${LOG_URL})`);
  });

  it('polls with a growing pause, back to the shortest after each new status', async () => {
    github.onStatusPoll = (deployment, poll) => {
      if (poll === 1) github.addStatus(deployment, 'queued', 'queued');
      if (poll === 5) github.addStatus(deployment, 'success', 'done');
    };
    const timing = virtualTiming();
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging' }, timing });
    expect(result.outputs.state).toBe('success');
    expect(timing.sleeps).toEqual([2000, 3000, 4500, 6750]);
  });

  it('sends required_contexts only when the input is set: none is [], a list is the list', async () => {
    const statusesEndAtOnce = () => {
      github.onStatusPoll = (deployment, poll) => void (poll === 1 && github.addStatus(deployment, 'success', 'done'));
    };
    statusesEndAtOnce();
    await runAction({ apiUrl: API, inputs: { environment: 'staging', 'required-contexts': 'none' } });
    await runAction({ apiUrl: API, inputs: { environment: 'qa', 'required-contexts': 'ci, lint/eslint' } });
    await runAction({
      apiUrl: API,
      inputs: { environment: 'prod', force: 'true', 'production-environment': 'true', 'transient-environment': 'false' },
    });
    const bodies = github.requestsTo('POST', /\/deployments$/).map((request) => request.body as Record<string, unknown>);
    expect(bodies.map((body) => body.required_contexts)).toEqual([[], ['ci', 'lint/eslint'], undefined]);
    expect('required_contexts' in bodies[2]!).toBe(false);
    expect(bodies[2]).toMatchObject({ production_environment: true, transient_environment: false, payload: { force: true } });
  });

  it('with wait false, creates the deployment, sets deployment-id and reads no status', async () => {
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging', wait: 'false' } });
    expect(result.failed).toBe(false);
    expect(result.outputs['deployment-id']).toBe(String(created()));
    expect(result.outputs.state).toBe('');
    expect(github.requestsTo('GET', /\/statuses$/)).toEqual([]);
    expect(result.summary).toContain('not followed');
  });
});

describe('which commit is deployed', () => {
  const endAtOnce = () => {
    github.onStatusPoll = (deployment, poll) => void (poll === 1 && github.addStatus(deployment, 'success', 'done'));
  };

  it('resolves a branch name to its full SHA and deploys that SHA', async () => {
    const sha = 'b'.repeat(40);
    github.commits.set('main', sha);
    endAtOnce();
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging', ref: 'main' } });
    expect(result.failed).toBe(false);
    expect(github.requestsTo('POST', /\/deployments$/)[0]!.body).toMatchObject({ ref: sha });
  });

  it('deploys a pull request head, never the merge commit GITHUB_SHA names', async () => {
    const head = 'c'.repeat(40);
    github.pullRequests.set(7, head);
    endAtOnce();
    await runAction({ apiUrl: API, inputs: { environment: 'staging', ref: 'refs/pull/7/merge' } });
    expect(github.requestsTo('POST', /\/deployments$/)[0]!.body).toMatchObject({ ref: head });
  });

  it('by default on a pull_request event, deploys the head SHA from the event payload', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'shipguard-event-'));
    try {
      const head = 'd'.repeat(40);
      writeFileSync(join(folder, 'event.json'), JSON.stringify({ pull_request: { number: 7, head: { sha: head } } }));
      endAtOnce();
      await runAction({
        apiUrl: API,
        inputs: { environment: 'staging' },
        env: { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: join(folder, 'event.json') },
      });
      expect(github.requestsTo('POST', /\/deployments$/)[0]!.body).toMatchObject({ ref: head });
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('fails with one line and creates nothing when the ref names no commit', async () => {
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging', ref: 'no-such-branch' } });
    expect(result.failed).toBe(true);
    expect(result.errors).toEqual(['ref "no-such-branch" does not name a commit in acme/app']);
    expect(github.deployments).toEqual([]);
  });
});

describe('a deploy that does not succeed', () => {
  it.each(['failure', 'error'])('ending %s fails the step with its description', async (state) => {
    github.revealStatusesPerPoll(created, [
      ['in_progress', 'deploying 1/2 hosts'],
      [state, 'healthcheck failed on 10.0.0.6', { log_url: LOG_URL }],
    ]);
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging' } });
    expect(result.failed).toBe(true);
    expect(result.outputs.state).toBe(state);
    expect(result.outputs['log-url']).toBe(LOG_URL);
    expect(result.errors).toEqual([`deployment #${created()} ended ${state}: healthcheck failed on 10.0.0.6`]);
    expect(result.summary).toContain(`❌ ${state}`);
  });

  it('ending inactive for another reason than a duplicate (superseded) is state inactive, not a failure', async () => {
    github.revealStatusesPerPoll(created, [
      ['queued', 'queued'],
      ['inactive', 'superseded by #1042'],
    ]);
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging' } });
    expect(result.failed).toBe(false);
    expect(result.outputs.state).toBe('inactive');
    expect(result.outputs['duplicate-of']).toBe('');
    expect(result.lines.some((line) => line.startsWith('::warning::') && line.includes('superseded by #1042'))).toBe(true);
  });

  it('an inactive posted after a success (a newer deploy retired it) keeps the success', async () => {
    github.onStatusPoll = (deployment, poll) => {
      if (poll === 1) github.addStatus(deployment, 'in_progress', 'deploying');
      if (poll === 2) {
        github.addStatus(deployment, 'success', 'deployed');
        github.addStatus(deployment, 'inactive', '');
      }
    };
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging' } });
    expect(result.outputs.state).toBe('success');
    expect(result.failed).toBe(false);
  });

  it('wait-timeout ends the wait with state timeout, saying the deploy goes on and where to watch it', async () => {
    github.onStatusPoll = (deployment, poll) =>
      void (poll === 1 && github.addStatus(deployment, 'in_progress', 'deploying 3/10 hosts', { log_url: LOG_URL }));
    const timing = virtualTiming();
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging', 'wait-timeout': '10m' }, timing });
    expect(result.failed).toBe(true);
    expect(result.outputs.state).toBe('timeout');
    expect(result.errors).toEqual([
      `stopped waiting for deployment #${created()} after wait-timeout 10m: it is in_progress (deploying 3/10 hosts); the deploy goes on, watch it at ${LOG_URL}`,
    ]);
    // Bounded: the pauses end exactly at the deadline, none beyond it.
    expect(timing.sleeps.reduce((sum, ms) => sum + ms, 0)).toBe(10 * 60_000);
    expect(Math.max(...timing.sleeps)).toBe(15_000);
    expect(result.summary).toContain('⏱️ timeout');
  });

  it('with no status at all within pickup-timeout, fails saying no bot picked it up, and ends the deployment', async () => {
    const timing = virtualTiming();
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging', 'pickup-timeout': '90s' }, timing });
    expect(result.failed).toBe(true);
    expect(result.errors).toEqual([
      `no shipguard bot picked this deployment up: is the app installed on this repository? (deployment #${created()} has no status after 1m30s)`,
    ]);
    expect(timing.sleeps.reduce((sum, ms) => sum + ms, 0)).toBe(90_000);
    expect(result.outputs.state).toBe('error');
    // Marked error on GitHub, so a bot installed later does not run a deploy its requester saw fail.
    expect(github.deployments[0]!.statuses.map((status) => status.state)).toEqual(['error']);
  });

  describe('a bot’s pickup landing just before the Action’s error', () => {
    // The bot's `queued` reaches GitHub after the Action's last poll and before its `error`: the bot reads
    // the statuses again before its first host, and says with a status after the Action's whether it ran.
    let pollsAfterError: number;
    let afterError: (deployment: FakeDeployment, poll: number) => void;
    beforeEach(() => {
      pollsAfterError = -1;
      github.beforeStatusCreate = (deployment, state) => {
        if (state !== 'error' || pollsAfterError >= 0) return;
        github.addStatus(deployment, 'queued', 'queued');
        pollsAfterError = 0;
      };
      github.onStatusPoll = (deployment) => {
        if (pollsAfterError >= 0) afterError(deployment, ++pollsAfterError);
      };
    });

    it('follows the bot when it ran the deploy, and reports its outcome', async () => {
      afterError = (deployment, poll) => {
        if (poll === 2) github.addStatus(deployment, 'in_progress', 'deploying 0/2 hosts', { log_url: LOG_URL });
        if (poll === 3) github.addStatus(deployment, 'success', 'deployed to 2/2 hosts', { log_url: LOG_URL });
      };
      const result = await runAction({ apiUrl: API, inputs: { environment: 'staging', 'pickup-timeout': '90s' }, timing: virtualTiming() });
      expect(result.failed).toBe(false);
      expect(result.outputs.state).toBe('success');
      expect(result.lines).toContain(`a bot picked #${created()} up just as pickup-timeout ran out: following it to its end`);
    });

    it('fails with the bot’s own words when the bot saw the error and ran nothing', async () => {
      const notRun = 'not run: GitHub showed error before the first host started (the requester stopped waiting)';
      afterError = (deployment, poll) => {
        if (poll === 2) github.addStatus(deployment, 'error', notRun);
      };
      const result = await runAction({ apiUrl: API, inputs: { environment: 'staging', 'pickup-timeout': '90s' }, timing: virtualTiming() });
      expect(result.failed).toBe(true);
      expect(result.errors).toEqual([`deployment #${created()} ended error: ${notRun}`]);
      expect(github.deployments[0]!.statuses.map((status) => status.state)).toEqual(['queued', 'error', 'error']);
    });
  });
});

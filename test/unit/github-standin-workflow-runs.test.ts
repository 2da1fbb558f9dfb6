// The GitHub stand-in playing GitHub Actions with a custom deployment protection rule: the webhooks a run
// sends (checked against the OpenAPI description), and how the callback answers the app's reviews.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type GitHubStandin, startGitHubStandin } from '../support/github-standin.ts';

const ADMIN_TOKEN = 'ghp_admin';
const APP_JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjF9.c2lnbmF0dXJl';

let github: GitHubStandin;
let receiver: Server;
const received: Array<{ event: string; payload: Record<string, any> }> = [];

beforeEach(async () => {
  received.length = 0;
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ event: String(request.headers['x-github-event']), payload: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`;
  github = await startGitHubStandin({ webhookSecret: 'secret', webhookUrl: url });
  github.addRepository({ owner: 'acme', name: 'app' });
  github.addUserToken(ADMIN_TOKEN, 'acme');
});

afterEach(async () => {
  await github.close();
  receiver.close();
});

async function api(method: string, path: string, token: string, body?: object): Promise<{ status: number; body: any }> {
  const response = await fetch(`${github.apiUrl}${path}`, {
    method,
    headers: { authorization: `token ${token}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function installationToken(): Promise<string> {
  const response = await fetch(`${github.apiUrl}/app/installations/1/access_tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${APP_JWT}` },
  });
  return ((await response.json()) as { token: string }).token;
}

describe('GitHub stand-in: workflow runs and the deployment protection rule', () => {
  it('a run reaching a protected environment sends deployment (naming the run) and deployment_protection_rule; reviews go through the callback', async () => {
    expect(
      (await api('POST', '/repos/acme/app/environments/production/deployment_protection_rules', ADMIN_TOKEN, { integration_id: 1 })).status,
    ).toBe(201);
    const run = github.startWorkflowRun('acme/app', { environment: 'production', actor: 'acme' });
    await github.waitFor(() => received.length === 2);
    expect(received.map((r) => r.event)).toEqual(['deployment', 'deployment_protection_rule']);
    expect(received[0]!.payload.workflow_run.id).toBe(run.id);
    const rule = received[1]!.payload;
    expect(rule).toMatchObject({ action: 'requested', environment: 'production', sha: run.headSha, deployment: { id: run.deploymentId } });
    expect(rule.deployment_callback_url).toBe(`${github.apiUrl}/repos/acme/app/actions/runs/${run.id}/deployment_protection_rule`);
    expect(github.workflowRun(run.id).status).toBe('waiting');

    const token = await installationToken();
    const callback = `/repos/acme/app/actions/runs/${run.id}/deployment_protection_rule`;
    expect((await api('POST', callback, ADMIN_TOKEN, { environment_name: 'production', state: 'approved' })).status).toBe(403);
    expect((await api('POST', callback, token, { environment_name: 'staging', comment: 'x' })).status).toBe(422);
    expect((await api('POST', callback, token, { environment_name: 'production', comment: 'x'.repeat(1025) })).status).toBe(422);
    for (let i = 0; i < 10; i++)
      expect((await api('POST', callback, token, { environment_name: 'production', comment: `wait ${i}` })).status).toBe(204);
    expect((await api('POST', callback, token, { environment_name: 'production', comment: 'one too many' })).status).toBe(422);
    expect((await api('POST', callback, token, { environment_name: 'production', state: 'approved', comment: 'go' })).status).toBe(204);
    expect((await api('POST', callback, token, { environment_name: 'production', state: 'approved', comment: 'again' })).status).toBe(422);
    expect((await api('GET', `/repos/acme/app/actions/runs/${run.id}`, token)).body).toMatchObject({ id: run.id, status: 'in_progress' });

    github.finishWorkflowJob(run.id, 'success');
    await github.waitFor(() => received.length === 4);
    expect(received.slice(2).map((r) => [r.event, r.payload.deployment_status.state])).toEqual([
      ['deployment_status', 'in_progress'],
      ['deployment_status', 'success'],
    ]);
    expect(github.gateReviews(run.id).map((r) => r.state)).toEqual([...Array(10).fill(null), 'approved']);
    expect(github.problems).toEqual([]);
  });

  it('without the rule a run does not wait; a rejected run completes as failed', async () => {
    const free = github.startWorkflowRun('acme/app', { environment: 'staging' });
    expect(free.status).toBe('in_progress');
    await api('POST', '/repos/acme/app/environments/staging/deployment_protection_rules', ADMIN_TOKEN, { integration_id: 1 });
    const gated = github.startWorkflowRun('acme/app', { environment: 'staging' });
    const token = await installationToken();
    const callback = `/repos/acme/app/actions/runs/${gated.id}/deployment_protection_rule`;
    expect((await api('POST', callback, token, { environment_name: 'staging', state: 'rejected', comment: 'no' })).status).toBe(204);
    expect(github.workflowRun(gated.id)).toMatchObject({ status: 'completed', conclusion: 'failure' });
    await github.waitFor(() => received.length === 3);
    expect(received.map((r) => r.event)).toEqual(['deployment', 'deployment', 'deployment_protection_rule']);
    expect(github.problems).toEqual([]);
  });
});

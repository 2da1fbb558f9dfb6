import { describe, expect, it } from 'vitest';
import {
  assertGitHubRequest,
  githubOperationId,
  githubRequestProblems,
  githubResponseExample,
  githubResponseProblems,
  githubWebhookProblems,
} from '../support/openapi.ts';

const sha = 'a'.repeat(40);

describe('githubOperationId', () => {
  it('matches full URLs, /api/v3 paths and plain paths to the same operation', () => {
    expect(githubOperationId('POST', 'http://127.0.0.1:9999/api/v3/repos/o/r/deployments?x=1')).toBe('repos/create-deployment');
    expect(githubOperationId('post', '/api/v3/repos/o/r/deployments')).toBe('repos/create-deployment');
    expect(githubOperationId('GET', '/repos/o/r/deployments')).toBe('repos/list-deployments');
  });

  it('prefers literal segments over parameters', () => {
    expect(githubOperationId('GET', `/repos/o/r/commits/${sha}/status`)).toBe('repos/get-combined-status-for-ref');
    expect(githubOperationId('GET', `/repos/o/r/commits/${sha}`)).toBe('repos/get-commit');
  });

  it('lets a trailing path or ref parameter hold slashes, and nothing else', () => {
    expect(githubOperationId('GET', '/repos/o/r/contents/.github/deploy.yml')).toBe('repos/get-content');
    expect(githubOperationId('GET', '/repos/o/r/commits/refs/heads/main')).toBe('repos/get-commit');
    expect(githubOperationId('GET', '/repos/o/r/no/such/thing')).toBeNull();
  });

  it('returns null for an unknown path or method', () => {
    expect(githubOperationId('GET', '/repos/o/r/deploymentz')).toBeNull();
    expect(githubOperationId('PUT', '/repos/o/r/deployments')).toBeNull();
  });
});

describe('githubRequestProblems', () => {
  it('accepts a valid create-deployment', () => {
    const body = {
      ref: 'main',
      environment: 'staging',
      auto_merge: false,
      required_contexts: [],
      payload: { force: false, requested_by: 'octocat' },
      description: 'deploy from CI',
    };
    expect(githubRequestProblems('POST', '/api/v3/repos/acme/app/deployments', body)).toEqual([]);
    expect(() => assertGitHubRequest('POST', '/repos/acme/app/deployments', body)).not.toThrow();
  });

  it('rejects a create-deployment with sha instead of ref', () => {
    const problems = githubRequestProblems('POST', '/repos/acme/app/deployments', { sha });
    expect(problems).toContain('repos/create-deployment: body: missing required property "ref"');
    expect(problems).toContain('repos/create-deployment: body: unknown property "sha"');
    const send = () => assertGitHubRequest('POST', '/repos/acme/app/deployments', { sha });
    expect(send).toThrow(/missing required property "ref"/);
  });

  it('rejects a wrong type in the body', () => {
    expect(githubRequestProblems('POST', '/repos/acme/app/deployments', { ref: 'main', auto_merge: 'no' })).toEqual([
      'repos/create-deployment: body/auto_merge: must be boolean',
    ]);
  });

  it('rejects a missing required body', () => {
    expect(githubRequestProblems('POST', '/repos/acme/app/deployments')).toEqual(['repos/create-deployment: body: required']);
  });

  it('rejects an unknown path', () => {
    const problems = githubRequestProblems('GET', '/repos/acme/app/deploymentz');
    expect(problems).toEqual(["GET /repos/acme/app/deploymentz: no such route in GitHub's REST API"]);
    expect(() => assertGitHubRequest('GET', '/repos/acme/app/deploymentz')).toThrow(/no such route/);
  });

  it('rejects a deployment status without state, and an unknown state', () => {
    const path = '/repos/acme/app/deployments/7/statuses';
    expect(githubRequestProblems('POST', path, { description: 'deploying' })).toEqual([
      'repos/create-deployment-status: body: missing required property "state"',
    ]);
    expect(githubRequestProblems('POST', path, { state: 'done' })[0]).toMatch(/body\/state: must be equal to one of/);
    expect(githubRequestProblems('POST', path, { state: 'in_progress', log_url: 'http://x/1' })).toEqual([]);
  });

  it('checks path parameters against their schemas', () => {
    expect(githubRequestProblems('GET', '/repos/acme/app/deployments/seven')).toEqual([
      'repos/get-deployment: path parameter deployment_id: must be integer',
    ]);
  });

  it('checks query parameters: unknown names, types and enums', () => {
    expect(githubRequestProblems('GET', '/repos/acme/app/deployments?environment=staging&per_page=30')).toEqual([]);
    expect(githubRequestProblems('GET', '/repos/acme/app/deployments?environmnet=staging')).toEqual([
      'repos/list-deployments: query: unknown parameter "environmnet"',
    ]);
    expect(githubRequestProblems('GET', '/repos/acme/app/deployments?per_page=many')).toEqual([
      'repos/list-deployments: query parameter per_page: must be integer',
    ]);
    expect(githubRequestProblems('GET', '/app/hook/deliveries?status=failure&per_page=100&cursor=v1_1')).toEqual([]);
    expect(githubRequestProblems('GET', '/app/hook/deliveries?status=broken')[0]).toMatch(/query parameter status/);
  });

  it('rejects a body on an operation that takes none', () => {
    expect(githubRequestProblems('GET', '/repos/acme/app', { ref: 'main' })).toEqual([
      'repos/get: body: this operation takes no request body',
    ]);
    expect(githubRequestProblems('POST', '/app/hook/deliveries/12/attempts', {})).toEqual([]);
  });
});

describe('githubResponseProblems', () => {
  const deploymentPath = '/repos/acme/app/deployments';

  it('accepts a documented status with a body of the documented shape', () => {
    expect(githubResponseProblems('POST', deploymentPath, 202, { message: 'Auto-merged main into topic' })).toEqual([]);
    expect(githubResponseProblems('POST', deploymentPath, 409, { message: 'Conflict' })).toEqual([]);
  });

  it('rejects an undocumented status', () => {
    expect(githubResponseProblems('POST', deploymentPath, 500, {})).toEqual([
      'repos/create-deployment: status 500 is not documented (documented: 201, 202, 409, 422)',
    ]);
  });

  it('rejects a body missing required fields of the schema', () => {
    const problems = githubResponseProblems('POST', deploymentPath, 201, { id: 1, ref: 'main' });
    expect(problems).toContain('repos/create-deployment: response 201 body: missing required property "sha"');
    expect(problems).not.toContain('repos/create-deployment: response 201 body: missing required property "ref"');
  });

  it('checks types inside referenced schemas', () => {
    const problems = githubResponseProblems('GET', '/repos/acme/app/collaborators/octocat/permission', 200, {
      permission: 'write',
      role_name: 'write',
      user: null,
    });
    expect(problems).toEqual([]);
    const wrong = githubResponseProblems('GET', '/repos/acme/app/collaborators/octocat/permission', 200, {
      permission: 7,
      role_name: 'write',
      user: null,
    });
    expect(wrong).toEqual(['repos/get-collaborator-permission-level: response 200 body/permission: must be string']);
  });
});

describe('githubResponseExample', () => {
  it("returns a fresh copy of GitHub's documented example, or null", () => {
    const example = githubResponseExample('POST', '/repos/acme/app/deployments', 201) as { id: number; sha: string };
    expect(example.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(githubResponseProblems('POST', '/repos/acme/app/deployments', 201, example)).toEqual([]);
    example.id = -1;
    expect((githubResponseExample('POST', '/repos/acme/app/deployments', 201) as { id: number }).id).not.toBe(-1);
    expect(githubResponseExample('POST', '/repos/acme/app/deployments', 409)).toBeNull();
    expect(githubResponseExample('GET', '/nope', 200)).toBeNull();
  });

  it("accepts '' in a URI field, GitHub's value for an unset log_url or environment_url", () => {
    const status = githubResponseExample('POST', '/repos/acme/app/deployments/1/statuses', 201) as Record<string, unknown>;
    const path = '/repos/acme/app/deployments/1/statuses';
    expect(githubResponseProblems('POST', path, 201, { ...status, log_url: '', environment_url: '' })).toEqual([]);
    expect(githubResponseProblems('POST', path, 201, { ...status, log_url: 'not a uri' })).toEqual([
      'repos/create-deployment-status: response 201 body/log_url: must match format "uri"',
    ]);
  });
});

describe('githubWebhookProblems', () => {
  const deployment = githubResponseExample('POST', '/repos/acme/app/deployments', 201) as Record<string, unknown>;
  // The example repository lacks `language`, which the webhook schema requires.
  const { template_repository: _template, ...example } = githubResponseExample('GET', '/repos/acme/app', 200) as Record<string, unknown>;
  const repository = { ...example, language: null };
  const sender = deployment.creator;

  it('accepts a deployment payload of the documented shape', () => {
    const payload = { action: 'created', deployment, repository, sender, workflow: null, workflow_run: null };
    expect(githubWebhookProblems('deployment', payload)).toEqual([]);
  });

  it('reports what is missing or wrong, and unknown events', () => {
    const payload = { action: 'created', deployment: { ...deployment, id: 'seven' }, repository, sender, workflow: null };
    expect(githubWebhookProblems('deployment', payload)).toEqual([
      'webhook deployment-created payload: missing required property "workflow_run"',
      'webhook deployment-created payload/deployment/id: must be integer',
    ]);
    expect(githubWebhookProblems('no_such_event', { action: 'created' })).toEqual([
      "webhook no-such-event-created: not described in GitHub's OpenAPI description",
    ]);
  });
});

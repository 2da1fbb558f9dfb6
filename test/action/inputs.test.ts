// Inputs: each bad one ends the step with one line naming it, before any request reaches GitHub.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readInputs } from '../../src/inputs.ts';
import { FakeGitHub, serveWithNock } from './support/fake-github.ts';
import { runAction } from './support/run-action.ts';

const API = 'https://api.github.com';

describe('bad inputs', () => {
  let github: FakeGitHub;
  let stopServing: () => void;

  beforeEach(() => {
    github = new FakeGitHub();
    stopServing = serveWithNock(github, API);
  });

  afterEach(() => stopServing());

  it.each([
    ['missing environment', { environment: '' }, 'input environment is required: the name of the environment to deploy to, like staging'],
    [
      'environment with a space',
      { environment: 'prod env' },
      'input environment: invalid environment name "prod env": use 1 to 64 of A-Z a-z 0-9 . _ -',
    ],
    [
      'environment with shell syntax',
      { environment: 'x;rm -rf /' },
      'input environment: invalid environment name "x;rm -rf /": use 1 to 64 of A-Z a-z 0-9 . _ -',
    ],
    ['ref with ..', { environment: 'staging', ref: 'main..evil' }, 'input ref: invalid ref "main..evil": contains ".."'],
    [
      'ref with a space',
      { environment: 'staging', ref: 'a b' },
      'input ref: invalid ref "a b": contains a space, a control character or one of ~ ^ : ? * [ \\',
    ],
    [
      'empty token',
      { environment: 'staging', token: '' },
      'input token is empty: pass a token with deployments: write (the default is github.token)',
    ],
    [
      'payload that is not JSON',
      { environment: 'staging', payload: '{region: eu}' },
      /^input payload is not valid JSON \(.+\): expected an object like \{"key": "value"\}$/,
    ],
    [
      'payload that is an array',
      { environment: 'staging', payload: '[1,2]' },
      'input payload must be a JSON object like {"key": "value"}, not an array',
    ],
    [
      'payload that is null',
      { environment: 'staging', payload: 'null' },
      'input payload must be a JSON object like {"key": "value"}, not null',
    ],
    [
      'payload that is a string',
      { environment: 'staging', payload: '"x"' },
      'input payload must be a JSON object like {"key": "value"}, not a string',
    ],
    [
      'wait-timeout without a unit',
      { environment: 'staging', 'wait-timeout': '90' },
      'input wait-timeout: invalid duration "90": expected a number and a unit, like 90s, 15m, 2h or 1h30m',
    ],
    [
      'wait-timeout of zero',
      { environment: 'staging', 'wait-timeout': '0s' },
      'input wait-timeout: invalid duration "0s": must be longer than zero',
    ],
    [
      'pickup-timeout in words',
      { environment: 'staging', 'pickup-timeout': 'two minutes' },
      'input pickup-timeout: invalid duration "two minutes": expected a number and a unit, like 90s, 15m, 2h or 1h30m',
    ],
    [
      'unknown on-duplicate',
      { environment: 'staging', 'on-duplicate': 'retry' },
      'input on-duplicate must be one of follow, skip, fail, not "retry"',
    ],
    ['force that is not a boolean', { environment: 'staging', force: 'yes' }, 'input force must be true or false, not "yes"'],
    ['wait that is not a boolean', { environment: 'staging', wait: '1' }, 'input wait must be true or false, not "1"'],
    [
      'production-environment that is not a boolean',
      { environment: 'staging', 'production-environment': 'prod' },
      'input production-environment must be true or false, not "prod"',
    ],
    [
      'transient-environment that is not a boolean',
      { environment: 'staging', 'transient-environment': 'maybe' },
      'input transient-environment must be true or false, not "maybe"',
    ],
    [
      'required-contexts with an empty name',
      { environment: 'staging', 'required-contexts': 'ci,,lint' },
      'input required-contexts has an invalid context "": expected none, or a comma-separated list of status check names',
    ],
    [
      'description longer than 140 characters',
      { environment: 'staging', description: 'x'.repeat(141) },
      'input description is 141 characters long: at most 140',
    ],
  ])('%s: one clear line, nothing sent to GitHub', async (_, inputs, expected) => {
    const result = await runAction({ apiUrl: API, inputs });
    expect(result.failed).toBe(true);
    expect(result.errors).toHaveLength(1);
    // A newline in the message would reach the runner escaped as %0A.
    expect(result.errors[0]).not.toMatch(/%0A|%0D/);
    if (typeof expected === 'string') expect(result.errors[0]).toBe(expected.replaceAll('%', '%25'));
    else expect(result.errors[0]).toMatch(expected);
    expect(github.requests).toEqual([]);
    expect(result.outputs['deployment-id']).toBe('');
  });

  it('a job without GITHUB_REPOSITORY fails with one line and sends nothing', async () => {
    const result = await runAction({ apiUrl: API, inputs: { environment: 'staging' }, env: { GITHUB_REPOSITORY: '' } });
    expect(result.errors).toEqual(['GITHUB_REPOSITORY is not set: this Action runs as a step of a GitHub Actions job']);
    expect(github.requests).toEqual([]);
  });
});

describe('readInputs', () => {
  const reader = (values: Record<string, string>) => (name: string) => values[name] ?? '';

  it('applies the documented defaults', () => {
    expect(readInputs(reader({ environment: 'staging', token: 't' }))).toEqual({
      environment: 'staging',
      ref: undefined,
      token: 't',
      force: false,
      payload: {},
      description: undefined,
      wait: true,
      waitTimeoutMs: 60 * 60_000,
      pickupTimeoutMs: 2 * 60_000,
      onDuplicate: 'follow',
      requiredContexts: undefined,
      productionEnvironment: undefined,
      transientEnvironment: undefined,
    });
  });

  it('reads each value as written', () => {
    const inputs = readInputs(
      reader({
        environment: 'prod.eu-1',
        ref: 'refs/tags/v1.2.3',
        token: 't',
        force: 'TRUE',
        payload: '{"notify": ["#ops"]}',
        description: 'release',
        wait: 'False',
        'wait-timeout': '1h30m',
        'pickup-timeout': '45s',
        'on-duplicate': 'skip',
        'required-contexts': 'ci/build , security',
        'production-environment': 'true',
        'transient-environment': 'false',
      }),
    );
    expect(inputs).toMatchObject({
      environment: 'prod.eu-1',
      ref: 'refs/tags/v1.2.3',
      force: true,
      payload: { notify: ['#ops'] },
      wait: false,
      waitTimeoutMs: 90 * 60_000,
      pickupTimeoutMs: 45_000,
      onDuplicate: 'skip',
      requiredContexts: ['ci/build', 'security'],
      productionEnvironment: true,
      transientEnvironment: false,
    });
  });

  it('required-contexts none means no check at all', () => {
    expect(readInputs(reader({ environment: 'staging', token: 't', 'required-contexts': 'none' })).requiredContexts).toEqual([]);
  });
});

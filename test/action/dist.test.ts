// The bundled dist/index.js run as a real process, the way a runner starts it: inputs as INPUT_*
// variables, outputs and summary through the GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, against a
// real HTTP server on loopback that plays GitHub (Enterprise Server style, under /api/v3).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeGitHub, serveOverHttp } from './support/fake-github.ts';
import { parseOutputsFile, WORKFLOW_SHA } from './support/run-action.ts';

const BUNDLE = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
const LOG_URL = 'https://shipguard.example/deployments/1?sig=abc';

interface ProcessRun {
  exitCode: number | null;
  stdout: string;
  outputs: Record<string, string>;
  summary: string;
}

let folder: string;
let github: FakeGitHub;
let server: Awaited<ReturnType<typeof serveOverHttp>>;

beforeEach(async () => {
  folder = mkdtempSync(join(tmpdir(), 'shipguard-dist-'));
  github = new FakeGitHub('/api/v3');
  server = await serveOverHttp(github);
});

afterEach(async () => {
  await server.close();
  rmSync(folder, { recursive: true, force: true });
});

/** Starts the bundle as the runner would and waits for it to exit (killed if it outlives the test). */
async function runBundle(inputs: Record<string, string>): Promise<ProcessRun> {
  const outputPath = join(folder, 'output');
  const summaryPath = join(folder, 'summary');
  writeFileSync(outputPath, '');
  writeFileSync(summaryPath, '');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: folder,
    GITHUB_ACTIONS: 'true',
    GITHUB_REPOSITORY: 'acme/app',
    GITHUB_RUN_ID: '9001',
    GITHUB_RUN_ATTEMPT: '2',
    GITHUB_JOB: 'deploy',
    GITHUB_ACTOR: 'octocat',
    GITHUB_SHA: WORKFLOW_SHA,
    GITHUB_EVENT_NAME: 'push',
    GITHUB_API_URL: `${server.origin}/api/v3`,
    GITHUB_SERVER_URL: server.origin,
    GITHUB_OUTPUT: outputPath,
    GITHUB_STEP_SUMMARY: summaryPath,
  };
  // The runner passes every input declared in action.yml, defaults included, as INPUT_<NAME>.
  for (const [name, value] of Object.entries({
    token: 'ghs_test',
    force: 'false',
    wait: 'true',
    'wait-timeout': '60m',
    'on-duplicate': 'follow',
    'pickup-timeout': '2m',
    ...inputs,
  })) {
    env[`INPUT_${name.toUpperCase()}`] = value;
  }
  const child = spawn(process.execPath, [BUNDLE], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  try {
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => resolve(code));
    });
    return { exitCode, stdout, outputs: parseOutputsFile(readFileSync(outputPath, 'utf8')), summary: readFileSync(summaryPath, 'utf8') };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

describe('dist/index.js as the runner starts it', () => {
  it('exists (npm run build writes it)', () => {
    expect(existsSync(BUNDLE)).toBe(true);
  });

  it('deploys: creates the deployment, follows it to success, writes outputs and the job summary', async () => {
    github.revealStatusesPerPoll(
      () => github.deployments.at(-1)?.id,
      [
        ['queued', 'waiting for the lock on staging'],
        ['success', 'deployed to 2 hosts', { log_url: LOG_URL, environment_url: 'https://staging.example.com' }],
      ],
    );
    const run = await runBundle({ environment: 'staging', payload: '{"region":"eu"}' });

    expect(run.exitCode).toBe(0);
    expect(github.problems).toEqual([]);
    const deployment = github.deployments[0]!;
    expect(deployment.payload).toEqual({ region: 'eu', force: false, requested_by: 'octocat', idempotency_key: '9001/2/deploy/staging' });
    expect(run.outputs).toEqual({
      'deployment-id': String(deployment.id),
      state: 'success',
      'duplicate-of': '',
      'environment-url': 'https://staging.example.com',
      'log-url': LOG_URL,
    });
    expect(run.stdout).toContain('waiting for the lock on staging');
    expect(run.stdout).toContain('deployed to 2 hosts');
    expect(run.summary).toContain(`| [staging](https://staging.example.com) | \`${WORKFLOW_SHA}\` | ✅ success |`);
  });

  it('fails the step (exit code 1) with one ::error:: line on a bad input, sending nothing', async () => {
    const run = await runBundle({ environment: 'staging', 'wait-timeout': 'forever' });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain('::error::input wait-timeout: invalid duration "forever"');
    expect(github.requests).toEqual([]);
    expect(run.outputs.state).toBe('');
  });
});

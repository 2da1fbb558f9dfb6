// What the runner tells the step about its workflow run, read from the environment when run() starts
// (not when a module loads, as `@actions/github`'s `context` does, so one process can run it twice).

import { readFileSync } from 'node:fs';
import { repositoryNameError } from '../common/names.ts';

export interface WorkflowContext {
  owner: string;
  repo: string;
  apiUrl: string;
  serverUrl: string;
  runId: string;
  runAttempt: string;
  job: string;
  actor: string;
  /** The commit the workflow runs on: for a pull request, its head commit (never the merge commit). */
  defaultRef: string;
}

export function readWorkflowContext(env: NodeJS.ProcessEnv = process.env): WorkflowContext {
  const required = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`${name} is not set: this Action runs as a step of a GitHub Actions job`);
    return value;
  };
  const repository = required('GITHUB_REPOSITORY');
  const repositoryProblem = repositoryNameError(repository);
  if (repositoryProblem) throw new Error(`GITHUB_REPOSITORY: ${repositoryProblem}`);
  const [owner, repo] = repository.split('/') as [string, string];
  return {
    owner,
    repo,
    apiUrl: (env.GITHUB_API_URL || 'https://api.github.com').replace(/\/+$/, ''),
    serverUrl: (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, ''),
    runId: required('GITHUB_RUN_ID'),
    runAttempt: env.GITHUB_RUN_ATTEMPT || '1',
    job: required('GITHUB_JOB'),
    actor: env.GITHUB_ACTOR || 'unknown',
    defaultRef: pullRequestHeadSha(env) ?? required('GITHUB_SHA'),
  };
}

const PULL_REQUEST_EVENTS = new Set(['pull_request', 'pull_request_target', 'pull_request_review', 'pull_request_review_comment']);

/** GITHUB_SHA of a pull_request run is a merge commit that nobody pushed: deploy the PR's head instead. */
function pullRequestHeadSha(env: NodeJS.ProcessEnv): string | undefined {
  if (!PULL_REQUEST_EVENTS.has(env.GITHUB_EVENT_NAME ?? '') || !env.GITHUB_EVENT_PATH) return undefined;
  let event: unknown;
  try {
    event = JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read the pull request event at GITHUB_EVENT_PATH (${(error as Error).message})`);
  }
  const sha = (event as { pull_request?: { head?: { sha?: unknown } } } | null)?.pull_request?.head?.sha;
  if (typeof sha !== 'string') throw new Error('the pull request event at GITHUB_EVENT_PATH has no pull_request.head.sha');
  return sha;
}

// The Action: inputs in, a GitHub Deployment created (at most once), followed to its end, outputs out.

import * as core from '@actions/core';
import { actionIdempotencyKey } from '../common/deploy-intent.ts';
import { FAILURES_SHOWN, type HostFailure } from '../common/host-failures.ts';
import { createDeployment } from './create.ts';
import { readFailureDetails } from './failure-details.ts';
import { followDeployment, type FollowResult } from './follow.ts';
import { createGitHubClient } from './github-client.ts';
import { readInputs } from './inputs.ts';
import { resolveRef } from './resolve-ref.ts';
import { writeJobSummary } from './summary.ts';
import { REAL_TIMING, type Timing } from './timing.ts';
import { readWorkflowContext } from './workflow-context.ts';

export interface RunOptions {
  /** Clock and intervals; tests pass a virtual clock. */
  timing?: Timing;
  /** The fetch Octokit sends with; unset: `@actions/github`'s own (which honours the runner's proxy). */
  fetch?: typeof globalThis.fetch;
}

interface Outputs {
  'deployment-id': string;
  state: string;
  'duplicate-of': string;
  'environment-url': string;
  'log-url': string;
}

export async function run(options: RunOptions = {}): Promise<void> {
  const timing = options.timing ?? REAL_TIMING;
  const outputs: Outputs = { 'deployment-id': '', state: '', 'duplicate-of': '', 'environment-url': '', 'log-url': '' };
  try {
    await deploy(outputs, timing, options.fetch);
  } catch (error) {
    // One line, whatever went wrong: the step log's last word should say what to fix.
    core.setFailed(error instanceof Error ? error.message : String(error));
  }
  for (const [name, value] of Object.entries(outputs)) core.setOutput(name, value);
}

async function deploy(outputs: Outputs, timing: Timing, fetch: typeof globalThis.fetch | undefined): Promise<void> {
  const inputs = readInputs((name) => core.getInput(name));
  const context = readWorkflowContext();
  const repository = { owner: context.owner, repo: context.repo };
  const github = createGitHubClient(inputs.token, context.apiUrl, fetch);
  const started = timing.now();

  const ref = inputs.ref ?? context.defaultRef;
  const sha = await resolveRef(github, repository, ref);
  core.info(`deploying ${ref === sha ? sha : `${ref} (${sha})`} to ${inputs.environment}`);

  const idempotencyKey = actionIdempotencyKey(context.runId, context.runAttempt, context.job, inputs.environment);
  const created = await createDeployment(
    github,
    repository,
    {
      environment: inputs.environment,
      sha,
      description: inputs.description,
      requiredContexts: inputs.requiredContexts,
      productionEnvironment: inputs.productionEnvironment,
      transientEnvironment: inputs.transientEnvironment,
      // The Action's own keys win over the payload input's: they are what duplicates and adoption rely on.
      payload: { ...inputs.payload, force: inputs.force, requested_by: context.actor, idempotency_key: idempotencyKey },
    },
    timing,
    core.info,
  );
  outputs['deployment-id'] = String(created.id);
  core.info(`deployment #${created.id} ${created.adopted ? 'found (its create call had lost its answer)' : 'created'}`);

  const summary = { environment: inputs.environment, sha, deploymentId: created.id };
  if (!inputs.wait) {
    await writeJobSummary(
      {
        ...summary,
        state: '',
        durationMs: timing.now() - started,
        logUrl: '',
        environmentUrl: '',
        duplicateOf: undefined,
        failure: undefined,
      },
      process.env.GITHUB_STEP_SUMMARY,
    );
    return;
  }

  const result = await followDeployment(
    github,
    repository,
    created.id,
    {
      waitTimeoutMs: inputs.waitTimeoutMs,
      pickupTimeoutMs: inputs.pickupTimeoutMs,
      onDuplicate: inputs.onDuplicate,
      deploymentsPageUrl: `${context.serverUrl}/${context.owner}/${context.repo}/deployments`,
    },
    timing,
    core.info,
  );
  outputs.state = result.state;
  outputs['duplicate-of'] = result.duplicateOf === undefined ? '' : String(result.duplicateOf);
  outputs['environment-url'] = result.environmentUrl;
  outputs['log-url'] = result.logUrl;
  const hostFailures = await failingHostsOutput(result);
  await writeJobSummary({ ...summary, ...result, hostFailures, durationMs: timing.now() - started }, process.env.GITHUB_STEP_SUMMARY);

  if (result.failure) {
    core.setFailed(result.failure);
  } else if (result.state === 'inactive' && result.duplicateOf === undefined) {
    core.warning(`deployment #${created.id} ended inactive${result.description ? `: ${result.description}` : ''}`);
  } else {
    core.info(
      `deployment #${created.id}${result.duplicateOf !== undefined ? ` (duplicate of #${result.duplicateOf})` : ''}: ${result.state}`,
    );
  }
}

/** On a failure or error with a log link: the failing hosts' last output, printed and returned for the summary. */
async function failingHostsOutput(result: FollowResult): Promise<HostFailure[]> {
  if ((result.state !== 'failure' && result.state !== 'error') || !result.logUrl) return [];
  const details = await readFailureDetails(result.logUrl);
  if (details.kind === 'unavailable') {
    core.info(`the failing hosts' output could not be read (${details.why}); it is on the log page: ${result.logUrl}`);
    return [];
  }
  for (const failure of details.failures.slice(0, FAILURES_SHOWN)) {
    core.info(`${failure.host} ${failure.state}: ${failure.message}; its last output:`);
    // Indented: a host's line can never pass for a workflow command (those start a line with `::`).
    for (const line of failure.tail.split('\n')) core.info(`  | ${line}`);
  }
  if (details.failures.length > FAILURES_SHOWN)
    core.info(`…and ${details.failures.length - FAILURES_SHOWN} more failing host(s): see ${result.logUrl}`);
  return details.failures;
}

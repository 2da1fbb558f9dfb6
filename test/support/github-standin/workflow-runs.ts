/**
 * Workflow runs as GitHub Actions plays them with a custom deployment protection rule: a run whose job names
 * an environment creates the job's deployment (delivering `deployment`, naming the run) and, where the app's
 * rule is enabled on the environment, waits and delivers `deployment_protection_rule` (requested) with the
 * run's callback URL. The app's reviews arrive through the callback route (routes.ts). When the job ends,
 * GitHub Actions posts the deployment's statuses (`in_progress`, then the outcome), delivering
 * `deployment_status`; a job whose end goes unreported (a crashed runner) posts none.
 */
import { addStatus, deliverDeploymentStatusWebhook, deliverDeploymentWebhook, installationPart, type ApiContext } from './routes.ts';
import { deploymentShape, userShape, webhookExample, webhookRepositoryShape } from './shapes.ts';
import { timestamp, type Deployment, type Repository, type WorkflowRun } from './state.ts';

export interface StartRunOptions {
  environment: string;
  /** Branch the run is on (default: the default branch); its head is the run's SHA. */
  branch?: string;
  actor?: string;
  event?: string;
  displayTitle?: string;
}

const ACTIONS_BOT = 'github-actions[bot]';

export function startWorkflowRun(context: ApiContext, repository: Repository, options: StartRunOptions): WorkflowRun {
  const { state } = context;
  const branch = options.branch ?? repository.defaultBranch;
  const sha = repository.branches.get(branch);
  if (!sha) throw new Error(`GitHub stand-in: ${repository.fullName} has no branch ${branch}`);
  const now = timestamp();
  const run: WorkflowRun = {
    id: state.newId(),
    repository: repository.fullName,
    name: 'deploy',
    event: options.event ?? 'push',
    displayTitle: options.displayTitle ?? 'deploy',
    headBranch: branch,
    headSha: sha,
    runNumber: state.workflowRuns.filter((other) => other.repository === repository.fullName).length + 1,
    runAttempt: 0,
    actor: state.user(options.actor ?? repository.owner.login),
    status: 'queued',
    conclusion: null,
    createdAt: now,
    updatedAt: now,
    environment: options.environment,
    deploymentId: 0,
    waitingForRule: false,
  };
  state.workflowRuns.push(run);
  reachEnvironment(context, repository, run);
  return run;
}

/** "Re-run all jobs": the same run, a new attempt, a new deployment of the same SHA. */
export function rerunWorkflowRun(context: ApiContext, repository: Repository, run: WorkflowRun): void {
  if (run.status !== 'completed') throw new Error(`GitHub stand-in: run ${run.id} has not completed (${run.status})`);
  run.conclusion = null;
  reachEnvironment(context, repository, run);
}

function reachEnvironment(context: ApiContext, repository: Repository, run: WorkflowRun): void {
  const { state, urls } = context;
  run.runAttempt += 1;
  const gated = state.protectionRules.has(`${repository.fullName}|${run.environment}`);
  run.status = gated ? 'waiting' : 'in_progress';
  run.waitingForRule = gated;
  run.updatedAt = timestamp();
  const deployment: Deployment = {
    id: state.newId(),
    repository: repository.fullName,
    sha: run.headSha,
    ref: run.headBranch,
    task: 'deploy',
    environment: run.environment,
    originalEnvironment: run.environment,
    payload: {},
    description: null,
    transientEnvironment: false,
    productionEnvironment: run.environment === 'production',
    creator: run.actor,
    createdAt: run.updatedAt,
    updatedAt: run.updatedAt,
  };
  state.deployments.push(deployment);
  run.deploymentId = deployment.id;
  deliverDeploymentWebhook(context, repository, deployment, run);
  if (!gated) return;
  const payload = webhookExample('deployment', 'created');
  context.webhooks.send('deployment_protection_rule', {
    action: 'requested',
    environment: run.environment,
    event: run.event,
    sha: run.headSha,
    ref: run.headBranch,
    deployment_callback_url: `${urls.api}/repos/${repository.fullName}/actions/runs/${run.id}/deployment_protection_rule`,
    deployment: deploymentShape(repository, deployment, urls),
    pull_requests: [],
    repository: webhookRepositoryShape(repository, urls, payload.repository as Record<string, unknown>),
    installation: installationPart(repository),
    sender: userShape(run.actor, urls),
  });
}

/**
 * The approved job ends: with `report`, GitHub Actions posts `in_progress` and the outcome on its
 * deployment (delivering `deployment_status`); without, the run completes and the deployment says nothing.
 */
export function finishWorkflowJob(
  context: ApiContext,
  repository: Repository,
  run: WorkflowRun,
  outcome: 'success' | 'failure',
  report: boolean,
): void {
  const { state } = context;
  if (run.status !== 'in_progress') throw new Error(`GitHub stand-in: run ${run.id} is not running its job (${run.status})`);
  const deployment = state.deployments.find((candidate) => candidate.id === run.deploymentId)!;
  if (report) {
    for (const deploymentState of ['in_progress', outcome] as const) {
      const status = addStatus(state, deployment, {
        state: deploymentState,
        description: '',
        targetUrl: `${context.urls.web}/${repository.fullName}/actions/runs/${run.id}`,
        logUrl: `${context.urls.web}/${repository.fullName}/actions/runs/${run.id}`,
        environmentUrl: '',
        creator: state.user(ACTIONS_BOT, 'Bot'),
      });
      deliverDeploymentStatusWebhook(context, repository, deployment, status);
    }
  }
  run.status = 'completed';
  run.conclusion = outcome;
  run.updatedAt = timestamp();
}

/** "Cancel workflow": the run completes as cancelled, whether its job waits or runs; its deployment says nothing. */
export function cancelWorkflowRun(run: WorkflowRun): void {
  if (run.status === 'completed') throw new Error(`GitHub stand-in: run ${run.id} has completed already`);
  run.status = 'completed';
  run.conclusion = 'cancelled';
  run.waitingForRule = false;
  run.updatedAt = timestamp();
}

// The Probot app: webhooks in, engine calls out, nothing more. Each handler records what arrived and
// returns at once (rule 7); the work happens in the worker, which also survives a crash (rule 6).
import { FORCE_FREEZE_KEY } from './engine/freeze.ts';
import type { ApplicationFunction, Context } from 'probot';
import { isForced, isTerminalStatus } from '../common/deploy-intent.ts';
import { gatedEndFromStatus } from './engine/gated-end.ts';
import type { BotMetrics } from './web/metrics.ts';
import type { NewDeployment, Store } from './store/store.ts';

export interface AppServices {
  store: Store;
  metrics: BotMetrics;
  /** The bot's own login (`<slug>[bot]`): only its own deployments may name another requester. */
  appLogin(): Promise<string>;
  /** A deployment was recorded: start admitting it now. */
  deploymentReceived(): void;
  /** ChatOps, when enabled: handles an `issue_comment.created` event (must return quickly). */
  onComment?(context: Context<'issue_comment.created'>): Promise<void>;
  /** A webhook was refused because the store could not record it: GitHub keeps it as a failed delivery. */
  storeUnavailable(): void;
}

/**
 * What a webhook gets when the store cannot record it: 503 (Probot answers with the error's `status`),
 * and no internal detail (an address, a driver's message) in GitHub's delivery log.
 */
export class StoreUnavailable extends Error {
  readonly status = 503;
  constructor() {
    super('the bot cannot reach its store right now; retry later');
  }
}

export function shipguardApp(services: AppServices): ApplicationFunction {
  return (app) => {
    app.on('deployment.created', async (context) => {
      const started = performance.now();
      if (isWorkflowJobDeployment(context.payload)) {
        // GitHub Actions' own deployment of a job that names an environment: decided through the
        // deployment protection rule when it is enabled there (deployment_protection_rule below), never run here.
        context.log.debug({ deployment: context.payload.deployment.id }, 'a workflow job deployment: not run by the bot');
        return;
      }
      const deployment = deploymentFrom(context, await services.appLogin());
      if (!deployment) {
        context.log.warn('deployment webhook without an installation: ignored');
        return;
      }
      // Recorded before the answer, so an acknowledged deployment is never lost; a redelivery is a
      // no-op by deployment id (rule 1).
      const recorded = await recording(services, () =>
        services.store.recordReceived(deployment, { guid: context.id, event: context.name }),
      );
      // Whose it is is known only once deploy.yml is read: the story's `received` line comes at admission.
      if (recorded) context.log.debug({ deployment: deployment.id, repository: deployment.repository }, 'deployment recorded');
      services.metrics.webhookAck.observe({ event: 'deployment' }, (performance.now() - started) / 1000);
      services.deploymentReceived();
    });

    app.on('deployment_protection_rule.requested', async (context) => {
      const started = performance.now();
      const request = gatedJobFrom(context);
      if (typeof request === 'string') {
        context.log.warn(`deployment_protection_rule ignored: ${request}`);
        return;
      }
      // The same durable intake as a deployment: recorded before the answer, a redelivery is a no-op.
      await recording(services, () => services.store.recordReceived(request, { guid: context.id, event: context.name }));
      services.metrics.webhookAck.observe({ event: 'deployment_protection_rule' }, (performance.now() - started) / 1000);
      services.deploymentReceived();
    });

    app.on('deployment_status.created', async (context) => {
      // Only a gated job's end matters here (the bot's own statuses come back too, and change nothing).
      const { deployment, deployment_status: status } = context.payload;
      if (!isTerminalStatus(status.state)) return;
      const end = gatedEndFromStatus(status.state, status.description ?? '', deployment.id);
      if (await recording(services, () => services.store.endGated(deployment.id, end))) services.deploymentReceived();
    });

    app.on('issue_comment.created', async (context) => {
      const started = performance.now();
      if (!services.onComment) return;
      if (!(await recording(services, () => services.store.recordDelivery(context.id, context.name)))) return; // redelivery
      await services.onComment(context);
      services.metrics.webhookAck.observe({ event: 'issue_comment' }, (performance.now() - started) / 1000);
    });
  };
}

async function recording<T>(services: AppServices, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    services.storeUnavailable();
    throw Object.assign(new StoreUnavailable(), { cause: error });
  }
}

function deploymentFrom(context: Context<'deployment.created'>, appLogin: string): NewDeployment | null {
  const { deployment, repository, installation } = context.payload;
  if (!installation) return null;
  const payload = payloadObject(deployment.payload);
  // Who asked: the creator, except for deployments this bot created for a ChatOps command, which
  // carry the commenter in `requested_by`. Anyone else could claim any name there (and dodge a lock).
  const createdByThisBot = deployment.creator?.login === appLogin;
  const requestedBy =
    createdByThisBot && typeof payload.requested_by === 'string' ? payload.requested_by : (deployment.creator?.login ?? 'unknown');
  // The freeze override is an admin's `/deploy --force-freeze`, checked by this bot before it created the
  // deployment: from anyone else's payload it is dropped.
  if (!createdByThisBot) delete payload[FORCE_FREEZE_KEY];
  return {
    id: deployment.id,
    installationId: installation.id,
    repository: repository.full_name,
    environment: deployment.environment,
    sha: deployment.sha,
    ref: deployment.ref,
    task: deployment.task,
    forced: isForced(payload),
    requestedBy,
    payload,
  };
}

/**
 * A deployment GitHub Actions created for a job's `environment:` (it names its workflow run) that carries
 * none of shipguard's payload keys: the Action's and ChatOps' deployments always carry one.
 */
function isWorkflowJobDeployment(payload: Context<'deployment.created'>['payload']): boolean {
  if (!payload.workflow_run) return false;
  const keys = payloadObject(payload.deployment.payload);
  return typeof keys.idempotency_key !== 'string' && typeof keys.requested_by !== 'string';
}

/** The gated job as a deployment to decide on, or why it cannot be one. */
function gatedJobFrom(context: Context<'deployment_protection_rule.requested'>): NewDeployment | string {
  const { deployment, installation, repository, sender, deployment_callback_url: callback } = context.payload;
  if (!installation || !repository) return 'no installation or repository';
  if (!deployment) return 'the job has no deployment (deployment: false?): shipguard cannot know when it ends';
  const runId = /\/actions\/runs\/(\d+)\/deployment_protection_rule$/.exec(callback ?? '')?.[1];
  if (!runId) return `unexpected deployment_callback_url ${JSON.stringify(callback)}`;
  // Who triggered the run: the deployment's creator, unless GitHub names its own bot there.
  const creator = deployment.creator?.login;
  const requestedBy = creator && !creator.endsWith('[bot]') ? creator : (sender?.login ?? creator ?? 'unknown');
  return {
    id: deployment.id,
    installationId: installation.id,
    repository: repository.full_name,
    environment: context.payload.environment ?? deployment.environment,
    sha: deployment.sha,
    ref: deployment.ref,
    task: deployment.task,
    forced: false,
    requestedBy,
    payload: payloadObject(deployment.payload),
    workflowRunId: Number(runId),
  };
}

/** GitHub gives the payload as an object, or as the string it was created with. */
function payloadObject(payload: unknown): Record<string, unknown> {
  if (typeof payload === 'string') {
    try {
      const parsed: unknown = JSON.parse(payload);
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  }
  return typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Record<string, unknown>) : {};
}

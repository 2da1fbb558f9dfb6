// The ends of gated workflow jobs that no webhook told: a job approved past its deadline (`timeouts.total`)
// releases its environment; and, periodically, each approved or waiting job's deployment statuses and run
// are read, so a missed `deployment_status` or a cancelled run never holds an environment for good.
import type { Logger } from 'pino';
import { isTerminalStatus } from '../../common/deploy-intent.ts';
import { gatedEndFromRun, gatedEndFromStatus, type GatedEnd } from '../engine/gated-end.ts';
import type { DeploymentRecord, Store } from '../store/store.ts';

export interface GatedReconcileContext {
  store: Store;
  log: Logger;
  /** The states GitHub holds for the deployment, newest first. */
  deploymentStates(installationId: number, repository: string, deploymentId: number): Promise<string[]>;
  runState(installationId: number, repository: string, runId: number): Promise<{ status: string | null; conclusion: string | null }>;
}

/** Releases the environments of approved jobs whose end was not reported in time; how many. */
export async function releaseOverdueGated(store: Store, log: Logger): Promise<number> {
  const overdue = await store.endOverdueGated();
  for (const record of overdue) log.warn({ deployment: record.id, run: record.workflowRunId }, record.description);
  return overdue.length;
}

/** Reads GitHub for every gated job still waiting or deploying; returns how many were found ended. */
export async function reconcileGatedJobs(context: GatedReconcileContext): Promise<number> {
  const { store, log } = context;
  const open = (await store.deployments({ states: ['queued', 'running'], limit: 500 })).filter((r) => r.workflowRunId !== null);
  let ended = 0;
  for (const record of open) {
    try {
      const end = await observedEnd(context, record);
      if (end && (await store.endGated(record.id, end))) {
        log.info({ deployment: record.id, run: record.workflowRunId }, `gated job ended (reconciled): ${end.description}`);
        ended++;
      }
    } catch (error) {
      log.warn({ err: error, deployment: record.id }, 'could not read a gated job from GitHub; will try again');
    }
  }
  return ended;
}

async function observedEnd(context: GatedReconcileContext, record: DeploymentRecord): Promise<GatedEnd | null> {
  const ended = (await context.deploymentStates(record.installationId, record.repository, record.id)).find(isTerminalStatus);
  if (ended) return gatedEndFromStatus(ended, '', record.id);
  const run = await context.runState(record.installationId, record.repository, record.workflowRunId!);
  return run.status === 'completed' ? gatedEndFromRun(record.workflowRunId!, run.conclusion) : null;
}

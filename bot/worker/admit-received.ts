// Admission of received deployments: load deploy.yml (default branch), then let the engine's pure
// `admit` decide under the environment's lock, and queue the statuses that decision implies.
import type { Logger } from 'pino';
import { admit, supersededDescription, type Admission, type ConfigFact } from '../engine/admission.ts';
import { ADMISSION_HOLD_MS } from '../engine/leases.ts';
import { endedOnGitHub } from '../engine/pickup.ts';
import { isShipguardDeployment } from '../engine/whose-deployment.ts';
import { DeployConfigError, environmentConfig, type DeployConfig } from '../engine/deploy-config.ts';
import type { DeploymentRecord, Store } from '../store/store.ts';
import { statusFor, type LogLinkSigner, type StatusToPublish } from '../engine/status-for.ts';

export interface AdmissionContext {
  store: Store;
  owner: string;
  links: LogLinkSigner;
  log: Logger;
  loadConfig(installationId: number, repository: string): Promise<DeployConfig>;
  /** The states GitHub holds for the deployment, newest first. */
  deploymentStates(installationId: number, repository: string, deploymentId: number): Promise<string[]>;
  onAdmitted?(record: DeploymentRecord, admission: Admission): void;
  /** A deployment that is not shipguard's was left alone. */
  onIgnored?(record: DeploymentRecord): void;
}

/** Admits what is waiting; returns how many were decided. */
export async function admitReceived(context: AdmissionContext): Promise<number> {
  const { store, owner, log } = context;
  let decided = 0;
  // One read of deploy.yml per repository and round: a burst of deployments costs one, not one each.
  const configs = new Map<string, Promise<DeployConfig>>();
  const configOf = (record: DeploymentRecord) => {
    const key = `${record.installationId} ${record.repository}`;
    if (!configs.has(key)) configs.set(key, context.loadConfig(record.installationId, record.repository));
    return configs.get(key)!;
  };
  const admitOne = async (record: DeploymentRecord) => {
    let config: ConfigFact;
    let ended: string | null = null;
    try {
      try {
        config = { ok: true, environment: environmentConfig(await configOf(record), record.environment) };
      } catch (error) {
        if (!(error instanceof DeployConfigError)) throw error;
        config = { ok: false, summary: error.summary, detail: error.message };
      }
      if (isShipguardDeployment(config, record.payload)) {
        ended = endedOnGitHub(await context.deploymentStates(record.installationId, record.repository, record.id));
      }
    } catch (error) {
      // GitHub unreachable: reading is safe to repeat, so the deployment waits for the next round.
      log.warn({ err: error, deployment: record.id }, 'could not read from GitHub; will try again');
      return;
    }
    if (!isShipguardDeployment(config, record.payload)) {
      log.debug({ deployment: record.id, repository: record.repository, environment: record.environment }, 'not shipguard’s: left alone');
      await store.forgetReceived(record.id);
      context.onIgnored?.(record);
      return;
    }
    const admission = await store.admit(
      record.id,
      config,
      admit,
      (decision, current) => admissionStatuses(decision, current, context.links),
      ended,
    );
    if (admission) {
      decided++;
      context.onAdmitted?.(record, admission);
    }
  };
  // Repositories side by side, so one whose GitHub reads are slow (rate-limited, hanging until their
  // deadline) cannot hold up the others; within a repository, in the order received (rule 1's "first").
  const byRepository = Map.groupBy(await store.claimReceived(owner, ADMISSION_HOLD_MS, 20), (r) => `${r.installationId} ${r.repository}`);
  const rounds = await Promise.allSettled(
    [...byRepository.values()].map(async (records) => {
      for (const record of records) await admitOne(record);
    }),
  );
  const failed = rounds.find((round) => round.status === 'rejected');
  if (failed) throw failed.reason; // the store failed: the worker logs it and tries again
  return decided;
}

function admissionStatuses(admission: Admission, record: DeploymentRecord, links: LogLinkSigner): StatusToPublish[] {
  if (admission.kind === 'refuse') {
    if (admission.status === null) return [];
    // A duplicate points at the original's log: that is where the requested deploy happens.
    const logUrl = admission.duplicateOf !== null ? links.url(admission.duplicateOf) : undefined;
    return [statusFor(record, 'terminal', admission.status, admission.description, links, logUrl)];
  }
  return [
    statusFor(record, 'phase', 'queued', 'queued', links),
    ...admission.supersede.map((older) =>
      statusFor(
        { id: older, installationId: record.installationId, repository: record.repository, environmentUrl: null },
        'terminal',
        'inactive',
        supersededDescription(record.id),
        links,
      ),
    ),
  ];
}

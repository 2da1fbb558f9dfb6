// Admission of received deployments: load deploy.yml (default branch), read the facts from the store, let
// the engine's pure `admit` decide, and have the store apply that decision with the statuses it implies.
import type { Logger } from 'pino';
import { reaches, roleFrom } from '../engine/roles.ts';
import { admit, supersededDescription, type Admission, type ConfigFact, type GateFacts } from '../engine/admission.ts';
import { admissionReviews } from '../engine/gate-reviews.ts';
import { ADMISSION_HOLD_MS } from '../engine/leases.ts';
import { endedOnGitHub } from '../engine/pickup.ts';
import { isShipguardDeployment } from '../engine/whose-deployment.ts';
import { DeployConfigError, environmentConfig, type DeployConfig } from '../engine/deploy-config.ts';
import type { AdmissionInputs, DeploymentRecord, Store } from '../store/store.ts';
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
  /** GitHub reads for gated workflow jobs (absent: such a job waits, unread, for a bot that has them). */
  gateReads?: GateReads;
}

/** What admission reads from GitHub about a gated workflow job. */
export interface GateReads {
  run(installationId: number, repository: string, runId: number): Promise<{ event: string; displayTitle: string }>;
  permission(installationId: number, repository: string, user: string): Promise<{ roleName: string | null; permission: string | null }>;
  failingContexts(
    installationId: number,
    repository: string,
    sha: string,
    required: string[],
  ): Promise<Array<{ context: string; state: string }>>;
}

/** A run forces a known SHA when started by workflow_dispatch with a run-name ending in `--force` (README). */
export function runForces(run: { event: string; displayTitle: string }): boolean {
  return run.event === 'workflow_dispatch' && /(^|\s)--force$/.test(run.displayTitle.trim());
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
    let gate: GateFacts | null = null;
    try {
      try {
        config = { ok: true, environment: environmentConfig(await configOf(record), record.environment) };
      } catch (error) {
        if (!(error instanceof DeployConfigError)) throw error;
        config = { ok: false, summary: error.summary, detail: error.message };
      }
      if (isOurs(record, config)) {
        ended = endedOnGitHub(await context.deploymentStates(record.installationId, record.repository, record.id));
      }
      if (record.workflowRunId !== null) gate = await gateFacts(context, record, record.workflowRunId, config);
    } catch (error) {
      // GitHub unreachable: reading is safe to repeat, so the deployment waits for the next round.
      log.warn({ err: error, deployment: record.id }, 'could not read from GitHub; will try again');
      return;
    }
    if (!isOurs(record, config)) {
      log.debug({ deployment: record.id, repository: record.repository, environment: record.environment }, 'not shipguard’s: left alone');
      await store.forgetReceived(record.id);
      context.onIgnored?.(record);
      return;
    }
    const admission = await admitDeployment(store, record.id, { config, endedOnGitHub: ended, gate }, (decision) =>
      admissionStatuses(decision, admittedRecord(record, decision, config), context.links),
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

/**
 * One deployment's admission: the store gives the facts, the engine decides, the store applies the decision
 * if the facts still hold; when another deployment of the environment changed them meanwhile, it is decided
 * again on fresh ones. Null when another replica admitted it first.
 */
export async function admitDeployment(
  store: Store,
  id: number,
  inputs: AdmissionInputs,
  statusesFor: (admission: Admission) => StatusToPublish[],
): Promise<Admission | null> {
  if (inputs.gate) await store.replaceEarlierAttempts(id, inputs.gate.runId);
  for (;;) {
    const facts = await store.admissionFacts(id, inputs);
    if (!facts) return null;
    const admission = admit(facts);
    const applied = await store.applyAdmission(facts, admission, statusesFor(admission), admissionReviews(admission, facts));
    if (applied === 'applied') return admission;
    if (applied === 'gone') return null;
  }
}

/** A gated job is always ours: shipguard's protection rule is enabled on its environment. */
function isOurs(record: DeploymentRecord, config: ConfigFact): boolean {
  return record.workflowRunId !== null || isShipguardDeployment(config, record.payload);
}

async function gateFacts(context: AdmissionContext, record: DeploymentRecord, runId: number, config: ConfigFact): Promise<GateFacts> {
  const reads = context.gateReads;
  if (!reads) throw new Error('this bot cannot read workflow runs');
  const [run, access] = await Promise.all([
    reads.run(record.installationId, record.repository, runId),
    reads.permission(record.installationId, record.repository, record.requestedBy),
  ]);
  const role = roleFrom(access.roleName, access.permission);
  const required = config.ok ? (config.environment.required_contexts ?? []) : [];
  return {
    runId,
    requester: record.requestedBy,
    requesterRole: role,
    permitted: config.ok && reaches(role, config.environment.permission),
    failingContexts: await reads.failingContexts(record.installationId, record.repository, record.sha, required),
    forced: runForces(run),
  };
}

/** The record as admission leaves it: what its statuses are written from. */
function admittedRecord(record: DeploymentRecord, admission: Admission, config: ConfigFact): DeploymentRecord {
  if (admission.kind === 'refuse') return { ...record, state: 'refused' };
  const environment = config.ok ? config.environment : null;
  return { ...record, state: 'queued', config: environment, environmentUrl: environment?.url ?? null };
}

function admissionStatuses(admission: Admission, record: DeploymentRecord, links: LogLinkSigner): StatusToPublish[] {
  if (admission.kind === 'refuse') {
    if (admission.status === null) return [];
    // A duplicate points at the original's log: that is where the requested deploy happens.
    const logUrl = admission.duplicateOf !== null ? links.url(admission.duplicateOf) : undefined;
    return [statusFor(record, 'terminal', admission.status, admission.description, links, logUrl)];
  }
  return [
    statusFor(record, 'phase', 'queued', admission.description ?? 'queued', links),
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

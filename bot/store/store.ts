// The store: what the engine, the bot and the pages need to remember, behind one small interface.
// Every claim and transition is atomic in the database, so replicas sharing one PostgreSQL never run a
// deployment twice nor two at once in one environment.
import type { Admission, AdmissionFacts, EnvironmentLock } from '../engine/admission.ts';
import type { DeploymentState, GitHubDeploymentState } from '../engine/states.ts';
import type { EnvironmentConfig } from '../github/deploy-config.ts';
import type { HostPhase, HostState } from '../deployers/deployer.ts';

export interface NewDeployment {
  id: number;
  installationId: number;
  repository: string;
  environment: string;
  sha: string;
  ref: string;
  task: string;
  forced: boolean;
  requestedBy: string;
  payload: Record<string, unknown>;
}

export interface DeploymentRecord extends NewDeployment {
  state: DeploymentState;
  githubState: GitHubDeploymentState | null;
  description: string;
  detail: string;
  duplicateOf: number | null;
  config: EnvironmentConfig | null;
  environmentUrl: string | null;
  previousSha: string | null;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  cancelRequestedBy: string | null;
  deadlineAt: Date | null;
  receivedAt: Date;
  queuedAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface HostRecord {
  host: string;
  position: number;
  state: HostState;
  phase: HostPhase | null;
  message: string;
  output: string;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface DeploymentEvent {
  at: Date;
  message: string;
}

export interface StatusToPublish {
  deploymentId: number;
  installationId: number;
  repository: string;
  kind: 'phase' | 'progress' | 'terminal';
  state: GitHubDeploymentState;
  description: string;
  logUrl: string | null;
  environmentUrl: string | null;
}

export interface PendingStatus extends StatusToPublish {
  seq: number;
  attempts: number;
}

export interface Finish {
  state: 'succeeded' | 'failed' | 'error' | 'cancelled';
  description: string;
  detail?: string;
  status: StatusToPublish;
}

export interface Store {
  /** False when this delivery GUID was seen before (a redelivery): the caller does nothing. */
  recordDelivery(guid: string, event: string): Promise<boolean>;
  hasDelivery(guid: string): Promise<boolean>;
  /** False when this deployment id is known already. Records it as `received`, with its delivery. */
  recordReceived(deployment: NewDeployment, delivery?: { guid: string; event: string }): Promise<boolean>;

  /** Hands `received` deployments to one replica for admission (held for `holdMs`). */
  claimReceived(owner: string, holdMs: number, limit: number): Promise<DeploymentRecord[]>;
  /**
   * Admits one received deployment: under the environment's row lock, gathers the facts, asks the
   * pure `decide`, and applies its answer together with the statuses it implies.
   */
  admit(
    id: number,
    config: AdmissionFacts['config'],
    decide: (facts: AdmissionFacts) => Admission,
    statuses: (admission: Admission, record: DeploymentRecord) => StatusToPublish[],
    endedOnGitHub: string | null,
  ): Promise<Admission | null>;

  /** Starts the oldest queued deployment of an environment with none running; null when none can. */
  claimNext(owner: string, leaseMs: number, hosts: (record: DeploymentRecord) => string[], status: (record: DeploymentRecord) => StatusToPublish): Promise<DeploymentRecord | null>;
  /** Takes over one running deployment whose lease lapsed (its bot died). */
  takeOverLapsed(owner: string, leaseMs: number): Promise<DeploymentRecord | null>;
  /** False when the lease is no longer this owner's. */
  renewLease(id: number, owner: string, leaseMs: number): Promise<boolean>;
  /** Ends a running deployment, with its terminal status, if `owner` still holds it. */
  finish(id: number, owner: string, finish: Finish): Promise<boolean>;

  hosts(id: number): Promise<HostRecord[]>;
  updateHost(id: number, host: string, change: { state?: HostState; phase?: HostPhase | null; message?: string; output?: string; started?: boolean; finished?: boolean }): Promise<void>;
  addEvent(id: number, message: string): Promise<void>;
  events(id: number): Promise<DeploymentEvent[]>;

  enqueueStatus(status: StatusToPublish): Promise<void>;
  /** Claims the unsent statuses of one installation (not in `busy`) for `holdMs`, oldest first. */
  claimStatuses(owner: string, holdMs: number, limit: number, busy: number[]): Promise<PendingStatus[]>;
  markStatusesDone(seqs: number[]): Promise<void>;
  /** A send failed: its installation's queue waits `retryInMs` before anyone tries again. */
  markStatusFailed(seq: number, error: string, retryInMs: number): Promise<void>;
  /** Extends this owner's claim on statuses it is still sending; false when it lost any of them. */
  holdStatuses(owner: string, seqs: number[], holdMs: number): Promise<boolean>;
  /** Gives back claimed statuses that were not attempted. */
  releaseStatuses(seqs: number[]): Promise<void>;
  setGitHubState(id: number, state: GitHubDeploymentState): Promise<void>;

  deployment(id: number): Promise<DeploymentRecord | null>;
  /** Newest first. */
  deployments(filter: { repository?: string; environment?: string; states?: DeploymentState[]; task?: string; limit?: number }): Promise<DeploymentRecord[]>;

  requestCancel(repository: string, environment: string, by: string): Promise<DeploymentRecord[]>;
  lock(repository: string, environment: string, owner: string, reason: string): Promise<EnvironmentLock>;
  /** Lifts the lock if `owner` still holds it (it may have changed hands since it was read); returns it. */
  unlock(repository: string, environment: string, owner: string): Promise<EnvironmentLock | null>;
  environmentLock(repository: string, environment: string): Promise<EnvironmentLock | null>;

  /** Cancels queued deployments (no host touched yet) with the given status. */
  cancelQueued(id: number, status: StatusToPublish): Promise<boolean>;

  close(): Promise<void>;
}


// The store: what the engine, the bot and the pages need to remember, behind one small interface.
// Every claim and transition is atomic in the database, so replicas sharing one PostgreSQL never run a
// deployment twice nor two at once in one environment.
import type { Admission, AdmissionFacts, EnvironmentLock, GateFacts } from '../engine/admission.ts';
import type { GateReviewToSend } from '../engine/gate-reviews.ts';
import type { GatedEnd } from '../engine/gated-end.ts';
import type { DeploymentState, GitHubDeploymentState } from '../engine/states.ts';
import type { StatusToPublish } from '../engine/status-for.ts';
import type { EnvironmentConfig } from '../engine/deploy-config.ts';
import type { ActingPhase, HostOutcome, HostPhase, HostState } from '../engine/outcomes.ts';

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
  /**
   * Set for a workflow job gated as a custom deployment protection rule: the run it belongs to. The bot
   * never runs such a deployment nor posts a status on it; it approves or rejects the run and records its end.
   */
  workflowRunId?: number | null;
}

export interface DeploymentRecord extends NewDeployment {
  workflowRunId: number | null;
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
  /** Fencing token: changes on every claim and takeover; every write of a runner is conditional on it. */
  leaseEpoch: number;
  cancelRequestedBy: string | null;
  /** `/cancel --rollback`: the cancel also rolls back the hosts this deployment changed. */
  cancelRollback: boolean;
  /** Why the hosts are being rolled back, once a fleet rollback has begun (`on_failure: rollback_fleet`). */
  fleetRollback: string | null;
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
  /**
   * For a host whose step's intent is recorded but whose end was not observed (or was `lost`): how long
   * until that step's hard limit has passed on the host (0: passed). Only then may anyone ask the host
   * what happened, because until then the old command may still act.
   */
  inDoubtForMs: number;
}

/** Which run of a deployment writes: its id and the lease epoch its runner holds. */
export interface LeaseRef {
  id: number;
  epoch: number;
}

/** A host's observed end. `settled`: the step's command is known to be gone (exited, or its kill confirmed). */
export interface HostEnd {
  outcome: HostOutcome;
  message: string;
  settled: boolean;
}

export interface DeploymentEvent {
  at: Date;
  message: string;
}

export interface PendingStatus extends StatusToPublish {
  seq: number;
  attempts: number;
}

/** A gated job's review in the outbox, with where it goes. */
export interface PendingGateReview extends GateReviewToSend {
  seq: number;
  installationId: number;
  repository: string;
  runId: number;
  environment: string;
  attempts: number;
}

export interface Finish {
  state: 'succeeded' | 'failed' | 'error' | 'cancelled';
  description: string;
  detail?: string;
  status: StatusToPublish;
}

/** What is waiting and running in one environment now (`oldestWaitingSeconds` by the store's own clock). */
export interface EnvironmentActivity {
  repository: string;
  environment: string;
  running: number;
  waiting: number;
  oldestWaitingSeconds: number;
}

/** What admission knows beyond the store: deploy.yml's word, GitHub's, and a gated job's facts. */
export interface AdmissionInputs {
  config: AdmissionFacts['config'];
  /** The deployment's terminal state on GitHub when it ended there before the bot saw it. */
  endedOnGitHub: string | null;
  gate?: GateFacts | null;
}

export type AdmissionApplied = 'applied' | 'changed' | 'gone';

export interface Store {
  /** False when this delivery GUID was seen before (a redelivery): the caller does nothing. */
  recordDelivery(guid: string, event: string): Promise<boolean>;
  hasDelivery(guid: string): Promise<boolean>;
  /** False when this deployment id is known already. Records it as `received`, with its delivery. */
  recordReceived(deployment: NewDeployment, delivery?: { guid: string; event: string }): Promise<boolean>;

  /** Drops a `received` deployment that is not shipguard's (bot/engine/whose-deployment.ts), timeline and all. */
  forgetReceived(id: number): Promise<void>;
  /** Hands `received` deployments to one replica for admission (held for `holdMs`). */
  claimReceived(owner: string, holdMs: number, limit: number): Promise<DeploymentRecord[]>;
  /** A gated job's workflow run has one attempt at a time: its earlier attempts still open here end. */
  replaceEarlierAttempts(id: number, runId: number): Promise<void>;
  /** What admission decides on (bot/engine/admission.ts), in one snapshot; null once `id` is no longer `received`. */
  admissionFacts(id: number, inputs: AdmissionInputs): Promise<AdmissionFacts | null>;
  /**
   * Applies the engine's decision with the statuses and reviews it implies, under the environment's lock,
   * if the facts it was made on still hold; otherwise nothing changes: 'changed' (decide again on fresh
   * facts) or 'gone' (admitted meanwhile by another replica).
   */
  applyAdmission(
    decidedOn: AdmissionFacts,
    admission: Admission,
    statuses: StatusToPublish[],
    reviews: GateReviewToSend[],
  ): Promise<AdmissionApplied>;

  /**
   * Starts the oldest queued deployment of an environment with none running, under a new lease epoch,
   * with its hosts (from its config) and the status `startedStatus` returns; null when none can start.
   * A gated job instead gets its approval queued, no lease (nothing of it runs here) and the deadline
   * `timeouts.total` by which its end must be known.
   */
  claimNext(
    owner: string,
    leaseMs: number,
    startedStatus: (record: DeploymentRecord) => StatusToPublish,
    /** True for an environment's next deployment that may not start yet (a freeze window): the environment waits. */
    held?: (record: DeploymentRecord) => boolean,
  ): Promise<DeploymentRecord | null>;
  /** Takes over one running deployment whose lease lapsed, under a new epoch; never one in `exclude`. */
  takeOverLapsed(owner: string, leaseMs: number, exclude: number[]): Promise<DeploymentRecord | null>;

  // A runner's writes: each is conditional on its lease epoch and answers false when the lease is no
  // longer that runner's (another bot took over, or the deployment ended): the runner then stops.

  /** Extends the lease from now, whether or not it lapsed meanwhile, as long as nobody took it over. */
  renewLease(lease: LeaseRef, leaseMs: number): Promise<boolean>;
  /** Lets the lease lapse now (handover): the next scan of any bot takes the deployment over. */
  releaseLease(lease: LeaseRef): Promise<boolean>;
  /** Write-ahead intent: `phase` is about to run on `host`, and is over on the host after `hardLimitMs`. */
  recordHostIntent(lease: LeaseRef, host: string, phase: ActingPhase, hardLimitMs: number): Promise<boolean>;
  recordHostEnd(lease: LeaseRef, host: string, end: HostEnd): Promise<boolean>;
  /** What the page shows while a host runs: its phase (harmless steps) and its bounded output. */
  recordHostProgress(lease: LeaseRef, host: string, change: { phase?: HostPhase | null; output?: string }): Promise<boolean>;
  recordEvent(lease: LeaseRef, message: string): Promise<boolean>;
  /**
   * Write-ahead for a fleet rollback: records why it begins (a takeover continues it, never the deploy),
   * and gives it `totalMs` more from now if the deployment's deadline is nearer.
   */
  recordFleetRollback(lease: LeaseRef, reason: string, totalMs: number): Promise<boolean>;
  recordStatus(lease: LeaseRef, status: StatusToPublish): Promise<boolean>;
  /** Ends a running deployment, with its terminal status, if `lease` is still the current one. */
  finish(lease: LeaseRef, finish: Finish): Promise<boolean>;

  hosts(id: number): Promise<HostRecord[]>;
  events(id: number): Promise<DeploymentEvent[]>;

  enqueueStatus(status: StatusToPublish): Promise<void>;
  /** Claims the unsent statuses of one installation (not in `busy`) for `holdMs`, oldest first. */
  claimStatuses(owner: string, holdMs: number, limit: number, busy: number[]): Promise<PendingStatus[]>;
  markStatusesDone(seqs: number[]): Promise<void>;
  /** An attempt to write this status is about to start (after it, the status may be on GitHub). */
  markStatusAttempted(seq: number): Promise<void>;
  /** A send failed: its installation's queue waits `retryInMs` before anyone tries again. */
  markStatusFailed(seq: number, error: string, retryInMs: number): Promise<void>;
  /** Extends this owner's claim on statuses it is still sending; false when it lost any of them. */
  holdStatuses(owner: string, seqs: number[], holdMs: number): Promise<boolean>;
  /** Gives back claimed statuses that were not attempted. */
  releaseStatuses(seqs: number[]): Promise<void>;
  setGitHubState(id: number, state: GitHubDeploymentState): Promise<void>;

  deployment(id: number): Promise<DeploymentRecord | null>;
  /** Newest first. */
  deployments(filter: {
    repository?: string;
    environment?: string;
    states?: DeploymentState[];
    task?: string;
    limit?: number;
  }): Promise<DeploymentRecord[]>;

  /**
   * `rollback`: `/cancel --rollback`, then the hosts this deployment changed are rolled back. An approved
   * gated workflow job is not marked: its run is the workflow's to cancel.
   */
  requestCancel(repository: string, environment: string, by: string, rollback?: boolean): Promise<DeploymentRecord[]>;
  lock(repository: string, environment: string, owner: string, reason: string): Promise<EnvironmentLock>;
  /** Lifts the lock if `owner` still holds it (it may have changed hands since it was read); returns it. */
  unlock(repository: string, environment: string, owner: string): Promise<EnvironmentLock | null>;
  environmentLock(repository: string, environment: string): Promise<EnvironmentLock | null>;
  /** Every environment of a repository the store knows (deployed to, or locked), by name. */
  environments(repository: string): Promise<string[]>;

  /** Every environment with a deployment waiting or running, for the metrics. */
  activity(): Promise<EnvironmentActivity[]>;

  /** Cancels queued deployments (no host touched yet) with the given status. */
  cancelQueued(id: number, status: StatusToPublish): Promise<boolean>;

  /** Records a gated job's end (from its deployment's statuses or its run); false when it had ended already. */
  endGated(id: number, end: GatedEnd): Promise<boolean>;
  /** Ends every approved gated job whose deadline passed: its environment is free again. */
  endOverdueGated(): Promise<DeploymentRecord[]>;
  /** Claims unsent gate reviews for `holdMs`, oldest first. */
  claimGateReviews(owner: string, holdMs: number, limit: number): Promise<PendingGateReview[]>;
  /** An attempt to send this review is about to start (after it, the review may be on GitHub). */
  markGateReviewAttempted(seq: number): Promise<void>;
  markGateReviewDone(seq: number): Promise<void>;
  /** A send failed: it waits `retryInMs` before anyone tries it again. */
  markGateReviewFailed(seq: number, error: string, retryInMs: number): Promise<void>;

  close(): Promise<void>;
}

// Rules 1, 2 and 8 as one pure function: given what the store knows when a deployment arrives,
// refuse it (and say why) or queue it (and say which waiting ones it supersedes).
import { duplicateDescription } from '../../common/deploy-intent.ts';
import { environmentNameError, refError, repositoryNameError, shaError, taskNameError } from '../../common/names.ts';
import type { EnvironmentConfig } from './deploy-config.ts';
import { fitDescription } from './descriptions.ts';
import { freezeAt, freezeDescription, freezeOverridden } from './freeze.ts';
import { BLOCKING_STATES, type DeploymentState } from './states.ts';

export interface Candidate {
  id: number;
  repository: string;
  environment: string;
  sha: string;
  ref: string;
  task: string;
  forced: boolean;
  requestedBy: string;
  /** The deployment's payload: an admin's freeze override (`force_freeze`) lives there. */
  payload?: Record<string, unknown>;
}

export interface EnvironmentLock {
  owner: string;
  reason: string;
  lockedAt: Date;
}

/**
 * What a workflow job gated as a custom deployment protection rule brings beside its deployment: the run,
 * whether the user who triggered it reaches the environment's `permission`, and the required checks that
 * are not green on its SHA (GitHub checks `required_contexts` only for deployments created through the API).
 */
export interface GateFacts {
  runId: number;
  requester: string;
  requesterRole: string;
  permitted: boolean;
  failingContexts: Array<{ context: string; state: string }>;
  /** A `workflow_dispatch` run whose run-name ends in `--force` (README): deploys a known SHA again. */
  forced: boolean;
}

export type ConfigFact = { ok: true; environment: EnvironmentConfig } | { ok: false; summary: string; detail: string };

export interface AdmissionFacts {
  candidate: Candidate;
  config: ConfigFact;
  /** Other deployments with the candidate's duplicate key, oldest first. */
  sameKey: Array<{ id: number; state: DeploymentState; finishedAt?: Date | null; workflowRunId?: number | null }>;
  /**
   * Other deployments carrying the candidate's `idempotency_key` (the Action's, per run attempt): the
   * same create call landing twice after an unknown outcome. Same intent even when forced.
   */
  sameIdempotencyKey: Array<{ id: number; state: DeploymentState }>;
  /** The deployment's latest status on GitHub when it is already final (e.g. abandoned by the Action). */
  endedOnGitHub: string | null;
  lock: EnvironmentLock | null;
  /** Environments where the candidate's SHA has been deployed successfully (for `requires`). */
  succeededIn: string[];
  /** Deployments waiting (queued) in the environment, oldest first. */
  waiting: number[];
  /** The deployment running in the environment now, if any (a gated job counts from its approval to its end). */
  running?: { id: number; workflowRunId: number | null } | null;
  /** The environment's live deploy: the newest that succeeded. */
  live?: { id: number; sha: string; finishedAt: Date | null } | null;
  /** Set for a gated workflow job; null for a deployment the bot runs itself. */
  gate?: GateFacts | null;
  now: Date;
}

export type Admission =
  /** `status: null`: GitHub already shows the deployment ended; record the refusal, post nothing. */
  | { kind: 'refuse'; status: 'inactive' | 'error' | null; description: string; detail: string; duplicateOf: number | null }
  /** `description`: the queued status's, when it waits for more than its turn; `note`: a timeline line. */
  | { kind: 'queue'; supersede: number[]; description?: string; note?: string };

export function admit(facts: AdmissionFacts): Admission {
  const { candidate } = facts;
  const invalid = inputProblems(candidate);
  if (invalid.length) return refuse('error', invalid.join('; '));
  if (facts.endedOnGitHub) {
    return {
      kind: 'refuse',
      status: null,
      description: `already ${facts.endedOnGitHub} on GitHub`,
      detail: `already ${facts.endedOnGitHub} on GitHub before the bot saw it; not run`,
      duplicateOf: null,
    };
  }
  if (!facts.config.ok) return refuse('error', facts.config.summary, facts.config.detail);
  const config = facts.config.environment;
  const gate = facts.gate ?? null;
  if (gate && config.deployer !== 'workflow') {
    return refuse(
      'error',
      `${candidate.environment} is deployed by shipguard itself (deployer: ${config.deployer}), not by a workflow job: set deployer: workflow in deploy.yml or remove shipguard's protection rule from the environment`,
    );
  }
  if (!gate && config.deployer === 'workflow') {
    return refuse(
      'error',
      `${candidate.environment} deploys from its workflow job (deployer: workflow): shipguard gates that job and runs nothing itself`,
    );
  }
  if (gate && !gate.permitted) {
    return refuse(
      'error',
      `@${gate.requester} (${gate.requesterRole}) may not deploy to ${candidate.environment}: it needs ${config.permission} permission`,
    );
  }

  const sameCall = facts.sameIdempotencyKey.find((other) => other.id !== candidate.id);
  const original =
    sameCall ??
    (candidate.forced || gate?.forced
      ? undefined
      : facts.sameKey.find((other) => BLOCKING_STATES.includes(other.state) && other.id !== candidate.id));
  if (original) {
    const description = duplicateDescription(original.id, original.state);
    const why = sameCall
      ? 'the same request (idempotency key) was already received'
      : `this sha was already requested for ${candidate.environment}; use force to run it again`;
    return { kind: 'refuse', status: 'inactive', description, detail: `${description}: ${why}`, duplicateOf: original.id };
  }

  if (facts.lock && facts.lock.owner !== candidate.requestedBy) {
    const age = Math.max(0, Math.round((facts.now.getTime() - facts.lock.lockedAt.getTime()) / 60_000));
    const reason = facts.lock.reason ? `: ${facts.lock.reason}` : '';
    return refuse('error', `${candidate.environment} is locked by @${facts.lock.owner} (${age}m ago)${reason}`);
  }

  const missing = (config.requires ?? []).filter((required) => !facts.succeededIn.includes(required));
  if (missing.length) {
    return refuse('error', `${candidate.sha.slice(0, 7)} has not succeeded on ${missing.join(', ')}: deploy it there first`);
  }
  if (gate && gate.failingContexts.length) {
    const failing = gate.failingContexts.map((c) => `${c.context} (${c.state})`).join(', ');
    return refuse('error', `required checks are not green on ${candidate.sha.slice(0, 7)}: ${failing}`);
  }

  const queue = { kind: 'queue' as const, supersede: config.queue === 'latest' ? facts.waiting.filter((id) => id !== candidate.id) : [] };
  const freeze = freezeAt(config.freeze, facts.now.getTime());
  if (!freeze) return queue;
  const frozen = freezeDescription(candidate.environment, freeze);
  if (freezeOverridden(candidate.payload)) {
    return { ...queue, note: `freeze overridden by @${candidate.requestedBy} (--force-freeze, admin): ${frozen}` };
  }
  if (freeze.mode === 'refuse') return refuse('error', `${frozen}: deploy refused (freeze window)`);
  return { ...queue, description: fitDescription(`waiting: ${frozen}`), note: `waiting: ${frozen} (freeze window)` };
}

function refuse(status: 'inactive' | 'error', summary: string, detail = summary): Admission {
  return { kind: 'refuse', status, description: fitDescription(summary), detail, duplicateOf: null };
}

/**
 * Whether a decision made on `decidedOn` still holds for `current`: the same facts but for the clock (a
 * few milliseconds later) and the candidate, which does not change while it waits for admission.
 */
export function sameAdmissionFacts(decidedOn: AdmissionFacts, current: AdmissionFacts): boolean {
  const comparable = ({ candidate, now: _now, ...rest }: AdmissionFacts) => JSON.stringify({ id: candidate.id, ...rest });
  return comparable(decidedOn) === comparable(current);
}

/** Rule 8: every name from the webhook is checked before it is stored as runnable. */
function inputProblems(candidate: Candidate): string[] {
  return [
    repositoryNameError(candidate.repository),
    environmentNameError(candidate.environment),
    shaError(candidate.sha),
    refError(candidate.ref),
    taskNameError(candidate.task),
  ].filter((problem): problem is string => problem !== null);
}

export function supersededDescription(newerId: number): string {
  return `superseded by #${newerId}`;
}

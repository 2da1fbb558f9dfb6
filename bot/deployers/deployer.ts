// The one interface between the engine and whatever reaches the VMs (local processes, ssh, an http
// deployer service). The engine hands over a job and listens to events; the deployer reports the truth.
import type { EnvironmentConfig } from '../github/deploy-config.ts';

/** What the engine knows of one host before the rollout (after a takeover, some are already done). */
export type HostState = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'unknown';

/** How one host ended. `unknown`: the end of a command that may have acted was not observed (rule 4). */
export type HostOutcome = 'succeeded' | 'failed' | 'skipped' | 'unknown';

export type HostPhase = 'connect' | 'revision' | 'deploy' | 'healthcheck' | 'rollback';

export interface DeployJob {
  deploymentId: number;
  repository: string; // owner/name
  environment: string;
  sha: string;
  ref: string;
  task: string;
  previousSha: string | null;
  noop: boolean;
  payload: Record<string, unknown>;
  config: EnvironmentConfig;
  /** The hosts and what is already known of them; hosts marked `running` were mid-command in a crash. */
  hosts: Array<{ name: string; state: HostState }>;
  /** Aborted on `/cancel`: start no new host, let the running ones finish. */
  cancel: AbortSignal;
  /**
   * True when this bot took the deployment over from one that died: a step may have been sent already,
   * so a deployer must find out what happened (status URL, revision) rather than send it again.
   */
  resumed: boolean;
  /** Epoch ms: the environment's `timeouts.total`, counted from the deployment's first start. */
  deadline: number;
  /** Values to redact from any output (keys, tokens) in raw, base64 and JSON-escaped forms. */
  secrets: string[];
}

export interface DeployEvents {
  hostStarted(host: string): void;
  hostPhase(host: string, phase: HostPhase): void;
  hostOutput(host: string, stream: 'stdout' | 'stderr', text: string): void;
  hostFinished(host: string, outcome: HostOutcome, message: string): void;
  /** Free-form progress, for deployers that do not work host by host (http). */
  progress(description: string, logUrl?: string): void;
}

/** The deployment's end as the deployer saw it; `error` means the outcome is unknown or the job invalid. */
export interface DeployResult {
  state: 'succeeded' | 'failed' | 'error';
  description: string;
  logUrl?: string;
}

export interface Deployer {
  deploy(job: DeployJob, events: DeployEvents): Promise<DeployResult>;
}

/** Raised before anything ran (bad key, no known_hosts, deployer not configured): ends the deploy `error`. */
export class DeployerConfigError extends Error {}

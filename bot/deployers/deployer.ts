// The one interface between the engine and whatever reaches the VMs (local processes, ssh, an http
// deployer service). The engine hands over a job and listens to events; the deployer reports the truth.
import type { EnvironmentConfig } from '../engine/deploy-config.ts';
import type { ActingPhase, DeployResult, HostOutcome, HostPhase, HostState } from '../engine/outcomes.ts';
import type { WaveNews } from '../engine/waves.ts';

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
  /**
   * The hosts and what is already known of them. After a takeover, a host `running` or `unknown` had a
   * step whose end was not recorded: it is in doubt, and nothing may ask it what happened for
   * `inDoubtForMs` more (the old command may still act until its hard limit has passed on the host).
   */
  hosts: Array<{ name: string; state: HostState; inDoubtForMs: number; finishedAt?: number | null }>;
  /**
   * Set once a fleet rollback (`on_failure: rollback_fleet`) has begun, to why: whoever runs the deployment
   * from then on continues the rollback and never deploys another host.
   */
  fleetRollback: string | null;
  /** `/cancel --rollback`: a cancel then rolls back the hosts this deployment changed (with `rollback_fleet` semantics). */
  cancelWithRollback: boolean;
  /** Aborted on `/cancel`: start no new host, let the running ones finish. */
  cancel: AbortSignal;
  /** Aborted for a handover (SIGTERM): start no new host, let the running ones finish, end `handed_over`. */
  drain: AbortSignal;
  /** Aborted when this runner may no longer act (its lease is about to lapse or is lost): kill what runs. */
  halt: AbortSignal;
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
  /** A harmless phase (connect, revision): shown, not a promise of anything. */
  hostPhase(host: string, phase: HostPhase): void;
  /**
   * Write-ahead intent (exactly once under faults): resolves true once the store has durably recorded that
   * `phase` is about to run on `host` and is over there after `hardLimitMs`. False: the step must not start
   * (the store could not record it, or this runner may no longer act); the rollout then starts nothing more.
   */
  beginStep(host: string, phase: ActingPhase, hardLimitMs: number): Promise<boolean>;
  hostOutput(host: string, stream: 'stdout' | 'stderr', text: string): void;
  /** `settled`: the host's last command is known gone (it exited, or its kill was confirmed). */
  hostFinished(host: string, outcome: HostOutcome, message: string, settled: boolean): void;
  /** Waves only: a wave starts, a bake goes on, a gate answered (status description and timeline). */
  wave(news: WaveNews): void;
  /**
   * Write-ahead for a fleet rollback: resolves true once the store records that this deployment rolls its
   * hosts back, and why (a takeover then continues the rollback). False: roll nothing back now.
   */
  beginFleetRollback(reason: string): Promise<boolean>;
  /** Free-form progress, for deployers that do not work host by host (http). */
  progress(description: string, logUrl?: string): void;
}

export interface Deployer {
  deploy(job: DeployJob, events: DeployEvents): Promise<DeployResult>;
}

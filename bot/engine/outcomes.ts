// What the engine knows of hosts and of a deployment's end: the words the deployers report in and the
// store keeps. Deployers produce these; the engine's rules (rollout-verdict.ts) read them.

/**
 * What the engine knows of one host. `running`: a step's intent is recorded and its end is not (yet).
 * `rolled_back`: deployed, then put back on the previous SHA by a fleet rollback (`on_failure: rollback_fleet`).
 */
export type HostState = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'unknown' | 'rolled_back';

/** How one host ended. `unknown`: the end of a command that may have acted was not observed (rule 4). */
export type HostOutcome = 'succeeded' | 'failed' | 'skipped' | 'unknown' | 'rolled_back';

export type HostPhase = 'connect' | 'revision' | 'deploy' | 'healthcheck' | 'rollback';

/** The steps that may change a host: each starts only once its intent is recorded (write-ahead). */
export type ActingPhase = Extract<HostPhase, 'deploy' | 'healthcheck' | 'rollback'>;

/**
 * The deployment's end as the deployer saw it. `error`: the outcome is unknown or the job invalid.
 * `cancelled`: `/cancel` stopped it (GitHub shows a failure; the description says after how many hosts).
 * `handed_over`: the runner stopped starting hosts to hand the deployment to another bot (SIGTERM or a
 * lost lease); it has no end yet, and whoever runs it next finishes it.
 */
export interface DeployResult {
  state: 'succeeded' | 'failed' | 'cancelled' | 'error' | 'handed_over';
  description: string;
  logUrl?: string;
}

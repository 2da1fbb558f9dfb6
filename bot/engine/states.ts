// The deployment state machine and how each state shows on GitHub.
//
//   received ─┬─► refused                        (duplicate, locked, invalid, gate not met)
//             └─► queued ─┬─► superseded          (queue: latest, a newer one came)
//                         ├─► cancelled           (/cancel before it started)
//                         └─► running ─┬─► succeeded | failed | error | cancelled

export type DeploymentState = 'received' | 'refused' | 'queued' | 'running' | 'succeeded' | 'failed' | 'error' | 'superseded' | 'cancelled';

export type GitHubDeploymentState = 'queued' | 'in_progress' | 'success' | 'failure' | 'error' | 'inactive';

const TRANSITIONS: Record<DeploymentState, DeploymentState[]> = {
  received: ['refused', 'queued'],
  queued: ['running', 'superseded', 'cancelled'],
  running: ['succeeded', 'failed', 'error', 'cancelled'],
  refused: [],
  succeeded: [],
  failed: [],
  error: [],
  superseded: [],
  cancelled: [],
};

/** The states a deployment may be in for a move to `to`: the store's conditional updates use exactly these. */
export function statesBefore(to: DeploymentState): DeploymentState[] {
  return (Object.keys(TRANSITIONS) as DeploymentState[]).filter((from) => TRANSITIONS[from].includes(to));
}

export function isFinal(state: DeploymentState): boolean {
  return TRANSITIONS[state].length === 0;
}

/** The states that make a same-key deployment a duplicate (rule 1): waiting, running, or done. */
export const BLOCKING_STATES: readonly DeploymentState[] = ['queued', 'running', 'succeeded'];

/**
 * GitHub status for a final state. `refused` is inactive for duplicates but error for invalid input,
 * so the caller passes the refusal's own status; everything else maps one to one.
 */
export function githubStateFor(state: Exclude<DeploymentState, 'received' | 'refused'>): GitHubDeploymentState {
  switch (state) {
    case 'queued':
      return 'queued';
    case 'running':
      return 'in_progress';
    case 'succeeded':
      return 'success';
    case 'failed':
    case 'cancelled':
      return 'failure';
    case 'error':
      return 'error';
    case 'superseded':
      return 'inactive';
  }
}

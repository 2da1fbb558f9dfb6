// How a gated workflow job's deploy ended, from what GitHub shows of it: its deployment's terminal status,
// or its run's end when no status came. An end that was not observed is not success (rule 4).

/** How a gated job's deploy ended, as its deployment's statuses (or their absence) tell. */
export interface GatedEnd {
  state: 'succeeded' | 'failed' | 'error' | 'cancelled';
  description: string;
}

export function gatedEndFromStatus(state: string, description: string, deploymentId: number): GatedEnd {
  const said = description ? `: ${description}` : '';
  switch (state) {
    case 'success':
      return { state: 'succeeded', description: `the workflow job deployed #${deploymentId}${said}` };
    case 'failure':
      return { state: 'failed', description: `the workflow job's deploy failed${said}` };
    case 'error':
      return { state: 'error', description: `the workflow job's deploy ended in error${said}` };
    default:
      return { state: 'error', description: `the job's deployment became ${state} before it reported an end; outcome unknown` };
  }
}

/** A run that ended while its deployment reported no end: unknown if approved, cancelled if still waiting. */
export function gatedEndFromRun(runId: number, conclusion: string | null): GatedEnd {
  return {
    state: 'error',
    description: `workflow run ${runId} ended (${conclusion ?? 'no conclusion'}) without reporting its deploy's end; outcome unknown`,
  };
}

// Pure rules of a rollout over hosts: when to stop starting hosts, and what the deployment's end is.
import type { DeployResult, HostOutcome } from './outcomes.ts';

export interface HostTally {
  name: string;
  outcome: HostOutcome | null; // null: never started
  message: string;
}

/**
 * Why the rollout stopped starting hosts. `halted`: this runner may no longer act (its lease is lost or
 * about to lapse, or the store cannot record intents); `handover`: the bot is stopping (SIGTERM).
 */
export type StopReason = 'cancelled' | 'deadline' | 'halted' | 'handover' | null;

/** Rules 4 and the max_failures setting: once any host is unknown or too many failed, start no more. */
export function mayStartAnotherHost(hosts: HostTally[], maxFailures: number): boolean {
  const failed = hosts.filter((h) => h.outcome === 'failed').length;
  const unknown = hosts.some((h) => h.outcome === 'unknown');
  return !unknown && failed <= maxFailures;
}

/** The deployment's end from its hosts' outcomes. Unknown beats failure beats success (rule 4). */
export function rolloutVerdict(hosts: HostTally[], stop: StopReason): DeployResult {
  const total = hosts.length;
  const done = hosts.filter((h) => h.outcome === 'succeeded' || h.outcome === 'skipped').length;
  const unknown = hosts.filter((h) => h.outcome === 'unknown');
  const failed = hosts.filter((h) => h.outcome === 'failed');
  // Hosts left unstarted by a runner that stops without the right to finish: whoever runs it next does.
  if ((stop === 'halted' || stop === 'handover') && hosts.some((h) => h.outcome === null)) {
    const why = stop === 'halted' ? 'this bot may no longer act' : 'this bot is stopping';
    return { state: 'handed_over', description: `${why}: ${done}/${total} hosts deployed, the rest handed over` };
  }
  if (unknown.length > 0) {
    return { state: 'error', description: `outcome unknown on ${names(unknown)}; not retried` };
  }
  if (failed.length > 0) {
    const first = failed[0]!;
    return { state: 'failed', description: `failed on ${names(failed)} (${first.message}); ${done}/${total} hosts deployed` };
  }
  if (stop === 'cancelled') return { state: 'failed', description: `cancelled after ${done}/${total} hosts` };
  if (done < total) {
    const why = stop === 'deadline' ? 'total timeout reached' : 'rollout stopped';
    return { state: 'failed', description: `${why} after ${done}/${total} hosts` };
  }
  const skipped = hosts.filter((h) => h.outcome === 'skipped').length;
  return { state: 'succeeded', description: `deployed to ${total}/${total} hosts${skipped ? ` (${skipped} already at this sha)` : ''}` };
}

function names(hosts: HostTally[]): string {
  const shown = hosts
    .slice(0, 3)
    .map((h) => h.name)
    .join(', ');
  return hosts.length > 3 ? `${shown} and ${hosts.length - 3} more` : shown;
}

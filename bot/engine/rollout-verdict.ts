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
export type StopReason = 'cancelled' | 'deadline' | 'halted' | 'handover' | 'gate' | null;

/** Rules 4 and the max_failures setting: once any host is unknown or too many failed, start no more. */
export function mayStartAnotherHost(hosts: HostTally[], maxFailures: number): boolean {
  const failed = hosts.filter((h) => h.outcome === 'failed').length;
  const unknown = hosts.some((h) => h.outcome === 'unknown');
  return !unknown && failed <= maxFailures;
}

/**
 * The deployment's end from its hosts' outcomes. Unknown beats a failed gate beats failed hosts beats
 * success (rule 4). `gateFailure`: what the gate said when it failed a wave (stop is then `gate`).
 */
export function rolloutVerdict(hosts: HostTally[], stop: StopReason, gateFailure?: string): DeployResult {
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
  if (stop === 'gate') return { state: 'failed', description: `${gateFailure ?? 'gate failed'}; ${done}/${total} hosts deployed` };
  if (failed.length > 0) {
    const first = failed[0]!;
    return { state: 'failed', description: `failed on ${names(failed)} (${first.message}); ${done}/${total} hosts deployed` };
  }
  if (stop === 'cancelled') return { state: 'cancelled', description: `cancelled after ${done}/${total} hosts` };
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

/**
 * `on_failure: rollback_fleet`: a rollout that failed (failed hosts, a gate, the total timeout) or ended in
 * doubt rolls back the hosts it changed. A `/cancel` only with `--rollback` (the person asked to stop, not
 * to undo), whatever `on_failure` says. Never a noop deploy (it changed nothing), never without a `rollback`
 * command, never a runner that hands over (the next one decides).
 */
export function shouldRollBackFleet(
  onFailure: 'stop' | 'rollback_fleet',
  verdict: DeployResult,
  stop: StopReason,
  options: { noop: boolean; cancelWithRollback: boolean; hasRollback: boolean },
): boolean {
  if (options.noop || !options.hasRollback) return false;
  if (verdict.state === 'succeeded' || verdict.state === 'handed_over') return false;
  if (stop === 'cancelled') return options.cancelWithRollback;
  return onFailure === 'rollback_fleet';
}

/** The hosts a fleet rollback puts back: those this deployment changed and that ended deployed, newest first. */
export function fleetRollbackTargets(hosts: HostTally[], finishedAt: ReadonlyMap<string, number>): string[] {
  return hosts
    .filter((h) => h.outcome === 'succeeded')
    .sort((a, b) => (finishedAt.get(b.name) ?? 0) - (finishedAt.get(a.name) ?? 0))
    .map((h) => h.name);
}

/**
 * The end of a deployment whose fleet was rolled back: `failure` (or `error` when a host's outcome is
 * unknown) saying how many hosts went back to which SHA, and exactly which did not and why.
 * `rolledBack`: the targets' ends; `unknown`: hosts in doubt, reported and never rolled back; `alreadyThere`:
 * targets `revision` showed at the previous SHA already (left alone).
 */
export function fleetRollbackVerdict(
  cause: DeployResult,
  previousSha: string,
  rolledBack: HostTally[],
  unknown: HostTally[],
  alreadyThere: ReadonlySet<string> = new Set(),
): DeployResult {
  const back = rolledBack.filter((h) => h.outcome === 'rolled_back' && !alreadyThere.has(h.name));
  const there = rolledBack.filter((h) => h.outcome === 'rolled_back' && alreadyThere.has(h.name));
  const notBack = rolledBack.filter((h) => h.outcome !== 'rolled_back');
  const parts = [
    `rolled back ${back.length} host${back.length === 1 ? '' : 's'} to ${previousSha.slice(0, 7)}${there.length ? ` (${there.length} already there)` : ''}`,
  ];
  if (notBack.length) {
    parts.push(`not rolled back: ${notBack.map((h) => `${h.name} (${h.message.replace(/^not rolled back: /, '')})`).join(', ')}`);
  }
  if (unknown.length) parts.push(`outcome unknown on ${names(unknown)}, not rolled back`);
  parts.push(cause.description);
  const inDoubt = unknown.length > 0 || notBack.some((h) => h.outcome === 'unknown');
  return { state: inDoubt ? 'error' : 'failed', description: parts.join('; ') };
}

// `/lock`, `/unlock` and `/cancel`: they change an environment's state in the store, which every
// replica and every deploy source (the Action's deploys too) sees.
import { statusFor } from '../engine/status-for.ts';
import type { Role } from '../engine/roles.ts';
import { reply, type Answer, type CommandScope } from './command-scope.ts';
import {
  alreadyLockedReply,
  cancelReply,
  lockedReply,
  notLockedReply,
  unlockedReply,
  unlockRefusedReply,
  type CancelView,
} from './replies.ts';

export async function runLock(scope: CommandScope, environment: string, reason: string): Promise<Answer> {
  const lock = await scope.store.lock(scope.repository, environment, scope.user, reason);
  if (lock.owner !== scope.user) return reply(alreadyLockedReply(environment, lock, scope.now), false);
  return reply(lockedReply(environment, lock, scope.now), true);
}

/** Only the lock's owner or an admin may lift it. */
export async function runUnlock(scope: CommandScope, environment: string, role: Role): Promise<Answer> {
  const current = await scope.store.environmentLock(scope.repository, environment);
  if (!current) return reply(notLockedReply(environment), false);
  if (current.owner !== scope.user && role !== 'admin')
    return reply(unlockRefusedReply(environment, current, scope.user, scope.now), false);
  // Conditional on the owner read above: a lock re-taken by someone else meanwhile stays.
  const lifted = await scope.store.unlock(scope.repository, environment, current.owner);
  if (!lifted) return runUnlock(scope, environment, role);
  return reply(unlockedReply(environment, lifted, scope.user, scope.now), true);
}

/**
 * A running deploy sees the request within a second and stops after the hosts in progress (it ends
 * `cancelled by @user after N/M hosts`); a queued one has touched no host and ends here. `rollback`
 * (`--rollback`): the running one then rolls back the hosts it changed (as `on_failure: rollback_fleet` does).
 */
export async function runCancel(scope: CommandScope, environment: string, rollback = false): Promise<Answer> {
  const requested = await scope.store.requestCancel(scope.repository, environment, scope.user, rollback);
  const views: CancelView[] = [];
  for (const record of requested) {
    let state: CancelView['state'] = record.state === 'queued' ? 'queued' : 'running';
    if (state === 'queued') {
      const status = statusFor(record, 'terminal', 'failure', `cancelled by @${scope.user} before it started`, scope.links);
      // False: it started meanwhile, and its runner will honour the request.
      if (!(await scope.store.cancelQueued(record.id, status))) state = 'running';
    }
    views.push({ id: record.id, sha: record.sha, state, requestedBy: record.requestedBy });
  }
  if (views.length) scope.statusQueued();
  return reply(cancelReply(environment, views, rollback), views.length > 0);
}

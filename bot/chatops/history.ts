// What an environment's past deploys say: which commit is live, and which one a rollback goes back to.
// Pure: given the environment's succeeded `deploy` records (noop runs never count as deploys).
import type { DeploymentRecord } from '../store/store.ts';

type Succeeded = Pick<DeploymentRecord, 'id' | 'sha' | 'requestedBy' | 'finishedAt' | 'receivedAt'>;

/** Newest finish first: the live commit is the one whose deploy ended last. */
function byFinish<T extends Succeeded>(records: T[]): T[] {
  const at = (r: Succeeded) => (r.finishedAt ?? r.receivedAt).getTime();
  return [...records].sort((a, b) => at(b) - at(a) || b.id - a.id);
}

export function liveDeploy<T extends Succeeded>(succeeded: T[]): T | null {
  return byFinish(succeeded)[0] ?? null;
}

/** The newest successful deploy of a commit other than the live one, or null when there is none. */
export function rollbackTarget<T extends Succeeded>(succeeded: T[]): { live: T | null; target: T | null } {
  const [live, ...earlier] = byFinish(succeeded);
  if (!live) return { live: null, target: null };
  return { live, target: earlier.find((record) => record.sha !== live.sha) ?? null };
}

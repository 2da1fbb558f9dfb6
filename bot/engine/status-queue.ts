// Which pending statuses to send, in which order (pure). GitHub asks for a second between writes, so
// statuses are coalesced: a newer progress description replaces an unsent older one of the same
// deployment; `queued`, phase `in_progress` and terminal statuses are never dropped; deployments with a
// terminal status go first, those nearest to it (fewest writes left) first of all, so that as many
// deployments as possible show their end soon; each deployment's own statuses stay in order.

export interface QueuedStatus {
  seq: number;
  deploymentId: number;
  kind: 'phase' | 'progress' | 'terminal';
}

export interface SendPlan<T extends QueuedStatus> {
  send: T[];
  /** Superseded progress updates: never sent, marked done. */
  drop: T[];
}

export function planStatusSends<T extends QueuedStatus>(pending: T[]): SendPlan<T> {
  const byDeployment = new Map<number, T[]>();
  for (const status of [...pending].sort((a, b) => a.seq - b.seq)) {
    const list = byDeployment.get(status.deploymentId) ?? [];
    list.push(status);
    byDeployment.set(status.deploymentId, list);
  }
  const drop: T[] = [];
  const finishing: T[][] = [];
  const ongoing: T[][] = [];
  for (const list of byDeployment.values()) {
    const kept = list.filter((status, index) => {
      if (status.kind !== 'progress') return true;
      // A progress update is worth sending only if nothing newer of this deployment is pending.
      const superseded = index < list.length - 1;
      if (superseded) drop.push(status);
      return !superseded;
    });
    (kept.some((s) => s.kind === 'terminal') ? finishing : ongoing).push(kept);
  }
  const bySeq = (a: T[], b: T[]) => a[0]!.seq - b[0]!.seq;
  const nearestEnd = (a: T[], b: T[]) => a.length - b.length || a.at(-1)!.seq - b.at(-1)!.seq;
  return { send: [...finishing.sort(nearestEnd), ...ongoing.sort(bySeq)].flat(), drop };
}

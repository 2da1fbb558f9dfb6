// What the environments page shows of one repository, gathered from the store: per environment, the
// commit live there and since when, the lock, the queue, and the last deployments, each with its log link.
import { liveDeploy } from '../chatops/history.ts';
import type { DeploymentRecord, Store } from '../store/store.ts';
import type { PageLinkBase } from './deployment-view.ts';
import { liveDescription } from './live-description.ts';

/** The last deployments shown per environment. */
const RECENT = 10;

export interface DeploymentSummary {
  id: number;
  sha: string;
  task: string;
  state: string;
  description: string;
  requestedBy: string;
  receivedAt: string;
  finishedAt: string | null;
  logUrl: string;
  commitUrl: string;
}

export interface EnvironmentsView {
  repository: string;
  /** True while any deployment of the repository waits or runs: the page keeps polling. */
  active: boolean;
  environments: Array<{
    environment: string;
    live: (DeploymentSummary & { since: string }) | null;
    lock: { owner: string; reason: string; lockedAt: string } | null;
    /** Running first, then waiting, oldest first. */
    queue: DeploymentSummary[];
    recent: DeploymentSummary[];
  }>;
}

export async function environmentsView(store: Store, repository: string, base: PageLinkBase): Promise<EnvironmentsView> {
  const repo = `${base.githubWebUrl}/${repository.split('/').map(encodeURIComponent).join('/')}`;
  const summary = (d: DeploymentRecord, hosts: Array<{ state: string }> = []): DeploymentSummary => ({
    id: d.id,
    sha: d.sha,
    task: d.task,
    state: d.state,
    description: liveDescription(d, hosts),
    requestedBy: d.requestedBy,
    receivedAt: d.receivedAt.toISOString(),
    finishedAt: d.finishedAt?.toISOString() ?? null,
    logUrl: base.links.url(d.id),
    commitUrl: `${repo}/commit/${encodeURIComponent(d.sha)}`,
  });
  const environments = await Promise.all(
    (await store.environments(repository)).map(async (environment) => {
      const [succeeded, lock, active, recent] = await Promise.all([
        store.deployments({ repository, environment, states: ['succeeded'], task: 'deploy', limit: 100 }),
        store.environmentLock(repository, environment),
        store.deployments({ repository, environment, states: ['running', 'queued'], limit: 20 }),
        store.deployments({ repository, environment, limit: RECENT }),
      ]);
      const live = liveDeploy(succeeded);
      // Only running deployments (one per environment) need their hosts: to say how far they got.
      const hostsOf = new Map(
        await Promise.all(active.filter((d) => d.state === 'running').map(async (d) => [d.id, await store.hosts(d.id)] as const)),
      );
      const withHosts = (d: DeploymentRecord) => summary(d, hostsOf.get(d.id));
      return {
        environment,
        live: live ? { ...summary(live), since: (live.finishedAt ?? live.receivedAt).toISOString() } : null,
        lock: lock ? { owner: lock.owner, reason: lock.reason, lockedAt: lock.lockedAt.toISOString() } : null,
        queue: active
          .reverse()
          .sort((a, b) => Number(b.state === 'running') - Number(a.state === 'running'))
          .map(withHosts),
        recent: recent.map(withHosts),
      };
    }),
  );
  return { repository, active: environments.some((e) => e.queue.length > 0), environments };
}

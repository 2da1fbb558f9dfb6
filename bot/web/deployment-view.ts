// What the log page shows of one deployment, gathered from the store.
import type { HostFailure } from '../../common/host-failures.ts';
import { hostFailures } from '../engine/host-failures.ts';
import { isFinal } from '../engine/states.ts';
import type { Store } from '../store/store.ts';

export interface DeploymentView {
  id: number;
  repository: string;
  environment: string;
  sha: string;
  ref: string;
  task: string;
  requestedBy: string;
  state: string;
  githubState: string | null;
  description: string;
  detail: string;
  final: boolean;
  duplicateOf: number | null;
  environmentUrl: string | null;
  receivedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  timeline: Array<{ at: string; message: string }>;
  hosts: Array<{ host: string; state: string; phase: string | null; message: string; output: string; durationMs: number | null }>;
  /** The failed and unknown hosts with their output's tail: what the Action shows when a deploy fails. */
  failures: HostFailure[];
}

export async function deploymentView(store: Store, id: number): Promise<DeploymentView | null> {
  const record = await store.deployment(id);
  if (!record) return null;
  const [events, hosts] = await Promise.all([store.events(id), store.hosts(id)]);
  const now = Date.now();
  return {
    id: record.id,
    repository: record.repository,
    environment: record.environment,
    sha: record.sha,
    ref: record.ref,
    task: record.task,
    requestedBy: record.requestedBy,
    state: record.state,
    githubState: record.githubState,
    description: record.description,
    detail: record.detail,
    final: isFinal(record.state),
    duplicateOf: record.duplicateOf,
    environmentUrl: record.environmentUrl,
    receivedAt: record.receivedAt.toISOString(),
    startedAt: record.startedAt?.toISOString() ?? null,
    finishedAt: record.finishedAt?.toISOString() ?? null,
    timeline: events.map((e) => ({ at: e.at.toISOString(), message: e.message })),
    hosts: hosts.map((h) => ({
      host: h.host,
      state: h.state,
      phase: h.phase,
      message: h.message,
      output: h.output,
      durationMs: h.startedAt ? (h.finishedAt?.getTime() ?? now) - h.startedAt.getTime() : null,
    })),
    failures: hostFailures(hosts),
  };
}

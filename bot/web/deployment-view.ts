// What the log page shows of one deployment, gathered from the store.
import type { HostFailure } from '../../common/host-failures.ts';
import { hostFailures } from '../engine/host-failures.ts';
import { splitStderr } from '../engine/host-output.ts';
import { isFinal } from '../engine/states.ts';
import type { LogLinks } from '../github/log-links.ts';
import type { Store } from '../store/store.ts';
import { hostSteps } from './host-steps.ts';
import { liveDescription } from './live-description.ts';

/** Where the pages link to: GitHub's web UI and the bot's own signed links. */
export interface PageLinkBase {
  githubWebUrl: string;
  links: LogLinks;
}

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
  /** `description`, or while hosts run and it still says `starting`, how many are done (live-description.ts). */
  summary: string;
  detail: string;
  final: boolean;
  duplicateOf: number | null;
  environmentUrl: string | null;
  receivedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  timeline: Array<{ at: string; message: string }>;
  /** `steps`: what the host did, in words (host-steps.ts). */
  hosts: Array<{
    host: string;
    state: string;
    phase: string | null;
    steps: string;
    message: string;
    output: string;
    /** Which lines of `output` (0-based) the host wrote to stderr. */
    stderrLines: number[];
    durationMs: number | null;
  }>;
  /** In GitHub's UI: the commit, the pull request a ChatOps deploy came from, the environment's deployments. */
  links: { commit: string; pullRequest: string | null; deployments: string; environments: string } | null;
  /** The failed and unknown hosts with their output's tail: what the Action shows when a deploy fails. */
  failures: HostFailure[];
}

export async function deploymentView(store: Store, id: number, base?: PageLinkBase): Promise<DeploymentView | null> {
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
    summary: liveDescription(record, hosts),
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
      steps: hostSteps(h, isFinal(record.state)),
      message: h.message,
      ...outputOf(h.output),
      durationMs: h.startedAt ? (h.finishedAt?.getTime() ?? now) - h.startedAt.getTime() : null,
    })),
    failures: hostFailures(hosts),
    links: base ? githubLinks(base, record.repository, record.environment, record.sha, record.payload) : null,
  };
}

function outputOf(stored: string): { output: string; stderrLines: number[] } {
  const { text, stderrLines } = splitStderr(stored);
  return { output: text, stderrLines };
}

function githubLinks(base: PageLinkBase, repository: string, environment: string, sha: string, payload: Record<string, unknown>) {
  const repo = `${base.githubWebUrl}/${repository.split('/').map(encodeURIComponent).join('/')}`;
  const chatops = payload.chatops as { issue_number?: unknown } | undefined;
  const issue = chatops?.issue_number;
  return {
    commit: `${repo}/commit/${encodeURIComponent(sha)}`,
    pullRequest: Number.isSafeInteger(issue) && (issue as number) > 0 ? `${repo}/pull/${issue as number}` : null,
    deployments: `${repo}/deployments/${encodeURIComponent(environment)}`,
    environments: base.links.environmentsUrl(repository),
  };
}

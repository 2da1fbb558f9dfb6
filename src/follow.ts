// Follows a deployment's statuses to a terminal one, printing each new status as it comes. Every wait is
// bounded: no status within pickup-timeout means no bot is listening; wait-timeout ends the wait (not
// the deploy). A refusal as a duplicate is handled as on-duplicate says.

import { isTerminalStatus, parseDuplicateDescription, type TerminalStatusState } from '../common/deploy-intent.ts';
import { formatDuration } from '../common/duration.ts';
import type { GitHubClient, RepositoryName } from './github-client.ts';
import { describeFailure, isUnknownOutcome, rateLimitDelayMs } from './github-errors.ts';
import type { OnDuplicate } from './inputs.ts';
import { nextPollDelay, type Timing } from './timing.ts';

export type FinalState = TerminalStatusState | 'timeout';

export interface FollowOptions {
  waitTimeoutMs: number;
  pickupTimeoutMs: number;
  onDuplicate: OnDuplicate;
  /** Where to watch a deploy whose statuses carry no log link. */
  deploymentsPageUrl: string;
}

export interface FollowResult {
  state: FinalState;
  description: string;
  logUrl: string;
  environmentUrl: string;
  /** The original deployment when this one was refused as a duplicate of it. */
  duplicateOf: number | undefined;
  /** The line the step fails with; undefined when the step succeeds. */
  failure: string | undefined;
}

export const NO_BOT_MESSAGE = 'no shipguard bot picked this deployment up: is the app installed on this repository?';

interface DeploymentStatus {
  id: number;
  state: string;
  description?: string | null;
  log_url?: string;
  target_url?: string;
  environment_url?: string;
}

type WatchResult =
  | { kind: 'terminal'; status: DeploymentStatus }
  | { kind: 'timeout'; latest: DeploymentStatus | undefined }
  | { kind: 'no-pickup'; lastPollProblem: string | undefined };

export async function followDeployment(
  github: GitHubClient,
  repository: RepositoryName,
  deploymentId: number,
  options: FollowOptions,
  timing: Timing,
  log: (line: string) => void,
): Promise<FollowResult> {
  const waitDeadline = timing.now() + options.waitTimeoutMs;
  const watched = await watchStatuses(github, repository, deploymentId, timing.now() + options.pickupTimeoutMs, waitDeadline, timing, log);

  if (watched.kind === 'no-pickup') {
    const abandonedAs = await abandonUnclaimedDeployment(github, repository, deploymentId, options.pickupTimeoutMs, log);
    // A bot's status may have landed between the last poll and our `error`. That bot reads the statuses
    // again before its first host, so it may run or not depending on whether it saw our `error`: it says
    // which with a status after ours. Follow it then, rather than tell a failure that may not be true.
    if (abandonedAs !== null && (await pickedUpBefore(github, repository, deploymentId, abandonedAs, log))) {
      log(`a bot picked #${deploymentId} up just as pickup-timeout ran out: following it to its end`);
      const after = await watchStatuses(github, repository, deploymentId, waitDeadline, waitDeadline, timing, log, abandonedAs);
      return after.kind === 'terminal' ? terminalResult(deploymentId, after.status) : timeoutResult(deploymentId, undefined, options);
    }
    const detail = `deployment #${deploymentId} has no status after ${formatDuration(options.pickupTimeoutMs)}`;
    return {
      ...emptyResult('error'),
      description: NO_BOT_MESSAGE,
      failure: `${NO_BOT_MESSAGE} (${detail}${watched.lastPollProblem ? `; last poll: ${watched.lastPollProblem}` : ''})`,
    };
  }
  if (watched.kind === 'timeout') return timeoutResult(deploymentId, watched.latest, options);

  const duplicate = watched.status.state === 'inactive' ? parseDuplicateDescription(watched.status.description) : null;
  if (!duplicate) return terminalResult(deploymentId, watched.status);

  const refusal = `deployment #${deploymentId} is a duplicate of #${duplicate.originalId} (${duplicate.state})`;
  if (options.onDuplicate === 'skip') {
    log(`${refusal}: on-duplicate is skip, nothing more to do`);
    return { ...resultFrom('inactive', watched.status), duplicateOf: duplicate.originalId, failure: undefined };
  }
  if (options.onDuplicate === 'fail') {
    return {
      ...resultFrom('inactive', watched.status),
      duplicateOf: duplicate.originalId,
      failure: `${refusal}; on-duplicate is fail (force: true deploys it again)`,
    };
  }

  log(`${refusal}: following #${duplicate.originalId} instead`);
  // The original was accepted before ours, so it has statuses already: the pickup deadline is the wait's.
  const original = await watchStatuses(github, repository, duplicate.originalId, waitDeadline, waitDeadline, timing, log);
  const originalResult =
    original.kind === 'terminal'
      ? terminalResult(duplicate.originalId, original.status)
      : timeoutResult(duplicate.originalId, original.kind === 'timeout' ? original.latest : undefined, options);
  return { ...originalResult, logUrl: originalResult.logUrl || linkOf(watched.status), duplicateOf: duplicate.originalId };
}

/**
 * Polls until a terminal status, the pickup deadline with no status at all, or the wait deadline.
 * Statuses up to `ignoreUpTo` (a status id) are history: only newer ones count.
 */
async function watchStatuses(
  github: GitHubClient,
  repository: RepositoryName,
  deploymentId: number,
  pickupDeadline: number,
  waitDeadline: number,
  timing: Timing,
  log: (line: string) => void,
  ignoreUpTo = 0,
): Promise<WatchResult> {
  const printed = new Set<number>();
  let shownLogUrl = '';
  let delayMs = timing.pollFirstMs;
  let latest: DeploymentStatus | undefined;
  let lastPollProblem: string | undefined;
  for (;;) {
    let pauseMs: number | undefined;
    try {
      const { data } = await github.rest.repos.listDeploymentStatuses({ ...repository, deployment_id: deploymentId, per_page: 100 });
      lastPollProblem = undefined;
      const statuses = (data as DeploymentStatus[]).filter((status) => status.id > ignoreUpTo); // newest first
      const unseen = statuses.filter((status) => !printed.has(status.id)).reverse();
      for (const status of unseen) {
        printed.add(status.id);
        log(`#${deploymentId} ${status.state}${status.description ? `: ${status.description}` : ''}`);
        const link = linkOf(status);
        if (link && link !== shownLogUrl) {
          log(`#${deploymentId} log: ${link}`);
          shownLogUrl = link;
        }
      }
      if (unseen.length > 0) delayMs = timing.pollFirstMs;
      latest = statuses[0] ?? latest;
      const terminal = terminalStatusOf(statuses);
      if (terminal) return { kind: 'terminal', status: terminal };
    } catch (error) {
      const failure = describeFailure(error);
      const rateLimitDelay = rateLimitDelayMs(failure, timing.now());
      if (rateLimitDelay === undefined && !isUnknownOutcome(failure)) {
        throw new Error(`cannot read the statuses of deployment #${deploymentId}: GitHub answered ${failure.status} (${failure.message})`);
      }
      lastPollProblem = `${failure.status ?? 'no answer'}: ${failure.message}`;
      log(`reading the statuses of #${deploymentId} failed (${lastPollProblem}); trying again`);
      pauseMs = rateLimitDelay;
    }

    const now = timing.now();
    if (latest === undefined && now >= pickupDeadline) return { kind: 'no-pickup', lastPollProblem };
    if (now >= waitDeadline) return { kind: 'timeout', latest };
    const deadline = latest === undefined ? Math.min(pickupDeadline, waitDeadline) : waitDeadline;
    await timing.sleep(Math.min(pauseMs ?? delayMs, deadline - now));
    delayMs = nextPollDelay(delayMs, timing);
  }
}

/**
 * The newest terminal status. An `inactive` that is no refusal may be GitHub retiring a deployment that
 * already ended (a newer one succeeded): then the ending before it is the outcome.
 */
function terminalStatusOf(statuses: DeploymentStatus[]): DeploymentStatus | undefined {
  const newest = statuses[0];
  if (!newest || !isTerminalStatus(newest.state)) return undefined;
  if (newest.state !== 'inactive' || parseDuplicateDescription(newest.description)) return newest;
  return statuses.find((status) => status.state === 'success' || status.state === 'failure' || status.state === 'error') ?? newest;
}

function terminalResult(deploymentId: number, status: DeploymentStatus): FollowResult {
  const state = status.state as TerminalStatusState;
  const failed = state === 'failure' || state === 'error';
  return {
    ...resultFrom(state, status),
    failure: failed ? `deployment #${deploymentId} ended ${state}${status.description ? `: ${status.description}` : ''}` : undefined,
  };
}

function timeoutResult(deploymentId: number, latest: DeploymentStatus | undefined, options: FollowOptions): FollowResult {
  const watchAt = (latest && linkOf(latest)) || options.deploymentsPageUrl;
  const now = latest ? `it is ${latest.state}${latest.description ? ` (${latest.description})` : ''}` : 'it has no status yet';
  return {
    ...(latest ? resultFrom('timeout', latest) : emptyResult('timeout')),
    failure: `stopped waiting for deployment #${deploymentId} after wait-timeout ${formatDuration(options.waitTimeoutMs)}: ${now}; the deploy goes on, watch it at ${watchAt}`,
  };
}

function resultFrom(state: FinalState, status: DeploymentStatus): FollowResult {
  return {
    state,
    description: status.description ?? '',
    logUrl: linkOf(status),
    environmentUrl: status.environment_url ?? '',
    duplicateOf: undefined,
    failure: undefined,
  };
}

function emptyResult(state: FinalState): FollowResult {
  return { state, description: '', logUrl: '', environmentUrl: '', duplicateOf: undefined, failure: undefined };
}

function linkOf(status: DeploymentStatus): string {
  return status.log_url || status.target_url || '';
}

/**
 * Nobody claimed the deployment: end it with `error` so that a bot installed or restarted later does not
 * run a deploy that its requester has already been told failed. Returns the status id, or null.
 */
async function abandonUnclaimedDeployment(
  github: GitHubClient,
  repository: RepositoryName,
  deploymentId: number,
  pickupTimeoutMs: number,
  log: (line: string) => void,
): Promise<number | null> {
  try {
    const { data } = await github.rest.repos.createDeploymentStatus({
      ...repository,
      deployment_id: deploymentId,
      state: 'error',
      description: `no shipguard bot picked this deployment up within ${formatDuration(pickupTimeoutMs)}; abandoned by the Action`,
    });
    return data.id;
  } catch (error) {
    log(
      `could not mark deployment #${deploymentId} as abandoned (a bot that picks it up later may still run it): ${describeFailure(error).message}`,
    );
    return null;
  }
}

/** Whether a bot's `queued` or `in_progress` precedes the Action's `error` (status ids grow with time). */
async function pickedUpBefore(
  github: GitHubClient,
  repository: RepositoryName,
  deploymentId: number,
  abandonedAs: number,
  log: (line: string) => void,
): Promise<boolean> {
  try {
    const { data } = await github.rest.repos.listDeploymentStatuses({ ...repository, deployment_id: deploymentId, per_page: 100 });
    return (data as DeploymentStatus[]).some((s) => s.id < abandonedAs && (s.state === 'queued' || s.state === 'in_progress'));
  } catch (error) {
    log(`could not read #${deploymentId} again after marking it abandoned: ${describeFailure(error).message}`);
    return false;
  }
}

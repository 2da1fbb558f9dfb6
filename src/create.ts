// Creates the GitHub Deployment, at most once per idempotency key. When the create call's outcome is
// unknown (no answer, timeout, 5xx), the deployment may exist all the same: the Action looks for the one
// carrying its key and adopts it, and creates another only when none is there.

import type { GitHubClient, RepositoryName } from './github-client.ts';
import { describeFailure, isUnknownOutcome, rateLimitDelayMs, type GitHubFailure } from './github-errors.ts';
import type { Timing } from './timing.ts';

export interface DeploymentRequest {
  environment: string;
  /** The full SHA: GitHub's `ref` field (it has no `sha` field). */
  sha: string;
  description: string | undefined;
  requiredContexts: string[] | undefined;
  productionEnvironment: boolean | undefined;
  transientEnvironment: boolean | undefined;
  /** The whole payload, the Action's own keys (force, requested_by, idempotency_key) included. */
  payload: Record<string, unknown> & { idempotency_key: string };
}

export interface CreatedDeployment {
  id: number;
  /** true when the create call's answer was lost and the deployment was found by its key. */
  adopted: boolean;
}

/** The deployment was not created (or cannot be known to be): the message is the step's failure line. */
export class CreateError extends Error {
  override name = 'CreateError';
}

/** Create calls in a row whose outcome stayed unknown before the Action gives up. */
const MAX_CREATE_ATTEMPTS = 3;
/** Rate-limited answers in a row before the Action gives up. */
const MAX_RATE_LIMITED_ANSWERS = 3;
/** A rate limit asking for a longer pause than this ends the step instead. */
const MAX_RATE_LIMIT_WAIT_MS = 10 * 60_000;
/** Attempts at listing deployments to find one whose create call had an unknown outcome. */
const MAX_LOOKUP_ATTEMPTS = 4;

export async function createDeployment(
  github: GitHubClient,
  repository: RepositoryName,
  request: DeploymentRequest,
  timing: Timing,
  log: (line: string) => void,
): Promise<CreatedDeployment> {
  let unknownOutcomes = 0;
  let rateLimited = 0;
  for (;;) {
    let failure: GitHubFailure;
    try {
      const response = await github.rest.repos.createDeployment({
        ...repository,
        ref: request.sha,
        task: 'deploy',
        environment: request.environment,
        // GitHub's default (true) merges the default branch into the ref and may answer 202 with no deployment.
        auto_merge: false,
        payload: request.payload,
        ...(request.description !== undefined && { description: request.description }),
        ...(request.requiredContexts !== undefined && { required_contexts: request.requiredContexts }),
        ...(request.productionEnvironment !== undefined && { production_environment: request.productionEnvironment }),
        ...(request.transientEnvironment !== undefined && { transient_environment: request.transientEnvironment }),
        request: { signal: AbortSignal.timeout(timing.createTimeoutMs) },
      });
      if (response.status === 201 && 'id' in response.data) return { id: response.data.id, adopted: false };
      const message = (response.data as { message?: unknown }).message;
      throw new CreateError(`GitHub answered ${response.status} (${String(message ?? 'no message')}) and created no deployment`);
    } catch (error) {
      if (error instanceof CreateError) throw error;
      failure = describeFailure(error);
    }

    if (failure.status === 409) throw new CreateError(checksNotPassingMessage(failure));

    const rateLimitDelay = rateLimitDelayMs(failure, timing.now());
    if (rateLimitDelay !== undefined) {
      // A rate-limited answer means GitHub did nothing: asking again after the pause is safe.
      rateLimited += 1;
      if (rateLimited > MAX_RATE_LIMITED_ANSWERS || rateLimitDelay > MAX_RATE_LIMIT_WAIT_MS) {
        throw new CreateError(`GitHub rate-limited the create call (${failure.status}: ${failure.message}); no deployment was created`);
      }
      log(`GitHub rate-limited the create call (${failure.status}); asking again in ${Math.ceil(rateLimitDelay / 1000)}s`);
      await timing.sleep(rateLimitDelay);
      continue;
    }

    if (!isUnknownOutcome(failure)) throw new CreateError(refusalMessage(failure, repository));

    unknownOutcomes += 1;
    log(
      `the create call's outcome is unknown (${failure.status ?? 'no answer'}: ${failure.message}); looking for the deployment it may have made`,
    );
    await timing.sleep(timing.settleMs);
    const existingId = await findDeploymentByKey(github, repository, request, timing, log);
    if (existingId !== undefined) {
      log(`found deployment #${existingId} carrying idempotency key ${request.payload.idempotency_key}: following it, creating nothing`);
      return { id: existingId, adopted: true };
    }
    if (unknownOutcomes >= MAX_CREATE_ATTEMPTS) {
      throw new CreateError(
        `could not create the deployment: ${unknownOutcomes} create calls had no clear answer (last: ${failure.message}), and none was made`,
      );
    }
    log('no deployment carries this key: the create call did nothing, creating it again');
  }
}

/** The id of the deployment for this SHA and environment whose payload carries our key, if any. */
async function findDeploymentByKey(
  github: GitHubClient,
  repository: RepositoryName,
  request: DeploymentRequest,
  timing: Timing,
  log: (line: string) => void,
): Promise<number | undefined> {
  let delayMs = timing.pollFirstMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const { data } = await github.rest.repos.listDeployments({
        ...repository,
        sha: request.sha,
        environment: request.environment,
        per_page: 100,
      });
      return data.find((deployment) => payloadKey(deployment.payload) === request.payload.idempotency_key)?.id;
    } catch (error) {
      const failure = describeFailure(error);
      if (attempt >= MAX_LOOKUP_ATTEMPTS || !(isUnknownOutcome(failure) || rateLimitDelayMs(failure, timing.now()) !== undefined)) {
        // Creating again without knowing could deploy twice: stop, and say so.
        throw new CreateError(
          `cannot tell whether the deployment was created: listing deployments failed (${failure.status ?? 'no answer'}: ${failure.message}); not creating another`,
        );
      }
      const pause = Math.min(rateLimitDelayMs(failure, timing.now()) ?? delayMs, MAX_RATE_LIMIT_WAIT_MS);
      log(`listing deployments failed (${failure.status ?? 'no answer'}: ${failure.message}); trying again in ${Math.ceil(pause / 1000)}s`);
      await timing.sleep(pause);
      delayMs = Math.min(delayMs * 2, timing.pollMaxMs);
    }
  }
}

/** GitHub returns the payload as an object, or as the string it was given. */
function payloadKey(payload: unknown): unknown {
  if (typeof payload === 'string') {
    try {
      return payloadKey(JSON.parse(payload));
    } catch {
      return undefined;
    }
  }
  return typeof payload === 'object' && payload !== null ? (payload as { idempotency_key?: unknown }).idempotency_key : undefined;
}

/** 409: required status checks are not green; GitHub lists each context and its state. */
function checksNotPassingMessage(failure: GitHubFailure): string {
  const errors = (failure.data as { errors?: unknown })?.errors;
  const contexts = Array.isArray(errors)
    ? errors.flatMap((entry) =>
        Array.isArray((entry as { contexts?: unknown })?.contexts) ? (entry as { contexts: unknown[] }).contexts : [],
      )
    : [];
  const notGreen = contexts
    .map((context) => context as { context?: unknown; state?: unknown })
    .filter((context) => typeof context.context === 'string' && context.state !== 'success')
    .map((context) => `${String(context.context)} (${String(context.state)})`);
  const detail = notGreen.length > 0 ? notGreen.join(', ') : failure.message;
  return `checks not passing: ${detail}; no deployment was created (set required-contexts to choose the checks, or none)`;
}

function refusalMessage(failure: GitHubFailure, repository: RepositoryName): string {
  const errors = (failure.data as { errors?: unknown })?.errors;
  const details = Array.isArray(errors)
    ? errors
        .map((entry) => (typeof entry === 'string' ? entry : (entry as { message?: unknown })?.message))
        .filter((text) => typeof text === 'string')
    : [];
  const reason = [failure.message, ...details].join(': ');
  const hint =
    failure.status === 403 || failure.status === 404
      ? `: the token needs access to ${repository.owner}/${repository.repo} with permissions deployments: write`
      : '';
  return `GitHub refused to create the deployment (${failure.status} ${reason})${hint}`;
}

// A ChatOps deploy becomes a GitHub Deployment created by the bot: it then comes back as a `deployment`
// webhook and goes through the same admission as the Action's (one path, one set of rules).
import { FORCE_FREEZE_KEY } from '../engine/freeze.ts';
import type { EnvironmentConfig } from '../engine/deploy-config.ts';
import { splitRepository, type GitHubClient } from '../github/github-access.ts';
import type { CheckState, DeployKind } from './replies.ts';

/** Where the deployment's reply lives; the payload carries it so any replica can edit that reply. */
export interface ChatOpsPayload {
  issue_number: number;
  comment_id: number;
  reply_id: number;
  command: DeployKind;
}

export interface ChatOpsDeploymentRequest {
  repository: string;
  /** Resolved once, when the command was read: never a branch name that could move meanwhile. */
  sha: string;
  environment: string;
  config: EnvironmentConfig;
  kind: DeployKind;
  force: boolean;
  /** An admin's `/deploy --force-freeze`. */
  forceFreeze?: boolean;
  requestedBy: string;
  /** For a rollback: the live SHA it replaces. */
  rollbackOf: string | null;
  chatops: ChatOpsPayload;
}

export type CreateOutcome =
  | { kind: 'created'; id: number }
  /** 409: required status checks are not green. */
  | { kind: 'checks'; checks: CheckState[] }
  /** GitHub refused it (nothing was created), or its answer was lost (unknown: not retried). */
  | { kind: 'failed'; message: string };

export async function createChatOpsDeployment(client: GitHubClient, request: ChatOpsDeploymentRequest): Promise<CreateOutcome> {
  const { owner, repo } = splitRepository(request.repository);
  const payload = {
    force: request.force,
    requested_by: request.requestedBy,
    ...(request.rollbackOf ? { rollback_of: request.rollbackOf } : {}),
    ...(request.forceFreeze ? { [FORCE_FREEZE_KEY]: true } : {}),
    chatops: request.chatops,
  };
  try {
    const { status, data } = await client.request('POST /repos/{owner}/{repo}/deployments', {
      owner,
      repo,
      ref: request.sha,
      environment: request.environment,
      task: request.kind === 'noop' ? 'deploy:noop' : 'deploy',
      auto_merge: false,
      ...(request.config.required_contexts ? { required_contexts: request.config.required_contexts } : {}),
      production_environment: request.config.production,
      transient_environment: request.config.transient,
      description: descriptionFor(request),
      payload,
      // A create whose answer was lost may have created a deployment: never sent twice (rule 3).
      request: { retries: 0 },
    });
    if (status !== 201 || !('id' in data))
      return { kind: 'failed', message: `GitHub created no deployment (${status}: ${'message' in data ? data.message : 'no message'})` };
    return { kind: 'created', id: Number(data.id) };
  } catch (error) {
    const failure = error as { status?: number; message?: string; response?: { data?: unknown } };
    if (failure.status === 409) return { kind: 'checks', checks: checksFrom(failure.response?.data) };
    if (failure.status !== undefined && failure.status >= 400 && failure.status < 500) {
      return { kind: 'failed', message: `GitHub refused the deployment (${failure.status}: ${firstLine(failure.message)})` };
    }
    return {
      kind: 'failed',
      message: `the request to create the deployment failed (${firstLine(failure.message)}); it may or may not have been created, so it is not retried: check the pull request's deployments before commenting again`,
    };
  }
}

function descriptionFor(request: ChatOpsDeploymentRequest): string {
  if (request.kind === 'rollback')
    return `rollback of ${request.environment} to ${request.sha.slice(0, 7)}${request.rollbackOf ? ` (from ${request.rollbackOf.slice(0, 7)})` : ''}, requested by @${request.requestedBy}`;
  return `${request.kind === 'noop' ? 'noop deploy' : 'deploy'} requested by @${request.requestedBy} from a pull request comment`;
}

/** GitHub's 409 names each required context and its state in `errors[0].contexts`. */
export function checksFrom(body: unknown): CheckState[] {
  const errors = (body as { errors?: unknown })?.errors;
  if (!Array.isArray(errors)) return [];
  const contexts = (errors[0] as { contexts?: unknown } | undefined)?.contexts;
  if (!Array.isArray(contexts)) return [];
  return contexts
    .filter((c): c is { context: string; state: string } => typeof c?.context === 'string' && typeof c?.state === 'string')
    .map((c) => ({ context: c.context, state: c.state }));
}

function firstLine(message: string | undefined): string {
  return (message ?? 'no message').split('\n')[0]!.slice(0, 200);
}

/** The `chatops` part of a stored deployment's payload, when the bot created it for a comment. */
export function chatopsPayloadFrom(payload: Record<string, unknown>): ChatOpsPayload | null {
  const part = payload.chatops as Partial<ChatOpsPayload> | undefined;
  if (typeof part !== 'object' || part === null) return null;
  const ids = [part.issue_number, part.comment_id, part.reply_id];
  if (!ids.every((id) => Number.isSafeInteger(id) && (id as number) > 0)) return null;
  const command = part.command === 'noop' || part.command === 'rollback' ? part.command : 'deploy';
  return { issue_number: part.issue_number!, comment_id: part.comment_id!, reply_id: part.reply_id!, command };
}

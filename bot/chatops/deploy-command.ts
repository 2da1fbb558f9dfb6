// `/deploy`, `/deploy noop` and `/rollback`: write the reply, then create the GitHub deployment that
// carries it. From there the deployment takes the same path as any other (admission: duplicates, locks,
// promotion order), and the follower edits the reply as it moves.
import type { EnvironmentConfig } from '../engine/deploy-config.ts';
import { editReply, postReply } from './comments.ts';
import { reply, type Answer, type CommandScope } from './command-scope.ts';
import { createChatOpsDeployment } from './create-deployment.ts';
import { rollbackTarget } from './history.ts';
import { checksReply, deployReply, failedReply, nothingToRollBackReply, type DeployKind } from './replies.ts';

export interface DeployCommand {
  kind: DeployKind;
  environment: string;
  config: EnvironmentConfig;
  force: boolean;
  /** `--force-freeze`, checked as an admin's already: deploy even inside a freeze window (recorded). */
  forceFreeze?: boolean;
  /** The pull request's head SHA, read once when the command was read. */
  headSha: string;
}

export async function runDeploy(scope: CommandScope, command: DeployCommand): Promise<Answer> {
  let sha = command.headSha;
  let rollbackOf: string | null = null;
  if (command.kind === 'rollback') {
    const succeeded = await scope.store.deployments({
      repository: scope.repository,
      environment: command.environment,
      states: ['succeeded'],
      task: 'deploy',
      limit: 100,
    });
    const { live, target } = rollbackTarget(succeeded);
    if (!live || !target) return reply(nothingToRollBackReply(command.environment, live?.sha ?? null), false);
    sha = target.sha;
    rollbackOf = live.sha;
  }
  const force = command.force || command.kind === 'rollback';
  const replyId = await postReply(
    scope.client,
    scope.repository,
    scope.issueNumber,
    deployReply({
      kind: command.kind,
      environment: command.environment,
      sha,
      requestedBy: scope.user,
      forced: force,
      rollbackOf,
      deploymentId: null,
      state: 'requested',
      refused: false,
      description: '',
      logUrl: null,
      hostsDone: 0,
      hostsTotal: 0,
      headMovedTo: null,
      failures: [],
    }),
  );
  const outcome = await createChatOpsDeployment(scope.client, {
    repository: scope.repository,
    sha,
    environment: command.environment,
    config: command.config,
    kind: command.kind,
    force,
    forceFreeze: command.forceFreeze ?? false,
    requestedBy: scope.user,
    rollbackOf,
    chatops: { issue_number: scope.issueNumber, comment_id: scope.commentId, reply_id: replyId, command: command.kind },
  });
  if (outcome.kind === 'created') return { kind: 'following' };
  const text = outcome.kind === 'checks' ? checksReply(command.environment, sha, outcome.checks) : failedReply(outcome.message);
  await editReply(scope.client, scope.repository, replyId, text);
  return { kind: 'replied', ok: false };
}

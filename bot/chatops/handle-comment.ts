// ChatOps' entry: an `issue_comment.created` webhook in, a reply on the pull request out. The webhook
// is answered at once (rule 7): everything from the 👀 reaction on runs in the background, and every
// error ends in a reply (or, when GitHub itself is unreachable, in the log), never in the webhook.
import type { Logger } from 'pino';
import type { Context } from 'probot';
import { DeployConfigError, type DeployConfig } from '../engine/deploy-config.ts';
import type { GitHubAccess, GitHubClient } from '../github/github-access.ts';
import type { LogLinks } from '../github/log-links.ts';
import type { StatusToPublish } from '../engine/status-for.ts';
import type { Store } from '../store/store.ts';
import { reaches } from '../engine/roles.ts';
import { commenterRole, isBot, pullRequestFacts, pullRequestProblem } from './authorise.ts';
import { postReply, react } from './comments.ts';
import { reply, type Answer, type CommandScope } from './command-scope.ts';
import { commentCommit, readHeadHistory } from './comment-commit.ts';
import { runDeploy } from './deploy-command.ts';
import { runCancel, runLock, runUnlock } from './environment-commands.ts';
import { DeployReplyFollower } from './follow-deploy-replies.ts';
import { parseCommand, type Command, type ParseResult } from './grammar.ts';
import {
  configErrorReply,
  failedReply,
  headMovedReply,
  invalidCommandReply,
  noEnvironmentReply,
  permissionReply,
  pullRequestReply,
  unknownEnvironmentReply,
} from './replies.ts';
import { runHelp, runStatus } from './status-command.ts';

export interface ChatOpsOptions {
  store: Store;
  access: GitHubAccess;
  links: LogLinks;
  log: Logger;
  /** deploy.yml from the repository's default branch. */
  loadConfig(installationId: number, repository: string): Promise<DeployConfig>;
  appLogin(): Promise<string>;
  /** A status was queued (a cancelled deployment): the publisher should look now. */
  statusQueued(): void;
}

/** The facts of one comment that a command needs, taken from the webhook. */
interface CommentRequest {
  installationId: number;
  repository: string;
  issueNumber: number;
  commentId: number;
  user: string;
  /** When the comment was made: the command acts on the head it saw then (comment-commit.ts). */
  createdAt: Date;
}

export class ChatOps {
  private readonly options: ChatOpsOptions;
  private readonly follower: DeployReplyFollower;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(options: ChatOpsOptions) {
    this.options = options;
    this.follower = new DeployReplyFollower(options);
  }

  /** The `issue_comment.created` handler: decides whether to listen, then answers in the background. */
  async onComment(context: Context<'issue_comment.created'>): Promise<void> {
    const { comment, issue, repository, installation } = context.payload;
    // Comments on plain issues, by bots (this app's own replies included) or not commands: not ours.
    if (!installation || !issue.pull_request || isBot(comment.user, null)) return;
    const parsed = parseCommand(comment.body ?? '');
    if (parsed.kind === 'none') return;
    // Expected bad input: one line saying why, no stack (the reply tells the commenter).
    if (parsed.kind === 'invalid')
      this.options.log.warn({ repository: repository.full_name, comment: comment.id, why: parsed.problem }, 'ChatOps: command refused');
    const request: CommentRequest = {
      installationId: installation.id,
      repository: repository.full_name,
      issueNumber: issue.number,
      commentId: comment.id,
      user: comment.user!.login,
      createdAt: new Date(comment.created_at),
    };
    const work = this.answer(request, parsed).catch((error) =>
      this.options.log.error({ err: error, comment: request.commentId }, 'ChatOps: could not answer a comment'),
    );
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  /** Every published deployment status: a ChatOps deployment's reply follows it. */
  statusPublished(status: StatusToPublish): void {
    this.follower.statusPublished(status);
  }

  /** Waits for the answers and reply edits in flight (before the store closes). */
  async stop(): Promise<void> {
    while (this.inFlight.size) await Promise.all(this.inFlight);
    await this.follower.idle();
  }

  private async answer(request: CommentRequest, parsed: Exclude<ParseResult, { kind: 'none' }>): Promise<void> {
    const { access, log } = this.options;
    // The app's own login, in case it comments as a user-type account: never answer itself.
    if (request.user === (await this.options.appLogin())) return;
    // One client for the whole answer: a command takes seconds, a token lasts an hour. (withFreshToken
    // would repeat the whole command after a 401, and a command's writes must not run twice.)
    const client = await access.installation(request.installationId);
    const eyes = react(client, request.repository, request.commentId, 'eyes').catch((error) =>
      log.warn({ err: error }, 'ChatOps: could not react 👀'),
    );
    let answer: Answer;
    try {
      answer =
        parsed.kind === 'invalid'
          ? reply(invalidCommandReply(parsed.problem, parsed.usage), false)
          : await this.run(client, request, parsed.command);
    } catch (error) {
      log.error({ err: error, comment: request.commentId }, 'ChatOps: a command failed');
      answer = reply(failedReply(`the command could not be completed (${(error as Error).message.split('\n')[0]})`), false);
    }
    await eyes;
    if (answer.kind === 'following') return;
    if (answer.kind === 'reply') await postReply(client, request.repository, request.issueNumber, answer.text);
    await react(client, request.repository, request.commentId, answer.ok ? 'rocket' : 'confused');
  }

  /** Config, environment, permission and pull request checks, then the command itself. */
  private async run(client: GitHubClient, request: CommentRequest, command: Command): Promise<Answer> {
    const { store, links } = this.options;
    const scope: CommandScope = { store, links, client, statusQueued: this.options.statusQueued, ...request, now: new Date() };
    let config: DeployConfig;
    try {
      config = await this.options.loadConfig(request.installationId, request.repository);
    } catch (error) {
      if (error instanceof DeployConfigError) return reply(configErrorReply(error.summary), false);
      throw error;
    }
    const defined = Object.keys(config.environments);
    const role = () => commenterRole(client, request.repository, request.user);

    if (command.name === 'help') return runHelp(scope, config, await role());
    if (command.name === 'status') {
      if (command.environment !== null && !Object.hasOwn(config.environments, command.environment))
        return reply(unknownEnvironmentReply(command.environment, defined), false);
      return runStatus(scope, command.environment === null ? defined : [command.environment], config);
    }

    const environment =
      command.name === 'deploy'
        ? (command.environment ?? config.default_environment ?? (defined.length === 1 ? defined[0]! : null))
        : command.environment;
    if (environment === null) return reply(noEnvironmentReply(defined), false);
    const envConfig = Object.hasOwn(config.environments, environment) ? config.environments[environment] : undefined;
    if (!envConfig) return reply(unknownEnvironmentReply(environment, defined), false);

    const commenter = await role();
    // Unlocking is the lock owner's or an admin's, whatever the environment's permission.
    if (command.name !== 'unlock' && !reaches(commenter, envConfig.permission)) {
      return reply(permissionReply(request.user, commenter, envConfig.permission, actionText(command, environment)), false);
    }
    // Deploying into a freeze window is an admin's decision, whatever the environment's permission.
    if (command.name === 'deploy' && command.forceFreeze && !reaches(commenter, 'admin')) {
      return reply(
        permissionReply(request.user, commenter, 'admin', `--force-freeze (deploying to ${environment} in a freeze window)`),
        false,
      );
    }
    const pull = await pullRequestFacts(client, request.repository, request.issueNumber);
    const problem = pullRequestProblem(pull);
    if (problem) return reply(pullRequestReply(problem), false);

    if (command.name === 'deploy' || command.name === 'rollback') {
      const pinned = commentCommit(
        request.createdAt,
        await readHeadHistory(client, request.repository, { ref: pull.headRef, sha: pull.headSha }, this.options.log),
      );
      if (pinned.kind === 'moved') return reply(headMovedReply(pinned.sha, pinned.at, pinned.signal, request.createdAt), false);
    }

    switch (command.name) {
      case 'deploy':
        return runDeploy(scope, {
          kind: command.noop ? 'noop' : 'deploy',
          environment,
          config: envConfig,
          force: command.force,
          forceFreeze: command.forceFreeze,
          headSha: pull.headSha,
        });
      case 'rollback':
        return runDeploy(scope, { kind: 'rollback', environment, config: envConfig, force: true, headSha: pull.headSha });
      case 'lock':
        return runLock(scope, environment, command.reason);
      case 'unlock':
        return runUnlock(scope, environment, commenter);
      case 'cancel':
        return runCancel(scope, environment, command.rollback);
    }
  }
}

function actionText(command: Command, environment: string): string {
  const verb: Record<string, string> = {
    deploy: 'deploying to',
    rollback: 'rolling back',
    lock: 'locking',
    cancel: 'cancelling deploys on',
  };
  return `${verb[command.name] ?? command.name} ${environment}`;
}

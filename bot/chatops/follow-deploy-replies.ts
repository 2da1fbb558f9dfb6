// Keeps a ChatOps deploy's reply current: each status published for a deployment the bot created for a
// comment edits that reply (state, hosts done, log link, result); the terminal one also reacts 🚀 or 😕
// on the command. Edits of one deployment go out in order, one at a time, and only the newest waiting
// one is sent (a reply shows the present, not the history).
import type { Logger } from 'pino';
import { hostFailures } from '../engine/host-failures.ts';
import { isTerminalStatus } from '../../common/deploy-intent.ts';
import { withFreshToken, type GitHubAccess, type GitHubClient } from '../github/github-access.ts';
import type { StatusToPublish } from '../engine/status-for.ts';
import type { Store } from '../store/store.ts';
import { pullRequestFacts } from './authorise.ts';
import { editReply, react } from './comments.ts';
import { chatopsPayloadFrom, type ChatOpsPayload } from './create-deployment.ts';
import { deployReply, type DeployView } from './replies.ts';

export interface DeployReplyFollowerOptions {
  store: Store;
  access: GitHubAccess;
  log: Logger;
}

export class DeployReplyFollower {
  private readonly options: DeployReplyFollowerOptions;
  private readonly waiting = new Map<number, StatusToPublish>();
  private readonly sending = new Map<number, Promise<void>>();

  constructor(options: DeployReplyFollowerOptions) {
    this.options = options;
  }

  /** Called for every published status (from the publisher's loop: returns at once). */
  statusPublished(status: StatusToPublish): void {
    this.waiting.set(status.deploymentId, status);
    if (this.sending.has(status.deploymentId)) return;
    const id = status.deploymentId;
    this.sending.set(
      id,
      this.sendWaiting(id).finally(() => this.sending.delete(id)),
    );
  }

  /** Resolves when no edit is waiting or in flight. */
  async idle(): Promise<void> {
    while (this.sending.size) await Promise.all(this.sending.values());
  }

  private async sendWaiting(id: number): Promise<void> {
    for (let status = this.waiting.get(id); status; status = this.waiting.get(id)) {
      this.waiting.delete(id);
      await this.show(status).catch((error) => this.options.log.warn({ err: error, deployment: id }, 'could not update the ChatOps reply'));
    }
  }

  private async show(status: StatusToPublish): Promise<void> {
    const { store, access } = this.options;
    const record = await store.deployment(status.deploymentId);
    const chatops = record ? chatopsPayloadFrom(record.payload) : null;
    if (!record || !chatops) return;
    const hosts = await store.hosts(record.id);
    const end = isTerminalStatus(status.state);
    await withFreshToken(access, record.installationId, async (client) => {
      const headMovedTo =
        end && chatops.command !== 'rollback' && record.state !== 'refused'
          ? await this.headIfMoved(client, record.repository, chatops, record.sha)
          : null;
      const view: DeployView = {
        kind: chatops.command,
        environment: record.environment,
        sha: record.sha,
        requestedBy: record.requestedBy,
        forced: record.forced,
        rollbackOf: typeof record.payload.rollback_of === 'string' ? record.payload.rollback_of : null,
        deploymentId: record.id,
        state: status.state,
        refused: record.state === 'refused',
        description: status.description,
        logUrl: status.logUrl,
        hostsDone: hosts.filter((h) => h.state === 'succeeded' || h.state === 'skipped').length,
        hostsTotal: hosts.length,
        headMovedTo,
        failures: end ? hostFailures(hosts) : [],
      };
      await editReply(client, record.repository, chatops.reply_id, deployReply(view));
      if (end) await react(client, record.repository, chatops.comment_id, status.state === 'success' ? 'rocket' : 'confused');
    });
  }

  /** The pull request's head now, when it is not the SHA deployed (someone pushed after the command). */
  private async headIfMoved(
    client: GitHubClient,
    repository: string,
    chatops: ChatOpsPayload,
    deployedSha: string,
  ): Promise<string | null> {
    try {
      const { headSha } = await pullRequestFacts(client, repository, chatops.issue_number);
      return headSha === deployedSha ? null : headSha;
    } catch (error) {
      this.options.log.warn({ err: error }, 'could not read the pull request head; the reply will not say whether it moved');
      return null;
    }
  }
}

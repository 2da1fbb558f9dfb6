// `/status [env]` and `/help`: read-only answers from the store and deploy.yml.
import { rolloutHosts, type DeployConfig } from '../engine/deploy-config.ts';
import { hostVersions, inventoryText } from '../engine/host-inventory.ts';
import { reaches, type Role } from '../engine/roles.ts';
import { reply, type Answer, type CommandScope } from './command-scope.ts';
import { liveDeploy } from './history.ts';
import { helpReply, statusReply, type EnvironmentStatusView } from './replies.ts';

/** Deployments read back to tell which SHA each host runs (newest first): bounded, like every read. */
const INVENTORY_HISTORY = 20;

export async function runStatus(scope: CommandScope, environments: string[], config?: DeployConfig): Promise<Answer> {
  const views: EnvironmentStatusView[] = [];
  for (const environment of environments) {
    const { store, repository } = scope;
    const envConfig = config && Object.hasOwn(config.environments, environment) ? config.environments[environment] : undefined;
    const hostNames = envConfig ? rolloutHosts(envConfig) : [];
    let hosts: string | null = null;
    if (hostNames.length > 0) {
      const recent = await store.deployments({ repository, environment, task: 'deploy', limit: INVENTORY_HISTORY });
      const touched = recent.filter((d) => ['running', 'succeeded', 'failed', 'error', 'cancelled'].includes(d.state));
      const history = await Promise.all(
        touched.map(async (d) => ({ id: d.id, sha: d.sha, previousSha: d.previousSha, hosts: await store.hosts(d.id) })),
      );
      hosts = inventoryText(hostVersions(hostNames, history));
    }
    const succeeded = await store.deployments({ repository, environment, states: ['succeeded'], task: 'deploy', limit: 100 });
    const live = liveDeploy(succeeded);
    const active = (await store.deployments({ repository, environment, states: ['running', 'queued'], limit: 20 })).reverse();
    views.push({
      environment,
      live: live ? { sha: live.sha, id: live.id, requestedBy: live.requestedBy, finishedAt: live.finishedAt ?? live.receivedAt } : null,
      lock: await store.environmentLock(repository, environment),
      hosts,
      active: active.map((d) => ({
        id: d.id,
        sha: d.sha,
        state: d.state === 'running' ? 'running' : 'queued',
        requestedBy: d.requestedBy,
        task: d.task,
        description: d.description,
      })),
    });
  }
  return reply(statusReply(views, scope.now, scope.links.environmentsUrl(scope.repository)), true);
}

export function runHelp(scope: CommandScope, config: DeployConfig, role: Role): Answer {
  const environments = Object.entries(config.environments).map(([environment, env]) => ({
    environment,
    permission: env.permission,
    isDefault: environment === config.default_environment,
  }));
  return reply(
    helpReply(scope.user, role, environments, (needed) => reaches(role, needed)),
    true,
  );
}

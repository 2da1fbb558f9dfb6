// The GitHub status that reports a deployment's state change, with its signed log link.
import type { GitHubDeploymentState } from '../engine/states.ts';
import { fitDescription } from '../engine/descriptions.ts';
import type { LogLinks } from '../github/log-links.ts';
import type { DeploymentRecord, StatusToPublish } from '../store/store.ts';

export function statusFor(
  record: Pick<DeploymentRecord, 'id' | 'installationId' | 'repository' | 'environmentUrl'> & { payload?: Record<string, unknown> },
  kind: StatusToPublish['kind'],
  state: GitHubDeploymentState,
  description: string,
  links: LogLinks,
  logUrl?: string,
): StatusToPublish {
  return {
    deploymentId: record.id,
    installationId: record.installationId,
    repository: record.repository,
    kind,
    state,
    description: fitDescription(isRollback(record.payload) ? `rollback: ${description}` : description),
    logUrl: logUrl ?? links.url(record.id),
    environmentUrl: record.environmentUrl,
  };
}

/** `/rollback` deployments carry the SHA they replace; their statuses say they are rollbacks. */
function isRollback(payload: Record<string, unknown> | undefined): boolean {
  return typeof payload?.rollback_of === 'string';
}

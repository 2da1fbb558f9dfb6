// The GitHub status that reports a deployment's state change, with its signed log link.
import { fitDescription } from './descriptions.ts';
import type { GitHubDeploymentState } from './states.ts';

/** A deployment status waiting in the outbox to be written to GitHub. */
export interface StatusToPublish {
  deploymentId: number;
  installationId: number;
  repository: string;
  kind: 'phase' | 'progress' | 'terminal';
  state: GitHubDeploymentState;
  description: string;
  logUrl: string | null;
  environmentUrl: string | null;
}

/** Signs the link to a deployment's log page (github/log-links.ts). */
export interface LogLinkSigner {
  url(deploymentId: number): string;
}

export interface StatusSubject {
  id: number;
  installationId: number;
  repository: string;
  environmentUrl: string | null;
  payload?: Record<string, unknown>;
}

export function statusFor(
  record: StatusSubject,
  kind: StatusToPublish['kind'],
  state: GitHubDeploymentState,
  description: string,
  links: LogLinkSigner,
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

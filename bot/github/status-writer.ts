// The StatusWriter on GitHub's REST API: `POST /repos/{owner}/{repo}/deployments/{id}/statuses`.
import type { PendingStatus } from '../store/store.ts';
import { splitRepository, withFreshToken, type GitHubAccess } from './github-access.ts';
import type { StatusWriter } from './statuses.ts';

const WRITE_TIMEOUT_MS = 15_000;

export function githubStatusWriter(access: GitHubAccess): StatusWriter {
  return {
    async write(status: PendingStatus) {
      await withFreshToken(access, status.installationId, (client) =>
        client.request('POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', {
          ...splitRepository(status.repository),
          deployment_id: status.deploymentId,
          state: status.state,
          description: status.description,
          ...(status.logUrl ? { log_url: status.logUrl } : {}),
          ...(status.environmentUrl ? { environment_url: status.environmentUrl } : {}),
          // Older successful deployments of the environment become inactive: one live deployment.
          ...(status.state === 'success' ? { auto_inactive: true } : {}),
          // Bounded (rule 5): a write that hangs is abandoned and retried, well inside the queue's hold.
          request: { signal: AbortSignal.timeout(WRITE_TIMEOUT_MS) },
        }),
      );
    },
  };
}

// The StatusWriter on GitHub's REST API: `POST /repos/{owner}/{repo}/deployments/{id}/statuses`, and the
// check that comes before sending a status again whose earlier attempt's answer was lost.
import { isTerminalStatus } from '../../common/deploy-intent.ts';
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
          // Not retried by Octokit's retry plugin: an attempt whose answer was lost may have landed, and the
          // publisher checks GitHub before it sends again.
          request: { signal: AbortSignal.timeout(WRITE_TIMEOUT_MS), retries: 0 },
        }),
      );
    },
    async alreadyWritten(status: PendingStatus) {
      const { data } = await withFreshToken(access, status.installationId, (client) =>
        client.request('GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', {
          ...splitRepository(status.repository),
          deployment_id: status.deploymentId,
          per_page: 10,
        }),
      );
      // One terminal status per deployment: once GitHub holds one, no other is sent. Otherwise the
      // attempt landed if the newest status is this one.
      if (status.kind === 'terminal') return data.some((s) => isTerminalStatus(s.state));
      const newest = data[0];
      return newest !== undefined && newest.state === status.state && newest.description === status.description;
    },
  };
}

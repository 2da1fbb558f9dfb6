// The latest status GitHub holds for a deployment: a deployment that already ended there (the Action
// gave up waiting for a bot and marked it `error`) must not be run when its webhook finally arrives.
import { splitRepository, withFreshToken, type GitHubAccess } from './github-access.ts';

export async function latestDeploymentStatus(
  access: GitHubAccess,
  installationId: number,
  repository: string,
  deploymentId: number,
): Promise<string | null> {
  return withFreshToken(access, installationId, async (client) => {
    const { data } = await client.request('GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', {
      ...splitRepository(repository),
      deployment_id: deploymentId,
      per_page: 1,
    });
    return data[0]?.state ?? null;
  });
}

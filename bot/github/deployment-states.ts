// The states GitHub holds for a deployment, newest first: a deployment that already ended there (the
// Action gave up waiting for a bot and marked it `error`) must not be run (bot/engine/pickup.ts).
import { splitRepository, withFreshToken, type GitHubAccess } from './github-access.ts';

export async function deploymentStatesOnGitHub(
  access: GitHubAccess,
  installationId: number,
  repository: string,
  deploymentId: number,
): Promise<string[]> {
  return withFreshToken(access, installationId, async (client) => {
    const { data } = await client.request('GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', {
      ...splitRepository(repository),
      deployment_id: deploymentId,
      per_page: 100,
    });
    return data.map((status) => status.state);
  });
}

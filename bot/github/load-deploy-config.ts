// Reads `.github/deploy.yml` from the repository's default branch, never from the deployed ref: a pull
// request must not be able to change what runs on the VMs or where.
import { DEPLOY_CONFIG_PATH, DeployConfigError, type DeployConfig } from '../engine/deploy-config.ts';
import { yamlSizeProblem } from '../engine/yaml-bounds.ts';
import { parseDeployConfigOffThread } from './parse-deploy-config-off-thread.ts';
import { splitRepository, withFreshToken, type GitHubAccess } from './github-access.ts';

export async function loadDeployConfig(access: GitHubAccess, installationId: number, repository: string): Promise<DeployConfig> {
  const { owner, repo } = splitRepository(repository);
  return withFreshToken(access, installationId, async (client) => {
    const { data: repoInfo } = await client.request('GET /repos/{owner}/{repo}', { owner, repo });
    let text: string;
    try {
      const { data } = await client.request('GET /repos/{owner}/{repo}/contents/{path}', {
        owner,
        repo,
        path: DEPLOY_CONFIG_PATH,
        ref: repoInfo.default_branch,
      });
      if (Array.isArray(data) || data.type !== 'file' || !('content' in data)) {
        throw new DeployConfigError(
          `${DEPLOY_CONFIG_PATH} is not a file`,
          `${DEPLOY_CONFIG_PATH} on ${repoInfo.default_branch} is not a file`,
        );
      }
      // Refused before it is even decoded (parseDeployConfig bounds the text again, for every caller).
      const tooBig = yamlSizeProblem(data.size);
      if (tooBig) {
        const problem = `${DEPLOY_CONFIG_PATH}: (top level): ${tooBig.message}; refused before parsing`;
        throw new DeployConfigError(problem, problem);
      }
      text = Buffer.from(data.content, 'base64').toString('utf8');
    } catch (error) {
      if ((error as { status?: number }).status === 404) {
        throw new DeployConfigError(
          `no ${DEPLOY_CONFIG_PATH} on the default branch (${repoInfo.default_branch})`,
          `no ${DEPLOY_CONFIG_PATH} on the default branch (${repoInfo.default_branch}): add one to deploy with shipguard`,
        );
      }
      throw error;
    }
    return parseDeployConfigOffThread(text);
  });
}

// Reads `.github/deploy.yml` from the repository's default branch, never from the deployed ref: a pull
// request must not be able to change what runs on the VMs or where. One API call: the contents API reads
// the default branch when no ref is given. A file already parsed (same blob SHA) is not parsed again.
import { DEPLOY_CONFIG_PATH, DeployConfigError, type DeployConfig } from '../engine/deploy-config.ts';
import { yamlSizeProblem } from '../engine/yaml-bounds.ts';
import { parseDeployConfigOffThread } from './parse-deploy-config-off-thread.ts';
import { splitRepository, withFreshToken, type GitHubAccess } from './github-access.ts';

export async function loadDeployConfig(access: GitHubAccess, installationId: number, repository: string): Promise<DeployConfig> {
  const { owner, repo } = splitRepository(repository);
  return withFreshToken(access, installationId, async (client) => {
    let text: string;
    let blob: string;
    try {
      // No ref: the default branch, whatever it is called.
      const { data } = await client.request('GET /repos/{owner}/{repo}/contents/{path}', { owner, repo, path: DEPLOY_CONFIG_PATH });
      if (Array.isArray(data) || data.type !== 'file' || !('content' in data)) {
        throw new DeployConfigError(`${DEPLOY_CONFIG_PATH} is not a file`, `${DEPLOY_CONFIG_PATH} on the default branch is not a file`);
      }
      blob = data.sha;
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
          `no ${DEPLOY_CONFIG_PATH} on the default branch`,
          `no ${DEPLOY_CONFIG_PATH} on the default branch: add one to deploy with shipguard`,
        );
      }
      throw error;
    }
    const known = parsed.get(blob);
    if (known) return known;
    const config = await parseDeployConfigOffThread(text);
    if (parsed.size >= PARSED_KEPT) parsed.delete(parsed.keys().next().value!);
    parsed.set(blob, config);
    return config;
  });
}

/** Parsed configs by blob SHA (a file's content, whichever repository holds it); the oldest goes first. */
const parsed = new Map<string, DeployConfig>();
const PARSED_KEPT = 200;

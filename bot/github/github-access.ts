// How the bot's parts reach GitHub: an installation's client, the app's own client, and a way to
// replace an installation token GitHub no longer accepts (tokens last an hour; a deploy may last two).
import type { Probot, ProbotOctokit } from 'probot';

export type GitHubClient = InstanceType<typeof ProbotOctokit>;

export interface GitHubAccess {
  installation(installationId: number): Promise<GitHubClient>;
  app(): Promise<GitHubClient>;
  /** Gets a fresh installation token into the cache, after a 401 on the old one. */
  refreshInstallationToken(installationId: number): Promise<void>;
}

export function probotAccess(probot: Probot): GitHubAccess {
  return {
    installation: (installationId) => probot.auth(installationId),
    app: () => probot.auth(),
    async refreshInstallationToken(installationId) {
      const app = await probot.auth();
      await app.auth({ type: 'installation', installationId, refresh: true });
    },
  };
}

/** Runs a GitHub call; on 401 (expired or revoked token) gets a new token and tries once more. */
export async function withFreshToken<T>(access: GitHubAccess, installationId: number, call: (client: GitHubClient) => Promise<T>): Promise<T> {
  try {
    return await call(await access.installation(installationId));
  } catch (error) {
    if ((error as { status?: number }).status !== 401) throw error;
    await access.refreshInstallationToken(installationId);
    return call(await access.installation(installationId));
  }
}

export function splitRepository(fullName: string): { owner: string; repo: string } {
  const [owner, repo] = fullName.split('/');
  return { owner: owner!, repo: repo! };
}

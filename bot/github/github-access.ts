// How the bot's parts reach GitHub: an installation's client, the app's own client, and a way to
// replace an installation token GitHub no longer accepts (tokens last an hour; a deploy may last two).
import { ProbotOctokit, type Probot } from 'probot';
import { BoundedOctokit } from './bounded-fetch.ts';
import { WriteLimiter } from './write-limiter.ts';

export type GitHubClient = InstanceType<typeof ProbotOctokit>;

export interface GitHubAccess {
  installation(installationId: number): Promise<GitHubClient>;
  app(): Promise<GitHubClient>;
  /** Mints a new installation token, after GitHub refused the one in use (401). */
  refreshInstallationToken(installationId: number): Promise<void>;
}

/** A minted token is used until shortly before it expires (a minute, or a tenth of its life). */
const TOKEN_MARGIN_MS = 60_000;

export function probotAccess(probot: Probot, limiter = new WriteLimiter()): GitHubAccess {
  // Probot caches installation tokens for 59 minutes whatever their expiry; after a 401 the bot mints
  // its own through the app's client and uses it until it nears its expiry.
  const minted = new Map<number, { client: GitHubClient; usableUntil: number }>();
  return {
    async installation(installationId) {
      const fresh = minted.get(installationId);
      if (fresh && fresh.usableUntil > Date.now()) return fresh.client;
      minted.delete(installationId);
      return limiter.limit(await probot.auth(installationId), installationId);
    },
    app: () => probot.auth(),
    async refreshInstallationToken(installationId) {
      const app = await probot.auth();
      const { data } = await app.request('POST /app/installations/{installation_id}/access_tokens', { installation_id: installationId });
      const client = new BoundedOctokit({
        auth: { token: data.token },
        baseUrl: app.request.endpoint.DEFAULTS.baseUrl,
        log: probot.log ?? undefined,
      });
      const expiresAt = Date.parse(data.expires_at);
      minted.set(installationId, {
        client: limiter.limit(client, installationId),
        usableUntil: expiresAt - Math.min(TOKEN_MARGIN_MS, (expiresAt - Date.now()) / 10),
      });
    },
  };
}

/** Runs a GitHub call; on 401 (expired or revoked token) gets a new token and tries once more. */
export async function withFreshToken<T>(
  access: GitHubAccess,
  installationId: number,
  call: (client: GitHubClient) => Promise<T>,
): Promise<T> {
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

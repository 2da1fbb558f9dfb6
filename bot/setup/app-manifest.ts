// The GitHub App manifest flow's addresses and manifest: app.yml (the permissions and events shipguard
// needs) plus where this bot will be reached, sent to github.com or a GitHub Enterprise Server (GHE_HOST).
import { parse } from 'yaml';

export interface ManifestTarget {
  /** `https://github.com` or `<GHE_PROTOCOL>://<GHE_HOST>`. */
  web: string;
  /** The REST API base: `https://api.github.com` or `<web>/api/v3`. */
  api: string;
  /** GitHub's "register a new GitHub App" page, for a user or for the organisation GH_ORG. */
  newAppPage: string;
}

export function manifestTarget(env: NodeJS.ProcessEnv): ManifestTarget {
  const web = env.GHE_HOST ? `${env.GHE_PROTOCOL || 'https'}://${env.GHE_HOST}` : 'https://github.com';
  const api = env.GHE_HOST ? `${web}/api/v3` : 'https://api.github.com';
  const owner = env.GH_ORG ? `/organizations/${encodeURIComponent(env.GH_ORG)}` : '';
  return { web, api, newAppPage: `${web}${owner}/settings/apps/new` };
}

/** app.yml with this bot's webhook address and the page GitHub sends the one-time code back to. */
export function appManifest(appYml: string, publicUrl: string, redirectUrl: string): Record<string, unknown> {
  const manifest = parse(appYml) as Record<string, unknown>;
  return {
    ...manifest,
    url: publicUrl,
    hook_attributes: { ...(manifest.hook_attributes as object), url: `${publicUrl}/api/github/webhooks`, active: true },
    redirect_url: redirectUrl,
    public: manifest.public ?? false,
  };
}

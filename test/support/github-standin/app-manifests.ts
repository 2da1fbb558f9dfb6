// The GitHub App manifest flow on the stand-in: GitHub's "register a new GitHub App" page, which receives the
// manifest as a form field and, once the user confirms, redirects to the manifest's `redirect_url` with a
// one-time code; and `POST /app-manifests/{code}/conversions`, which trades the code (no authentication) for
// the new App's id, private key and webhook secret. The stand-in confirms at once: there is no person there.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { ApiReply } from './routes.ts';
import { errorReply } from './routes.ts';
import { appFromManifestShape, type StandinUrls } from './shapes.ts';

export interface CreatedApp {
  id: number;
  /** The manifest as the form sent it. */
  manifest: Record<string, unknown>;
  /** Where the form was posted: `/settings/apps/new` or `/organizations/<org>/settings/apps/new`. */
  page: string;
  pem: string;
  webhookSecret: string;
}

const NEW_APP_PAGE = /^(?:\/organizations\/[^/]+)?\/settings\/apps\/new$/;
const CONVERSION = /^\/app-manifests\/([^/]+)\/conversions$/;

export class ManifestApps {
  readonly created: CreatedApp[] = [];
  private readonly codes = new Map<string, CreatedApp>();
  private nextId = 900_001;

  /** The web page; null when `pathname` is not it. */
  page(method: string, pathname: string, form: string): ApiReply | null {
    if (!NEW_APP_PAGE.test(pathname)) return null;
    if (method !== 'POST') return { status: 200, raw: 'Register new GitHub App' };
    const text = new URLSearchParams(form).get('manifest');
    let manifest: Record<string, unknown>;
    try {
      manifest = JSON.parse(text ?? '') as Record<string, unknown>;
    } catch {
      return { status: 400, raw: 'Invalid GitHub App configuration: the manifest is not JSON' };
    }
    const hook = manifest.hook_attributes as { url?: unknown } | undefined;
    if (typeof manifest.name !== 'string' || typeof manifest.redirect_url !== 'string' || typeof hook?.url !== 'string') {
      return { status: 400, raw: 'Invalid GitHub App configuration: name, redirect_url and hook_attributes.url are required' };
    }
    const app: CreatedApp = {
      id: this.nextId++,
      manifest,
      page: pathname,
      pem: generateKeyPairSync('rsa', {
        modulusLength: 2048,
        privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      }).privateKey,
      webhookSecret: randomBytes(20).toString('hex'),
    };
    this.created.push(app);
    const code = randomBytes(10).toString('hex');
    this.codes.set(code, app);
    const redirect = new URL(manifest.redirect_url);
    redirect.searchParams.set('code', code);
    const state = new URLSearchParams(form).get('state');
    if (state) redirect.searchParams.set('state', state);
    return { status: 302, headers: { location: redirect.toString() } };
  }

  /** The code exchange; null when `path` is not it. A code works once, as on GitHub. */
  conversion(method: string, path: string, urls: StandinUrls): ApiReply | null {
    const code = method === 'POST' ? CONVERSION.exec(path)?.[1] : undefined;
    if (code === undefined) return null;
    const app = this.codes.get(decodeURIComponent(code));
    if (!app) return errorReply(404, 'Not Found');
    this.codes.delete(decodeURIComponent(code));
    return { status: 201, body: appFromManifestShape(app, urls) };
  }
}

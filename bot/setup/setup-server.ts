// `npm run setup`: the GitHub App manifest flow as a small local web page. Its button posts app.yml's
// manifest to GitHub's "new GitHub App" page (github.com, or GHE_HOST); GitHub creates the App and sends the
// browser back here with a one-time code, which is traded (`POST /app-manifests/{code}/conversions`) for the
// App's id, private key and webhook secret, written to `.env` for `npm start`. A random `state` ties the answer
// to this page, so another site cannot make it write a different App's settings.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { appManifest, manifestTarget } from './app-manifest.ts';
import { updateEnvFile } from './env-file.ts';

/** The code exchange is one small request; past this, the page says so and the flow can be started again. */
const CONVERSION_TIMEOUT_MS = 30_000;
const CALLBACK = '/setup/created';

export interface SetupOptions {
  env: NodeJS.ProcessEnv;
  appYml: string;
  /** Where the App's settings are written. */
  envFile: string;
  port: number;
  host?: string;
}

export interface CreatedApp {
  id: number;
  slug: string;
  htmlUrl: string;
}

export interface SetupServer {
  url: string;
  /** Settles once an App was created and its settings written. */
  created: Promise<CreatedApp>;
  close(): Promise<void>;
}

export async function startSetupServer(options: SetupOptions): Promise<SetupServer> {
  const target = manifestTarget(options.env);
  const state = randomBytes(16).toString('hex');
  let created!: (app: CreatedApp) => void;
  const createdPromise = new Promise<CreatedApp>((resolve) => (created = resolve));
  let url = '';

  const server: Server = createServer((req, res) => {
    const request = new URL(req.url ?? '/', 'http://setup');
    const html = (status: number, body: string) =>
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(page(body));
    if (req.method === 'GET' && request.pathname === '/') {
      const publicUrl = (options.env.PUBLIC_URL || `http://localhost:${options.env.PORT || 3000}`).replace(/\/+$/, '');
      const manifest = appManifest(options.appYml, publicUrl, `${url}${CALLBACK}`);
      html(
        200,
        `<h1>Create the shipguard GitHub App</h1>
<p>On <b>${escape(target.web)}</b>${options.env.GH_ORG ? `, owned by the organisation <b>${escape(options.env.GH_ORG)}</b>` : ''}.
GitHub will send webhooks to <code>${escape(publicUrl)}/api/github/webhooks</code> (set <code>PUBLIC_URL</code> to change it).</p>
<form method="post" action="${escape(target.newAppPage)}">
<input type="hidden" name="manifest" value="${escape(JSON.stringify(manifest))}">
<input type="hidden" name="state" value="${state}">
<button type="submit">Create the GitHub App</button>
</form>`,
      );
      return;
    }
    if (req.method === 'GET' && request.pathname === CALLBACK) {
      const code = request.searchParams.get('code');
      if (!code || request.searchParams.get('state') !== state) {
        html(400, '<h1>This answer is not for this setup page</h1><p>Start again from the setup page.</p>');
        return;
      }
      exchange(target.api, code)
        .then((app) => {
          updateEnvFile(options.envFile, {
            APP_ID: String(app.id),
            PRIVATE_KEY: app.pem,
            WEBHOOK_SECRET: app.webhook_secret,
            ...(options.env.GHE_HOST ? { GHE_HOST: options.env.GHE_HOST, GHE_PROTOCOL: options.env.GHE_PROTOCOL || 'https' } : {}),
            ...(options.env.PUBLIC_URL ? { PUBLIC_URL: options.env.PUBLIC_URL } : {}),
          });
          html(
            200,
            `<h1>Created the GitHub App ${escape(app.slug)}</h1>
<p>Its <code>APP_ID</code>, <code>PRIVATE_KEY</code> and <code>WEBHOOK_SECRET</code> are in <code>${escape(options.envFile)}</code>.</p>
<p>Next: <a href="${escape(app.html_url)}/installations/new">install it</a> on the repositories to deploy, then run <code>npm start</code>.</p>`,
          );
          created({ id: app.id, slug: app.slug, htmlUrl: app.html_url });
        })
        .catch((error: Error) =>
          html(502, `<h1>GitHub did not create the App</h1><p>${escape(error.message)}</p><p>Start again from the setup page.</p>`),
        );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  url = `http://${options.host ?? '127.0.0.1'}:${address.port}`;
  return {
    url,
    created: createdPromise,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Conversion {
  id: number;
  slug: string;
  html_url: string;
  pem: string;
  webhook_secret: string;
}

async function exchange(api: string, code: string): Promise<Conversion> {
  const response = await fetch(`${api}/app-manifests/${encodeURIComponent(code)}/conversions`, {
    method: 'POST',
    headers: { accept: 'application/vnd.github+json', 'user-agent': 'shipguard-setup' },
    signal: AbortSignal.timeout(CONVERSION_TIMEOUT_MS),
  });
  const body = (await response.json().catch(() => null)) as (Partial<Conversion> & { message?: string }) | null;
  if (response.status !== 201 || !body?.id || !body.pem || !body.webhook_secret) {
    throw new Error(
      `the code exchange answered ${response.status}${body?.message ? `: ${body.message}` : ''} (codes work once, for an hour)`,
    );
  }
  return body as Conversion;
}

function page(body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>shipguard setup</title></head><body>${body}</body></html>`;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

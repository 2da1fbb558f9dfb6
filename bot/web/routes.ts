// The bot's own pages: `/healthz`, `/metrics`, the signed deployment log (`/deployments/:id`) and a
// repository's signed environments page (`/repositories/:owner/:repo/environments`).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LogLinks } from '../github/log-links.ts';
import type { Store } from '../store/store.ts';
import { deploymentView } from './deployment-view.ts';
import { renderEnvironmentsPage } from './environments-page.ts';
import { environmentsView } from './environments-view.ts';
import { renderLogPage } from './log-page.ts';
import { metricsRefusal } from './metrics-access.ts';
import type { BotMetrics } from './metrics.ts';

export interface PageServices {
  store: Store;
  links: LogLinks;
  metrics: BotMetrics;
  /** METRICS_TOKEN: `/metrics` answers only to it; undefined turns the page off. */
  metricsToken: string | undefined;
  /** Where the pages link into GitHub's UI (BotConfig.githubWebUrl). */
  githubWebUrl: string;
}

/** Answers the request if it is one of the bot's pages; returns false otherwise. */
export async function handlePage(services: PageServices, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://bot');
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (url.pathname === '/healthz') {
    try {
      await services.store.deployments({ limit: 1 });
      send(res, 200, 'application/json', JSON.stringify({ ok: true }));
    } catch (error) {
      send(res, 503, 'application/json', JSON.stringify({ ok: false, error: (error as Error).message }));
    }
    return true;
  }
  if (url.pathname === '/metrics') {
    const refusal = metricsRefusal(services.metricsToken, req.headers.authorization);
    if (refusal) {
      res.writeHead(refusal.status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...refusal.headers });
      res.end(refusal.body);
      return true;
    }
    send(res, 200, services.metrics.registry.contentType, await services.metrics.registry.metrics());
    return true;
  }
  const match = /^\/deployments\/(\d{1,20})(\.json)?$/.exec(url.pathname);
  if (match) {
    const id = Number(match[1]);
    // A wrong or missing signature looks exactly like a deployment that does not exist.
    const view = services.links.verify(id, url.searchParams.get('sig')) ? await deploymentView(services.store, id, services) : null;
    if (!view) send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    else if (match[2]) send(res, 200, 'application/json', JSON.stringify(view));
    else
      send(
        res,
        200,
        'text/html; charset=utf-8',
        renderLogPage(view, `${url.pathname}.json?sig=${encodeURIComponent(url.searchParams.get('sig')!)}`),
      );
    return true;
  }
  const environments = /^\/repositories\/([^/]{1,100})\/([^/]{1,100})\/environments(\.json)?$/.exec(url.pathname);
  if (environments) {
    const repository = `${decoded(environments[1]!)}/${decoded(environments[2]!)}`;
    // As for a log: a wrong signature, or one for another page, looks like a repository the bot does not know.
    if (!services.links.verifyEnvironments(repository, url.searchParams.get('sig'))) {
      send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
      return true;
    }
    const view = await environmentsView(services.store, repository, services);
    if (environments[3]) send(res, 200, 'application/json', JSON.stringify(view));
    else {
      const jsonUrl = `${url.pathname}.json?sig=${encodeURIComponent(url.searchParams.get('sig')!)}`;
      send(res, 200, 'text/html; charset=utf-8', renderEnvironmentsPage(view, jsonUrl));
    }
    return true;
  }
  return false;
}

/** A path segment as text; a malformed escape stays as it is (and so matches no signature). */
function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

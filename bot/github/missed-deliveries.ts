// GitHub never redelivers a failed webhook by itself (rule 6, docs/engine-rules.md). At start and periodically,
// the bot lists the app's recent deliveries and asks GitHub to redeliver the ones that failed and that
// it never received, so a deploy requested while the bot was down is picked up, not lost.
import type { Logger } from 'pino';
import type { GitHubAccess } from './github-access.ts';

export const CAUGHT_UP_EVENTS = ['deployment', 'issue_comment'];

interface DeliverySummary {
  id: number;
  guid: string;
  delivered_at: string;
  status_code: number;
  event: string;
}

export interface CatchUpOptions {
  access: GitHubAccess;
  /** True when the bot has recorded this delivery GUID (it was received, whatever its answer). */
  received(guid: string): Promise<boolean>;
  since: Date;
  log: Logger;
  maxRedeliveries?: number;
}

/** Returns the GUIDs it asked GitHub to redeliver. */
export async function redeliverMissedDeliveries(options: CatchUpOptions): Promise<string[]> {
  const { access, log } = options;
  const app = await access.app();
  const byGuid = new Map<string, DeliverySummary[]>();
  let cursor: string | undefined;
  for (let page = 0; page < 20; page++) {
    const response = await app.request('GET /app/hook/deliveries', { per_page: 100, ...(cursor ? { cursor } : {}) });
    const deliveries = response.data as DeliverySummary[];
    for (const delivery of deliveries) {
      if (new Date(delivery.delivered_at) < options.since) continue;
      byGuid.set(delivery.guid, [...(byGuid.get(delivery.guid) ?? []), delivery]);
    }
    const oldest = deliveries.at(-1);
    cursor = nextCursor(response.headers.link);
    if (!cursor || !oldest || new Date(oldest.delivered_at) < options.since) break;
  }
  const redelivered: string[] = [];
  for (const [guid, attempts] of byGuid) {
    if (redelivered.length >= (options.maxRedeliveries ?? 50)) break;
    if (!CAUGHT_UP_EVENTS.includes(attempts[0]!.event)) continue;
    if (attempts.some((a) => a.status_code >= 200 && a.status_code < 300)) continue;
    if (await options.received(guid)) continue;
    const latest = attempts.reduce((a, b) => (new Date(a.delivered_at) > new Date(b.delivered_at) ? a : b));
    try {
      await app.request('POST /app/hook/deliveries/{delivery_id}/attempts', { delivery_id: latest.id });
      redelivered.push(guid);
    } catch (error) {
      log.warn({ err: error, guid }, 'could not ask GitHub to redeliver a missed webhook');
    }
  }
  if (redelivered.length) log.info({ guids: redelivered }, `asked GitHub to redeliver ${redelivered.length} missed webhook(s)`);
  return redelivered;
}

function nextCursor(link: string | undefined): string | undefined {
  const next = link?.split(',').find((part) => part.includes('rel="next"'));
  const url = next?.match(/<([^>]+)>/)?.[1];
  return url ? (new URL(url).searchParams.get('cursor') ?? undefined) : undefined;
}

// Who may read `/metrics`: whoever sends `Authorization: Bearer $METRICS_TOKEN`. Without METRICS_TOKEN the
// page is off: counts of deployments, refusals and store errors are not for anyone who can reach the port.
import { createHash, timingSafeEqual } from 'node:crypto';

export type MetricsRefusal = { status: 401 | 404; headers: Record<string, string>; body: string };

/** Null when the request may read the metrics; else what to answer. */
export function metricsRefusal(token: string | undefined, authorization: string | undefined): MetricsRefusal | null {
  if (!token) {
    return { status: 404, headers: {}, body: 'metrics are off: set METRICS_TOKEN on the bot and send "Authorization: Bearer <token>"\n' };
  }
  const sent = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1] ?? '';
  // Compared as digests: same length whatever was sent, and in constant time.
  if (timingSafeEqual(digest(sent), digest(token))) return null;
  return {
    status: 401,
    headers: { 'www-authenticate': 'Bearer realm="shipguard metrics"' },
    body: 'metrics need "Authorization: Bearer <METRICS_TOKEN>"\n',
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

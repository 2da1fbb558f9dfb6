// On a failed deploy, what the failing hosts printed last. A deployment status carries at most 140
// characters, so the details come from the bot's log page as JSON: the status' `log_url`, signed by the
// bot, with `.json` added to its path (the page's own live updates read the same). The bot redacts
// secrets from host output before it stores it. Best effort and bounded: a runner that cannot reach the
// bot still fails the step with the status' description and the link.
import { TAIL_BYTES, type HostFailure } from '../common/host-failures.ts';

export const DETAILS_TIMEOUT_MS = 10_000;
/** The page's JSON holds every host's output (bounded by the bot): far below this. */
const MAX_DETAILS_BYTES = 4 * 1024 * 1024;

export type FailureDetails = { kind: 'read'; failures: HostFailure[] } | { kind: 'unavailable'; why: string };

/** `https://bot/deployments/42?sig=…` → `https://bot/deployments/42.json?sig=…`; null for anything else. */
export function detailsUrl(logUrl: string): string | null {
  let url: URL;
  try {
    url = new URL(logUrl);
  } catch {
    return null;
  }
  if (!/^https?:$/.test(url.protocol) || !/\/deployments\/\d{1,20}$/.test(url.pathname)) return null;
  url.pathname = `${url.pathname}.json`;
  return url.toString();
}

export async function readFailureDetails(logUrl: string, timeoutMs = DETAILS_TIMEOUT_MS): Promise<FailureDetails> {
  const url = detailsUrl(logUrl);
  if (!url) return { kind: 'unavailable', why: 'the log link is not a shipguard log page' };
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    if (!response.ok) return { kind: 'unavailable', why: `the log page answered ${response.status}` };
    const text = await readBounded(response);
    if (text === null) return { kind: 'unavailable', why: 'the log page answered more than 4 MB' };
    return { kind: 'read', failures: failuresFrom(JSON.parse(text)) };
  } catch (error) {
    return { kind: 'unavailable', why: (error as Error).message };
  }
}

async function readBounded(response: Response): Promise<string | null> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_DETAILS_BYTES) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Only well-formed entries, each field a bounded string: the page's JSON is read, never trusted. */
function failuresFrom(json: unknown): HostFailure[] {
  const list = typeof json === 'object' && json !== null ? (json as { failures?: unknown }).failures : undefined;
  if (!Array.isArray(list)) throw new Error('the log page JSON has no failures list');
  return list.flatMap((entry): HostFailure[] => {
    if (typeof entry !== 'object' || entry === null) return [];
    const { host, state, message, tail } = entry as Record<string, unknown>;
    if (![host, state, message, tail].every((field) => typeof field === 'string')) return [];
    return [
      {
        host: String(host).slice(0, 200),
        state: String(state).slice(0, 20),
        message: String(message).slice(0, 500),
        tail: String(tail).slice(-TAIL_BYTES),
      },
    ];
  });
}

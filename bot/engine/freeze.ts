// Freeze windows (deploy.yml `freeze`): calendar periods, in a time zone, during which an environment's
// deploys wait for the window's end (`wait`) or are refused (`refuse`). Pure: the time is always given.

export interface FreezeWindow {
  /** Local date and time in `timezone`: `2026-12-24T00:00` (seconds optional). */
  start: string;
  end: string;
  /** IANA time zone name, e.g. Europe/Berlin. */
  timezone: string;
  mode: 'wait' | 'refuse';
}

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

/** The problem with a time zone name, or null when the runtime knows it. */
export function timeZoneError(timeZone: string): string | null {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return null;
  } catch {
    return `unknown time zone ${JSON.stringify(timeZone)}: expected an IANA name like Europe/Berlin or UTC`;
  }
}

/** The problem with a local date-time, or null. */
export function localTimeError(local: string): string | null {
  const fields = localFields(local);
  if (!fields) return `expected a local date and time like 2026-12-24T00:00, got ${JSON.stringify(local)}`;
  const [y, mo, d, h, mi, s] = fields;
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  const valid = date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && h < 24 && mi < 60 && s < 60;
  return valid ? null : `${local} is not a date and time that exists`;
}

/** Year, month, day, hour, minute, second of a local date-time (seconds 0 when not written), or null. */
function localFields(local: string): [number, number, number, number, number, number] | null {
  const match = LOCAL.exec(local);
  if (!match) return null;
  const [y, mo, d, h, mi] = match.slice(1, 6).map(Number) as [number, number, number, number, number];
  return [y, mo, d, h, mi, match[6] === undefined ? 0 : Number(match[6])];
}

/** Milliseconds by which `timeZone`'s wall clock is ahead of UTC at instant `at`. */
function offsetAt(at: number, timeZone: string): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
      .formatToParts(at)
      .map((p) => [p.type, Number(p.value)]),
  ) as Record<string, number>;
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!) - (at - (at % 1000));
}

/** The instant (epoch ms) a local date-time in `timeZone` names (a time skipped by a DST change: the instant after). */
export function zonedInstant(local: string, timeZone: string): number {
  const [y, mo, d, h, mi, s] = localFields(local)!;
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  const first = wall - offsetAt(wall, timeZone);
  return wall - offsetAt(first, timeZone);
}

export interface FreezeInForce {
  mode: 'wait' | 'refuse';
  /** Epoch ms the freeze lifts (the latest end of the windows in force of that mode). */
  untilMs: number;
  /** `2026-12-27 00:00 Europe/Berlin`: the end as the window was written. */
  until: string;
}

/**
 * The freeze in force at `nowMs`, or null. A `refuse` window in force wins over `wait` ones; among windows
 * of one mode, the one that ends last says until when.
 */
export function freezeAt(windows: FreezeWindow[] | undefined, nowMs: number): FreezeInForce | null {
  const active = (windows ?? [])
    .map((w) => ({ w, startMs: zonedInstant(w.start, w.timezone), endMs: zonedInstant(w.end, w.timezone) }))
    .filter(({ startMs, endMs }) => startMs <= nowMs && nowMs < endMs);
  const refusing = active.filter(({ w }) => w.mode === 'refuse');
  const chosen = (refusing.length ? refusing : active).sort((a, b) => b.endMs - a.endMs)[0];
  if (!chosen) return null;
  return { mode: chosen.w.mode, untilMs: chosen.endMs, until: `${chosen.w.end.replace('T', ' ')} ${chosen.w.timezone}` };
}

/** `production is frozen until 2026-12-27 00:00 Europe/Berlin`. */
export function freezeDescription(environment: string, freeze: FreezeInForce): string {
  return `${environment} is frozen until ${freeze.until}`;
}

/**
 * The payload key of an admin's `/deploy --force-freeze`. Only ChatOps deployments this bot created may
 * carry it: the webhook handler drops it from anyone else's payload (the Action's `payload` input included).
 */
export const FORCE_FREEZE_KEY = 'force_freeze';

export function freezeOverridden(payload: Record<string, unknown> | undefined): boolean {
  return payload?.[FORCE_FREEZE_KEY] === true;
}

/** A queued deployment may not start while a freeze is in force, unless an admin overrode it. */
export function startHeldByFreeze(windows: FreezeWindow[] | undefined, payload: Record<string, unknown>, nowMs: number): boolean {
  return !freezeOverridden(payload) && freezeAt(windows, nowMs) !== null;
}

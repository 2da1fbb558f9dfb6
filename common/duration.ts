// Durations as people write them in deploy.yml and Action inputs: `500ms`, `90s`, `15m`, `2h`, `1h30m`.

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const PART = /(\d+)(ms|s|m|h|d)/g;
export const DURATION = /^(?:\d+(?:ms|s|m|h|d))+$/;

export function parseDuration(text: string): number {
  const value = text.trim();
  if (!DURATION.test(value)) {
    throw new Error(`invalid duration ${JSON.stringify(text)}: expected a number and a unit, like 90s, 15m, 2h or 1h30m`);
  }
  let total = 0;
  for (const [, amount, unit] of value.matchAll(PART)) {
    total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  if (total <= 0) throw new Error(`invalid duration ${JSON.stringify(text)}: must be longer than zero`);
  return total;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  if (minutes < 60) return rest ? `${minutes}m${rest}s` : `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 ? `${hours}h${minutes % 60}m` : `${hours}h`;
}

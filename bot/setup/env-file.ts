// Writes settings into a `.env` file (the format Node's `--env-file` and `util.parseEnv` read): each key set
// replaces its old line, other lines stay as they were; values are double-quoted with newlines as `\n`, so a
// PEM key fits on one line. The file is readable by its owner only: it holds the App's private key.
import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { parseEnv } from 'node:util';

export function updateEnvFile(path: string, values: Record<string, string>): void {
  const lines = existsSync(path) ? readFileSync(path, 'utf8').split('\n') : [];
  const pending = new Map(Object.entries(values));
  const kept = lines.map((line) => {
    const key = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line)?.[1];
    if (key === undefined || !pending.has(key)) return line;
    const value = pending.get(key)!;
    pending.delete(key);
    return `${key}=${quoted(value)}`;
  });
  while (kept.length && kept.at(-1) === '') kept.pop();
  for (const [key, value] of pending) kept.push(`${key}=${quoted(value)}`);
  writeFileSync(path, `${kept.join('\n')}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** The variables of a `.env` file; none when there is no file. */
export function readEnvFile(path: string): Record<string, string> {
  return existsSync(path) ? (parseEnv(readFileSync(path, 'utf8')) as Record<string, string>) : {};
}

function quoted(value: string): string {
  if (/["\\]/.test(value.replace(/\n/g, ''))) throw new Error('a value with a quote or a backslash cannot be written to .env');
  return `"${value.replace(/\r?\n/g, '\\n')}"`;
}

// The bot's log: JSON lines for machines, or pretty and coloured when a person watches a terminal
// (pino-pretty). Whatever a component logs, three things hold at this one place, just before a line is
// written: a secret's value or a log link's signature never appears (an error object may carry a request
// body with a signed `log_url`); each line has one `name` (Probot's loggers add theirs to ours); an error
// is logged once; and a webhook whose signature does not verify — expected bad input — is one `warn`
// line, not a stack trace.
import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Logger } from 'pino';
import type pretty from 'pino-pretty';

// pino-pretty (and its dependencies) only for a terminal: a service's start does not load it.
const require = createRequire(import.meta.url);

/** Shorter values are not masked: masking "s" would mangle every line. */
const SECRET_MIN_LENGTH = 8;
const SIGNATURE = /([?&]sig=)[^&"\s\\]+/g;

export interface LogOptions {
  level?: string;
  /** Values that must never be written (the webhook secret, keys, tokens). */
  secrets: Array<string | undefined>;
  /** Where lines go; default stdout, pretty when it is a terminal. */
  destination?: DestinationStream;
}

export function createLog(options: LogOptions): Logger {
  const secrets = options.secrets
    .filter((s): s is string => typeof s === 'string' && s.length >= SECRET_MIN_LENGTH)
    .flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]); // as written, and as it appears inside a JSON string
  const destination =
    options.destination ??
    (process.stdout.isTTY
      ? (require('pino-pretty') as typeof pretty)({ colorize: true, singleLine: true, ignore: 'pid,hostname', sync: true })
      : pino.destination(1));
  const reported = new WeakSet<Error>();
  return pino(
    {
      name: 'shipguard',
      level: options.level ?? 'info',
      hooks: {
        logMethod(args, method, level) {
          const [first] = args as unknown[];
          if (level >= 50 && first instanceof Error) {
            // Probot's webhook handling logs one failure twice: the error, then an AggregateError around it.
            const inner = first instanceof AggregateError ? (first.errors as unknown[]) : [first];
            const seen = inner.every((error) => error instanceof Error && reported.has(error));
            for (const error of [first, ...inner]) if (error instanceof Error) reported.add(error);
            if (seen) return;
            if (inner.some((error) => error instanceof Error && isBadSignature(error))) {
              const event = (inner[0] as { event?: { id?: string; name?: string } }).event;
              this.warn(
                { delivery: event?.id, event: event?.name },
                'webhook refused: its signature does not match WEBHOOK_SECRET (check the secret in the GitHub App’s settings)',
              );
              return;
            }
          }
          method.apply(this, args);
        },
        streamWrite: (line) => scrub(oneName(line), secrets),
      },
    },
    destination,
  );
}

function isBadSignature(error: Error): boolean {
  return /signature does not match|x-hub-signature/i.test(error.message);
}

/** JSON keeps the last of duplicate keys: the innermost logger's name. */
function oneName(line: string): string {
  if (line.indexOf('"name":') === line.lastIndexOf('"name":')) return line;
  try {
    return `${JSON.stringify(JSON.parse(line))}\n`;
  } catch {
    return line;
  }
}

function scrub(line: string, secrets: string[]): string {
  let clean = line.replace(SIGNATURE, '$1[redacted]');
  for (const secret of secrets) clean = clean.replaceAll(secret, '[redacted]');
  return clean;
}

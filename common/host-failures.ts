// What a failed deployment says about its failing hosts, where people look: the Action's log and job
// summary, the ChatOps reply. The bot serves it in the log page's JSON (already redacted of secrets, as
// all host output is); both sides read and render it with this one definition.

export interface HostFailure {
  host: string;
  /** `failed` or `unknown` (the end was not observed). */
  state: string;
  /** Why, in a few words: `deploy exited 3`. */
  message: string;
  /** The last lines of the host's output (stdout and stderr as they came), bounded by TAIL_LINES and TAIL_BYTES. */
  tail: string;
}

export const TAIL_LINES = 20;
export const TAIL_BYTES = 4096;
/** More failing hosts than this are counted, not shown: the first ones say what went wrong. */
export const FAILURES_SHOWN = 3;

/** The last TAIL_LINES lines of `output`, at most TAIL_BYTES bytes of UTF-8, never a broken character. */
export function outputTail(output: string): string {
  const lines = output.replace(/\s+$/, '').split('\n').slice(-TAIL_LINES);
  let tail = lines.join('\n');
  while (Buffer.byteLength(tail, 'utf8') > TAIL_BYTES) {
    const cut = tail.indexOf('\n');
    // One long line: keep its end, cut at a character boundary.
    tail = cut >= 0 ? tail.slice(cut + 1) : [...tail].slice(-Math.floor(TAIL_BYTES / 4)).join('');
  }
  return tail;
}

/** Markdown for the failures: a heading line per host and its tail in a fence no output can close. */
export function failuresMarkdown(failures: HostFailure[], total = failures.length): string {
  const blocks = failures.slice(0, FAILURES_SHOWN).map((failure) => {
    const longest = Math.max(2, ...[...failure.tail.matchAll(/~+/g)].map((run) => run[0].length));
    const fence = '~'.repeat(longest + 1);
    const title = `${codeSpan(failure.host)} (${inline(failure.state)}): ${inline(failure.message)}`;
    return failure.tail ? `${title}\n\n${fence}text\n${failure.tail}\n${fence}` : `${title} (no output)`;
  });
  const more = total > FAILURES_SHOWN ? `\n\n…and ${total - FAILURES_SHOWN} more failing host(s): see the log.` : '';
  return blocks.join('\n\n') + more;
}

/** A host name as code: no mention, link or markup can come out of it. */
function codeSpan(text: string): string {
  return `\`${text.replace(/[\r\n`]+/g, ' ')}\``;
}

/** Text safe inside a Markdown line: no markup, mentions or HTML from messages. */
function inline(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/[\\`*_{}[\]<>()#+!|@~]/g, '\\$&');
}

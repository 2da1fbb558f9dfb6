// A host's stored output is one stream, stdout and stderr as they came; each stderr line starts with
// STDERR_MARK (written at capture, bot/worker/deployment-runner.ts), so the log page can tell them apart.
// Whatever shows output as text (failure tails, the page's `output`) reads it through `splitStderr`.

/** ASCII record separator: a control character that output meant for people does not contain. */
export const STDERR_MARK = '\u001e';

/** `text` from stderr, each of its lines marked (the streams arrive in whole lines, bot/deployers/output.ts). */
export function markStderr(text: string): string {
  return text.replace(/^(?=[^\n])/gm, STDERR_MARK);
}

/** The output without marks, and which of its lines (0-based) came from stderr. */
export function splitStderr(output: string): { text: string; stderrLines: number[] } {
  if (!output.includes(STDERR_MARK)) return { text: output, stderrLines: [] };
  const stderrLines: number[] = [];
  const lines = output.split('\n').map((line, index) => {
    if (!line.startsWith(STDERR_MARK)) return line;
    stderrLines.push(index);
    return line.slice(STDERR_MARK.length);
  });
  return { text: lines.join('\n').replaceAll(STDERR_MARK, ''), stderrLines };
}

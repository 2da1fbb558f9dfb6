// Bounds a YAML text must keep before it is parsed: the parser recurses per nesting level and works in
// proportion to the text, so a huge or deeply nested deploy.yml would hold the event loop for seconds
// (50,000 nested brackets took 0.8-2.9 s) or overflow the stack. A real deploy.yml is a few KB, 6 levels deep.

/** Largest deploy.yml accepted, in bytes of UTF-8. */
export const MAX_YAML_BYTES = 64 * 1024;
/** Deepest nesting accepted: indentation levels, `- ` entries and `[`/`{` brackets together. */
export const MAX_YAML_DEPTH = 32;

/**
 * What is wrong with `text` before any parsing, or null. One linear pass: indentation levels are a
 * stack, brackets outside quotes and comments a counter. Quoted scalars with brackets inside count only
 * when their quote starts mid-token, which is harmless: they raise the count, never lower it, and 32 is far
 * beyond any real file.
 */
export function yamlBoundsProblem(text: string): { message: string; line?: number } | null {
  const tooBig = yamlSizeProblem(Buffer.byteLength(text, 'utf8'));
  if (tooBig) return tooBig;
  const indents: number[] = [];
  let brackets = 0;
  /** Block depth of the line where the open flow collection began. */
  let flowBase = 0;
  let line = 1;
  let start = 0;
  while (start <= text.length) {
    const newline = text.indexOf('\n', start);
    const end = newline === -1 ? text.length : newline;
    let i = start;
    while (i < end && text[i] === ' ') i++;
    if (brackets === 0 && i < end && text[i] !== '#' && text[i] !== '\r') {
      while (indents.length && indents.at(-1)! >= i - start) indents.pop();
      indents.push(i - start);
      // `- - x` nests a sequence in a sequence on one line.
      while (text[i] === '-' && text[i + 1] === ' ') {
        indents.push(i - start + 1);
        i += 2;
        while (i < end && text[i] === ' ') i++;
      }
      if (indents.length > MAX_YAML_DEPTH) return depthProblem(line);
      flowBase = indents.length;
    }
    let quote: string | null = null;
    for (let j = i; j < end; j++) {
      const c = text[j]!;
      if (quote) {
        if (c === quote) quote = null;
      } else if (c === '#' && (j === start || text[j - 1] === ' ')) break;
      else if ((c === '"' || c === "'") && (j === i || ' [{,:'.includes(text[j - 1]!))) quote = c;
      else if (c === '[' || c === '{') {
        if (flowBase + ++brackets > MAX_YAML_DEPTH) return depthProblem(line);
      } else if ((c === ']' || c === '}') && brackets > 0) brackets--;
    }
    line++;
    start = end + 1;
  }
  return null;
}

/** What is wrong with a text of `bytes` bytes (also checked on a file's size before it is even fetched whole). */
export function yamlSizeProblem(bytes: number): { message: string } | null {
  return bytes > MAX_YAML_BYTES ? { message: `${Math.ceil(bytes / 1024)} KB, more than the ${MAX_YAML_BYTES / 1024} KB accepted` } : null;
}

function depthProblem(line: number): { message: string; line: number } {
  return { message: `nested more than ${MAX_YAML_DEPTH} levels deep`, line };
}

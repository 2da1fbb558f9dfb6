// A YAML configuration file as text: its value, every syntax error with its line, and the line of any
// key path, so that a problem found later in the value can say where it is in the file.
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';

export interface YamlSyntaxError {
  line: number;
  message: string;
}

export interface YamlText {
  /** The document's value; undefined when it has syntax errors. */
  value: unknown;
  errors: YamlSyntaxError[];
  /** The line a key path is written on (the nearest written parent's when the key itself is missing). */
  lineOf(path: ReadonlyArray<PropertyKey>): number | undefined;
}

export function parseYamlText(text: string): YamlText {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const lineAt = (offset: number) => lines.linePos(offset).line;
  const errors = doc.errors.map((error) => ({ line: lineAt(error.pos[0]), message: error.message.split('\n')[0]! }));
  let value: unknown;
  if (errors.length === 0) {
    try {
      // Bounded alias expansion: a "billion laughs" document is refused, not expanded.
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      errors.push({ line: 1, message: (error as Error).message.split('\n')[0]! });
    }
  }
  const resolve = (node: unknown) => (isAlias(node) ? node.resolve(doc) : node);
  return {
    value,
    errors,
    lineOf(path) {
      let node = resolve(doc.contents) as Node | null | undefined;
      let line = node?.range ? lineAt(node.range[0]) : undefined;
      for (const segment of path) {
        if (isMap(node)) {
          const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
          if (!pair) break;
          if (isScalar(pair.key) && pair.key.range) line = lineAt(pair.key.range[0]);
          node = resolve(pair.value) as Node | null;
        } else if (isSeq(node) && typeof segment === 'number') {
          const item = resolve(node.items[segment]) as Node | undefined;
          if (!item) break;
          if (item.range) line = lineAt(item.range[0]);
          node = item;
        } else {
          break;
        }
      }
      return line;
    },
  };
}

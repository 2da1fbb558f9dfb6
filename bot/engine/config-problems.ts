// What is wrong in a configuration file, in words a person can act on: each problem names its key path,
// what was found and what would be right. The bot's error statuses and `shipguard check` both use these
// words, so the command line says exactly what the bot would.
import type { z } from 'zod';
import { describe } from '../../common/names.ts';
import { nearMiss } from './near-miss.ts';

export interface ConfigProblem {
  /** Key path, e.g. `environments.staging.concurrency`; `(top level)` for the whole file. */
  path: string;
  /** The line in the file, when the problem has one. */
  line?: number;
  message: string;
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a map of keys',
  record: 'a map of keys',
  array: 'a list',
};

/** A value as a message shows it: strings quoted and cut short, collections by their kind. */
function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return typeof value === 'string' ? describe(value) : String(value);
}

const items = (count: number | bigint) => (count === 1 ? '1 item' : `${count} items`);

/** zod's error map for configuration files: the message of each kind of issue (custom ones carry their own). */
export const configErrorMap: z.core.$ZodErrorMap = (issue) => {
  const input: unknown = issue.input;
  switch (issue.code) {
    case 'invalid_type': {
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      return input === undefined ? `is missing: expected ${expected}` : `expected ${expected}, got ${shown(input)}`;
    }
    case 'too_small':
      if (issue.origin === 'string' && Number(issue.minimum) === 1) return 'must not be empty';
      if (issue.origin === 'array') return `must list at least ${items(issue.minimum)}`;
      return `must be ${issue.inclusive === false ? 'more than' : 'at least'} ${issue.minimum}, got ${shown(input)}`;
    case 'too_big':
      if (issue.origin === 'string') return `must be at most ${issue.maximum} characters long, got ${String(input).length}`;
      if (issue.origin === 'array') return `must list at most ${items(issue.maximum)}, got ${Array.isArray(input) ? input.length : '?'}`;
      return `must be ${issue.inclusive === false ? 'less than' : 'at most'} ${issue.maximum}, got ${shown(input)}`;
    case 'invalid_value': {
      const values = issue.values.map(String);
      const guess = typeof input === 'string' ? nearMiss(input, values) : undefined;
      return `expected one of ${values.join(', ')}, got ${shown(input)}${guess ? `: did you mean ${guess}?` : ''}`;
    }
    case 'invalid_format':
      if (issue.format === 'url') return `expected a URL such as https://staging.example.com, got ${shown(input)}`;
      if (issue.format === 'regex') return `expected text matching ${issue.pattern}, got ${shown(input)}`;
      return `expected ${issue.format}, got ${shown(input)}`;
    case 'invalid_key':
      return issue.issues.map((inner) => inner.message).join('; ');
    default:
      return undefined;
  }
};

type SchemaDef = {
  type: string;
  shape?: Record<string, z.core.$ZodType>;
  valueType?: z.core.$ZodType;
  element?: z.core.$ZodType;
  innerType?: z.core.$ZodType;
  in?: z.core.$ZodType;
  options?: z.core.$ZodType[];
};

/** The keys an object accepts at a key path of the schema (through defaults, optionals, pipes, records, lists, unions). */
function keysAt(schema: z.core.$ZodType, path: ReadonlyArray<PropertyKey>): string[] {
  const def = schema._zod.def as unknown as SchemaDef;
  const inner = def.innerType ?? def.in;
  if (inner) return keysAt(inner, path);
  if (def.type === 'union') return [...new Set((def.options ?? []).flatMap((option) => keysAt(option, path)))];
  if (path.length === 0) return def.type === 'object' ? Object.keys(def.shape ?? {}) : [];
  const [head, ...rest] = path;
  const next = def.type === 'object' ? def.shape?.[String(head)] : def.type === 'record' ? def.valueType : def.element;
  return next ? keysAt(next, rest) : [];
}

const pathText = (path: ReadonlyArray<PropertyKey>) => (path.length ? path.map(String).join('.') : '(top level)');

/**
 * zod's issues (parsed with configErrorMap) as problems, with their lines when `lineOf` knows them: one
 * problem per unknown key, with the near miss or the keys allowed there.
 */
export function configProblems(
  issues: ReadonlyArray<z.core.$ZodIssue>,
  schema: z.core.$ZodType,
  lineOf: (path: ReadonlyArray<PropertyKey>) => number | undefined = () => undefined,
): ConfigProblem[] {
  const problem = (path: ReadonlyArray<PropertyKey>, message: string): ConfigProblem => {
    const line = lineOf(path);
    return line === undefined ? { path: pathText(path), message } : { path: pathText(path), line, message };
  };
  return issues.flatMap((issue) => {
    if (issue.code !== 'unrecognized_keys') return [problem(issue.path, issue.message)];
    const allowed = keysAt(schema, issue.path);
    return issue.keys.map((key) => {
      const guess = nearMiss(key, allowed);
      return problem(
        [...issue.path, key],
        `unknown key ${describe(key)}: ${guess ? `did you mean ${guess}?` : `allowed here: ${allowed.join(', ')}`}`,
      );
    });
  });
}

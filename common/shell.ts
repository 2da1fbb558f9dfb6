// The one way a value reaches a shell: single-quoted, with embedded quotes closed and escaped.
// POSIX sh gives no meaning to anything inside '…', so no value can become syntax.

export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

const VARIABLE_NAME = /^[A-Z_][A-Z0-9_]*$/;

/** `sh -c` command line that sets each variable by a quoted prefix, then runs the configured command. */
export function shellCommandWithEnv(command: string, env: Record<string, string>): string {
  const assignments = Object.entries(env).map(([name, value]) => {
    if (!VARIABLE_NAME.test(name)) throw new Error(`invalid variable name ${JSON.stringify(name)}`);
    return `${name}=${shellQuote(value)}`;
  });
  // `export` so the command's child processes see them too; `exec sh -c` keeps one process tree.
  return `${assignments.length ? `export ${assignments.join(' ')}; ` : ''}exec sh -c ${shellQuote(command)}`;
}

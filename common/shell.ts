// The one way a value reaches a shell: single-quoted, with embedded quotes closed and escaped.
// POSIX sh gives no meaning to anything inside '…', so no value can become syntax.

export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

const VARIABLE_NAME = /^[A-Z_][A-Z0-9_]*$/;

/**
 * `sh -c` command line that sets each variable by a quoted prefix, then runs the configured command;
 * with `hardLimitSeconds`, under coreutils' `timeout -s KILL`, which kills the command's whole process
 * group on the host by then even when nobody is left to kill it (the bot that started it died).
 */
export function shellCommandWithEnv(command: string, env: Record<string, string>, hardLimitSeconds?: number): string {
  const assignments = Object.entries(env).map(([name, value]) => {
    if (!VARIABLE_NAME.test(name)) throw new Error(`invalid variable name ${JSON.stringify(name)}`);
    return `${name}=${shellQuote(value)}`;
  });
  // `export` so the command's child processes see them too; `exec sh -c` keeps one process tree.
  const limit = hardLimitSeconds === undefined ? '' : `timeout -s KILL ${Math.max(1, Math.floor(hardLimitSeconds))} `;
  return `${assignments.length ? `export ${assignments.join(' ')}; ` : ''}exec ${limit}sh -c ${shellQuote(command)}`;
}

// The ChatOps grammar (README, "ChatOps"): a command is the first line of a comment, the rest is
// ignored. Pure: text in, a command or a clear error out. Everything here is plain text: nothing a
// comment says is ever run; environment names are checked against common/names.ts before use.
import { describe, environmentNameError } from '../../common/names.ts';

export type Command =
  | { name: 'deploy'; environment: string | null; force: boolean; noop: boolean; forceFreeze: boolean }
  | { name: 'rollback'; environment: string }
  | { name: 'lock'; environment: string; reason: string }
  | { name: 'unlock'; environment: string }
  | { name: 'cancel'; environment: string; rollback: boolean }
  | { name: 'status'; environment: string | null }
  | { name: 'help' };

export type CommandName = Command['name'];

export type ParseResult =
  /** The comment is not addressed to the bot (its first line is not `/word`): ignore it. */
  | { kind: 'none' }
  | { kind: 'command'; command: Command }
  /** Addressed to the bot but wrong: `problem` says what is wrong, `usage` what would be valid. */
  | { kind: 'invalid'; problem: string; usage: string[] };

/** Between the forms of one command in its usage line. */
export const USAGE_SEPARATOR = ' · ';

export const USAGE: Record<CommandName, string> = {
  deploy: `/deploy [env] [--force] [--force-freeze]${USAGE_SEPARATOR}/deploy noop [env]`,
  rollback: '/rollback <env>',
  lock: '/lock <env> [reason]',
  unlock: '/unlock <env>',
  cancel: '/cancel <env> [--rollback]',
  status: '/status [env]',
  help: '/help',
};

export const COMMAND_NAMES = Object.keys(USAGE) as CommandName[];

/** Longer first lines are refused whole rather than cut (a cut could change what was meant). */
export const MAX_COMMAND_LINE = 1000;
export const MAX_LOCK_REASON = 200;

const COMMAND_WORD = /^\/([A-Za-z][A-Za-z0-9_-]*)(?=\s|$)/;

export function parseCommand(body: string): ParseResult {
  const firstLine = (body.split(/\r?\n/, 1)[0] ?? '').trim();
  const word = COMMAND_WORD.exec(firstLine);
  if (!word) return { kind: 'none' };
  const name = word[1]!.toLowerCase();
  if (!isCommandName(name)) {
    return invalid(`unknown command ${describe(`/${word[1]}`)}`, COMMAND_NAMES);
  }
  if (firstLine.length > MAX_COMMAND_LINE) {
    return invalid(`the command line is ${firstLine.length} characters long; at most ${MAX_COMMAND_LINE} are read`, [name]);
  }
  const rest = firstLine.slice(word[0].length).trim();
  const args = rest === '' ? [] : rest.split(/\s+/);
  return parseArguments(name, args, rest);
}

function parseArguments(name: CommandName, args: string[], rest: string): ParseResult {
  switch (name) {
    case 'deploy':
      return parseDeploy(args);
    case 'cancel': {
      const rollback = args.includes('--rollback');
      const words = args.filter((arg) => arg !== '--rollback');
      const option = words.find((arg) => arg.startsWith('-'));
      if (option) return invalid(`unknown option ${describe(option)} (the only option is --rollback)`, [name]);
      if (words.length !== 1)
        return invalid(words.length === 0 ? '/cancel needs an environment' : `/cancel takes one environment, got ${words.length} words`, [
          name,
        ]);
      const problem = environmentNameError(words[0]!);
      return problem ? invalid(problem, [name]) : command({ name, environment: words[0]!, rollback });
    }
    case 'rollback':
    case 'unlock': {
      if (args.length !== 1)
        return invalid(args.length === 0 ? `/${name} needs an environment` : `/${name} takes one environment, got ${args.length} words`, [
          name,
        ]);
      const problem = environmentNameError(args[0]!);
      return problem ? invalid(problem, [name]) : command({ name, environment: args[0]! });
    }
    case 'lock': {
      if (args.length === 0) return invalid('/lock needs an environment', [name]);
      const problem = environmentNameError(args[0]!);
      if (problem) return invalid(problem, [name]);
      const reason = rest.slice(args[0]!.length).trim();
      if (reason.length > MAX_LOCK_REASON)
        return invalid(`the lock reason is ${reason.length} characters long; at most ${MAX_LOCK_REASON}`, [name]);
      return command({ name, environment: args[0]!, reason });
    }
    case 'status': {
      if (args.length > 1) return invalid(`/status takes at most one environment, got ${args.length} words`, [name]);
      const problem = args[0] === undefined ? null : environmentNameError(args[0]);
      return problem ? invalid(problem, [name]) : command({ name, environment: args[0] ?? null });
    }
    case 'help':
      return args.length ? invalid('/help takes no arguments', [name]) : command({ name });
  }
}

function parseDeploy(args: string[]): ParseResult {
  let force = false;
  let forceFreeze = false;
  let noop = false;
  const words: string[] = [];
  for (const arg of args) {
    if (arg === '--force') force = true;
    else if (arg === '--force-freeze') forceFreeze = true;
    else if (arg.startsWith('-'))
      return invalid(`unknown option ${describe(arg)} (the options are --force and --force-freeze)`, ['deploy']);
    else words.push(arg);
  }
  if (words[0] === 'noop') {
    noop = true;
    words.shift();
  }
  if (words.length > 1) return invalid(`/deploy takes at most one environment, got ${words.map((w) => describe(w)).join(' ')}`, ['deploy']);
  const environment = words[0] ?? null;
  const problem = environment === null ? null : environmentNameError(environment);
  return problem ? invalid(problem, ['deploy']) : command({ name: 'deploy', environment, force, noop, forceFreeze });
}

function isCommandName(name: string): name is CommandName {
  return (COMMAND_NAMES as string[]).includes(name);
}

function command(parsed: Command): ParseResult {
  return { kind: 'command', command: parsed };
}

function invalid(problem: string, names: CommandName[]): ParseResult {
  return { kind: 'invalid', problem, usage: names.map((name) => USAGE[name]) };
}

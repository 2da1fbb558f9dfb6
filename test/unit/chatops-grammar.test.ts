import { describe, expect, it } from 'vitest';
import { MAX_COMMAND_LINE, parseCommand, USAGE } from '../../bot/chatops/grammar.ts';

const parsed = (body: string) => {
  const result = parseCommand(body);
  if (result.kind !== 'command') throw new Error(`expected a command from ${JSON.stringify(body)}, got ${JSON.stringify(result)}`);
  return result.command;
};
const problem = (body: string) => {
  const result = parseCommand(body);
  if (result.kind !== 'invalid') throw new Error(`expected a refusal of ${JSON.stringify(body)}, got ${JSON.stringify(result)}`);
  return result;
};

describe('chatops grammar: each command', () => {
  const cases: Array<[string, object]> = [
    ['/deploy', { name: 'deploy', environment: null, force: false, noop: false, forceFreeze: false }],
    ['/deploy production', { name: 'deploy', environment: 'production', force: false, noop: false, forceFreeze: false }],
    ['/deploy production --force', { name: 'deploy', environment: 'production', force: true, noop: false, forceFreeze: false }],
    ['/deploy --force', { name: 'deploy', environment: null, force: true, noop: false, forceFreeze: false }],
    ['/deploy noop', { name: 'deploy', environment: null, force: false, noop: true, forceFreeze: false }],
    ['/deploy noop staging', { name: 'deploy', environment: 'staging', force: false, noop: true, forceFreeze: false }],
    ['/rollback production', { name: 'rollback', environment: 'production' }],
    ['/lock production', { name: 'lock', environment: 'production', reason: '' }],
    ['/lock production  release   freeze, back at 5', { name: 'lock', environment: 'production', reason: 'release   freeze, back at 5' }],
    ['/unlock production', { name: 'unlock', environment: 'production' }],
    ['/cancel staging', { name: 'cancel', environment: 'staging', rollback: false }],
    ['/cancel staging --rollback', { name: 'cancel', environment: 'staging', rollback: true }],
    ['/deploy production --force-freeze', { name: 'deploy', environment: 'production', force: false, noop: false, forceFreeze: true }],
    ['/status', { name: 'status', environment: null }],
    ['/status qa-2.eu_west', { name: 'status', environment: 'qa-2.eu_west' }],
    ['/help', { name: 'help' }],
    ['  /DEPLOY staging  ', { name: 'deploy', environment: 'staging', force: false, noop: false, forceFreeze: false }],
  ];
  for (const [body, command] of cases) {
    it(`reads ${JSON.stringify(body)}`, () => expect(parsed(body)).toEqual(command));
  }

  it('reads the first line only; the rest is ignored whatever it holds', () => {
    expect(parsed('/deploy staging\r\n/deploy production --force\n$(rm -rf /)')).toEqual({
      name: 'deploy',
      environment: 'staging',
      force: false,
      noop: false,
      forceFreeze: false,
    });
    expect(parsed(`/status\n${'x'.repeat(10_000)}`)).toEqual({ name: 'status', environment: null });
  });
});

describe('chatops grammar: what is not a command', () => {
  for (const body of ['LGTM', 'please /deploy staging', '', '\n/deploy staging', '/ deploy', '//deploy', '/123', 'deploy staging']) {
    it(`ignores ${JSON.stringify(body)}`, () => expect(parseCommand(body)).toEqual({ kind: 'none' }));
  }
});

describe('chatops grammar: refusals say what is wrong and what is valid', () => {
  it('an unknown command lists every command', () => {
    const result = problem('/deplyo staging');
    expect(result.problem).toBe('unknown command "/deplyo"');
    expect(result.usage).toEqual(Object.values(USAGE));
  });

  const malformed: Array<[string, string, string]> = [
    ['/deploy staging production', '/deploy takes at most one environment, got "staging" "production"', USAGE.deploy],
    ['/deploy staging --yes', 'unknown option "--yes" (the options are --force and --force-freeze)', USAGE.deploy],
    ['/rollback', '/rollback needs an environment', USAGE.rollback],
    ['/rollback a b', '/rollback takes one environment, got 2 words', USAGE.rollback],
    ['/unlock', '/unlock needs an environment', USAGE.unlock],
    ['/cancel', '/cancel needs an environment', USAGE.cancel],
    ['/cancel staging --now', 'unknown option "--now" (the only option is --rollback)', USAGE.cancel],
    ['/lock', '/lock needs an environment', USAGE.lock],
    ['/status a b', '/status takes at most one environment, got 2 words', USAGE.status],
    ['/help me', '/help takes no arguments', USAGE.help],
  ];
  for (const [body, message, usage] of malformed) {
    it(`refuses ${JSON.stringify(body)}`, () => expect(problem(body)).toEqual({ kind: 'invalid', problem: message, usage: [usage] }));
  }

  for (const name of ['staging;touch${IFS}x', '$(id)', '`id`', 'a|b', "prod'", 'x'.repeat(65), '../etc', 'stag\u00edng']) {
    it(`refuses the environment name ${JSON.stringify(name)} (shell syntax and odd names are only text)`, () => {
      for (const body of [
        `/deploy ${name}`,
        `/rollback ${name}`,
        `/lock ${name}`,
        `/unlock ${name}`,
        `/cancel ${name}`,
        `/status ${name}`,
      ]) {
        expect(problem(body).problem).toMatch(/^invalid environment name ".*": use 1 to 64 of A-Z a-z 0-9 \. _ -$/);
      }
    });
  }

  it('a lock reason keeps shell syntax as text', () => {
    expect(parsed('/lock staging $(rm -rf /); `id` && echo "$HOME"')).toEqual({
      name: 'lock',
      environment: 'staging',
      reason: '$(rm -rf /); `id` && echo "$HOME"',
    });
  });

  it('refuses a first line of 10 000 characters whole, and a lock reason over 200', () => {
    const long = problem(`/deploy ${'x'.repeat(10_000)}`);
    expect(long.problem).toBe(`the command line is 10008 characters long; at most ${MAX_COMMAND_LINE} are read`);
    expect(long.usage).toEqual([USAGE.deploy]);
    expect(problem(`/lock staging ${'r'.repeat(201)}`).problem).toBe('the lock reason is 201 characters long; at most 200');
    expect(parsed(`/lock staging ${'r'.repeat(200)}`)).toMatchObject({ reason: 'r'.repeat(200) });
  });

  it('shows a bad value cut short, never all of it', () => {
    const result = problem(`/deploy ${'$'.repeat(900)}`);
    expect(result.problem.length).toBeLessThan(120);
  });
});

import { describe, expect, it } from 'vitest';
import { duplicateKey, parseDuplicateDescription, duplicateDescription, isForced } from '../../common/deploy-intent.ts';
import { formatDuration, parseDuration } from '../../common/duration.ts';
import { environmentNameError, refError, shaError, taskNameError } from '../../common/names.ts';
import { shellCommandWithEnv, shellQuote } from '../../common/shell.ts';
import { execFileSync } from 'node:child_process';

describe('names shared by the Action and the bot', () => {
  it('accepts 40 and 64 hex SHAs only', () => {
    expect(shaError('0123456789abcdef0123456789abcdef01234567')).toBeNull();
    expect(shaError('a'.repeat(64))).toBeNull();
    expect(shaError('A'.repeat(40))).toMatch(/invalid sha/);
    expect(shaError('a'.repeat(41))).toMatch(/invalid sha/);
  });

  it('follows git check-ref-format for refs', () => {
    for (const good of ['main', 'feature/x', 'refs/heads/main', 'v1.2.3', 'zzz";echo${IFS}"hello";#', '$(touch${IFS}/tmp/pwn)', '`id`'])
      expect(refError(good)).toBeNull();
    for (const bad of [
      '',
      'a..b',
      'a b',
      'a~1',
      'a^',
      'a:b',
      'a?',
      'a*',
      'a[b',
      'a\\b',
      '/a',
      'a/',
      'a//b',
      '.a',
      'a/.b',
      'a.lock',
      'a.',
      '@',
      'a@{1}',
      '-x',
      'a\nb',
      'x'.repeat(256),
    ]) {
      expect(refError(bad), bad).not.toBeNull();
    }
  });

  it('keeps error messages short even for huge values', () => {
    expect(environmentNameError('x'.repeat(10_000))!.length).toBeLessThan(120);
  });

  it('allows sub-tasks like deploy:noop but no spaces', () => {
    expect(taskNameError('deploy:noop')).toBeNull();
    expect(taskNameError('deploy noop')).toMatch(/invalid task/);
  });

  it('builds one duplicate key from repository, environment, sha and task', () => {
    const key = duplicateKey({ repository: 'acme/app', environment: 'staging', sha: 'a'.repeat(40), task: 'deploy' });
    expect(key).toBe(`acme/app|staging|${'a'.repeat(40)}|deploy`);
    expect(duplicateKey({ repository: 'acme/app', environment: 'staging', sha: 'a'.repeat(40), task: 'deploy:noop' })).not.toBe(key);
  });

  it('round-trips duplicate descriptions and only takes force: true', () => {
    expect(parseDuplicateDescription(duplicateDescription(1042, 'running'))).toEqual({ originalId: 1042, state: 'running' });
    expect(parseDuplicateDescription('superseded by #3')).toBeNull();
    expect(isForced({ force: true })).toBe(true);
    expect(isForced({ force: 'true' })).toBe(false);
  });
});

describe('durations', () => {
  it('parses and formats', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(() => parseDuration('10')).toThrow(/invalid duration "10"/);
    expect(() => parseDuration('0s')).toThrow(/longer than zero/);
    expect(formatDuration(5_400_000)).toBe('1h30m');
  });
});

describe('shell quoting', () => {
  it('hands hostile values to sh as data', () => {
    const hostile = [`it's`, '$(echo pwned)', '`echo pwned`', '"; echo pwned; "', 'a\nb', '-x', 'zzz";echo${IFS}"hello";#'];
    for (const value of hostile) {
      expect(execFileSync('/bin/sh', ['-c', `printf %s ${shellQuote(value)}`], { encoding: 'utf8' })).toBe(value);
    }
  });

  it('sets variables by a quoted prefix and runs the command with them', () => {
    const line = shellCommandWithEnv('printf "%s|%s" "$DEPLOY_REF" "$DEPLOY_HOST"', {
      DEPLOY_REF: '$(touch /tmp/x)',
      DEPLOY_HOST: "o'neil",
    });
    expect(execFileSync('/bin/sh', ['-c', line], { encoding: 'utf8' })).toBe("$(touch /tmp/x)|o'neil");
    expect(() => shellCommandWithEnv('true', { 'BAD NAME': 'x' })).toThrow(/invalid variable name/);
  });
});

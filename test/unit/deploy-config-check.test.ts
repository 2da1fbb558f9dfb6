// deploy.yml's validation reports every problem at once, each with its key path, line, what is wrong and
// what would be right; the bot's error status and `shipguard check` share these words.
import { describe, expect, it } from 'vitest';
import { DeployConfigError, checkDeployConfig, parseDeployConfig } from '../../bot/engine/deploy-config.ts';
import { nearMiss } from '../../bot/engine/near-miss.ts';

const problemsOf = (text: string) => {
  const check = checkDeployConfig(text);
  if (check.ok) throw new Error('expected problems, the file was valid');
  return check.problems;
};

describe('checkDeployConfig', () => {
  it('reports every problem at once, rules across keys beside broken keys, in the order of the file', () => {
    const text = [
      'default_environment: prod', // 1
      'environments:', // 2
      '  staging:', // 3
      '    hosts: [deploy@10.0.0.5, deploy@10.0.0.5]', // 4
      '    concurrency: two', // 5
      '    permision: write', // 6
      '    queue: lifo', // 7
      '    deploy: ./bin/deploy', // 8
      '    timeouts: { connect: 10m, command: 5m, total: soon }', // 9
      '    inactivity: 20m', // 10
      '  production:', // 11
      '    hosts: [deploy@10.0.0.7]', // 12
      '    requires: [stagin]', // 13
      '    timeouts: { connect: 1h }', // 14
      '',
    ].join('\n');
    expect(problemsOf(text)).toEqual([
      {
        path: 'default_environment',
        line: 1,
        message: 'names no environment "prod" (defined: staging, production): did you mean production?',
      },
      { path: 'environments.staging.hosts', line: 4, message: 'lists a host twice' },
      { path: 'environments.staging.concurrency', line: 5, message: 'expected a number, got "two"' },
      { path: 'environments.staging.permision', line: 6, message: 'unknown key "permision": did you mean permission?' },
      { path: 'environments.staging.queue', line: 7, message: 'expected one of fifo, latest, got "lifo": did you mean fifo?' },
      {
        path: 'environments.staging.timeouts.total',
        line: 9,
        message: 'invalid duration "soon": expected a number and a unit, like 90s, 15m, 2h or 1h30m',
      },
      { path: 'environments.production.deploy', line: 11, message: 'is required (the command run on each host)' },
      {
        path: 'environments.production.requires.0',
        line: 13,
        message: 'names no environment "stagin" (defined: staging, production): did you mean staging?',
      },
      {
        path: 'environments.production.timeouts',
        line: 14,
        message: 'must be ordered connect < command < total, got connect 1h, command 15m, total 2h',
      },
    ]);
  });

  it('checks timeouts and inactivity once they parse, whatever else is wrong', () => {
    const text =
      'environments:\n  staging:\n    hosts: [a@b]\n    deploy: 7\n    timeouts: { connect: 10m, command: 5m, extra: 1 }\n    inactivity: 20m\n';
    expect(problemsOf(text).map((p) => `${p.path}: ${p.message}`)).toEqual([
      'environments.staging.deploy: expected a string, got 7',
      'environments.staging.timeouts.extra: unknown key "extra": allowed here: connect, command, total',
      'environments.staging.timeouts: must be ordered connect < command < total, got connect 10m, command 5m, total 2h',
      'environments.staging.inactivity: must be shorter than timeouts.command',
    ]);
  });

  it('says what is allowed when an unknown key is no near miss, and what each value must be', () => {
    const text =
      'environments:\n  staging:\n    deployer: local\n    deploy: ""\n    concurrency: 0\n    url: staging\n    wibble: 1\n  "bad name": {}\n  empty:\nextra: 1\n';
    expect(problemsOf(text).map((p) => `${p.line} ${p.path}: ${p.message}`)).toEqual([
      '4 environments.staging.deploy: must not be empty',
      '5 environments.staging.concurrency: must be at least 1, got 0',
      '6 environments.staging.url: expected a URL such as https://staging.example.com, got "staging"',
      expect.stringMatching(/^7 environments\.staging\.wibble: unknown key "wibble": allowed here: url, hosts, concurrency, .*deployer\b/),
      '8 environments.bad name: invalid environment name "bad name": use 1 to 64 of A-Z a-z 0-9 . _ -',
      '9 environments.empty: expected a map of keys, got an empty value',
      '10 extra: unknown key "extra": allowed here: default_environment, environments',
    ]);
  });

  it('gives YAML syntax errors with their lines, and says an empty file is empty', () => {
    expect(problemsOf('environments:\n  staging: {}\n  staging: {}\n')).toEqual([
      { path: '(top level)', line: 3, message: 'not valid YAML: Map keys must be unique' },
    ]);
    expect(problemsOf('')).toEqual([
      { path: '(top level)', line: 1, message: 'the file is empty: it needs environments, with at least one' },
    ]);
    expect(problemsOf('- staging\n')).toEqual([{ path: '(top level)', line: 1, message: 'expected a map of keys, got a list' }]);
  });

  it('accepts a valid file with its defaults', () => {
    const check = checkDeployConfig('environments:\n  staging: { hosts: [deploy@10.0.0.5], deploy: ./bin/deploy }\n');
    expect(check.ok && check.config.environments.staging).toMatchObject({ concurrency: 1, queue: 'fifo', timeouts: { command: 900_000 } });
  });
});

describe('parseDeployConfig', () => {
  it("throws the same problems: the first in the status description with their count, all in the log page's detail", () => {
    const text = 'environments:\n  staging:\n    hosts: [a@b]\n    concurrency: two\n    deploy: ./d\n    timeouts: { connect: 1h }\n';
    const error = (() => {
      try {
        parseDeployConfig(text);
      } catch (thrown) {
        return thrown;
      }
      throw new Error('expected a DeployConfigError');
    })();
    expect(error).toBeInstanceOf(DeployConfigError);
    expect((error as DeployConfigError).summary).toBe(
      '.github/deploy.yml (2 problems): environments.staging.concurrency: expected a number, got "two"',
    );
    expect((error as DeployConfigError).message).toBe(
      '.github/deploy.yml is invalid:\n' +
        '- environments.staging.concurrency (line 4): expected a number, got "two"\n' +
        '- environments.staging.timeouts (line 6): must be ordered connect < command < total, got connect 1h, command 15m, total 2h',
    );
  });
});

describe('nearMiss', () => {
  it.each([
    ['permision', 'permission'],
    ['concurency', 'concurrency'],
    ['depoly', 'deploy'],
    ['max-failures', 'max_failures'],
    ['Healthcheck', 'healthcheck'],
    ['timeout', 'timeouts'],
    ['health', 'healthcheck'],
  ])('%s → %s', (typo, meant) => {
    expect(nearMiss(typo, ['permission', 'concurrency', 'deploy', 'max_failures', 'healthcheck', 'timeouts', 'hosts'])).toBe(meant);
  });

  it('suggests nothing when no word is close', () => {
    expect(nearMiss('wibble', ['permission', 'deploy', 'hosts'])).toBeUndefined();
    expect(nearMiss('ab', ['url'])).toBeUndefined();
  });
});

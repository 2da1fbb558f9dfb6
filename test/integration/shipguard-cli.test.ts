// `shipguard check` and `shipguard schema` as a user runs them: the bin shim started as a real process
// (`npx shipguard` from this clone too), its output, its exit status.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { DeployConfigError, parseDeployConfig } from '../../bot/engine/deploy-config.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/shipguard.js');
const dir = mkdtempSync(join(tmpdir(), 'shipguard-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function shipguard(args: string[], cwd = dir): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { cwd });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const BROKEN = [
  'environments:', // 1
  '  staging:', // 2
  '    hosts: [deploy@10.0.0.5]', // 3
  '    concurrency: two', // 4
  '    permision: write', // 5
  '    deploy: ./bin/deploy', // 6
  '    timeouts: { connect: 1h }', // 7
  '',
].join('\n');

describe('shipguard check', () => {
  it('prints every problem at once, as file:line: path: what is wrong and what would be right; exits 1', async () => {
    writeFileSync(join(dir, 'broken.yml'), BROKEN);
    const { code, stdout } = await shipguard(['check', 'broken.yml']);
    expect(code).toBe(1);
    expect(stdout).toBe(
      [
        'broken.yml:4: environments.staging.concurrency: expected a number, got "two"',
        'broken.yml:5: environments.staging.permision: unknown key "permision": did you mean permission?',
        'broken.yml:7: environments.staging.timeouts: must be ordered connect < command < total, got connect 1h, command 15m, total 2h',
        'broken.yml: 3 problems',
        '',
      ].join('\n'),
    );
  });

  it("says what the bot would say: the deployment's error status is its first problem, in the same words", async () => {
    const { stdout } = await shipguard(['check', join(dir, 'broken.yml')]);
    const firstProblem = stdout.split('\n')[0]!.replace(/^.*?:4: /, '');
    let summary = '';
    try {
      parseDeployConfig(BROKEN);
    } catch (error) {
      summary = (error as DeployConfigError).summary;
    }
    expect(summary).toBe(`.github/deploy.yml (3 problems): ${firstProblem}`);
  });

  it('--json: the problems for CI, exit 1; a valid file gives valid: true, exit 0', async () => {
    const broken = await shipguard(['check', 'broken.yml', '--json']);
    expect(broken.code).toBe(1);
    expect(JSON.parse(broken.stdout)).toMatchObject({
      file: 'broken.yml',
      valid: false,
      problems: [
        { path: 'environments.staging.concurrency', line: 4, message: 'expected a number, got "two"' },
        { path: 'environments.staging.permision', line: 5 },
        { path: 'environments.staging.timeouts', line: 7 },
      ],
    });
    writeFileSync(join(dir, 'good.yml'), 'environments:\n  staging: { hosts: [deploy@10.0.0.5], deploy: ./bin/deploy }\n');
    const good = await shipguard(['check', '--json', 'good.yml']);
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toEqual({ file: 'good.yml', valid: true, environments: ['staging'], problems: [] });
  });

  it('reads .github/deploy.yml by default', async () => {
    const repo = join(dir, 'repo');
    mkdirSync(join(repo, '.github'), { recursive: true });
    writeFileSync(
      join(repo, '.github/deploy.yml'),
      'environments:\n  staging: { deployer: local, deploy: ./bin/deploy }\n  production: { deployer: legacy }\n',
    );
    expect(await shipguard(['check'], repo)).toMatchObject({
      code: 0,
      stdout: '.github/deploy.yml: valid (environments: staging, production)\n',
    });
  });

  it('a missing file is a problem (exit 1); a wrong command is a usage error (exit 2)', async () => {
    expect(await shipguard(['check', 'nowhere.yml'])).toMatchObject({
      code: 1,
      stdout: 'nowhere.yml: (top level): cannot read the file: no such file\nnowhere.yml: 1 problem\n',
    });
    const wrong = await shipguard(['chek']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('usage: shipguard check [path] [--json]');
  });

  it('runs as npx shipguard from a clone', async () => {
    const { stdout } = await promisify(execFile)('npx', ['--no-install', 'shipguard', 'check', join(dir, 'good.yml')], { cwd: ROOT });
    expect(stdout).toBe(`${join(dir, 'good.yml')}: valid (environments: staging)\n`);
  });
});

describe('shipguard schema', () => {
  it('prints the committed JSON Schema', async () => {
    const { code, stdout } = await shipguard(['schema']);
    expect(code).toBe(0);
    expect(stdout).toBe(readFileSync(join(ROOT, 'schema/deploy.schema.json'), 'utf8'));
  });
});

describe('examples/', () => {
  const examples = readdirSync(join(ROOT, 'examples'));

  it('holds the three layouts: a systemd service, symlinked releases, docker compose', () => {
    expect(examples).toEqual(expect.arrayContaining(['docker-compose', 'symlinked-releases', 'systemd-service']));
  });

  it.each(examples)('%s: its deploy.yml passes shipguard check, its host scripts are valid sh', async (example) => {
    const file = `examples/${example}/deploy.yml`;
    expect(await shipguard(['check', file], ROOT)).toMatchObject({
      code: 0,
      stdout: `${file}: valid (environments: staging, production)\n`,
    });
    const scripts = readdirSync(join(ROOT, 'examples', example, 'bin'));
    expect(scripts.length).toBeGreaterThan(0);
    for (const script of scripts) await promisify(execFile)('sh', ['-n', join(ROOT, 'examples', example, 'bin', script)]);
  });
});

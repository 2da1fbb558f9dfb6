// deploy.yml parsed off the event loop: one thread serves a burst of parses (twenty repositories admitted
// at once all get their config); a parse past its deadline is a transient failure (read again next round),
// never a DeployConfigError that would end or ignore a deployment; a bad file is still a DeployConfigError.
import { describe, expect, it } from 'vitest';
import { DeployConfigError } from '../../bot/engine/deploy-config.ts';
import { parseDeployConfigOffThread } from '../../bot/github/parse-deploy-config-off-thread.ts';

const yml = (n: number) => `environments:\n  env-${n}:\n    deployer: local\n    deploy: ./deploy\n`;

describe('deploy.yml parsed in a worker thread', { timeout: 120_000 }, () => {
  it('a burst of twenty parses all resolve, each with its own config', async () => {
    const configs = await Promise.all(Array.from({ length: 20 }, (_, n) => parseDeployConfigOffThread(yml(n), 60_000)));
    expect(configs.map((c) => Object.keys(c.environments))).toEqual(Array.from({ length: 20 }, (_, n) => [`env-${n}`]));
  });

  it('an invalid file is a DeployConfigError with its problem', async () => {
    const error = await parseDeployConfigOffThread('environments: [', 60_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeployConfigError);
    expect((error as DeployConfigError).summary).toMatch(/^\.github\/deploy\.yml: \(top level\): not valid YAML/);
  });

  it('a parse past its deadline fails as a transient error, and the next parse works', async () => {
    const unit = `${'['.repeat(30)}x${']'.repeat(30)}`;
    const slow = `environments: [${Array.from({ length: 1000 }, () => unit).join(', ')}]\n`;
    const error = await parseDeployConfigOffThread(slow, 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(DeployConfigError);
    expect((error as Error).message).toMatch(/not parsed within 0.001s .*will try again/);
    expect(Object.keys((await parseDeployConfigOffThread(yml(1), 60_000)).environments)).toEqual(['env-1']);
  });
});

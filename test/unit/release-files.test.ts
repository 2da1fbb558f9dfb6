// The release story holds together: the README's `uses:` names the major tag the release workflow moves,
// CI runs what `.ci/run` runs and checks dist/, the licence is the one package.json declares, and the
// CHANGELOG has the section the release workflow reads its notes from.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = join(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const pkg = JSON.parse(read('package.json')) as { version: string; license: string };

interface Workflow {
  on: { push?: { tags?: string[]; branches?: string[] }; pull_request?: unknown };
  jobs: Record<string, { steps: Array<{ run?: string; uses?: string }> }>;
}
const workflow = (name: string) => parse(read(`.github/workflows/${name}`)) as Workflow;
const runs = (w: Workflow) => Object.values(w.jobs).flatMap((job) => job.steps.map((step) => step.run ?? ''));

describe('release files', () => {
  it('the README’s uses: line names the major tag of package.json’s version', () => {
    const uses = [...read('README.md').matchAll(/uses: [\w-]+\/shipguard@([\w.]+)/g)].map((m) => m[1]);
    expect(uses.length).toBeGreaterThan(0);
    for (const ref of uses) expect(ref).toBe(`v${pkg.version.split('.')[0]}`);
  });

  it('the release workflow runs on vX.Y.Z tags and moves vX', () => {
    const release = workflow('release.yml');
    const pattern = new RegExp(`^${release.on.push!.tags![0]!.replace(/\./g, '\\.').replace(/\[0-9\]\+/g, '[0-9]+')}$`);
    expect('v1.2.3').toMatch(pattern);
    expect('v1').not.toMatch(pattern);
    const script = runs(release).join('\n');
    expect(script).toContain('git tag -f "${{ steps.version.outputs.major }}"');
    expect(script).toMatch(/npm run build && git diff --exit-code/);
  });

  it('CI runs bash .ci/run and a dist/ check, on pushes to main and pull requests', () => {
    const ci = workflow('ci.yml');
    expect(ci.on.push?.branches).toEqual(['main']);
    expect(ci.on).toHaveProperty('pull_request');
    const script = runs(ci).join('\n');
    expect(script).toContain('bash .ci/run');
    expect(script).toContain('npm run build');
    expect(script).toContain('git diff --exit-code --stat -- dist/');
  });

  it('LICENSE is the licence package.json declares; CHANGELOG has an Unreleased section', () => {
    expect(pkg.license).toBe('MIT');
    expect(read('LICENSE').split('\n')[0]).toBe('MIT License');
    expect(read('CHANGELOG.md')).toMatch(/^## \[Unreleased\]$/m);
  });
});

// deploy.yml's bounds, checked before any parsing: size, and nesting by indentation, `- ` entries and brackets.
import { describe, expect, it } from 'vitest';
import { MAX_YAML_DEPTH, yamlBoundsProblem } from '../../bot/engine/yaml-bounds.ts';

describe('deploy.yml bounds', () => {
  it('accepts a real file, with brackets inside quotes and comments not counted', () => {
    const text = [
      'default_environment: staging',
      'environments:',
      '  staging:',
      '    hosts: [deploy@10.0.0.5, "deploy@10.0.0.6:2222"]',
      `    deploy: "echo ${'['.repeat(50)}"   # ${'{'.repeat(50)}`,
      '    timeouts: { connect: 10s, command: 15m }',
      '    freeze:',
      '      - { start: "2026-12-24T00:00", end: "2026-12-27T00:00" }',
    ].join('\n');
    expect(yamlBoundsProblem(text)).toBeNull();
  });

  it('refuses more than 64 KB, counting UTF-8 bytes', () => {
    expect(yamlBoundsProblem(`a: ${'é'.repeat(33_000)}`)).toEqual({ message: '65 KB, more than the 64 KB accepted' });
    expect(yamlBoundsProblem(`a: ${'e'.repeat(60_000)}`)).toBeNull();
  });

  it(`refuses nesting past ${MAX_YAML_DEPTH} levels by brackets, indentation or sequence entries, naming the line`, () => {
    const ok = MAX_YAML_DEPTH - 1;
    expect(yamlBoundsProblem(`a: ${'['.repeat(ok)}${']'.repeat(ok)}`)).toBeNull();
    const deep = { message: `nested more than ${MAX_YAML_DEPTH} levels deep` };
    expect(yamlBoundsProblem(`a: ${'['.repeat(MAX_YAML_DEPTH)}${']'.repeat(MAX_YAML_DEPTH)}`)).toEqual({ ...deep, line: 1 });
    // Brackets left open across lines keep counting.
    expect(yamlBoundsProblem(`x: 1\na: ${'[\n'.repeat(MAX_YAML_DEPTH + 1)}`)).toEqual({ ...deep, line: 33 });
    const block = Array.from({ length: MAX_YAML_DEPTH + 1 }, (_, i) => `${' '.repeat(i)}k:`).join('\n');
    expect(yamlBoundsProblem(block)).toEqual({ ...deep, line: MAX_YAML_DEPTH + 1 });
    expect(yamlBoundsProblem(`a:\n${'- '.repeat(MAX_YAML_DEPTH + 1)}x`)).toEqual({ ...deep, line: 2 });
    // Siblings at one level do not add up.
    expect(yamlBoundsProblem(Array.from({ length: 500 }, (_, i) => `k${i}: [[1], {a: [2]}]`).join('\n'))).toBeNull();
  });
});

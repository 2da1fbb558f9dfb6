// action.yml is the Action's public contract: its inputs and outputs are exactly the README's, and
// every input the code reads is declared there (an undeclared one would always read as empty).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readInputs } from '../../src/inputs.ts';

const actionYml = parse(readFileSync(new URL('../../action.yml', import.meta.url), 'utf8')) as {
  inputs: Record<string, { required?: boolean; default?: string }>;
  outputs: Record<string, unknown>;
  runs: { using: string; main: string };
};

const DOCUMENTED_INPUTS = [
  'environment',
  'ref',
  'token',
  'force',
  'payload',
  'description',
  'wait',
  'wait-timeout',
  'on-duplicate',
  'required-contexts',
  'pickup-timeout',
  'production-environment',
  'transient-environment',
];
const DOCUMENTED_OUTPUTS = ['deployment-id', 'state', 'duplicate-of', 'environment-url', 'log-url'];

describe('action.yml', () => {
  it('runs dist/index.js on node24', () => {
    expect(actionYml.runs).toEqual({ using: 'node24', main: 'dist/index.js' });
  });

  it('declares exactly the inputs and outputs of the design, with its defaults', () => {
    expect(Object.keys(actionYml.inputs).sort()).toEqual([...DOCUMENTED_INPUTS].sort());
    expect(Object.keys(actionYml.outputs).sort()).toEqual([...DOCUMENTED_OUTPUTS].sort());
    const defaults = Object.fromEntries(Object.entries(actionYml.inputs).map(([name, input]) => [name, input.default]));
    expect(defaults).toMatchObject({
      token: '${{ github.token }}',
      force: 'false',
      wait: 'true',
      'wait-timeout': '60m',
      'on-duplicate': 'follow',
      'pickup-timeout': '2m',
    });
    expect(actionYml.inputs.environment!.required).toBe(true);
  });

  it('declares every input the code reads', () => {
    const read = new Set<string>();
    readInputs((name) => {
      read.add(name);
      return name === 'environment' ? 'staging' : name === 'token' ? 't' : '';
    });
    expect([...read].sort()).toEqual([...DOCUMENTED_INPUTS].sort());
  });
});

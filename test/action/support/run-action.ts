// Runs the Action's run() the way a runner would (INPUT_* and GITHUB_* variables, GITHUB_OUTPUT and
// GITHUB_STEP_SUMMARY files), with a virtual clock, capturing what it prints; restores everything after.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../../src/main.ts';
import type { Timing } from '../../../src/timing.ts';

export const WORKFLOW_SHA = 'a'.repeat(40);

export interface VirtualTiming extends Timing {
  /** Every pause the Action asked for, in order. */
  readonly sleeps: number[];
}

/** A clock that moves only when the Action sleeps: minutes of polling take no real time. */
export function virtualTiming(overrides: Partial<Timing> = {}): VirtualTiming {
  let now = Date.parse('2026-11-27T12:00:00Z');
  const sleeps: number[] = [];
  return {
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
      await new Promise((resolve) => setImmediate(resolve));
    },
    pollFirstMs: 2_000,
    pollMaxMs: 15_000,
    createTimeoutMs: 30_000,
    settleMs: 3_000,
    sleeps,
    ...overrides,
  };
}

export interface ActionRun {
  outputs: Record<string, string>;
  summary: string;
  /** Everything the Action printed, split into lines. */
  lines: string[];
  failed: boolean;
  /** The `::error::` lines (the step's failure message). */
  errors: string[];
}

export interface RunActionOptions {
  inputs: Record<string, string>;
  apiUrl: string;
  timing?: Timing;
  /** Extra or replaced GITHUB_* variables. */
  env?: Record<string, string>;
}

/** Parses the GITHUB_OUTPUT file format: `name<<delimiter\nvalue\ndelimiter\n`, repeated. */
export function parseOutputsFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  for (const match of text.matchAll(/^([^\n<]+)<<(\S+)\n([\s\S]*?)\n?\2\n/gm)) outputs[match[1]!] = match[3]!;
  return outputs;
}

export async function runAction(options: RunActionOptions): Promise<ActionRun> {
  const folder = mkdtempSync(join(tmpdir(), 'shipguard-action-'));
  const savedEnv = { ...process.env };
  const printed: string[] = [];
  const realWrite = process.stdout.write;
  try {
    const outputPath = join(folder, 'output');
    const summaryPath = join(folder, 'summary');
    writeFileSync(outputPath, '');
    writeFileSync(summaryPath, '');
    for (const name of Object.keys(process.env)) {
      if (name.startsWith('INPUT_') || name.startsWith('GITHUB_')) delete process.env[name];
    }
    Object.assign(process.env, {
      GITHUB_REPOSITORY: 'acme/app',
      GITHUB_RUN_ID: '4242',
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_JOB: 'deploy',
      GITHUB_ACTOR: 'octocat',
      GITHUB_SHA: WORKFLOW_SHA,
      GITHUB_EVENT_NAME: 'push',
      GITHUB_API_URL: options.apiUrl,
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_OUTPUT: outputPath,
      GITHUB_STEP_SUMMARY: summaryPath,
      ...options.env,
    });
    for (const [name, value] of Object.entries({ token: 'test-token', ...options.inputs })) {
      process.env[`INPUT_${name.toUpperCase()}`] = value;
    }
    process.stdout.write = ((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    process.exitCode = undefined;

    await run({ timing: options.timing ?? virtualTiming(), fetch: (url, init) => globalThis.fetch(url, init) });

    const lines = printed
      .join('')
      .split(/\r?\n/)
      .filter((line) => line !== '');
    return {
      outputs: parseOutputsFile(readFileSync(outputPath, 'utf8')),
      summary: readFileSync(summaryPath, 'utf8'),
      lines,
      failed: process.exitCode === 1,
      errors: lines.filter((line) => line.startsWith('::error::')).map((line) => line.slice('::error::'.length)),
    };
  } finally {
    process.stdout.write = realWrite;
    process.exitCode = undefined;
    for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
    Object.assign(process.env, savedEnv);
    rmSync(folder, { recursive: true, force: true });
  }
}

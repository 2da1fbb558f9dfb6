// Runs the Action's own code (`run()` of src/main.ts, the module dist/ is bundled from) as a workflow
// step would, in this process: INPUT_* and GITHUB_* variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY
// files, real time. Each line it prints is handed to `onLine` as it comes; everything is restored after.
// Used by the demo and the end-to-end tests (the Action's unit tests have their own, on a virtual clock).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/main.ts';

export interface ActionStep {
  /** The step's environment: API address, token, repository, workflow run. */
  apiUrl: string;
  serverUrl: string;
  token: string;
  repository: string;
  /** The workflow's commit (GITHUB_SHA): what the Action deploys when the `ref` input is unset. */
  sha: string;
  runId: number;
  actor: string;
  /** action.yml inputs by name (`environment`, `on-duplicate`, …); `token` is set from above. */
  inputs: Record<string, string>;
  onLine?: (line: string) => void;
}

export interface ActionStepResult {
  outputs: Record<string, string>;
  failed: boolean;
  /** The step's failure message(s) (`::error::` lines). */
  errors: string[];
  lines: string[];
  /** What the step wrote to the job summary (Markdown). */
  summary: string;
}

/** Parses the GITHUB_OUTPUT file format: `name<<delimiter\nvalue\ndelimiter\n`, repeated. */
function parseOutputsFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  for (const match of text.matchAll(/^([^\n<]+)<<(\S+)\n([\s\S]*?)\n?\2\n/gm)) outputs[match[1]!] = match[3]!;
  return outputs;
}

export async function runActionStep(step: ActionStep): Promise<ActionStepResult> {
  const folder = mkdtempSync(join(tmpdir(), 'shipguard-step-'));
  const savedEnv = { ...process.env };
  const savedExitCode = process.exitCode;
  const realWrite = process.stdout.write;
  const lines: string[] = [];
  let partial = '';
  try {
    const outputPath = join(folder, 'output');
    writeFileSync(outputPath, '');
    writeFileSync(join(folder, 'summary'), '');
    for (const name of Object.keys(process.env)) {
      if (name.startsWith('INPUT_') || name.startsWith('GITHUB_')) delete process.env[name];
    }
    Object.assign(process.env, {
      GITHUB_REPOSITORY: step.repository,
      GITHUB_RUN_ID: String(step.runId),
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_JOB: 'deploy',
      GITHUB_ACTOR: step.actor,
      GITHUB_SHA: step.sha,
      GITHUB_EVENT_NAME: 'push',
      GITHUB_API_URL: step.apiUrl,
      GITHUB_SERVER_URL: step.serverUrl,
      GITHUB_OUTPUT: outputPath,
      GITHUB_STEP_SUMMARY: join(folder, 'summary'),
    });
    for (const [name, value] of Object.entries({ ...step.inputs, token: step.token })) {
      process.env[`INPUT_${name.toUpperCase()}`] = value;
    }
    // @actions/core prints through process.stdout.write: catch it line by line.
    process.stdout.write = ((chunk: string | Uint8Array) => {
      partial += String(chunk);
      const complete = partial.split(/\r?\n/);
      partial = complete.pop()!;
      for (const line of complete.filter((l) => l !== '')) {
        lines.push(line);
        step.onLine?.(line);
      }
      return true;
    }) as typeof process.stdout.write;
    process.exitCode = undefined;

    await run({ fetch: (url, init) => globalThis.fetch(url, init) });

    return {
      outputs: parseOutputsFile(readFileSync(outputPath, 'utf8')),
      failed: process.exitCode === 1,
      errors: lines.filter((line) => line.startsWith('::error::')).map((line) => line.slice('::error::'.length)),
      lines,
      summary: readFileSync(join(folder, 'summary'), 'utf8'),
    };
  } finally {
    process.stdout.write = realWrite;
    process.exitCode = savedExitCode;
    for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
    Object.assign(process.env, savedEnv);
    rmSync(folder, { recursive: true, force: true });
  }
}

// Benchmark: what rolling out in waves costs by itself. 50 hosts with the local deployer, concurrency 10,
// zero bake and no gate: once as one rolling deploy, once in waves [1, 10%, 100%] (1, then 4, then 45
// hosts). A wave starts only when the one before has ended, so its lanes drain at each boundary: the
// difference is that wait, plus the rollout's own bookkeeping. Two deploy commands: `true` (the
// bookkeeping and process starts alone) and `sleep 0.2` (a host that takes time). Median of 5 runs each.
//
//   node bench/waves.ts        prints the figures, writes bench/results/waves.json
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { DeployEvents, DeployJob } from '../bot/deployers/deployer.ts';
import { LocalDeployer } from '../bot/deployers/local.ts';
import { environmentConfig, parseDeployConfig } from '../bot/engine/deploy-config.ts';
import { runIfMain } from './standalone.ts';

const THIS_FILE = fileURLToPath(import.meta.url);
const RESULTS = join(dirname(THIS_FILE), 'results', 'waves.json');
const HOSTS = Array.from({ length: 50 }, (_, i) => `web-${i + 1}`);
const CONCURRENCY = 10;
const RUNS = 5;

export interface WavesBenchmark {
  hosts: number;
  concurrency: number;
  runs: number;
  cases: Array<{ command: string; plainMs: number; wavesMs: number; addedMs: number }>;
}

const quiet: DeployEvents = {
  hostStarted() {},
  hostPhase() {},
  beginStep: async () => true,
  hostOutput() {},
  hostFinished() {},
  progress() {},
  wave() {},
  beginFleetRollback: async () => true,
};

async function timeRollout(command: string, waves: Array<number | string> | undefined): Promise<number> {
  const yaml = stringify({
    environments: { bench: { deployer: 'local', hosts: HOSTS, concurrency: CONCURRENCY, deploy: command, ...(waves ? { waves } : {}) } },
  });
  const config = environmentConfig(parseDeployConfig(yaml), 'bench');
  const job: DeployJob = {
    deploymentId: 1,
    repository: 'acme/app',
    environment: 'bench',
    sha: 'a'.repeat(40),
    ref: 'main',
    task: 'deploy',
    previousSha: null,
    noop: false,
    payload: {},
    config,
    hosts: HOSTS.map((name) => ({ name, state: 'pending', inDoubtForMs: 0 })),
    fleetRollback: null,
    cancelWithRollback: false,
    cancel: new AbortController().signal,
    drain: new AbortController().signal,
    halt: new AbortController().signal,
    resumed: false,
    deadline: Date.now() + config.timeouts.total,
    secrets: [],
  };
  const started = performance.now();
  const result = await new LocalDeployer().deploy(job, quiet);
  const ms = performance.now() - started;
  if (result.state !== 'succeeded') throw new Error(result.description);
  return ms;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function main(): Promise<WavesBenchmark> {
  const cases: WavesBenchmark['cases'] = [];
  for (const command of ['true', 'sleep 0.2']) {
    const plain: number[] = [];
    const waves: number[] = [];
    // Interleaved, so that a busy moment of the machine falls on both alike.
    for (let run = 0; run < RUNS; run++) {
      plain.push(await timeRollout(command, undefined));
      waves.push(await timeRollout(command, [1, '10%', '100%']));
    }
    const plainMs = Math.round(median(plain));
    const wavesMs = Math.round(median(waves));
    cases.push({ command, plainMs, wavesMs, addedMs: wavesMs - plainMs });
  }
  const result: WavesBenchmark = { hosts: HOSTS.length, concurrency: CONCURRENCY, runs: RUNS, cases };
  console.log(
    `\n50 hosts, local deployer, concurrency ${CONCURRENCY}, zero bake: plain rollout vs waves [1, 10%, 100%] (median of ${RUNS})`,
  );
  console.table(cases.map((c) => ({ command: c.command, 'plain (ms)': c.plainMs, 'waves (ms)': c.wavesMs, 'added (ms)': c.addedMs })));
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

runIfMain(import.meta.url, main);

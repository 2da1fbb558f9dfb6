// Benchmark: twenty deployments requested at once (twenty environments of one repository, so none
// waits for another) against the GitHub stand-in. GitHub asks for a second between writes, and Probot's
// client spaces them so; the status queue coalesces progress and sends terminal statuses first. Reports
// when each deployment's terminal status reached GitHub, and how many status writes it took.
//
//   node bench/status-burst.ts        prints the figures, writes bench/results/status-burst.json
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runIfMain } from './standalone.ts';
import { startBotIn, startWorld } from '../test/support/bot-harness.ts';

const THIS_FILE = fileURLToPath(import.meta.url);
const RESULTS = join(dirname(THIS_FILE), 'results', 'status-burst.json');
const DEPLOYMENTS = 20;

export interface StatusBurstBenchmark {
  deployments: number;
  statusWrites: number;
  lastTerminalAfterMs: number;
  medianTerminalAfterMs: number;
  allStatusesAfterMs: number;
}

export async function main(): Promise<StatusBurstBenchmark> {
  const environments = Array.from({ length: DEPLOYMENTS }, (_, i) => `env-${i + 1}`);
  const world = await startWorld({
    deployYml: `environments:\n${environments.map((name) => `  ${name}:\n    deployer: local\n    deploy: 'sleep 1'\n`).join('')}`,
  });
  const bot = await startBotIn(world);
  try {
    const started = Date.now();
    const ids = await Promise.all(environments.map((environment) => world.createDeployment({ environment })));
    const terminalAt = await Promise.all(
      ids.map(async (id) => {
        const status = await world.github.waitFor(() => world.github.statuses(id).find((s) => s.state === 'success'), 300_000);
        return Date.parse(status.createdAt) - started;
      }),
    );
    await bot.worker.idle();
    await new Promise((resolve) => setTimeout(resolve, 3000)); // the last non-terminal writes, if any
    const writes = ids.flatMap((id) => world.github.statuses(id));
    const sorted = [...terminalAt].sort((a, b) => a - b);
    const result: StatusBurstBenchmark = {
      deployments: DEPLOYMENTS,
      statusWrites: writes.length,
      lastTerminalAfterMs: sorted.at(-1)!,
      medianTerminalAfterMs: sorted[Math.floor(sorted.length / 2)]!,
      allStatusesAfterMs: Math.max(...writes.map((s) => Date.parse(s.createdAt))) - started,
    };
    console.log(`\n${DEPLOYMENTS} deployments at once (20 environments, deploy: sleep 1), one write a second to GitHub:`);
    console.log(
      `  terminal status on GitHub: median ${(result.medianTerminalAfterMs / 1000).toFixed(1)} s, last ${(result.lastTerminalAfterMs / 1000).toFixed(1)} s`,
    );
    console.log(
      `  every status written after ${(result.allStatusesAfterMs / 1000).toFixed(1)} s, ${result.statusWrites} status writes in all`,
    );
    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(
      RESULTS,
      `${JSON.stringify({ name: 'status-burst', date: new Date().toISOString(), node: process.version, ...result }, null, 2)}\n`,
    );
    return result;
  } finally {
    await bot.stop();
    await world.close();
  }
}

runIfMain(import.meta.url, main);

// Benchmark (issue 13): many installations at once. N repositories, each in an installation of its own,
// each with one deployment requested at the same moment (a one-host local deploy that takes no time),
// against the GitHub stand-in: how long until every deployment's terminal status is on GitHub, how many
// status writes that took, and how many API calls in all per deployment. GitHub asks for a second between
// one token's writes; tokens are per installation, so installations should publish side by side.
//
//   node bench/installations.ts [N]        prints the figures, writes bench/results/installations.json
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runIfMain } from './standalone.ts';
import { createDeployment, deployYml, startBotIn, startWorld } from '../test/support/bot-harness.ts';

const THIS_FILE = fileURLToPath(import.meta.url);
const RESULTS = join(dirname(THIS_FILE), 'results', 'installations.json');

export interface InstallationsBenchmark {
  installations: number;
  allTerminalAfterMs: number;
  medianTerminalAfterMs: number;
  statusWrites: number;
  apiCallsPerDeployment: number;
}

export async function main(installations = Number(process.argv[2] ?? 100)): Promise<InstallationsBenchmark> {
  const yml = deployYml(`  staging:\n    deployer: local\n    deploy: 'true'\n`);
  const world = await startWorld({ deployYml: yml });
  const repositories = Array.from({ length: installations }, (_, i) => {
    const repo = world.github.addRepository({ owner: `org-${i + 1}`, name: 'app', installationId: 100 + i });
    world.github.setFile(repo.fullName, '.github/deploy.yml', yml);
    return repo.fullName;
  });
  const bot = await startBotIn(world);
  try {
    const before = world.github.requests.length;
    const started = Date.now();
    const ids = await Promise.all(repositories.map((repository) => createDeployment(world.github, repository, {})));
    const terminalAt = await Promise.all(
      ids.map(async (id) => {
        const status = await world.github.waitFor(() => world.github.statuses(id).find((s) => s.state === 'success'), 600_000);
        return Date.parse(status.createdAt) - started;
      }),
    );
    await bot.worker.idle();
    const sorted = [...terminalAt].sort((a, b) => a - b);
    const calls = world.github.requests.slice(before).filter((r) => !(r.method === 'POST' && /\/deployments$/.test(r.path)));
    const result: InstallationsBenchmark = {
      installations,
      allTerminalAfterMs: sorted.at(-1)!,
      medianTerminalAfterMs: sorted[Math.floor(sorted.length / 2)]!,
      statusWrites: ids.flatMap((id) => world.github.statuses(id)).length,
      apiCallsPerDeployment: calls.length / installations,
    };
    console.log(`\n${installations} installations × 1 deployment at once (deploy: true):`);
    console.log(
      `  terminal status on GitHub: median ${(result.medianTerminalAfterMs / 1000).toFixed(1)} s, all after ${(result.allTerminalAfterMs / 1000).toFixed(1)} s; ${result.statusWrites} status writes, ${result.apiCallsPerDeployment.toFixed(1)} API calls per deployment`,
    );
    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(
      RESULTS,
      `${JSON.stringify({ name: 'installations', date: new Date().toISOString(), node: process.version, ...result }, null, 2)}\n`,
    );
    return result;
  } finally {
    await bot.stop();
    await world.close();
  }
}

runIfMain(import.meta.url, () => main());

// Benchmark (issue 4): a trivial deploy (`true`, then a 200 ms `sleep`) to 50 local sshd hosts,
// 10 at a time, by shipguard's ssh deployer and, in the same run:
//   - floor: a bare ssh2 fan-out (connect + exec + close, same concurrency, no checks at all);
//   - parallel-ssh (`-p 10`) and Ansible (`forks: 10`, `serial: 10`), from Debian's packages; a peer
//     that is not installed is skipped and the table says so.
// Each tool runs as its own process; wall time is from spawn to exit, peak memory is the highest total
// RSS of that process and everything it started (sampled from /proc). Both are reported as ratios to the
// floor; the medians of `repeats` runs are kept.
//
//   node bench/ssh-fleet.ts [--repeats 3] [--hosts 50]   prints the table, writes bench/results/ssh-fleet.json
//   import { main } from './ssh-fleet.ts'                 the same, for bench/run.ts
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeployEvents, DeployJob } from '../bot/deployers/deployer.ts';
import type { SshdFleet } from '../test/support/sshd-fleet.ts';
// Everything else is imported where it is used: each runner process loads only what its tool needs,
// so the floor's memory is ssh2's and nothing more.

const THIS_FILE = fileURLToPath(import.meta.url);
const RESULTS = join(dirname(THIS_FILE), 'results', 'ssh-fleet.json');
const CONCURRENCY = 10;
const COMMANDS = ['true', 'sleep 0.2'];
const TOOLS = ['floor', 'shipguard', 'parallel-ssh', 'ansible'] as const;
type Tool = (typeof TOOLS)[number];

/** What a runner process needs: written to a file by the parent, read by the child. */
interface RunnerInput {
  hosts: string[];
  privateKeyPath: string;
  knownHostsPath: string;
  command: string;
  workDir: string;
}

interface Measurement {
  tool: Tool;
  status: 'ok' | 'failed' | 'skipped';
  reason?: string;
  wallMs?: number;
  peakRssMb?: number;
  wallVsFloor?: number;
  memoryVsFloor?: number;
}

export interface SshFleetBenchmark {
  name: 'ssh-fleet';
  date: string;
  machine: { cpus: number; node: string };
  hosts: number;
  concurrency: number;
  repeats: number;
  scenarios: Array<{ command: string; results: Measurement[] }>;
}

export async function main(options: { repeats?: number; hosts?: number } = {}): Promise<SshFleetBenchmark> {
  const repeats = options.repeats ?? 3;
  const hostCount = options.hosts ?? 50;
  const { SshdFleet } = await import('../test/support/sshd-fleet.ts');
  const fleet: SshdFleet = await SshdFleet.start(hostCount);
  try {
    const knownHostsPath = join(fleet.dir, 'bench_known_hosts');
    writeFileSync(knownHostsPath, fleet.knownHosts);
    const benchmark: SshFleetBenchmark = {
      name: 'ssh-fleet',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, node: process.version },
      hosts: hostCount,
      concurrency: CONCURRENCY,
      repeats,
      scenarios: [],
    };
    for (const command of COMMANDS) {
      const input: RunnerInput = {
        hosts: fleet.hosts.map((h) => h.spec),
        privateKeyPath: fleet.privateKeyPath,
        knownHostsPath,
        command,
        workDir: fleet.dir,
      };
      const runs = new Map<Tool, Array<{ wallMs: number; peakRssMb: number } | { failed: string }>>();
      for (let round = 0; round < repeats; round++) {
        // Interleaved, so a slow moment of the machine does not land on one tool only.
        for (const tool of TOOLS) {
          if (missingPeer(tool)) continue;
          const run = await measure(tool, input);
          runs.set(tool, [...(runs.get(tool) ?? []), run]);
        }
      }
      benchmark.scenarios.push({ command, results: summarise(runs) });
    }
    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify(benchmark, null, 2)}\n`);
    console.log(formatTable(benchmark));
    return benchmark;
  } finally {
    await fleet.close();
  }
}

function summarise(runs: Map<Tool, Array<{ wallMs: number; peakRssMb: number } | { failed: string }>>): Measurement[] {
  const results: Measurement[] = TOOLS.map((tool) => {
    const missing = missingPeer(tool);
    if (missing) return { tool, status: 'skipped', reason: missing };
    const all = runs.get(tool) ?? [];
    const failure = all.find((r) => 'failed' in r);
    if (failure && 'failed' in failure) return { tool, status: 'failed', reason: failure.failed };
    const ok = all as Array<{ wallMs: number; peakRssMb: number }>;
    return { tool, status: 'ok', wallMs: median(ok.map((r) => r.wallMs)), peakRssMb: median(ok.map((r) => r.peakRssMb)) };
  });
  const floor = results.find((r) => r.tool === 'floor');
  for (const result of results) {
    if (result.status !== 'ok' || floor?.status !== 'ok') continue;
    result.wallVsFloor = round2(result.wallMs! / floor.wallMs!);
    result.memoryVsFloor = round2(result.peakRssMb! / floor.peakRssMb!);
  }
  return results;
}

export function formatTable(benchmark: SshFleetBenchmark): string {
  const lines = [
    `${benchmark.hosts} sshd hosts on loopback, concurrency ${benchmark.concurrency}, median of ${benchmark.repeats}, ${benchmark.machine.cpus} CPUs, Node ${benchmark.machine.node}`,
    '',
    '| command | tool | wall time | × floor | peak memory (RSS, with children) | × floor |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const scenario of benchmark.scenarios) {
    for (const r of scenario.results) {
      if (r.status !== 'ok') {
        lines.push(`| \`${scenario.command}\` | ${r.tool} | ${r.status}: ${r.reason} | | | |`);
        continue;
      }
      lines.push(
        `| \`${scenario.command}\` | ${r.tool} | ${Math.round(r.wallMs!)} ms | ${r.wallVsFloor?.toFixed(2)} | ${r.peakRssMb!.toFixed(1)} MB | ${r.memoryVsFloor?.toFixed(2)} |`,
      );
    }
  }
  return lines.join('\n');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

const PEER_BINARIES: Partial<Record<Tool, string>> = { 'parallel-ssh': 'parallel-ssh', ansible: 'ansible-playbook' };

/** Why a peer cannot run here (not installed), or null. */
function missingPeer(tool: Tool): string | null {
  const binary = PEER_BINARIES[tool];
  if (!binary) return null;
  const found = (process.env.PATH ?? '').split(delimiter).some((dir) => existsSync(join(dir, binary)));
  return found ? null : `${binary} not installed (apt-get install -y ${tool === 'ansible' ? 'ansible' : 'pssh'})`;
}

/** Runs one tool as its own process tree, sampling the tree's total RSS until it exits. */
async function measure(tool: Tool, input: RunnerInput): Promise<{ wallMs: number; peakRssMb: number } | { failed: string }> {
  const [command, args, env] = await runnerCommand(tool, input);
  const started = performance.now();
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-2000)));
  let peakKb = 0;
  const sampler = setInterval(() => (peakKb = Math.max(peakKb, treeRssKb(child.pid!))), 20);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
  const wallMs = performance.now() - started;
  clearInterval(sampler);
  if (code !== 0) return { failed: `exit ${code}: ${stderr.trim().split('\n').slice(-3).join(' / ')}` };
  return { wallMs, peakRssMb: peakKb / 1024 };
}

async function runnerCommand(tool: Tool, input: RunnerInput): Promise<[string, string[], NodeJS.ProcessEnv]> {
  const { parseHostSpec } = await import('../bot/engine/host-spec.ts');
  const { stringify } = await import('yaml');
  const inputPath = join(input.workDir, `runner-${tool}.json`);
  writeFileSync(inputPath, JSON.stringify(input));
  const sshOptions = [
    `IdentityFile=${input.privateKeyPath}`,
    `UserKnownHostsFile=${input.knownHostsPath}`,
    'GlobalKnownHostsFile=/dev/null',
    'StrictHostKeyChecking=yes',
    'BatchMode=yes',
  ];
  switch (tool) {
    case 'floor':
    case 'shipguard':
      return [process.execPath, [THIS_FILE, '--runner', tool, inputPath], {}];
    case 'parallel-ssh': {
      const hostsFile = join(input.workDir, 'pssh_hosts');
      writeFileSync(hostsFile, `${input.hosts.join('\n')}\n`);
      return [
        'parallel-ssh',
        ['-p', String(CONCURRENCY), '-t', '0', '-h', hostsFile, ...sshOptions.flatMap((o) => ['-O', o]), input.command],
        {},
      ];
    }
    case 'ansible': {
      const inventory = join(input.workDir, 'ansible_inventory.ini');
      const lines = input.hosts.map((spec, i) => {
        const address = parseHostSpec(spec)!;
        return `h${i} ansible_host=${address.host} ansible_port=${address.port} ansible_user=${address.user}`;
      });
      writeFileSync(inventory, `[fleet]\n${lines.join('\n')}\n`);
      const playbook = join(input.workDir, 'ansible_playbook.yml');
      // `raw` is Ansible's cheapest way to run a command (no module upload): its best case.
      writeFileSync(
        playbook,
        stringify([{ hosts: 'fleet', gather_facts: false, serial: CONCURRENCY, tasks: [{ name: 'deploy', raw: input.command }] }]),
      );
      const home = join(input.workDir, 'ansible-home');
      mkdirSync(home, { recursive: true });
      return [
        'ansible-playbook',
        ['-i', inventory, '-f', String(CONCURRENCY), '--private-key', input.privateKeyPath, playbook],
        {
          ANSIBLE_HOME: home,
          ANSIBLE_LOCAL_TEMP: join(home, 'tmp'),
          ANSIBLE_HOST_KEY_CHECKING: 'True',
          ANSIBLE_RETRY_FILES_ENABLED: 'False',
          // No ControlPersist master: it would outlive the run (escaping the measurement) and one
          // command per host gains nothing from it.
          ANSIBLE_SSH_ARGS: sshOptions
            .map((o) => `-o ${o}`)
            .concat('-o ControlMaster=no')
            .join(' '),
        },
      ];
    }
  }
}

function treeRssKb(root: number): number {
  const parents = new Map<number, number>();
  const rss = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, 'utf8');
      parents.set(Number(name), Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0));
      rss.set(Number(name), Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0));
    } catch {
      // gone while we looked
    }
  }
  const inTree = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (inTree.has(ppid) && !inTree.has(pid)) {
        inTree.add(pid);
        grew = true;
      }
    }
  }
  let total = 0;
  for (const pid of inTree) total += rss.get(pid) ?? 0;
  return total;
}

/** The floor: ssh2 and nothing else, `concurrency` lanes of connect + exec + close. */
async function runFloor(input: RunnerInput): Promise<void> {
  const { default: ssh2 } = await import('ssh2');
  const privateKey = readFileSync(input.privateKeyPath, 'utf8');
  const queue = [...input.hosts];
  const lane = async () => {
    for (let spec = queue.shift(); spec; spec = queue.shift()) {
      const [, user, host, port] = /^(.+)@(.+):(\d+)$/.exec(spec)!;
      await new Promise<void>((resolve, reject) => {
        const client = new ssh2.Client();
        client.on('error', reject);
        client.on('ready', () => {
          client.exec(input.command, (error, channel) => {
            if (error) return reject(error);
            channel.resume();
            channel.on('exit', (code: number | null) => {
              if (code !== 0) reject(new Error(`${spec}: exit ${code}`));
            });
            channel.on('close', () => {
              client.end();
              resolve();
            });
          });
        });
        client.connect({ host, port: Number(port), username: user, privateKey });
      });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
}

/** shipguard: the real SshDeployer, as the bot runs it. */
async function runShipguard(input: RunnerInput): Promise<void> {
  const { SshDeployer } = await import('../bot/deployers/ssh/ssh-deployer.ts');
  const { environmentConfig, parseDeployConfig } = await import('../bot/engine/deploy-config.ts');
  const { stringify } = await import('yaml');
  const deployer = new SshDeployer({
    privateKey: readFileSync(input.privateKeyPath, 'utf8'),
    knownHosts: readFileSync(input.knownHostsPath, 'utf8'),
  });
  const yaml = stringify({
    environments: { bench: { hosts: input.hosts, concurrency: CONCURRENCY, max_failures: 0, deploy: input.command } },
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
    hosts: input.hosts.map((name) => ({ name, state: 'pending', inDoubtForMs: 0 })),
    fleetRollback: null,
    cancelWithRollback: false,
    cancel: new AbortController().signal,
    drain: new AbortController().signal,
    halt: new AbortController().signal,
    resumed: false,
    deadline: Date.now() + config.timeouts.total,
    secrets: [],
  };
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
  const result = await deployer.deploy(job, quiet);
  if (result.state !== 'succeeded') throw new Error(result.description);
}

async function runAsRunner(tool: string, inputPath: string): Promise<void> {
  const input = JSON.parse(readFileSync(inputPath, 'utf8')) as RunnerInput;
  if (tool === 'floor') await runFloor(input);
  else if (tool === 'shipguard') await runShipguard(input);
  else throw new Error(`unknown runner ${tool}`);
}

function option(name: string): number | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : undefined;
}

if (process.argv[1] === THIS_FILE) {
  const runner = process.argv.indexOf('--runner');
  const work =
    runner >= 0
      ? runAsRunner(process.argv[runner + 1]!, process.argv[runner + 2]!)
      : main({ repeats: option('repeats'), hosts: option('hosts') });
  work.then(
    () => process.exit(0),
    (error: Error) => {
      console.error(error.message);
      process.exit(1);
    },
  );
}

// What the ssh integration tests share: a deploy job for a fleet (its config parsed by the real deploy.yml
// schema), a deployer pointed at the fleet, and events that record what the engine would receive.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { DeployEvents, DeployJob } from '../../bot/deployers/deployer.ts';
import type { HostOutcome, HostPhase } from '../../bot/engine/outcomes.ts';
import type { WaveNews } from '../../bot/engine/waves.ts';
import { SshDeployer, type SshDeployerOptions } from '../../bot/deployers/ssh/ssh-deployer.ts';
import { environmentConfig, parseDeployConfig } from '../../bot/engine/deploy-config.ts';
import type { SshdFleet } from '../support/sshd-fleet.ts';

export const SHA = 'a'.repeat(40);
export const OLD_SHA = 'b'.repeat(40);

/** deploy.yml's environment as a user writes it (`timeouts: { command: '5s' }`, …); `hosts` defaults to the fleet's. */
export function sshJob(fleet: SshdFleet, environment: Record<string, unknown>, job: Partial<DeployJob> = {}): DeployJob {
  const hosts = (environment.hosts as string[] | undefined) ?? fleet.hosts.map((h) => h.spec);
  const config = environmentConfig(parseDeployConfig(stringify({ environments: { staging: { hosts, ...environment } } })), 'staging');
  return {
    deploymentId: 42,
    repository: 'acme/app',
    environment: 'staging',
    sha: SHA,
    ref: 'main',
    task: 'deploy',
    previousSha: OLD_SHA,
    noop: false,
    payload: {},
    config,
    hosts: hosts.map((name) => ({ name, state: 'pending' as const, inDoubtForMs: 0 })),
    fleetRollback: null,
    cancelWithRollback: false,
    cancel: new AbortController().signal,
    drain: new AbortController().signal,
    halt: new AbortController().signal,
    resumed: false,
    deadline: Date.now() + config.timeouts.total,
    secrets: [],
    ...job,
  };
}

export function fleetDeployer(fleet: SshdFleet, options: Partial<SshDeployerOptions> = {}): SshDeployer {
  return new SshDeployer({
    privateKey: fleet.privateKey,
    knownHosts: fleet.knownHosts,
    keepaliveIntervalMs: 1000,
    keepaliveCountMax: 3,
    killGraceMs: 5000,
    ...options,
  });
}

export interface RecordedEvents extends DeployEvents {
  finished: Map<string, { outcome: HostOutcome; message: string }>;
  /** Everything in the order it happened: host starts and ends, intents, wave news, progress. */
  timeline: string[];
  waves: WaveNews[];
  fleetRollbacks: string[];
  phases: Array<{ host: string; phase: HostPhase }>;
  output(host: string): string;
  allOutput(): string;
  onPhase?: (host: string, phase: HostPhase) => void;
  onFinished?: (host: string, outcome: HostOutcome, message: string) => void;
}

export function recordEvents(): RecordedEvents {
  const outputs = new Map<string, string>();
  const events: RecordedEvents = {
    finished: new Map(),
    phases: [],
    timeline: [],
    waves: [],
    fleetRollbacks: [],
    output: (host) => outputs.get(host) ?? '',
    allOutput: () => [...outputs.values()].join(''),
    hostStarted(host) {
      events.timeline.push(`start ${host}`);
    },
    // No store here: every intent is granted.
    beginStep: async (host, phase) => {
      events.timeline.push(`${phase} ${host}`);
      events.phases.push({ host, phase });
      events.onPhase?.(host, phase);
      return true;
    },
    hostPhase(host, phase) {
      events.phases.push({ host, phase });
      events.onPhase?.(host, phase);
    },
    hostOutput(host, _stream, text) {
      outputs.set(host, (outputs.get(host) ?? '') + text);
    },
    hostFinished(host, outcome, message) {
      events.timeline.push(`${outcome} ${host}`);
      events.finished.set(host, { outcome, message });
      events.onFinished?.(host, outcome, message);
    },
    progress(description) {
      events.timeline.push(`progress ${description}`);
    },
    wave(news) {
      events.waves.push(news);
      events.timeline.push(news.kind === 'gate' ? `gate ${news.wave} ${news.passed ? 'passed' : 'failed'}` : `${news.kind} ${news.wave}`);
    },
    beginFleetRollback: async (reason) => {
      events.fleetRollbacks.push(reason);
      events.timeline.push('fleet rollback');
      return true;
    },
  };
  return events;
}

/** A file the host's commands wrote into its own folder ('' when absent). */
export function hostFile(fleet: SshdFleet, index: number, name: string): string {
  const path = join(fleet.hosts[index]!.dir, name);
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

/**
 * Shell for a host command: waits until the test creates `$HOST_DIR/<name>` (see `release`), so that the
 * command is still running when the test acts, however slow the machine. Bounded, so that a test whose
 * release never comes fails (exit 99) instead of hanging.
 */
export function untilReleased(name = 'release', limitSeconds = 60): string {
  const file = `"$HOST_DIR/${name}"`;
  return `i=0; until [ -e ${file} ]; do i=$((i + 1)); if [ $i -gt ${limitSeconds * 10} ]; then echo "${name} never came" >&2; exit 99; fi; sleep 0.1; done`;
}

/** Lets a host command waiting in `untilReleased(name)` go on. */
export function release(fleet: SshdFleet, index: number, name = 'release'): void {
  writeFileSync(join(fleet.hosts[index]!.dir, name), '');
}

/** Resolves once `check` holds, polling; rejects after `limitMs` (a bound, not a speed assertion). */
export async function eventually(check: () => boolean, limitMs = 30_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`condition still false after ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** True while a process exists and is not a zombie. */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

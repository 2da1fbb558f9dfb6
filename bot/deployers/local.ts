// `deployer: local`: the environment's commands as processes on the bot's own machine, once per listed
// host name (DEPLOY_HOST set to it) or once when `hosts` is absent. Same rollout rules as ssh.
import { spawn } from 'node:child_process';
import { shellCommandWithEnv } from '../../common/shell.ts';
import type { DeployEvents, DeployJob, Deployer } from './deployer.ts';
import type { DeployResult } from '../engine/outcomes.ts';
import type { CommandEnd, HostConnection, HostTransport, CommandOptions } from './host-transport.ts';
import { gateChecker } from './gate.ts';
import { rollout, type RolloutOptions } from './rollout.ts';

export class LocalDeployer implements Deployer {
  private readonly transport: HostTransport;
  private readonly rolloutOptions: RolloutOptions;

  constructor(options: { cwd?: string; rollout?: RolloutOptions } = {}) {
    this.transport = { connect: async () => new LocalConnection(options.cwd) };
    this.rolloutOptions = { checkGate: gateChecker(options.cwd), ...options.rollout };
  }

  deploy(job: DeployJob, events: DeployEvents): Promise<DeployResult> {
    return rollout(job, this.transport, events, this.rolloutOptions);
  }
}

export class LocalConnection implements HostConnection {
  private readonly cwd: string | undefined;

  constructor(cwd: string | undefined) {
    this.cwd = cwd;
  }

  run(command: string, options: CommandOptions): Promise<CommandEnd> {
    return new Promise((resolve) => {
      if (options.halt.aborted) return resolve({ kind: 'halted', confirmed: true }); // nothing started
      // Its own process group, so a timeout kills the command and everything it started; under a hard
      // limit of its own, so it dies by `hardDeadline` even when this bot is killed first.
      const line = shellCommandWithEnv(command, options.env, (options.hardDeadline - Date.now()) / 1000);
      const child = spawn('/bin/sh', ['-c', line], {
        cwd: this.cwd,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/' },
      });
      let timedOut: 'command' | 'inactivity' | 'halt' | null = null;
      const kill = (limit: 'command' | 'inactivity' | 'halt') => {
        timedOut = limit;
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      };
      const commandTimer = setTimeout(() => kill('command'), options.timeoutMs);
      let inactivityTimer: NodeJS.Timeout | undefined;
      const armInactivity = () => {
        if (!options.inactivityMs) return;
        clearTimeout(inactivityTimer);
        inactivityTimer = setTimeout(() => kill('inactivity'), options.inactivityMs);
      };
      armInactivity();
      const onHalt = () => kill('halt');
      options.halt.addEventListener('abort', onHalt, { once: true });
      child.stdout.setEncoding('utf8').on('data', (text: string) => {
        armInactivity();
        options.onOutput('stdout', text);
      });
      child.stderr.setEncoding('utf8').on('data', (text: string) => {
        armInactivity();
        options.onOutput('stderr', text);
      });
      child.on('error', (error) => {
        clearTimeout(commandTimer);
        clearTimeout(inactivityTimer);
        options.halt.removeEventListener('abort', onHalt);
        resolve({ kind: 'lost', reason: error.message });
      });
      child.on('close', (code, signal) => {
        clearTimeout(commandTimer);
        clearTimeout(inactivityTimer);
        options.halt.removeEventListener('abort', onHalt);
        if (timedOut === 'halt') resolve({ kind: 'halted', confirmed: true });
        else if (timedOut) resolve({ kind: 'timeout', limit: timedOut });
        else if (signal) resolve({ kind: 'killed', signal });
        else resolve({ kind: 'exit', code: code ?? 1 });
      });
    });
  }

  close(): void {}
}

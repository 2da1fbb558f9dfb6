// `deployer: local`: the environment's commands as processes on the bot's own machine, once per listed
// host name (DEPLOY_HOST set to it) or once when `hosts` is absent. Same rollout rules as ssh.
import { spawn } from 'node:child_process';
import { shellCommandWithEnv } from '../../common/shell.ts';
import type { DeployEvents, DeployJob, DeployResult, Deployer } from './deployer.ts';
import type { CommandEnd, HostConnection, HostTransport, RunOptions } from './host-transport.ts';
import { rollout } from './rollout.ts';

/** The host name a local deploy without `hosts` runs under. */
export const LOCAL_HOST = 'localhost';

export class LocalDeployer implements Deployer {
  private readonly transport: HostTransport;

  constructor(options: { cwd?: string } = {}) {
    this.transport = { connect: async () => new LocalConnection(options.cwd) };
  }

  deploy(job: DeployJob, events: DeployEvents): Promise<DeployResult> {
    return rollout(job, this.transport, events);
  }
}

class LocalConnection implements HostConnection {
  private readonly cwd: string | undefined;

  constructor(cwd: string | undefined) {
    this.cwd = cwd;
  }

  run(command: string, options: RunOptions): Promise<CommandEnd> {
    return new Promise((resolve) => {
      // Its own process group, so a timeout kills the command and everything it started.
      const child = spawn('/bin/sh', ['-c', shellCommandWithEnv(command, options.env)], {
        cwd: this.cwd,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/' },
      });
      let timedOut: 'command' | 'inactivity' | null = null;
      const kill = (limit: 'command' | 'inactivity') => {
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
        resolve({ kind: 'lost', reason: error.message });
      });
      child.on('close', (code, signal) => {
        clearTimeout(commandTimer);
        clearTimeout(inactivityTimer);
        if (timedOut) resolve({ kind: 'timeout', limit: timedOut });
        else if (signal) resolve({ kind: 'killed', signal });
        else resolve({ kind: 'exit', code: code ?? 1 });
      });
    });
  }

  close(): void {}
}

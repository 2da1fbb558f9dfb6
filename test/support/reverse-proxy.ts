// A real reverse proxy (nginx) in front of a test server, as in the incident: started by the test as a
// foreground process with its own config, pid, logs and temp paths in a temp folder. `readTimeoutMs` is
// nginx's proxy_read_timeout; on it nginx answers 504, or, with `onTimeout: 'cut'`, closes the client's
// connection without a word (nginx's 444).
import { freePort } from './ports.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ReverseProxyOptions {
  upstreamPort: number;
  readTimeoutMs: number;
  onTimeout?: 'answer' | 'cut';
  /** Default: a free port, chosen now. */
  port?: number;
}

export interface ReverseProxy {
  port: number;
  url: string;
  /** Stops nginx (its port refuses connections) until `start` brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops nginx and removes its folder. */
  close(): Promise<void>;
}

export function nginxPath(): string | null {
  for (const path of ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx']) if (existsSync(path)) return path;
  return null;
}

export async function startReverseProxy(options: ReverseProxyOptions): Promise<ReverseProxy> {
  const nginx = nginxPath();
  if (!nginx) throw new Error('nginx is not installed (Debian: apt-get install nginx-light)');
  const port = options.port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'shipguard-nginx-'));
  // nginx started as root runs its workers as nobody: they must be able to enter the folder.
  await chmod(dir, 0o755);
  const conf = join(dir, 'nginx.conf');
  const cut = options.onTimeout === 'cut';
  await writeFile(
    conf,
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 64; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${options.upstreamPort};
      proxy_http_version 1.1;
      proxy_read_timeout ${options.readTimeoutMs}ms;
      proxy_buffering off;
      ${cut ? 'error_page 504 = @cut;' : ''}
    }
    location @cut { return 444; }
  }
}
`,
  );

  let child: ChildProcess | null = null;
  const start = async () => {
    const nginxProcess = spawn(nginx, ['-p', dir, '-e', join(dir, 'error.log'), '-c', conf, '-g', 'daemon off;'], { stdio: 'ignore' });
    child = nginxProcess;
    const exited = new Promise<never>((_, reject) =>
      nginxProcess.once('exit', async (code) =>
        reject(new Error(`nginx exited (${code}): ${await readFile(join(dir, 'error.log'), 'utf8').catch(() => '')}`)),
      ),
    );
    exited.catch(() => {});
    await Promise.race([waitForPort(port), exited]);
  };
  const stop = async () => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGTERM');
    });
  };
  try {
    await start();
  } catch (error) {
    await stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stop,
    start,
    close: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number): Promise<void> {
  // Bounded by time, not attempts: a loaded machine may take a while to start nginx.
  const giveUpAt = Date.now() + 30_000;
  while (Date.now() < giveUpAt) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after 30 s`);
}

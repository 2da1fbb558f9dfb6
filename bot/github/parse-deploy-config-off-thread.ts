// Parses deploy.yml in a worker thread with a deadline: the YAML parser needs hundreds of milliseconds for
// some texts well within the size and depth bounds (64 KB of nested flow lists: ~0.5-0.9 s on 2 busy cores),
// and the bot's event loop must never stall that long. One thread serves every parse, one at a time; it is
// started on the first parse and ends after a while with nothing to parse, so an idle bot holds no thread.
// A parse past its deadline ends the thread (and fails the parses queued behind it as transient errors:
// they are read again at the next admission round).
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { DeployConfigError, parseDeployConfig, type DeployConfig } from '../engine/deploy-config.ts';

/** Far above a real file's parse (milliseconds), far below a webhook round or a lease. */
export const PARSE_DEADLINE_MS = 5_000;
/**
 * A new thread first loads the parser's modules, which takes seconds on a busy machine: that is not the
 * parse the deadline bounds, so it has its own, generous bound.
 */
const THREAD_START_DEADLINE_MS = 60_000;
const IDLE_MS = 30_000;

type Answer = { id: number } & (
  { ok: true; config: DeployConfig } | { ok: false; summary: string; detail: string } | { ok: false; crash: string }
);
interface Pending {
  resolve(config: DeployConfig): void;
  reject(error: Error): void;
}

let thread: { worker: Worker; pending: Map<number, Pending>; ready: Promise<void> } | null = null;
let nextId = 0;
let idleTimer: NodeJS.Timeout | undefined;

export function parseDeployConfigOffThread(text: string, deadlineMs = PARSE_DEADLINE_MS): Promise<DeployConfig> {
  clearTimeout(idleTimer);
  const current = (thread ??= startThread());
  const id = ++nextId;
  return new Promise<DeployConfig>((resolve, reject) => {
    // Counted from the request once the thread is ready: a parse queued behind a slow one shares its fate,
    // which is what a deadline on "this config, read now" means.
    let timer: NodeJS.Timeout | undefined;
    void current.ready.then(() => {
      if (!current.pending.has(id)) return;
      timer = setTimeout(() => {
        stopThread(
          current,
          new Error(`deploy.yml was not parsed within ${deadlineMs / 1000}s (the machine may be overloaded); will try again`),
        );
      }, deadlineMs);
    });
    current.pending.set(id, {
      resolve: (config) => {
        clearTimeout(timer);
        resolve(config);
      },
      reject: (error) => {
        clearTimeout(timer);
        reject(error);
      },
    });
    current.worker.postMessage({ id, text });
  });
}

function startThread(): NonNullable<typeof thread> {
  const worker = new Worker(new URL(import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: 64 } });
  let isReady!: () => void;
  const started = { worker, pending: new Map<number, Pending>(), ready: new Promise<void>((resolve) => (isReady = resolve)) };
  const startTimer = setTimeout(
    () => stopThread(started, new Error('the deploy.yml parser did not start within 60s (the machine may be overloaded); will try again')),
    THREAD_START_DEADLINE_MS,
  );
  startTimer.unref();
  worker.unref();
  worker.on('message', (answer: Answer | { ready: true }) => {
    if ('ready' in answer) {
      clearTimeout(startTimer);
      isReady();
      return;
    }
    const waiting = started.pending.get(answer.id);
    started.pending.delete(answer.id);
    if (!waiting) return;
    if (answer.ok) waiting.resolve(answer.config);
    else if ('crash' in answer) waiting.reject(new Error(`deploy.yml parser failed: ${answer.crash}`));
    else waiting.reject(new DeployConfigError(answer.summary, answer.detail));
    if (started.pending.size === 0 && thread === started) {
      idleTimer = setTimeout(() => stopThread(started, new Error('deploy.yml parser stopped')), IDLE_MS);
      idleTimer.unref();
    }
  });
  worker.on('error', (error) => stopThread(started, new Error(`deploy.yml parser thread failed: ${error.message}`)));
  worker.on('exit', () => stopThread(started, new Error('deploy.yml parser thread exited')));
  return started;
}

function stopThread(stopping: NonNullable<typeof thread>, reason: Error): void {
  if (thread === stopping) thread = null;
  for (const waiting of stopping.pending.values()) waiting.reject(reason);
  stopping.pending.clear();
  void stopping.worker.terminate();
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  port.on('message', ({ id, text }: { id: number; text: string }) => {
    let answer: Answer;
    try {
      answer = { id, ok: true, config: parseDeployConfig(text) };
    } catch (error) {
      answer =
        error instanceof DeployConfigError
          ? { id, ok: false, summary: error.summary, detail: error.message }
          : { id, ok: false, crash: (error as Error).message };
    }
    port.postMessage(answer);
  });
  // This module (and the parser's) is loaded by now: the parses' deadlines may start.
  port.postMessage({ ready: true });
}

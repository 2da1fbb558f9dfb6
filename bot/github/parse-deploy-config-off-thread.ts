// Parses deploy.yml in a worker thread with a deadline: the YAML parser needs hundreds of milliseconds for
// some texts well within the size and depth bounds (64 KB of nested flow lists: ~0.5-0.9 s on 2 busy cores),
// and the bot's event loop must never stall that long. One short-lived thread per parse: nothing stays in
// memory while the bot is idle, and a parse past its deadline is simply terminated.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { DEPLOY_CONFIG_PATH, DeployConfigError, parseDeployConfig, type DeployConfig } from '../engine/deploy-config.ts';

/** Far above a real file's parse (milliseconds), far below a webhook round or a lease. */
export const PARSE_DEADLINE_MS = 5_000;

type Answer = { ok: true; config: DeployConfig } | { ok: false; summary: string; detail: string } | { ok: false; crash: string };

export function parseDeployConfigOffThread(text: string, deadlineMs = PARSE_DEADLINE_MS): Promise<DeployConfig> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: text, resourceLimits: { maxOldGenerationSizeMb: 64 } });
    const timer = setTimeout(() => {
      void worker.terminate();
      const problem = `${DEPLOY_CONFIG_PATH}: not parsed within ${deadlineMs / 1000}s; simplify it`;
      reject(new DeployConfigError(problem, problem));
    }, deadlineMs);
    worker.once('message', (answer: Answer) => {
      clearTimeout(timer);
      void worker.terminate();
      if (answer.ok) resolve(answer.config);
      else if ('crash' in answer) reject(new Error(`deploy.yml parser thread failed: ${answer.crash}`));
      else reject(new DeployConfigError(answer.summary, answer.detail));
    });
    worker.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`deploy.yml parser thread failed: ${error.message}`));
    });
    worker.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`deploy.yml parser thread exited (${code}) without an answer`));
    });
  });
}

if (!isMainThread && parentPort) {
  let answer: Answer;
  try {
    answer = { ok: true, config: parseDeployConfig(workerData as string) };
  } catch (error) {
    answer =
      error instanceof DeployConfigError
        ? { ok: false, summary: error.summary, detail: error.message }
        : { ok: false, crash: (error as Error).message };
  }
  parentPort.postMessage(answer);
}

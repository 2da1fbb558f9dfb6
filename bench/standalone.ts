// Lets each benchmark file run on its own (`node bench/<name>.ts`) as well as from bench/run.ts.
import { fileURLToPath } from 'node:url';

/** Runs `main` when `moduleUrl` is the file node was started with, and exits with its outcome. */
export function runIfMain(moduleUrl: string, main: () => Promise<unknown>): void {
  if (process.argv[1] !== fileURLToPath(moduleUrl)) return;
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}

// Loopback ports for the servers tests start.
import { createServer, type AddressInfo } from 'node:net';

// Test files run side by side, and a port that is free when one file asks can be taken by another before
// its server listens (a bot then fails with EADDRINUSE while the other file's server answers in its
// place). So each vitest worker slot (VITEST_POOL_ID, 1 to maxWorkers) hands out ports from a band of its
// own, below the kernel's ephemeral range (32768 and up, where servers listening on port 0 land).
const FIRST_PORT = 20_000;
const BAND = 2_000;
let nextInBand: number | undefined;

/** A port nothing listens on right now, that no other test file running now is handed. */
export async function freePort(): Promise<number> {
  const slot = Number(process.env.VITEST_POOL_ID ?? 0);
  if (!slot) return kernelPort(); // outside vitest: the demo and the benchmarks run alone
  const bandStart = FIRST_PORT + (slot - 1) * BAND;
  // A later file on the same slot starts elsewhere in the band: an earlier file's server may still close.
  nextInBand ??= process.pid % BAND;
  for (let tries = 0; tries < BAND; tries++) {
    const port = bandStart + (nextInBand++ % BAND);
    if (await listensFreely(port)) return port;
  }
  throw new Error(`no free port in ${bandStart}-${bandStart + BAND - 1}`);
}

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function listensFreely(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

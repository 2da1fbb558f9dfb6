#!/usr/bin/env node
// `npx shipguard`: runs cli/shipguard.ts on Node.js 24, which runs TypeScript as it is (scripts/node24.sh
// finds or installs it), so this shim is plain JavaScript that any Node.js can start.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = spawnSync('sh', [join(root, 'scripts/node24.sh'), join(root, 'cli/shipguard.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
if (run.error) {
  console.error(`shipguard: could not start Node.js 24: ${run.error.message}`);
  process.exit(2);
}
process.exit(run.status ?? 2);

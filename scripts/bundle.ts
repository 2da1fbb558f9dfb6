// Bundles the two programs that run outside a clone into plain JavaScript in dist/: the Action
// (src/index.ts → dist/index.js, the one file the runner starts) and the `shipguard` command line
// (cli/shipguard.ts → dist/cli.js: Node.js does not run TypeScript from node_modules, so an install needs
// it bundled). esbuild: one fast step, no config, and it reads our .ts imports as they are.
// The output depends only on the sources, so CI can rebuild and compare it with the committed dist/.

import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

await rm(`${root}dist`, { recursive: true, force: true });
for (const [entry, outfile] of [
  ['src/index.ts', 'dist/index.js'],
  ['cli/shipguard.ts', 'dist/cli.js'],
]) {
  await build({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    // Some dependencies (undici, tunnel) are CommonJS and call require(): give the ES module one.
    banner: {
      js: "import { createRequire as __shipguardCreateRequire } from 'node:module';\nconst require = __shipguardCreateRequire(import.meta.url);",
    },
    legalComments: 'eof',
    sourcemap: false,
    logLevel: 'warning',
  });
  console.log(`bundled ${entry} into ${outfile}`);
}

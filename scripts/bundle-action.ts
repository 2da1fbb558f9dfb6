// Bundles the Action (src/index.ts and everything it imports) into dist/index.js, the one file the
// runner starts. esbuild: one fast step, no config, and it reads our .ts imports as they are.
// The output depends only on the sources, so CI can rebuild and compare it with the committed dist/.

import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

await rm(`${root}dist`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['src/index.ts'],
  outfile: 'dist/index.js',
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
console.log('bundled src/index.ts into dist/index.js');

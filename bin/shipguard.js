#!/usr/bin/env node
// `npx shipguard`: the command line (cli/shipguard.ts), bundled into plain JavaScript in dist/cli.js by
// `npm run build` (committed, like the Action), so it runs from a clone and from an install alike.
import '../dist/cli.js';

// The entry point the runner starts (bundled to dist/index.js).
import { run } from './main.ts';

await run();

// Writes test/file-durations.json (seconds per test file) from the last `npm test` run's JSON report, so
// the longest files start first in the next runs (test/support/longest-first-sequencer.ts).
// Usage: npm test -- --reporter=json --outputFile=.vitest-results.json && npm run test:durations
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';

const report = JSON.parse(readFileSync('.vitest-results.json', 'utf8')) as {
  testResults: Array<{ name: string; startTime: number; endTime: number }>;
};
const durations = Object.fromEntries(
  report.testResults
    .map((file) => [relative(process.cwd(), file.name), Math.round((file.endTime - file.startTime) / 1000)] as const)
    .sort(([a], [b]) => a.localeCompare(b)),
);
writeFileSync('test/file-durations.json', `${JSON.stringify(durations, null, 2)}\n`);
console.log(`test/file-durations.json: ${Object.keys(durations).length} files`);

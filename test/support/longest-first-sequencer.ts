// Vitest runs the test files on a few workers, and the suite ends when its last file does. A file that
// waits long (real bot processes, leases, sshd) started near the end holds everything up, so files start
// longest first, by test/file-durations.json (seconds per file, from a whole run: `npm run test:durations`
// after `npm test` rewrites it). Files it does not know yet start first: they may be long.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const durations: Record<string, number> = JSON.parse(readFileSync(new URL('../file-durations.json', import.meta.url), 'utf8'));

export class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const seconds = (file: TestSpecification) => durations[relative(file.project.config.root, file.moduleId)] ?? Infinity;
    return [...files].sort((a, b) => seconds(b) - seconds(a));
  }
}

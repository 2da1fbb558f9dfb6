import { defineConfig } from 'vitest/config';
import { LongestFirstSequencer } from './test/support/longest-first-sequencer.ts';

// Integration tests start real servers (sshd, PostgreSQL databases, bot processes): give them room,
// and run files in separate processes so a crash test cannot take its neighbours down. Most of their
// time is spent waiting (leases, GitHub's one write a second, deploy commands that sleep), so more files
// run at once than there are cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 4,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    sequence: { sequencer: LongestFirstSequencer },
  },
});

import { defineConfig } from 'vitest/config';

// Integration tests start real servers (sshd, PostgreSQL databases, bot processes): give them room,
// and run files in separate processes so a crash test cannot take its neighbours down.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});

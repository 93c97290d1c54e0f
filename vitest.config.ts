import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // isolated-vm needs --no-node-snapshot on Node 20, which only a forked process can take.
    pool: 'forks',
    execArgv: ['--no-node-snapshot'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // The suites share one database; running files one after another keeps them honest about state.
    fileParallelism: false,
    globalSetup: ['test/support/global-setup.ts'],
  },
});

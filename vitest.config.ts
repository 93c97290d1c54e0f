import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql ships CJS (main) and ESM (module). Node, and so every dependency (Pothos, yoga),
    // loads the CJS build; Vite would give our own files the ESM one, and two graphql instances
    // fail with "Cannot use GraphQLScalarType from another module or realm". One instance only.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
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

import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    // Two test files at a time even on 2 cores (vitest's default there is one): an e2e file spends much of its time
    // waiting on its stack (provider latency, queue timeouts, a browser), and the other file uses that CPU.
    maxWorkers: Math.max(2, availableParallelism()),
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Projects only so that unit and infra runs skip the emulators: vitest runs a project's globalSetup
    // only when that project has test files in the run (`vitest run test/unit` takes ~1 s, not ~10 s).
    projects: [
      {
        extends: true,
        // Each unit test builds its own in-memory system: one module graph per worker thread is enough.
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], pool: 'threads', isolate: false },
      },
      { extends: true, test: { name: 'infra', include: ['test/infra/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/{integration,e2e}/**/*.test.ts'],
          // One DynamoDB Local (in memory) and one s3rver for the whole run; endpoints reach workers via env.
          globalSetup: ['test/global-setup.ts'],
        },
      },
      {
        // The fault matrix: CI runs it after `npm test` (`npm run test:faults`); it takes about as long as `npm test`.
        // One file at a time: its rows measure heal bounds and retries on a machine they have to themselves.
        extends: true,
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          maxWorkers: 1,
        },
      },
    ],
  },
});

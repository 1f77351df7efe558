import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Projects only so that unit and infra runs skip the emulators: vitest runs a project's globalSetup
    // only when that project has test files in the run (`vitest run test/unit` takes ~1 s, not ~10 s).
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
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
        // The fault matrix: CI runs it after `npm test` (`npm run test:faults`); it is most of the suite's time.
        extends: true,
        test: { name: 'faults', include: ['test/faults/**/*.test.ts'], globalSetup: ['test/global-setup.ts'] },
      },
    ],
  },
});

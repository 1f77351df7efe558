import { defineConfig } from 'vitest/config';

/** The domain unit suite alone (no emulators, no globalSetup): what `npm run test:mutation` runs for every mutant. */
export default defineConfig({
  test: {
    include: [
      'test/unit/domain-*.test.ts',
      'test/unit/upload-request.test.ts',
      'test/unit/push-notifications.test.ts',
      'test/unit/multipart-parts.test.ts',
    ],
    pool: 'threads',
    // One module graph for every file: each test builds its own system, and the imports (file-type, mp4box) load once.
    // Under StrykerJS (its workers set STRYKER_MUTATOR_WORKER) files stay isolated, as the measured runs were.
    isolate: process.env.STRYKER_MUTATOR_WORKER !== undefined,
  },
});

import { defineConfig } from 'vitest/config';

/** The domain unit suite alone (no emulators, no globalSetup): what `npm run test:mutation` runs for every mutant. */
export default defineConfig({
  test: {
    include: ['test/unit/domain-*.test.ts', 'test/unit/upload-request.test.ts'],
    pool: 'threads',
  },
});

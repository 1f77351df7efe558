import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/{unit,integration,e2e,infra}/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // One DynamoDB Local (in memory) and one s3rver for the whole run; endpoints reach workers via env.
    globalSetup: ['test/global-setup.ts'],
  },
});

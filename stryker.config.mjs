/**
 * Mutation testing of the domain core with the domain unit suite alone (`npm run test:mutation`).
 * Two workers at most: the machine is shared. Report: test-output/mutation/.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.unit.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: ['lambdas/domain/**/*.ts'],
  coverageAnalysis: 'perTest',
  concurrency: 2,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'test-output/mutation/index.html' },
  jsonReporter: { fileName: 'test-output/mutation/mutation.json' },
  thresholds: { high: 90, low: 85, break: 85 },
  tempDirName: '.stryker-tmp',
  // Reuses the results of unchanged mutants and tests from the previous run (local; test-output/ is not committed).
  incremental: true,
  incrementalFile: 'test-output/mutation/stryker-incremental.json',
  // The sandbox needs only the domain, the unit suite and its support: not the SPA, the CDK app or the local stack.
  ignorePatterns: ['/*', '!/lambdas', '!/test', '!/package.json', '!/tsconfig.json', '!/tsconfig.base.json', '!/vitest.unit.config.ts'],
};

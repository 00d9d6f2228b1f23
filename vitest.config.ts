import { defineConfig } from 'vitest/config';

// Two Node tiers: tests/unit (pure: no model file, no npm, no git; `npm run test:fast`) and tests/node (real models,
// the CLI, the packed tarball, git clones; `npm run test:node`). Browser tests are Playwright's (tests/browser).
const tier = process.env.TEST_TIER;
export default defineConfig({
  test: {
    include: tier === 'unit' ? ['tests/unit/**/*.test.ts'] : tier === 'node' ? ['tests/node/**/*.test.ts']
      : ['tests/unit/**/*.test.ts', 'tests/node/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The node tier loads real models: one file at a time on 2 cores. The unit tier is light enough to run in parallel.
    fileParallelism: tier === 'unit',
  },
});

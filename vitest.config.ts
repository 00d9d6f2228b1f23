import { defineConfig } from 'vitest/config';

// Node tests on the real model (tests/unit). Browser tests are Playwright's (tests/browser).
export default defineConfig({
  test: {
    include: ['tests/unit/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});

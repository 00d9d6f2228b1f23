import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { configDefaults, defineConfig } from 'vitest/config';

// Two Node tiers: tests/unit (pure: no model file, no npm, no git; `npm run test:fast`) and tests/node (real models,
// the CLI, the packed tarball, git clones; `npm run test:node`). Browser tests are Playwright's (tests/browser).
const tier = process.env.TEST_TIER;

/**
 * `npm test` (scripts/test-all.mjs) runs tests/node/clone.test.ts first; then (CNNFIX_CLONE_DONE) the Node tier
 * leaves it out, and the files that passed in that clone with nothing skipped, when this checkout is clean at the
 * commit cloned: the same files on the same code. What needs the mirror skipped there and runs here.
 */
function alreadyRun(): string[] {
  if (tier !== 'node' || !process.env.CNNFIX_CLONE_DONE) return [];
  const out = ['tests/node/clone.test.ts'];
  const report = process.env.CNNFIX_CLONE_REPORT;
  if (!report || !existsSync(report)) return out;
  const proven = JSON.parse(readFileSync(report, 'utf8')) as { head: string; files: string[] };
  const git = (...a: string[]) => execFileSync('git', a, { cwd: import.meta.dirname, encoding: 'utf8' }).trim();
  if (proven.head !== git('rev-parse', 'HEAD') || git('status', '--porcelain') !== '') {
    console.log('node tier: this checkout is not the clean commit the fresh clone ran; every file runs');
    return out;
  }
  console.log(
    `node tier: passed in the fresh clone of ${proven.head.slice(0, 7)} with nothing skipped, not run again: ${proven.files.join(', ')}`,
  );
  return [...out, ...proven.files];
}

export default defineConfig({
  test: {
    include:
      tier === 'unit'
        ? ['tests/unit/**/*.test.ts']
        : tier === 'node'
          ? ['tests/node/**/*.test.ts']
          : ['tests/unit/**/*.test.ts', 'tests/node/**/*.test.ts'],
    exclude: [...configDefaults.exclude, ...alreadyRun()],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The node tier loads real models: one file at a time on 2 cores. The unit tier is light enough to run in parallel.
    fileParallelism: tier === 'unit',
  },
});

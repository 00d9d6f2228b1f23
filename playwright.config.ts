import { defineConfig } from '@playwright/test';

// Real headless Chromium (Debian's), WebGPU through SwiftShader. Two workers (files in parallel; PW_WORKERS=1 for one):
// on 2 cores the tests still wait for page loads, the dev server's transforms and readbacks often enough that a
// second file fills the gaps (docs/testing.md, Durations).
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--enable-unsafe-webgpu',
];

// TEST_PORT lets several checkouts or runs test side by side.
const PORT = Number(process.env.TEST_PORT ?? 5173);

// The production app (tests/browser/app) is built and served by `vite preview` on APP_PORT (default TEST_PORT - 1000).
// Building takes a while, so that server starts only when the app's tests may run: a run naming no test files or
// naming tests/browser/app (APP_SERVER=1 / 0 forces it on / off).
export const APP_PORT = Number(process.env.APP_PORT ?? PORT - 1000);
export const APP_URL = `http://localhost:${APP_PORT}`;
const filters = process.argv
  .slice(process.argv.indexOf('test') + 1)
  .filter((a) => !a.startsWith('-') && (/[/.]/.test(a) || a === 'app'));
const APP_SERVER = process.env.APP_SERVER
  ? process.env.APP_SERVER === '1'
  : filters.length === 0 || filters.some((a) => /(^|\/)app(\/|$)/.test(a));

export default defineConfig({
  testDir: 'tests/browser',
  workers: Number(process.env.PW_WORKERS ?? 2),
  fullyParallel: false,
  // A test that needs longer says so (test.setTimeout); the default bounds what a hang costs. Waits for an app's first
  // explanation pass their own limit (FIRST_RESULT_MS, tests/browser/app/fixtures.ts).
  timeout: 180_000,
  expect: { timeout: 60_000 },
  reporter: [['list']],
  use: {
    baseURL: `http://localhost:${PORT}`,
    launchOptions: { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS },
  },
  webServer: [
    {
      command: `npx vite --port ${PORT} --strictPort`,
      port: PORT,
      reuseExistingServer: !process.env.CI,
      timeout: 120_000,
    },
    // Never reused: the app's tests must run against a build of this working tree.
    // A test build (`--mode test`): the production bundle with the worker's test hooks (device loss, faults) and
    // frame counters, which a production build leaves out.
    ...(APP_SERVER
      ? [
          {
            command: `npx vite build --mode test && npx vite preview --mode test --port ${APP_PORT} --strictPort`,
            port: APP_PORT,
            reuseExistingServer: false,
            timeout: 300_000,
          },
        ]
      : []),
  ],
});

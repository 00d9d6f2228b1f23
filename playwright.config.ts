import { defineConfig } from '@playwright/test';

// Real headless Chromium (Debian's), WebGPU through SwiftShader. One worker: the machine has 2 cores.
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-quic', '--enable-unsafe-webgpu',
];

// TEST_PORT lets several checkouts or runs test side by side.
const PORT = Number(process.env.TEST_PORT ?? 5173);

export default defineConfig({
  testDir: 'tests/browser',
  workers: 1,
  fullyParallel: false,
  timeout: 300_000,
  expect: { timeout: 60_000 },
  reporter: [['list']],
  use: {
    baseURL: `http://localhost:${PORT}`,
    launchOptions: { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS },
  },
  webServer: [
    { command: `npx vite --port ${PORT} --strictPort`, port: PORT, reuseExistingServer: !process.env.CI, timeout: 120_000 },
  ],
});

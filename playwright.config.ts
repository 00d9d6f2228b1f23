import { defineConfig } from '@playwright/test';

// Real headless Chromium (Debian's), WebGPU through SwiftShader. One worker: the machine has 2 cores.
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-quic', '--enable-unsafe-webgpu',
];

export default defineConfig({
  testDir: 'tests/browser',
  workers: 1,
  fullyParallel: false,
  timeout: 300_000,
  expect: { timeout: 60_000 },
  reporter: [['list']],
  use: {
    baseURL: 'http://localhost:5173',
    launchOptions: { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS },
  },
  webServer: [
    { command: 'npx vite --port 5173 --strictPort', port: 5173, reuseExistingServer: !process.env.CI, timeout: 120_000 },
  ],
});

// Cross-origin isolation for threaded wasm (COOP/COEP: vite.config.ts, src/app/csp.ts), and Safari without WebGPU:
// the fallback goes straight to wasm (tfjs's WebGL fails in Safari workers), threaded, and still explains.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { CHROMIUM_ARGS } from '../../../playwright.config.ts';
import { APP_URL, FOX_SQUIRREL, SQUIRREL_JPG, dropFile, logPage, waitForEngine, waitForTop1 } from './fixtures.ts';

const SAFARI_17 =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15';

// No --enable-unsafe-webgpu: navigator.gpu gives no adapter, as on iOS before 26 (isolation does not need WebGPU).
test.use({
  launchOptions: {
    executablePath: '/usr/bin/chromium',
    args: CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu'),
  },
});

test.describe('Safari without WebGPU', () => {
  test.use({ userAgent: SAFARI_17 });

  test('the page is cross-origin isolated; the fallback picks threaded wasm, not WebGL, says why, and explains', async ({
    page,
  }) => {
    logPage(page);
    const res = await page.goto(`${APP_URL}/`);
    expect(res!.headers()['cross-origin-opener-policy']).toBe('same-origin');
    expect(res!.headers()['cross-origin-embedder-policy']).toBe('require-corp');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await waitForEngine(page);
    const info = await page.evaluate(() => window.__cnnfix!.info!);
    expect(info.path).toBe('fallback');
    expect(info.backend).toBe('wasm');
    expect(info.fallbackReason).toMatch(
      /^WebGPU: .*; Safari\/WebKit without WebGPU: tfjs's WebGL backend fails in Safari workers, so wasm SIMD$/,
    );
    // The threaded SIMD build (tfjs takes it when both are supported); its thread pool is half the cores, at most 4.
    expect(info.wasm).toEqual({ simd: true, threadsSupported: true, threads: expect.any(Number) });
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    expect(info.wasm!.threads).toBeGreaterThanOrEqual(Math.min(4, Math.max(1, Math.floor(cores / 2))));
    await expect(page.getByTestId('fallback-note')).toContainText(/running\s+wasm \(SIMD, \d+ threads?\)/);
    await dropFile(page, SQUIRREL_JPG);
    await waitForTop1(page, FOX_SQUIRREL);
    expect(await page.evaluate(() => window.__lastResult!.top[0].index)).toBe(335);
    expect(await page.evaluate(() => window.__lastResult!.backend)).toBe('wasm');
  });
});

test.describe('a static host that sends no headers', () => {
  let server: Server;
  let url: string;
  const DIST = resolve(import.meta.dirname, '../../../dist');
  const TYPES: Record<string, string> = {
    '.html': 'text/html',
    '.js': 'text/javascript',
    '.css': 'text/css',
    '.json': 'application/json',
    '.wasm': 'application/wasm',
    '.png': 'image/png',
    '.webmanifest': 'application/manifest+json',
    '.bin': 'application/octet-stream',
    '.txt': 'text/plain',
  };
  test.beforeAll(async () => {
    // dist/ is the build the app's test server made; served here with nothing but Content-Type.
    server = createServer((req, res) => {
      let file = normalize(join(DIST, decodeURIComponent(new URL(req.url!, 'http://x').pathname)));
      if (file.endsWith('/')) file = join(file, 'index.html');
      if (!file.startsWith(DIST) || !existsSync(file) || !statSync(file).isFile()) {
        res.statusCode = 404;
        res.end();
        return;
      }
      res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
      createReadStream(file).pipe(res);
    });
    await new Promise<void>((r) => server.listen(0, 'localhost', r));
    url = `http://localhost:${(server.address() as AddressInfo).port}/`;
  });
  test.afterAll(() => new Promise<void>((r) => server.close(() => r())));

  test('the service worker adds COOP/COEP: isolated from the next load on, and the worker still starts', async ({
    page,
  }) => {
    logPage(page);
    const first = await page.goto(url);
    expect(first!.headers()['cross-origin-embedder-policy']).toBeUndefined();
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
    await page.evaluate(() => navigator.serviceWorker.ready);
    await page.waitForFunction(() => !!navigator.serviceWorker.controller, null, { timeout: 60_000 });
    await page.reload();
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await waitForEngine(page); // the worker script (COEP from the service worker too) loaded and the model with it
    expect(await page.evaluate(() => window.__cnnfix!.info?.modelId)).toBe('squeezenet1_1');
  });
});

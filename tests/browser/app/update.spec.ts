// A new version is offered with an "Update" button. Two builds on one origin: the production build (dist/, made for
// the app's tests) and a second one that differs in its service worker script, served by a small static server here
// so that the test can switch builds on the same origin. The browser's own update check finds the new worker
// waiting; the app offers it; the button activates it and reloads the page. (The update is found at the visit, as
// browsers do on navigation: one found by a later check, over 60 s after registration, counts as "external" to
// workbox-window and vite-plugin-pwa's prompt then activates it without reloading the page.)
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { expect, test } from '@playwright/test';
import { launch, logPage } from './fixtures.ts';

const DIST = join(import.meta.dirname, '../../../dist');
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.webmanifest': 'application/manifest+json',
  '.bin': 'application/octet-stream',
};

test.use({ launchOptions: launch() });

let server: Server;
let build = 1;
let origin = '';
test.beforeAll(async () => {
  expect(existsSync(join(DIST, 'sw.js')), "dist/ is built by the app tests' web server").toBe(true);
  server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = normalize(join(DIST, path === '/' ? 'index.html' : path));
    if (!file.startsWith(DIST) || !existsSync(file) || !statSync(file).isFile()) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
    res.setHeader('Cache-Control', 'no-cache');
    // The second build: the same app with a different service worker script (as any rebuild with a change gives).
    if (path === '/sw.js' && build === 2) {
      res.end(readFileSync(file, 'utf8') + '\n// build 2\n');
      return;
    }
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
test.afterAll(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

test('a second build is offered with "Update", which switches to it', async ({ page }) => {
  logPage(page);
  await page.goto(`${origin}/`);
  await page.evaluate(() => navigator.serviceWorker.ready);
  await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller), { timeout: 120_000 }).toBe(true);
  const update = page.getByRole('button', { name: /^Update/ });
  await expect(update).toHaveCount(0); // the first build: nothing to offer

  // The second build is deployed; the next visit's update check finds its service worker, which waits.
  build = 2;
  await page.reload();
  await expect(update).toBeVisible({ timeout: 120_000 });
  expect(await page.evaluate(async () => !!(await navigator.serviceWorker.getRegistration())!.waiting)).toBe(true);

  const reloaded = page.waitForEvent('load', { timeout: 120_000 });
  await update.click();
  await reloaded;
  // The second build is the active worker now, none is waiting, and nothing is offered any more.
  await expect
    .poll(
      () =>
        page.evaluate(async () => {
          const r = (await navigator.serviceWorker.getRegistration())!;
          return { waiting: !!r.waiting, active: r.active?.state, controlled: !!navigator.serviceWorker.controller };
        }),
      { timeout: 60_000 },
    )
    .toEqual({ waiting: false, active: 'activated', controlled: true });
  await expect(update).toHaveCount(0);
});

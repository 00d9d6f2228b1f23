// After one visit the service worker has precached the app, the worker bundle and the default model: offline, a
// reload still starts the app, loads the model and explains a still image, all answered by the service worker.
import { expect, test } from '@playwright/test';
import {
  APP_URL,
  FOX_SQUIRREL,
  SQUIRREL_JPG,
  dropFile,
  launch,
  logPage,
  waitForEngine,
  waitForTop1,
} from './fixtures.ts';

test.use({ launchOptions: launch() });

test('works offline after one visit: app, model and an explanation', async ({ page, context }) => {
  logPage(page);
  await page.goto(`${APP_URL}/`);
  await waitForEngine(page);
  // Installed (precache complete) and controlling this page (clientsClaim).
  await page.evaluate(() => navigator.serviceWorker.ready);
  await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller), { timeout: 60_000 }).toBe(true);
  const cached = await page.evaluate(async () => {
    const urls: string[] = [];
    for (const name of await caches.keys())
      for (const r of await (await caches.open(name)).keys()) urls.push(new URL(r.url).pathname);
    return urls;
  });
  expect(cached).toEqual(
    expect.arrayContaining([
      '/models/catalog.json',
      '/models/squeezenet1_1/model.json',
      '/models/squeezenet1_1/group1-shard1of1.bin',
      '/models/squeezenet1_1/labels.json',
      '/index.html',
    ]),
  );
  expect(cached.some((u) => /^\/assets\/explain\.worker-.*\.js$/.test(u))).toBe(true);

  await context.setOffline(true);
  const responses: { url: string; sw: boolean }[] = [];
  page.on('response', (r) => responses.push({ url: r.url(), sw: r.fromServiceWorker() }));
  await page.reload();
  // Really offline: what the service worker has not cached fails.
  expect(
    await page.evaluate(() =>
      fetch(`/not-cached-${Math.random()}`).then(
        () => 'answered',
        () => 'failed',
      ),
    ),
  ).toBe('failed');
  await waitForEngine(page);
  await dropFile(page, SQUIRREL_JPG);
  await waitForTop1(page, FOX_SQUIRREL);
  const local = responses.filter((r) => r.url.startsWith(APP_URL));
  expect(local.length).toBeGreaterThan(3);
  expect(local.filter((r) => !r.sw)).toEqual([]);
  await expect(page.getByRole('combobox', { name: 'Network', exact: true })).toContainText('offline ready');
  await context.setOffline(false);
});

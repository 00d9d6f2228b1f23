// A browser without requestVideoFrameCallback (e.g. Firefox ESR 128): the frame loop falls back to
// requestAnimationFrame and the camera still gives explained frames.
import { expect, test } from '@playwright/test';
import { APP_URL, FIRST_RESULT_MS, FOX_SQUIRREL, launch, logPage, waitForTop1 } from './fixtures.ts';

test.use({ launchOptions: launch({ camera: true }) });

test('rVFC removed: the camera still produces explained frames', async ({ page }) => {
  logPage(page);
  await page.addInitScript(() => {
    delete (HTMLVideoElement.prototype as Partial<HTMLVideoElement>).requestVideoFrameCallback;
  });
  await page.goto(`${APP_URL}/`);
  expect(await page.evaluate(() => 'requestVideoFrameCallback' in HTMLVideoElement.prototype)).toBe(false);
  await page.getByTestId('start-camera').click();
  await waitForTop1(page, FOX_SQUIRREL);
  // Frames keep coming from the live video, not one still picture.
  const n = await page.evaluate(() => window.__cnnfix!.results);
  await page.waitForFunction((k) => window.__cnnfix!.results >= k + 2, n, { timeout: FIRST_RESULT_MS });
  expect(await page.evaluate(() => window.__lastResult!.frameSize)).toEqual({ width: 534, height: 426 });
});

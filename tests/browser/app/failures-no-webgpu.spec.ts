// Failure path: a browser without WebGPU. The app runs the fallback path, says so in a chip (the details open from
// it, nothing covers the picture), and explains.
import { expect, test } from '@playwright/test';
import { CHROMIUM_ARGS } from '../../../playwright.config.ts';
import { APP_URL, FOX_SQUIRREL, SQUIRREL_JPG, dropFile, logPage, waitForEngine, waitForTop1 } from './fixtures.ts';

// Chromium without --enable-unsafe-webgpu: navigator.gpu exists but no adapter is given, as on unsupported GPUs.
test.use({
  launchOptions: {
    executablePath: '/usr/bin/chromium',
    args: CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu'),
  },
});

test('runs on the fallback path, says so, and explains', async ({ page }) => {
  logPage(page);
  await page.goto(`${APP_URL}/`);
  expect(await page.evaluate(async () => (await navigator.gpu?.requestAdapter()) ?? null)).toBeNull();
  await waitForEngine(page);
  await expect(page.getByTestId('path-chip')).toHaveText(/Running without the graphics chip \(slower\)/);
  await expect(page.getByTestId('fallback-note')).toBeHidden();
  await page.getByTestId('path-chip').click();
  await expect(page.getByTestId('fallback-note')).toBeVisible();
  await expect(page.getByTestId('fallback-note')).toContainText('No WebGPU path');
  const info = await page.evaluate(() => window.__cnnfix!.info!);
  expect(info.path).toBe('fallback');
  expect(info.fallbackReason).toBeTruthy();
  await dropFile(page, SQUIRREL_JPG);
  await waitForTop1(page, FOX_SQUIRREL);
  await expect(page.getByTestId('perf')).toContainText('fallback');
});

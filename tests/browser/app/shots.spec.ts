// Screenshots of the app as a user sees it, taken only when asked (SHOTS_DIR=folder): laptop 1280x800, phone
// portrait 390x844 and phone landscape 844x390, the fake camera on the squirrel photo; then the butterfly photo
// dropped, at phone size. With MANIFEST_SHOTS=1 the narrow and wide ones also replace the manifest's screenshots in
// public/screenshots/ (vite.config.ts).
import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test, type Page } from '@playwright/test';
import { APP_URL, FOX_SQUIRREL, dropFile, launch, logPage, photo, waitForTop1 } from './fixtures.ts';

const DIR = process.env.SHOTS_DIR;
const PUBLIC = resolve(import.meta.dirname, '../../../public/screenshots');
test.skip(!DIR, 'screenshots only when SHOTS_DIR is set');
test.use({ launchOptions: launch({ camera: true }) });

test('laptop, phone portrait and phone landscape', async ({ browser }) => {
  test.setTimeout(600_000);
  const page: Page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  logPage(page);
  await page.goto(`${APP_URL}/?backend=webgpu`);
  await page.getByTestId('start-camera').click();
  await waitForTop1(page, FOX_SQUIRREL);
  const shot = async (name: string, w: number, h: number, manifest?: string) => {
    await page.setViewportSize({ width: w, height: h });
    const n = await page.evaluate(() => window.__cnnfix!.results);
    await page.waitForFunction((k) => window.__cnnfix!.results > k, n, { timeout: 480_000 }); // laid out and redrawn
    const path = join(DIR!, `${name}-${w}x${h}.png`);
    await page.screenshot({ path });
    if (manifest && process.env.MANIFEST_SHOTS) {
      mkdirSync(PUBLIC, { recursive: true });
      copyFileSync(path, join(PUBLIC, manifest));
    }
  };
  mkdirSync(DIR!, { recursive: true });
  await shot('laptop', 1280, 800, 'wide.png');
  await shot('phone-portrait', 390, 844, 'narrow.png');
  await shot('phone-landscape', 844, 390);
  // A second shared photo, dropped, at phone size: the model's default overlay on another object.
  await page.setViewportSize({ width: 390, height: 844 });
  await dropFile(page, photo('butterfly.jpg'));
  await waitForTop1(page, /admiral|butterfly/);
  await page.screenshot({ path: join(DIR!, 'phone-portrait-butterfly-390x844.png') });
  await page.close();
});

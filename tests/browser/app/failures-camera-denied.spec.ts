// Failure path: the camera permission is refused. The page says so and offers still images, which work.
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

// A fake camera exists, but the permission prompt is refused.
test.use({
  launchOptions: {
    ...launch(),
    args: [...launch().args, '--use-fake-device-for-media-stream', '--deny-permission-prompts'],
  },
});

test('says so and offers still images, which work', async ({ page }) => {
  logPage(page);
  await page.goto(`${APP_URL}/`);
  await page.getByTestId('start-camera').click();
  await expect(page.getByTestId('camera-error')).toContainText('Camera access was denied');
  await expect(page.getByTestId('start').getByRole('button', { name: 'Open an image' })).toBeVisible();
  await waitForEngine(page);
  await dropFile(page, SQUIRREL_JPG);
  await waitForTop1(page, FOX_SQUIRREL);
});

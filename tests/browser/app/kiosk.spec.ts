// Exhibit mode: the camera starts by itself, large type, a legend and the caveat, no controls to break, and the
// attract screen once the scene has not changed for ?idle seconds (the fake camera shows one still photo).
import { expect, test } from '@playwright/test';
import { APP_URL, FOX_SQUIRREL, launch, logPage, waitForTop1 } from './fixtures.ts';

test.use({ launchOptions: launch({ camera: true }), viewport: { width: 1280, height: 800 } });

test('kiosk: starts without a click, legend and caveat, no controls, attract screen when idle', async ({ page }) => {
  logPage(page);
  await page.goto(`${APP_URL}/?kiosk&idle=5`);
  await waitForTop1(page, FOX_SQUIRREL);
  await expect(page.getByText(/The network's evidence, not what it "sees"/)).toBeVisible();
  await expect(page.getByText('warm = strongest evidence for the guess')).toBeVisible();
  // Nothing a visitor could change: no panel, no buttons, no inputs.
  await expect(page.getByRole('complementary', { name: 'Controls' })).toHaveCount(0);
  for (const role of ['button', 'checkbox', 'slider', 'combobox', 'radio', 'textbox', 'searchbox'] as const) {
    await expect(page.getByRole(role)).toHaveCount(0);
  }
  // Large type: the top-1 label is big.
  const size = await page.getByTestId('top1').evaluate((e) => parseFloat(getComputedStyle(e).fontSize));
  expect(size).toBeGreaterThanOrEqual(48);
  // The scene is a still photo: after 5 s without change the attract screen shows.
  await expect(page.getByTestId('attract')).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('attract')).toContainText('Show me something');
});

// Failure path: a model that does not load. The error is shown with Retry, and another model can be picked.
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

test('an unknown model: the error, then Retry is offered and another model loads', async ({ page }) => {
  logPage(page);
  await page.goto(`${APP_URL}/?model=no-such-model`);
  await expect(page.getByTestId('model-error')).toContainText("unknown model 'no-such-model'", { timeout: 120_000 });
  await expect(page.getByTestId('model-error').getByRole('button', { name: 'Retry' })).toBeVisible();
  await page.getByRole('combobox', { name: 'Network', exact: true }).selectOption('squeezenet1_1');
  await waitForEngine(page);
  await dropFile(page, SQUIRREL_JPG);
  await waitForTop1(page, FOX_SQUIRREL);
});

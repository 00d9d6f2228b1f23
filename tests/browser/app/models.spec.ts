// The catalog's MobileNets in the app: picked by ?model=, they load, classify a dropped photo, and every method
// (their own default, guided, then CAM, Grad-CAM) explains it (MobileNet v1's head is a 1x1 conv on the pooled map).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import {
  APP_URL,
  FIRST_RESULT_MS,
  SQUIRREL_JPG,
  dropFile,
  installed,
  lacks,
  photo as photoPath,
  launch,
  logPage,
  waitForEngine,
  waitForTop1,
} from './fixtures.ts';

test.use({ launchOptions: launch() });
const CATALOG = JSON.parse(readFileSync(join(import.meta.dirname, '../../../models/catalog.json'), 'utf8'));

async function methodsWork(page: Page) {
  for (const [name, method] of [
    ['CAM', 'cam'],
    ['Grad-CAM', 'gradcam'],
  ] as const) {
    const before = await page.evaluate(() => window.__cnnfix!.results);
    await page.getByRole('radio', { name, exact: true }).check();
    await page.waitForFunction(
      ([b, m]) => {
        const app = window.__cnnfix!;
        return app.results > b && (app.result as unknown as { method?: string })?.method === m;
      },
      [before, method] as const,
      { timeout: FIRST_RESULT_MS },
    );
    expect(await page.evaluate(() => window.__cnnfix!.engineMessage)).toBe('');
  }
}

for (const [id, photo, label] of [
  ['mobilenet_v2', SQUIRREL_JPG, /fox squirrel/],
  ['mobilenet_v1_025_224_tfhub', photoPath('fruits.jpg'), /^orange/],
] as const) {
  test(`${id}: loads from the catalog, classifies a photo, and CAM / Grad-CAM explain it`, async ({ page }) => {
    test.skip(lacks(`models.spec.ts (${id})`, installed(`${id}/model.json`)));
    test.setTimeout(2 * FIRST_RESULT_MS);
    logPage(page);
    await page.goto(`${APP_URL}/?model=${id}`);
    await waitForEngine(page);
    await expect(page.getByRole('combobox', { name: 'Network', exact: true })).toHaveValue(id);
    await dropFile(page, photo);
    await waitForTop1(page, label);
    // No method chosen: the model's own default (its catalog "method", guided with its own knobs) explained it.
    const entry = CATALOG.models.find((m: { id: string }) => m.id === id);
    const first = await page.evaluate(
      () => window.__cnnfix!.result as unknown as { method: string; guided?: { epsilon: number; sigma: number } },
    );
    expect(first.method).toBe(entry.method);
    expect(first.guided).toMatchObject({ epsilon: entry.guided.epsilon, sigma: entry.guided.sigma });
    await methodsWork(page);
  });
}

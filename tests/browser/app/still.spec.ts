// Still images (drag-drop and the file picker), picked classes, several classes at once, and the method toggle.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { CLASS_COLORS } from '../../../src/worker/api.ts';
import { tmpdir } from 'node:os';
import { OFF_CENTRE_SIZE, offCentreSquirrel, rgbPng } from '../../fixtures/off-centre.ts';
import {
  APP_URL,
  BOXES_JSON,
  FOX_SQUIRREL,
  countSent,
  lacks,
  mirror,
  photo,
  dropFile,
  expectQuiet,
  inBox,
  launch,
  logPage,
  sent,
  waitForEngine,
  waitForTop1,
} from './fixtures.ts';

test.use({ launchOptions: launch() });
test.describe.configure({ mode: 'serial' });

let page: Page;

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  logPage(page);
  await page.goto(`${APP_URL}/`);
  await waitForEngine(page);
});
test.afterAll(() => page?.close());

test("'auto' (the default) chose the fallback from the software adapter, once: the choice and why in the performance readout", async () => {
  const a = await page.evaluate(() => window.__cnnfix!.info!.auto!);
  expect(a).toEqual({ chosen: 'fallback', adapter: expect.stringMatching(/swiftshader/i), software: true });
  expect(await page.evaluate(() => window.__cnnfix!.info!.path)).toBe('fallback');
  const readout = page.getByTestId('perf-auto');
  await expect(readout).toContainText('kept the fallback: software WebGPU adapter');
  await expect(readout.getByRole('link', { name: 'GPU path' })).toHaveAttribute('href', /backend=webgpu/);
  await expect(page.getByTestId('perf-startup')).toContainText('download');
});

/** Wait until a result newer than the `before`-th arrives. */
async function nextResult(p: Page, before: number) {
  await p.waitForFunction((n) => window.__cnnfix!.results > n, before, { timeout: 240_000 });
  return p.evaluate(() => window.__lastResult!);
}

test('a dropped picture is shown and explained once: fox squirrel, fixations and peak on the off-centre squirrel', async () => {
  // The squirrel in a corner of a grey square (tests/fixtures/off-centre.ts): a map peaking in the middle cannot pass.
  const { image, box } = await offCentreSquirrel();
  const file = join(tmpdir(), `cnnfix-off-centre-squirrel-${process.pid}.png`);
  writeFileSync(file, rgbPng(image));
  await countSent(page);
  await dropFile(page, file, 'image/png');
  await waitForTop1(page, FOX_SQUIRREL);
  await expect(page.locator('img.still')).toBeVisible();
  const r = await page.evaluate(() => window.__lastResult!);
  expect(r.frameSize).toEqual({ width: OFF_CENTRE_SIZE, height: OFF_CENTRE_SIZE });
  expect(inBox([(OFF_CENTRE_SIZE - 1) / 2, (OFF_CENTRE_SIZE - 1) / 2], box)).toBe(false);
  expect(r.explained[0].fixations.length).toBeGreaterThan(0);
  // The default explanation (guided) draws its box on the squirrel.
  expect(r.method).toBe('guided');
  const b = r.explained[0].box!;
  expect(inBox([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2], box), `box ${b} on ${box}`).toBe(true);
  expect(inBox(r.explained[0].peak!, box), `peak ${r.explained[0].peak} in ${box}`).toBe(true);
  // Explained once: one frame sent, and nothing more while nothing changes.
  await expectQuiet(page);
  expect(await sent(page)).toBe(1);
});

test('"where would it look for umbrella?": a searched class is explained, then two classes in two colours', async () => {
  const n = await page.evaluate(() => window.__cnnfix!.results);
  await page.getByLabel('Find a class').fill('umbrel');
  await page.getByRole('button', { name: /umbrella/ }).click();
  let r = await nextResult(page, n);
  expect(r.explained.map((e) => e.class.label)).toEqual(['umbrella']);
  expect(r.top[0].label).toMatch(FOX_SQUIRREL); // the prediction itself is unchanged

  const m = await page.evaluate(() => window.__cnnfix!.results);
  await page.getByRole('button', { name: /^fox squirrel/ }).click(); // pin the top-1 row as well
  r = await nextResult(page, m);
  expect(r.explained.map((e) => e.class.index)).toEqual([879, 335]);
  expect(r.explained.map((e) => e.color)).toEqual(CLASS_COLORS.slice(0, 2));
  await expect(page.locator('.chip')).toHaveCount(2);

  const k = await page.evaluate(() => window.__cnnfix!.results);
  await page.getByRole('button', { name: 'Back to the top-1 class' }).click();
  r = await nextResult(page, k);
  expect(r.explained.map((e) => e.class.index)).toEqual([335]);
});

test('two classes on fruits.jpg (lemon, orange): the caption names them with their colours, the legend of their heatmaps', async () => {
  let n = await page.evaluate(() => window.__cnnfix!.results);
  await dropFile(page, photo('fruits.jpg'));
  await nextResult(page, n);
  for (const q of ['lemon', 'orange']) {
    n = await page.evaluate(() => window.__cnnfix!.results);
    await page.getByLabel('Find a class').fill(q);
    await page.getByRole('button', { name: new RegExp(`^\\+ ${q}$`) }).click();
    await nextResult(page, n);
  }
  const r = await page.evaluate(() => window.__lastResult!);
  expect(r.explained.map((e) => [e.class.index, e.color])).toEqual([
    [951, CLASS_COLORS[0]],
    [950, CLASS_COLORS[1]],
  ]);
  await expect(page.locator('.caption .explaining')).toHaveText('guided (class map x fixations) for lemon, orange');
  const swatches = page.locator('.caption .swatch');
  await expect(swatches).toHaveCount(2);
  for (let i = 0; i < 2; i++)
    expect(await swatches.nth(i).evaluate((e) => getComputedStyle(e).backgroundColor)).toBe(
      `rgb(${CLASS_COLORS[i]
        .slice(1)
        .match(/../g)!
        .map((h) => parseInt(h, 16))
        .join(', ')})`,
    );
  // One colour per class: the colormap does not apply.
  await expect(page.getByLabel('Colours')).toBeDisabled();
  if (process.env.APP_CLASSES_SCREENSHOT) await page.screenshot({ path: process.env.APP_CLASSES_SCREENSHOT });
  n = await page.evaluate(() => window.__cnnfix!.results);
  await page.getByRole('button', { name: 'Back to the top-1 class' }).click();
  await nextResult(page, n);
  await expect(swatches).toHaveCount(0);
  await expect(page.getByLabel('Colours')).toBeEnabled();
});

test('the method toggle reaches the worker: Grad-CAM, then back to fixations', async () => {
  const n = await page.evaluate(() => window.__cnnfix!.results);
  await page.getByRole('radio', { name: 'Grad-CAM' }).check();
  let r = await nextResult(page, n);
  expect(r.method).toBe('gradcam');
  const m = await page.evaluate(() => window.__cnnfix!.results);
  await page.getByRole('radio', { name: 'Fixations' }).check();
  r = await nextResult(page, m);
  expect(r.method).toBe('fixations');
  expect(r.explained[0].fixations.length).toBeGreaterThan(0);
});

test('the file picker opens another photo: the butterfly is named a butterfly', async () => {
  // boxes.json lists the ImageNet classes that name each photo's object.
  const item = (JSON.parse(readFileSync(BOXES_JSON, 'utf8')).items as { image: string; classes: number[] }[]).find(
    (i) => i.image === 'butterfly.jpg',
  )!;
  const n = await page.evaluate(() => window.__cnnfix!.results);
  const chooser = page.waitForEvent('filechooser');
  await page.getByTestId('open-image').click();
  await (await chooser).setFiles(photo('butterfly.jpg'));
  const r = await nextResult(page, n);
  expect(item.classes).toContain(r.top[0].index);
  await expect(page.getByTestId('top1')).toHaveText(r.top[0].label);
});

test('"load your own TF.js graph model" from files: model.json, its shard and labels.json', async () => {
  const dir = join(import.meta.dirname, '../../../models/squeezenet1_1');
  const n = await page.evaluate(() => window.__cnnfix!.results);
  await page.getByText('Load your own TF.js graph model').click();
  await page
    .getByLabel(/its files/)
    .setInputFiles(['model.json', 'group1-shard1of1.bin', 'labels.json'].map((f) => join(dir, f)));
  await waitForEngine(page);
  // The picture on show (the butterfly) is explained again by the newly loaded model.
  const r = await nextResult(page, n);
  expect(r.top[0].label).toBe(
    await page.evaluate(() => window.__cnnfix!.info!.labels[window.__lastResult!.top[0].index]),
  );
  expect(r.top[0].label).toMatch(/^[a-z]/); // a real label from labels.json, not "class N"
  expect(await page.evaluate(() => window.__cnnfix!.info!.modelId)).not.toBe('squeezenet1_1');
});

test('a dropped ONNX model (.onnx + a labels file) becomes the user model: the same class as the TF.js SqueezeNet', async () => {
  const dir = mirror('onnx');
  test.skip(lacks('still.spec.ts (ONNX)', join(dir, 'squeezenet1_1.onnx')));
  const before = await page.evaluate(() => ({ n: window.__cnnfix!.results, top: window.__lastResult!.top[0] }));
  const files = ['squeezenet1_1.onnx', 'labels_imagenet_2012.txt'].map((name) => [
    name,
    readFileSync(join(dir, name)).toString('base64'),
  ]);
  await page.getByTestId('stage').evaluate((stage, files) => {
    const dt = new DataTransfer();
    for (const [name, b64] of files) dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name));
    stage.dispatchEvent(
      new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true, composed: true }),
    );
    stage.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true, composed: true }));
  }, files);
  await waitForEngine(page);
  // The picture on show (the butterfly) is explained again, now by the ONNX file: same weights, same top class.
  const r = await nextResult(page, before.n);
  expect(await page.evaluate(() => window.__cnnfix!.info!.modelId)).toMatch(/squeezenet1_1/);
  expect(await page.evaluate(() => window.__cnnfix!.info!.labels.length)).toBe(1000);
  expect(r.top[0].index).toBe(before.top.index);
  // Its label comes from the dropped text file (one label per line).
  expect(r.top[0].label).toBe(
    readFileSync(join(dir, 'labels_imagenet_2012.txt'), 'utf8').split('\n')[r.top[0].index].trim(),
  );
});

// A Keras model as tfjs-converter writes it (signature keyed by the Keras layer name, `Identity:0` values; 128x128,
// float16 weights, one sigmoid output: tests/fixtures/graphs.ts) in the app and in an embedded <cnn-fixations>: the
// app's "Load your own" files find its logits through the signature, the top list shows present / absent with the
// model's own sigmoid (the graph's output, run here by tfjs), a click on "absent" explains why absent; an element
// given the model's URL and classes="absent" reports the same numbers.
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { expect, test, type Page } from '@playwright/test';
import { FixationModel } from '../../../src/engine/model.ts';
import { userModelInfo } from '../../../src/engine/facts.ts';
import type { FrameResult } from '../../../src/worker/api.ts';
import { pct } from '../../../src/app/control.ts';
import jpeg from 'jpeg-js';
import { kerasSigmoid128 } from '../../fixtures/graphs.ts';
import { APP_URL, FIRST_RESULT_MS, SQUIRREL_JPG, dropFile, launch, logPage, waitForEngine } from './fixtures.ts';

test.use({ launchOptions: launch() });

const M = kerasSigmoid128();

/** The graph's own sigmoid output on the squirrel photo (crop fit, the default ImageNet preprocessing), by tfjs (cpu). */
async function ownProbability(): Promise<number> {
  await tf.setBackend('cpu');
  const gm = await loadGraphModel(tf.io.fromMemory(structuredClone(M.artifacts)));
  const own = await loadGraphModel(tf.io.fromMemory(structuredClone(M.artifacts)));
  const fm = FixationModel.create(gm, userModelInfo(gm, 'keras128'));
  const { width, height, data } = jpeg.decode(readFileSync(SQUIRREL_JPG), { useTArray: true, formatAsRGBA: true });
  const img = tf.tensor3d(data, [height, width, 4], 'int32');
  const { input } = fm.preprocess(img);
  const p = (own.execute(input, M.output) as tf.Tensor).dataSync()[0];
  tf.dispose([img, input]);
  fm.dispose();
  own.dispose();
  return p;
}

test("a Keras-converted sigmoid model: the app's own-model files and the element show the model's own present / absent", async ({
  browser,
}) => {
  test.setTimeout(600_000);
  const p = await ownProbability();
  const page: Page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  logPage(page);
  // The model's files at an address of this site, for the element (nothing else beside it).
  await page.route('**/own/keras128/*', (route) => {
    const file = new URL(route.request().url()).pathname.split('/').pop();
    if (file === 'model.json') return route.fulfill({ body: JSON.stringify(M.json), contentType: 'application/json' });
    if (file === 'group1-shard1of1.bin')
      return route.fulfill({ body: Buffer.from(M.bin), contentType: 'application/octet-stream' });
    return route.fulfill({ status: 404, body: '' });
  });
  await page.route('**/own/squirrel.jpg', (route) =>
    route.fulfill({ body: readFileSync(SQUIRREL_JPG), contentType: 'image/jpeg' }),
  );
  await page.goto(`${APP_URL}/`);
  await waitForEngine(page);

  // The app: "Load your own" with model.json and its shard, nothing else.
  await page.getByText('Load your own TF.js graph model').click();
  await page.getByLabel(/its files/).setInputFiles([
    { name: 'model.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(M.json)) },
    { name: 'group1-shard1of1.bin', mimeType: 'application/octet-stream', buffer: Buffer.from(M.bin) },
  ]);
  await waitForEngine(page);
  const info = await page.evaluate(() => window.__cnnfix!.info!);
  expect(info).toMatchObject({ logits: M.logits, labels: ['present', 'absent'] });
  let n = await page.evaluate(() => window.__cnnfix!.results);
  await dropFile(page, SQUIRREL_JPG);
  await page.waitForFunction((k) => window.__cnnfix!.results > k, n, { timeout: FIRST_RESULT_MS });
  const r = await page.evaluate(() => window.__lastResult!);
  const byLabel = Object.fromEntries(r.top.map((t) => [t.label, t.prob]));
  // The browser decodes the JPEG itself (not jpeg-js): the same probability within a few thousandths.
  expect(Math.abs(byLabel.present - p)).toBeLessThan(5e-3);
  expect(byLabel.present + byLabel.absent).toBeCloseTo(1, 5);
  expect(r.explained[0].fixations.length).toBeGreaterThan(0);
  // The top list shows those numbers.
  const rows = page.locator('.top5 .top-row');
  await expect(rows).toHaveCount(2);
  for (const t of r.top) await expect(rows.filter({ hasText: t.label })).toContainText(pct(t.prob));

  // A click on "absent" explains why absent (the negated logit), with its probability.
  n = await page.evaluate(() => window.__cnnfix!.results);
  await rows.filter({ hasText: 'absent' }).click();
  await page.waitForFunction(
    (k) => window.__cnnfix!.results > k && window.__lastResult!.explained.some((e) => e.class.index === 1),
    n,
    { timeout: FIRST_RESULT_MS },
  );
  const a = await page.evaluate(() => window.__lastResult!.explained.find((e) => e.class.index === 1)!);
  expect(a.class.label).toBe('absent');
  expect(a.class.prob).toBeCloseTo(byLabel.absent, 5);
  expect(a.fixations.length).toBeGreaterThan(0);

  // An embedded element given the model's URL and classes="absent": the same numbers in its result event.
  const e: FrameResult = await page.evaluate(
    () =>
      new Promise<FrameResult>((done) => {
        const el = document.createElement('cnn-fixations');
        el.setAttribute('model', '/own/keras128/model.json');
        el.setAttribute('source', '/own/squirrel.jpg');
        el.setAttribute('classes', 'absent');
        el.style.width = '320px';
        el.addEventListener('result', (ev) => done((ev as CustomEvent<FrameResult>).detail), { once: true });
        document.body.append(el);
      }),
  );
  expect(e.explained.map((x) => [x.class.index, x.class.label])).toEqual([[1, 'absent']]);
  for (const t of e.top) expect(t.prob).toBeCloseTo(byLabel[t.label], 5);
  expect(e.explained[0].fixations.length).toBeGreaterThan(0);
  await page.close();
});

// The worker (both paths) on a model whose input is neither square nor RGB: a 1-channel 160x224 TF.js graph model
// (conv 1x1 to 2 channels, mean over H,W; class 0's map is the input's luminance). A frame with one lit pixel on the
// sampling grid: under the reference rules the fixation must be that pixel, in network pixels and in frame pixels.
// The pixel transform by hand (see tests/unit/shapes.test.ts): crop of 447x339: network (x, y) -> frame (2x, 2y + 10);
// letterbox of 401x319: network (x, y) -> frame (2x - 23, 2y).
import { expect, test, type Page } from '@playwright/test';
import { encodePng } from '../../../src/node/draw.ts';
import { GraphBuilder, kernel } from '../../fixtures/graphs.ts';
import { openHarness } from './setup.ts';

const F = { T: { type: 'DT_FLOAT' } };

function grayModel(): { json: string; weights: Buffer } {
  const g = new GraphBuilder([160, 224, 1]);
  g.conv(
    'conv',
    'input',
    kernel([1, 1, 1, 2], (_u, _v, _k, c) => (c === 0 ? 1 : -1)),
  );
  g.op('gap', 'Mean', ['conv', g.ints('gap/axes', [1, 2])], {
    ...F,
    Tidx: { type: 'DT_INT32' },
    keep_dims: { b: false },
  });
  const a = g.artifacts();
  const json = JSON.stringify({
    format: 'graph-model',
    generatedBy: a.generatedBy,
    convertedBy: null,
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
  });
  return { json, weights: Buffer.from(a.weightData as ArrayBuffer) };
}

/** Black opaque frame with one lit pixel. */
function frame(width: number, height: number, x: number, y: number): Buffer {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) data[4 * i + 3] = 255;
  data.set([40, 200, 90], (y * width + x) * 4);
  return encodePng({ width, height, data });
}

async function route(page: Page) {
  const m = grayModel();
  await page.route('**/gray-model/model.json', (r) => r.fulfill({ body: m.json, contentType: 'application/json' }));
  await page.route('**/gray-model/weights.bin', (r) =>
    r.fulfill({ body: m.weights, contentType: 'application/octet-stream' }),
  );
  // The optional files the worker looks for beside a model: none here (Vite would answer with its index page).
  for (const f of ['labels.json', 'metadata.json', 'cnnfix.json'])
    await page.route(`**/gray-model/${f}`, (r) => r.fulfill({ status: 404, body: '' }));
  await page.route('**/shape-frames/crop.png', (r) =>
    r.fulfill({ body: frame(447, 339, 446, 10), contentType: 'image/png' }),
  );
  await page.route('**/shape-frames/letterbox.png', (r) =>
    r.fulfill({ body: frame(401, 319, 177, 100), contentType: 'image/png' }),
  );
}

for (const backend of ['webgpu', 'fallback'] as const) {
  test(`${backend}: a 1-channel 160x224 model, fixations on the lit frame pixel (crop and letterbox)`, async ({
    page,
  }) => {
    await route(page);
    await openHarness(page);
    const info = await page.evaluate(
      (b) => (window as any).h.init({ modelUrl: '/gray-model/model.json', backend: b }),
      backend,
    );
    expect(info.path).toBe(backend === 'webgpu' ? 'gpu' : 'fallback');
    expect(info.inputShape).toEqual([160, 224, 1]);
    const cases = [
      { url: '/shape-frames/crop.png', fit: 'crop', net: [223, 0], px: [446, 10] },
      { url: '/shape-frames/letterbox.png', fit: 'letterbox', net: [100, 50], px: [177, 100] },
    ];
    for (const c of cases) {
      const r = await page.evaluate(
        ([url, fit]) => (window as any).h.explainUrl(url, { rules: 'reference', classes: 0, fit }),
        [c.url, c.fit] as const,
      );
      const [e] = r.explained;
      console.log(
        `${backend} ${c.fit}: input fixations ${JSON.stringify(e.inputFixations)}, frame fixations ${JSON.stringify(e.fixations)}`,
      );
      expect(e.inputFixations.map((f: any) => [f.x, f.y, f.c])).toEqual([[...c.net, 0]]);
      expect(e.fixations.map((f: any) => [f.x, f.y])).toEqual([c.px]);
    }
  });
}

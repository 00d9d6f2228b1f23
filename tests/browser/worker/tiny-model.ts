// A tiny real CNN (seeded random weights) in TF.js graph-model format, with SqueezeNet's head shape
// (conv -> ReLU -> max pool -> 1x1 conv to the classes -> ReLU -> global mean -> softmax): for runs of hundreds of
// frames, where SqueezeNet on SwiftShader would take many minutes. Served to the page by a Playwright route.
import type { Page } from '@playwright/test';
import { GraphBuilder, kernel, seeded as rng } from '../../fixtures/graphs.ts';

const T = { T: { type: 'DT_FLOAT' } };

export const TINY_CLASSES = 10;

export function tinyModel(seed = 7): { json: string; weights: Buffer } {
  const r = rng(seed);
  const g = new GraphBuilder(32, 'image');
  const c1 = g.conv(
    'conv1',
    'image',
    kernel([3, 3, 3, 8], () => r() * 2 - 1),
    { stride: 2 },
  );
  const p1 = g.pool('pool1', 'MaxPool', g.op('relu1', 'Relu', [c1], T), 3, 2, 'SAME');
  const c2 = g.conv(
    'conv2',
    p1,
    kernel([1, 1, 8, TINY_CLASSES], () => r() * 2 - 0.5),
  );
  const gap = g.op('gap', 'Mean', [g.op('relu2', 'Relu', [c2], T), g.ints('gap/axes', [1, 2])], {
    ...T,
    Tidx: { type: 'DT_INT32' },
    keep_dims: { b: false },
  });
  g.op('prob', 'Softmax', [gap], T);
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

/** Serve the tiny model at /tiny-model/model.json (+ weights.bin, no labels). */
export async function routeTinyModel(page: Page) {
  const m = tinyModel();
  await page.route('**/tiny-model/model.json', (route) =>
    route.fulfill({ body: m.json, contentType: 'application/json' }),
  );
  await page.route('**/tiny-model/weights.bin', (route) =>
    route.fulfill({ body: m.weights, contentType: 'application/octet-stream' }),
  );
  await page.route('**/tiny-model/labels.json', (route) => route.fulfill({ status: 404, body: '' }));
}

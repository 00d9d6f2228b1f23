// GPU unravelling (WGSL kernels, src/gpu/unravel.ts) equals the CPU reference (unravelCpu) on the very same
// tfjs-webgpu forward pass: SqueezeNet on every test photo with both presets, and the hand-built op graphs with
// every rule combination. Runs on SwiftShader WebGPU in CI: correctness only, timings are printed.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { installed, lacks, mirror, photo, PHOTOS } from '../../fixtures/data.ts';

const images = PHOTOS;

async function openHarness(page: Page) {
  page.on('console', (m) => {
    if (m.type() === 'error') console.log(`[page] ${m.text()}`);
  });
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  await page.route('**/shared-images/*', (route) => {
    const file = photo(decodeURIComponent(new URL(route.request().url()).pathname.split('/').pop()!));
    const type = extname(file) === '.png' ? 'image/png' : 'image/jpeg';
    return route.fulfill({ body: readFileSync(file), contentType: type });
  });
  // The shared model mirror, for the layers MobileNet (the last test).
  await page.route('**/shared-models/**', (route) => {
    const rel = decodeURIComponent(new URL(route.request().url()).pathname.replace(/^.*\/shared-models\//, ''));
    return route.fulfill({ body: readFileSync(mirror(rel)) });
  });
  // Vite's HMR socket, answered by nothing: edits elsewhere in the tree must not reload the page mid-test.
  await page.routeWebSocket(/\?token=/, () => {});
  await page.goto('/tests/browser/gpu/harness.html');
  await page.waitForFunction(() => window.harnessReady === true, undefined, { timeout: 120_000 });
  return page.evaluate(() => window.harness.init());
}

// One page (one model load and WebGPU start) for all the tests of this file.
test.describe.configure({ mode: 'serial' });
let page: Page;
let info: Awaited<ReturnType<typeof openHarness>>;
test.beforeAll(async ({ browser }) => {
  test.setTimeout(300_000);
  page = await browser.newPage({ baseURL: test.info().project.use.baseURL });
  info = await openHarness(page);
});
test.afterAll(async () => {
  await page?.close();
});

test('SqueezeNet: GPU unravelling equals the CPU reference on every image, both presets', async () => {
  test.setTimeout(900_000);
  expect(images.length).toBeGreaterThan(0);
  console.log(`squeezenet1_1: ${info.nodes} nodes, ${info.activations} activations bound`);
  const thresholded = { location: 'max', gap: 'positive', weights: 'contribution', gapThreshold: 0.5 } as const;
  // channelRatio: a conv keeps every input channel close to the best one (fans out at each fire module).
  const ratio = {
    location: 'center',
    gap: 'positive',
    weights: 'contribution',
    gapThreshold: 0.75,
    channelRatio: 0.75,
  } as const;
  for (const [i, image] of images.entries()) {
    // Both presets on every image; explicit rule sets with a GAP threshold and a channel ratio on two.
    const presets =
      i < 2 ? (['reference', 'default', thresholded, ratio] as const) : (['reference', 'default'] as const);
    const rs = await page.evaluate(([url, p]) => window.harness.compareImage(url, [...p]), [
      `/shared-images/${image}`,
      presets,
    ] as const);
    for (const [k, preset] of presets.entries()) {
      const r = rs[k];
      const name = typeof preset === 'string' ? preset : JSON.stringify(preset);
      console.log(
        `${image} ${name}: class ${r.classIndex}, ${r.layers} layers, min Jaccard ${r.minJaccard.toFixed(4)}, ` +
          `max rel weight err ${r.maxRelErr.toExponential(2)}, fixations cpu ${r.cpuFixations} gpu ${r.gpuFixations}` +
          (r.minJaccard < 1 ? `; worst ${JSON.stringify(r.worst)}` : '') +
          (r.listMatches && r.subsetMatches
            ? ''
            : `; list ${r.listMatches} subset ${r.subsetMatches} ${JSON.stringify(r.listWhy ?? null)}`),
      );
      expect(r.layers).toBe(info.nodes);
      expect(r.cpuFixations).toBeGreaterThan(0);
      // Both sides read the same activations: the kept sets must be equal, so every weight is compared.
      expect(r.minJaccard).toBe(1);
      expect(r.maxRelErr).toBeLessThanOrEqual(1e-5);
      expect(r.listMatches).toBe(true);
      expect(r.subsetMatches).toBe(true);
    }
  }
});

test('bad input: clear errors, and the unraveller still works afterwards', async () => {
  const messages = await page.evaluate(() => window.harness.errors());
  expect(messages).toEqual([
    "class index 1000 is out of range 0..999 of 'pool10'",
    "class index 1.5 is out of range 0..999 of 'pool10'",
    expect.stringMatching(/^GPU unravelling: activation '.+' has 4 bytes, needs \d+$/),
    "rule location='centre' is not one of center, max",
    "GPU unravelling: no node 'no/such/node' in the graph",
  ]);
  const r = await page.evaluate(
    (url) => window.harness.compareImage(url, ['default']).then((r) => r[0]),
    `/shared-images/${images[0]}`,
  );
  expect(r.minJaccard).toBe(1);
  expect(r.listMatches).toBe(true);
});

test('hand-built op graphs: GPU equals CPU for every rule combination and logit, and the hand-worked fixations', async () => {
  test.setTimeout(600_000);
  const { fixtures, gpu } = await page.evaluate(() => window.harness.fixtureNames());
  expect(fixtures.length).toBeGreaterThan(10);
  const runs: [string, Parameters<Window['harness']['compareFixture']>[1]][] = [
    ...fixtures.map((n) => [n, {}] as [string, object]),
    // Activations without a GPU buffer (tfjs ran the tiny graph on the CPU): uploaded instead.
    ['weightsFlow', { cpuForward: true }],
    ['sharedInputIdentity', {}],
    ['grayNonSquare', {}],
    [
      'wideMap',
      {
        maxClasses: 1,
        rules: [
          { location: 'max', gap: 'positive', weights: 'contribution' },
          { location: 'center', gap: 'argmax', weights: 'count' },
          { location: 'max', gap: 'positive', weights: 'count' }, // over 2000 kept, all weights 1: the cut by index
        ],
      },
    ],
  ];
  expect(runs.map(([n]) => n)).toEqual(expect.arrayContaining(gpu));
  for (const [name, opts] of runs) {
    const r = await page.evaluate(([n, o]) => window.harness.compareFixture(n, o), [name, opts] as const);
    console.log(
      `${name}${opts?.cpuForward ? ' (cpu forward)' : ''}: ${r.runs} runs (${r.classes} classes), ${r.nodes} layers, ` +
        `min Jaccard ${r.minJaccard}, max rel weight err ${r.maxRelErr.toExponential(2)}, ` +
        `hand-worked ${r.expectedChecked}/${r.expectedTotal}${r.truncated ? `, list truncated in ${r.truncated}` : ''}`,
    );
    expect(r.failures, name).toEqual([]);
    expect(r.runs).toBeGreaterThan(0);
    expect(r.minJaccard).toBe(1);
    expect(r.maxRelErr).toBeLessThanOrEqual(1e-4);
    if (!opts?.rules) expect(r.expectedChecked, `${name}: every hand-worked case ran`).toBe(r.expectedTotal);
    if (name === 'wideMap') expect(r.truncated).toBeGreaterThan(0);
  }
});

test("activations from dataToGPU are the tensors' f32 NHWC values", async () => {
  const rows = await page.evaluate((url) => window.harness.activationsMatch(url), `/shared-images/${images[0]}`);
  expect(rows.length).toBeGreaterThan(0);
  for (const r of rows) {
    expect(r.bufferBytes, r.name).toBeGreaterThanOrEqual(r.length * 4);
    expect(r.maxAbsDiff, r.name).toBe(0);
  }
});

test('timing: GPU vs CPU unravelling (printed, not asserted)', async () => {
  test.setTimeout(600_000);
  for (const preset of ['reference', 'default'] as const) {
    const t = await page.evaluate(([url, p]) => window.harness.timing(url, p, 20), [
      `/shared-images/squirrel_cls.jpg`,
      preset,
    ] as const);
    console.log(
      `timing ${preset} (median of 20, SwiftShader): CPU ${t.cpuMs.toFixed(2)} ms, GPU ${t.gpuMs.toFixed(2)} ms ` +
        `(+list readback ${t.gpuWithReadbackMs.toFixed(2)} ms), activation copies ${t.activationCopyMs.toFixed(2)} ms; ` +
        `CPU/GPU ${(t.cpuMs / t.gpuMs).toFixed(2)}x`,
    );
  }
});

// Last: it replaces the harness's model.
test('layers MobileNet v1 0.25 (converted from Keras topology): GPU unravelling equals the CPU reference', async () => {
  test.skip(lacks('unravel.spec.ts (the layers MobileNet)', mirror('mobilenet_v1_025_224_layers/model.json')));
  test.setTimeout(900_000);
  const li = await page.evaluate(
    (u) => window.harness.initLayers(u),
    '/shared-models/mobilenet_v1_025_224_layers/model.json',
  );
  console.log(
    `mobilenet_v1_025_224_layers: ${li.nodes} nodes, ${li.activations} activations bound, logits ${li.logits}, range [${li.range}]`,
  );
  expect(li.logits).toBe('conv_preds');
  expect(li.range).toEqual([-1, 1]);
  const max = { location: 'max', gap: 'positive', weights: 'contribution', gapThreshold: 0.75 } as const;
  const ratio = {
    location: 'max',
    gap: 'positive',
    weights: 'contribution',
    gapThreshold: 0.25,
    channelRatio: 0.75,
  } as const;
  for (const image of ['squirrel_cls.jpg', 'orange.jpg', 'butterfly.jpg']) {
    const presets = ['reference', 'default', max, ratio] as const;
    const rs = await page.evaluate(([url, p]) => window.harness.compareImage(url, [...p]), [
      `/shared-images/${image}`,
      presets,
    ] as const);
    for (const [k, preset] of presets.entries()) {
      const r = rs[k];
      const name = typeof preset === 'string' ? preset : JSON.stringify(preset);
      console.log(
        `layers ${image} ${name}: class ${r.classIndex}, ${r.layers} layers, min Jaccard ${r.minJaccard.toFixed(4)}, ` +
          `max rel weight err ${r.maxRelErr.toExponential(2)}, fixations cpu ${r.cpuFixations} gpu ${r.gpuFixations}`,
      );
      if (image === 'squirrel_cls.jpg') expect(r.classIndex).toBe(335);
      expect(r.layers).toBe(li.nodes);
      expect(r.cpuFixations).toBeGreaterThan(0);
      expect(r.minJaccard).toBe(1);
      expect(r.maxRelErr).toBeLessThanOrEqual(1e-4);
      expect(r.listMatches).toBe(true);
    }
  }
});

test("memory: weights bound from tfjs's buffers, layer staging sized for what is read, weight bytes dropped", async () => {
  test.setTimeout(300_000);
  for (const id of ['squeezenet1_1', 'mobilenet_v2']) {
    if (lacks(`unravel.spec.ts memory (${id})`, installed(`${id}/model.json`))) continue;
    const m = await page.evaluate((i) => window.harness.memoryOf(i), id);
    const mb = (b: number) => `${(b / 2 ** 20).toFixed(2)} MB`;
    console.log(
      `${id}: unraveller GPU buffers ${mb(m.copied)} with its own weight copies -> ${mb(m.shared)} (weights ${mb(m.weights)}); ` +
        `layer staging ${mb(m.oneLayer)} for one layer, ${mb(m.allLayers)} for all (was always all); model.json bytes held ${mb(m.weightData)} -> ${mb(m.heldAfter)}`,
    );
    // Every conv/matmul weight buffer is the model's: the unraveller's own buffers shrink by the weights' bytes
    // (each copy was padded to 4 bytes at most).
    expect(m.weights).toBeGreaterThan(1e6);
    expect(m.copied - m.shared).toBeGreaterThanOrEqual(m.weights);
    expect(m.copied - m.shared).toBeLessThan(m.weights + 4 * 200);
    expect(m.oneLayer).toBeLessThan(m.allLayers / 10);
    // (tfjs 4.22 keeps no weight bytes for a model loaded by URL; a converted ONNX / layers model in memory did.)
    expect(m.heldAfter).toBe(0);
  }
});

// An ONNX model in the worker: fetched by URL, converted in the worker, explained on the GPU path (tfjs-webgpu +
// the WGSL unravelling): the same class and input fixations as the TF.js SqueezeNet on the same path.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { PRESETS } from '../../../src/engine/types.ts';
import { PRESENT_LAUNCH } from './launch.ts';
import { lacks, mirror } from '../../fixtures/data.ts';
import { openHarness, SQUIRREL } from './setup.ts';

test.use({ launchOptions: PRESENT_LAUNCH });
test.skip(
  lacks(
    'onnx.spec.ts',
    mirror('onnx/squeezenet1_1.onnx'),
    mirror('onnx/mobilenet_v2_float.onnx'),
    mirror('mobilenet_v2/model.json'),
  ),
);

test('ONNX SqueezeNet by URL and as files: GPU path, same class and input fixations as the TF.js SqueezeNet', async ({
  page,
}) => {
  const onnxDir = mirror('onnx');
  await page.route('**/onnx-models/*', (route) => {
    const name = decodeURIComponent(new URL(route.request().url()).pathname.split('/').pop()!);
    if (name === 'labels.json' || !existsSync(resolve(onnxDir, name))) return route.fulfill({ status: 404, body: '' });
    return route.fulfill({ body: readFileSync(resolve(onnxDir, name)), contentType: 'application/octet-stream' });
  });
  await openHarness(page);
  // The preset's rules themselves: 'default' means the catalog's own rules for the catalog SqueezeNet only.
  const out = await page.evaluate(
    async ([url, rules]) => {
      const h = (window as any).h;
      const t0 = performance.now();
      const onnxInfo = await h.init({
        modelUrl: '/onnx-models/squeezenet1_1.onnx',
        backend: 'webgpu',
        canvas: { width: 320, height: 240 },
      });
      const loadMs = performance.now() - t0;
      const onnx = await h.explainUrl(url, { rules });
      const tfjsInfo = await h.init({
        modelId: 'squeezenet1_1',
        backend: 'webgpu',
        canvas: { width: 320, height: 240 },
      });
      const tfjs = await h.explainUrl(url, { rules });
      // As the app's file picker gives them: the .onnx and a labels file (one label per line).
      const file = async (name: string) => new File([await (await fetch(`/onnx-models/${name}`)).blob()], name);
      const filesInfo = await h.init({
        modelFiles: [await file('squeezenet1_1.onnx'), await file('labels_imagenet_2012.txt')],
        backend: 'webgpu',
        canvas: { width: 320, height: 240 },
      });
      const fromFiles = await h.explainUrl(url, { rules });
      return { onnxInfo, tfjsInfo, onnx, tfjs, loadMs, filesInfo, fromFiles };
    },
    [SQUIRREL, PRESETS.default] as const,
  );
  console.log(`ONNX SqueezeNet in the worker: init (fetch + convert + compile) ${Math.round(out.loadMs)} ms`);
  expectSameAsTfjs(out);
  // From files: same path and result, labels from the text file.
  expect(out.filesInfo.path).toBe('gpu');
  expect(out.filesInfo.labels[335]).toBe('fox squirrel');
  expect(out.fromFiles.top[0].label).toBe('fox squirrel');
  expect(fix(out.fromFiles)).toEqual(fix(out.tfjs));
});

test('ONNX MobileNetV2 (depthwise, explicit pads, fused Relu6) on the GPU path equals the TF.js MobileNetV2', async ({
  page,
}) => {
  await page.route(/\/(onnx-models|tfjs-mobilenet)\//, (route) => {
    const path = decodeURIComponent(new URL(route.request().url()).pathname);
    const file = path.startsWith('/onnx-models/')
      ? mirror(`onnx/${path.split('/').pop()!}`)
      : mirror(`mobilenet_v2/${path.split('/').pop()!}`);
    // Optional files the worker asks for beside a model (labels.json, metadata.json, cnnfix.json) may be missing.
    if (!existsSync(file) || (path.endsWith('/labels.json') && path.startsWith('/onnx-models/')))
      return route.fulfill({ status: 404, body: '' });
    return route.fulfill({
      body: readFileSync(file),
      contentType: file.endsWith('.json') ? 'application/json' : 'application/octet-stream',
    });
  });
  await openHarness(page);
  const out = await page.evaluate(async (url) => {
    const h = (window as any).h;
    const info = { preprocessing: { range: [-1, 1], mean: [0, 0, 0], std: [1, 1, 1] } };
    const rules = { location: 'max', gap: 'positive', gapThreshold: 0.75, weights: 'contribution' };
    const onnxInfo = await h.init({
      modelUrl: '/onnx-models/mobilenet_v2_float.onnx',
      info,
      backend: 'webgpu',
      canvas: { width: 320, height: 240 },
    });
    const onnx = await h.explainUrl(url, { rules });
    const tfjsInfo = await h.init({
      modelUrl: '/tfjs-mobilenet/model.json',
      info: { ...info, logits: 'logits', probs: 'probs' },
      backend: 'webgpu',
      canvas: { width: 320, height: 240 },
    });
    const tfjs = await h.explainUrl(url, { rules });
    return { onnxInfo, tfjsInfo, onnx, tfjs };
  }, SQUIRREL);
  expectSameAsTfjs(out);
});

const fix = (r: any) => r.explained[0].inputFixations.map((f: any) => [f.x, f.y, f.c]);

/** Both models on the GPU path, fox squirrel on top for both, and the same input fixations (x, y, channel). */
function expectSameAsTfjs(out: { onnxInfo: any; tfjsInfo: any; onnx: any; tfjs: any }) {
  expect(out.onnxInfo.path).toBe('gpu');
  expect(out.tfjsInfo.path).toBe('gpu');
  expect(out.onnx.path).toBe('gpu');
  // The WGSL unravelling itself, not the CPU one the GPU path falls back to (a failed self-check said so here).
  expect(out.onnxInfo.fallbackReason).toBeUndefined();
  expect(out.tfjsInfo.fallbackReason).toBeUndefined();
  expect(out.onnx.top[0].index).toBe(335);
  expect(out.onnx.top[0].index).toBe(out.tfjs.top[0].index);
  expect(fix(out.onnx).length).toBeGreaterThan(0);
  expect(fix(out.onnx)).toEqual(fix(out.tfjs));
}

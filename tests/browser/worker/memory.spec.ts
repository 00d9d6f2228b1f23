// 200 frames in a row on the GPU path: tfjs tensors, tfjs bytes and the device's GPU buffers stay flat from frame
// 10 to frame 200 (a leak of one tensor or buffer per frame would show as +190). The tiny CNN keeps this to about a
// minute on SwiftShader; every stage of the pipeline runs as for SqueezeNet, overlay presented to a canvas.
// Also here (same tiny model): the temporal smoothing of the overlay.
import { expect, test } from '@playwright/test';
import { PRESENT_LAUNCH } from './launch.ts';
import { openHarness, SQUIRREL } from './setup.ts';
import { routeTinyModel, TINY_CLASSES } from './tiny-model.ts';

test.use({ launchOptions: PRESENT_LAUNCH });

test('200 frames: tensors, tfjs bytes and GPU buffers are flat from frame 10 to 200', async ({ page }) => {
  await routeTinyModel(page);
  await openHarness(page);
  const info = await page.evaluate(() =>
    (window as any).h.init({
      modelUrl: '/tiny-model/model.json',
      backend: 'webgpu',
      canvas: { width: 64, height: 48 },
    }),
  );
  expect(info.path).toBe('gpu');
  expect(info.inputSize).toBe(32);
  const run = await page.evaluate(
    async ({ url, classes }) => {
      const h = (window as any).h;
      const mem: Record<number, any> = {};
      let last: any;
      for (let i = 1; i <= 200; i++) {
        // Alternate the request so that every branch (explicit classes, smoothing, layer view) is in the loop.
        const req =
          i % 3 === 0
            ? { classes: [1, 2], overlay: { smoothing: 0.5 } }
            : i % 3 === 1
              ? {}
              : { overlay: { layer: 'relu1' } };
        last = await h.explainUrl(url, req, 64, 48, i % 5 === 0); // every 5th frame a VideoFrame
        if (i === 10 || i === 200) mem[i] = await h.api.memory();
      }
      return { mem, last, classes };
    },
    { url: SQUIRREL, classes: TINY_CLASSES },
  );
  console.log(JSON.stringify(run.mem));
  expect(run.last.path).toBe('gpu');
  expect(run.last.top[0].label).toMatch(/^class \d$/);
  expect(run.mem[10].gpuBuffers).toBeGreaterThan(0);
  expect(run.mem[200]).toEqual(run.mem[10]);
});

test("smoothing: the overlay shows the EMA of the frames' heatmaps", async ({ page }) => {
  await routeTinyModel(page);
  await openHarness(page);
  await page.evaluate(() =>
    (window as any).h.init({
      modelUrl: '/tiny-model/model.json',
      backend: 'webgpu',
      canvas: { width: 64, height: 48 },
    }),
  );
  const d = await page.evaluate(
    async (urls) => {
      const h = (window as any).h;
      const overlay = { smoothing: 0.5, points: false, box: false, colormap: 'jet', opacity: 0.6 };
      const pts = [];
      for (const url of urls) pts.push((await h.explainUrl(url, { overlay }, 64, 48)).explained[0].fixations);
      const gpu: Uint8Array = (await h.api.__overlayForTest()).pixels;
      const diff = (cpu: Uint8Array) => cpu.reduce((m, v, i) => Math.max(m, Math.abs(v - gpu[i])), 0);
      return {
        smoothed: diff(h.cpuSmoothedPixels(pts, 0.5, 64, 48, 'jet', 0.6)),
        lastOnly: diff(h.cpuSmoothedPixels(pts.slice(-1), 0.5, 64, 48, 'jet', 0.6)),
      };
    },
    ['/shared-images/squirrel_cls.jpg', '/shared-images/butterfly.jpg'],
  );
  expect(d.smoothed).toBeLessThanOrEqual(1);
  expect(d.lastOnly).toBeGreaterThan(8); // the two frames' heatmaps differ: the comparison is not vacuous
});

test('smoothing with two classes: one EMA per class slot, composed in the class hues; a new class list starts over', async ({
  page,
}) => {
  await routeTinyModel(page);
  await openHarness(page);
  await page.evaluate(() =>
    (window as any).h.init({
      modelUrl: '/tiny-model/model.json',
      backend: 'webgpu',
      canvas: { width: 64, height: 48 },
    }),
  );
  const d = await page.evaluate(
    async (urls) => {
      const h = (window as any).h;
      const overlay = { smoothing: 0.5, points: false, box: false, opacity: 0.6 };
      const frames: any[][] = [];
      for (const url of urls)
        frames.push(
          (await h.explainUrl(url, { classes: [1, 2], overlay }, 64, 48)).explained.map((c: any) => c.fixations),
        );
      const gpu = async () => (await h.api.__overlayForTest()).pixels as Uint8Array;
      const diff = (a: Uint8Array, cpu: Uint8Array) => cpu.reduce((m, v, i) => Math.max(m, Math.abs(v - a[i])), 0);
      const two = await gpu();
      // The same classes in the other order: other slots, so the history is dropped (this frame only).
      const swapped = (await h.explainUrl(urls[0], { classes: [2, 1], overlay }, 64, 48)).explained.map(
        (c: any) => c.fixations,
      );
      const after = await gpu();
      return {
        smoothed: diff(two, h.cpuSmoothedClassPixels(frames, 0.5, 64, 48, 0.6)),
        lastOnly: diff(two, h.cpuSmoothedClassPixels(frames.slice(-1), 0.5, 64, 48, 0.6)),
        restarted: diff(after, h.cpuSmoothedClassPixels([swapped], 0.5, 64, 48, 0.6)),
        carriedOver: diff(after, h.cpuSmoothedClassPixels([...frames, swapped], 0.5, 64, 48, 0.6)),
        counts: frames.map((f) => f.map((p: any[]) => p.length)),
      };
    },
    ['/shared-images/squirrel_cls.jpg', '/shared-images/butterfly.jpg'],
  );
  for (const f of d.counts) for (const n of f) expect(n).toBeGreaterThan(0);
  expect(d.smoothed).toBeLessThanOrEqual(1);
  expect(d.lastOnly).toBeGreaterThan(8); // the two frames differ: the comparison is not vacuous
  expect(d.restarted).toBeLessThanOrEqual(1);
  expect(d.carriedOver).toBeGreaterThan(8); // what keeping the slots' history would have drawn
});

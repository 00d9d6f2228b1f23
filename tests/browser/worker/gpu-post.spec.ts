// The GPU path draws a single-class frame's overlay from the unravelling's GPU-side list (src/gpu/post.ts, in the
// frame's submit half). It must equal the CPU post of the same list: toImagePoints + removeOutliers + tightBox
// (src/engine/post.ts, run here in the page), drawn as the CPU-points path draws it (sceneRects + the CPU splat), the
// box only from MIN_BOX_POINTS kept points on (fixationBox).
import { writeFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { PRESENT_LAUNCH } from './launch.ts';
import { openGpuHarness, SQUIRREL } from './setup.ts';

test.use({ launchOptions: PRESENT_LAUNCH });
test.describe.configure({ mode: 'serial' });

const OVERLAY = { width: 320, height: 240 };
const O = { colormap: 'turbo', opacity: 0.8, points: true, box: true, heatmap: true, smoothing: 0 } as const;
const INPUT = 224; // squeezenet1_1's input side (models/catalog.json)
let page: Page;
test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  await openGpuHarness(page, OVERLAY);
});
test.afterAll(async () => {
  await page?.close();
});

/** A real frame explained in the worker (pipelined, overlay from the GPU list), against the CPU post of its list. */
async function liveFrame(url: string, req: object, fit: 'crop' | 'letterbox', png?: string) {
  return page.evaluate(
    async ({ url, req, fit, size, O, INPUT, png }) => {
      const h = (window as any).h;
      const diff = (a: Uint8Array, b: Uint8Array) => h.pixelDiff(a, b),
        red = (a: Uint8Array) => h.colorPixels(a, '#ff3b30');
      const r = await h.explainUrl(url, { ...req, fit, overlay: O });
      const live = await h.api.__overlayForTest();
      const post = await h.api.__gpuPostForTest();
      const [c] = r.explained;
      const cpu = h.cpuFramePoints(c.inputFixations, r.frameSize.width, r.frameSize.height, INPUT, fit);
      const ref: Uint8Array = await h.api.__pointsOverlayForTest(cpu.fixations, cpu.drawnBox, r.frameSize, size, O);
      let image: string | undefined;
      if (png) {
        // The photo scaled to the overlay with the overlay over it, to look at.
        const cv = new OffscreenCanvas(size.width, size.height);
        const ctx = cv.getContext('2d')!;
        ctx.drawImage(await createImageBitmap(await (await fetch(url)).blob()), 0, 0, size.width, size.height);
        const px = new Uint8ClampedArray(live.pixels.length);
        for (let p = 0; p < px.length; p += 4) {
          const a = live.pixels[p + 3];
          for (let k = 0; k < 3; k++) px[p + k] = a ? Math.round((live.pixels[p + k] * 255) / a) : 0;
          px[p + 3] = a;
        }
        ctx.drawImage(await createImageBitmap(new ImageData(px, size.width, size.height)), 0, 0);
        const blob = await cv.convertToBlob({ type: 'image/png' });
        image = btoa(Array.from(new Uint8Array(await blob.arrayBuffer()), (b) => String.fromCharCode(b)).join(''));
      }
      const t = cpu.t;
      const outside = c.inputFixations.filter((f: any) => {
        const x = f.x * t.stepX + t.startX,
          y = f.y * t.stepY + t.startY;
        return x < 0 || y < 0 || x > t.srcWidth - 1 || y > t.srcHeight - 1;
      }).length;
      return {
        list: c.inputFixations.length,
        outside,
        resultKept: c.fixations.length,
        resultBox: c.box,
        cpu: {
          points: cpu.points,
          kept: cpu.fixations.length,
          box: cpu.box,
          sameAsResult: JSON.stringify(cpu.fixations) === JSON.stringify(c.fixations),
        },
        gpu: post.stats,
        diff: diff(live.pixels, ref),
        red: red(live.pixels),
        refRed: red(ref),
        size: [live.width, live.height],
        image,
      };
    },
    { url, req, fit, size: OVERLAY, O, INPUT, png },
  );
}

function expectSamePost(d: Awaited<ReturnType<typeof liveFrame>>) {
  expect(d.size).toEqual([OVERLAY.width, OVERLAY.height]);
  expect(d.cpu.sameAsResult).toBe(true); // the result's points are the CPU post's
  expect(d.gpu.points).toBe(d.cpu.points);
  expect(d.gpu.kept).toBe(d.cpu.kept);
  expect(d.gpu.kept).toBe(d.resultKept);
  expect(d.gpu.box).not.toBeNull();
  // f32 on the GPU, float64 on the CPU: the same frame pixels to well under a thousandth of a pixel.
  for (let k = 0; k < 4; k++) expect(Math.abs(d.gpu.box![k] - d.cpu.box[k])).toBeLessThan(1e-3);
  expect(d.refRed).toBeGreaterThan(0); // dots and box are in the reference: not a comparison of empty layers
  expect(d.red).toBe(d.refRed);
  expect(d.diff.max, JSON.stringify(d.diff)).toBeLessThanOrEqual(1);
}

test('real frames: the overlay drawn from the GPU list equals the CPU post of the same list (points, outliers, box, heat)', async ({}, info) => {
  const squirrel = await liveFrame(SQUIRREL, {}, 'crop', 'squirrel');
  writeFileSync(info.outputPath('squirrel-overlay.png'), Buffer.from(squirrel.image!, 'base64'));
  expectSamePost(squirrel);
  // Every positive GAP position: many fixations, outliers among them; letterboxed, so the bars are inputs with no
  // photo pixel (dropped when a fixation lands there).
  const many = { rules: { location: 'center', gap: 'positive', weights: 'contribution' } };
  const messi = await liveFrame('/shared-images/messi5.jpg', many, 'letterbox', 'messi');
  writeFileSync(info.outputPath('messi-letterbox-overlay.png'), Buffer.from(messi.image!, 'base64'));
  console.log(
    'messi5 letterbox:',
    JSON.stringify({
      list: messi.list,
      outside: messi.outside,
      points: messi.cpu.points,
      kept: messi.cpu.kept,
      diff: messi.diff,
    }),
  );
  // This frame covers both cases: fixations in the bars, and outliers removed.
  expect(messi.outside).toBeGreaterThan(0);
  expect(messi.cpu.kept).toBeLessThan(messi.cpu.points);
  expectSamePost(messi);
  const fruits = await liveFrame('/shared-images/fruits.jpg', many, 'crop');
  console.log(
    'fruits crop:',
    JSON.stringify({ list: fruits.list, points: fruits.cpu.points, kept: fruits.cpu.kept, diff: fruits.diff }),
  );
  expectSamePost(fruits);
});

/** A hand-made list through the GPU post (offscreen), against the CPU post of the same list drawn by the CPU-points path. */
async function handList(
  input: { x: number; y: number; c: number; w: number }[],
  frame: { width: number; height: number },
  fit: 'crop' | 'letterbox',
) {
  return page.evaluate(
    async ({ input, frame, fit, size, O, INPUT }) => {
      const h = (window as any).h;
      const diff = (a: Uint8Array, b: Uint8Array) => h.pixelDiff(a, b),
        red = (a: Uint8Array) => h.colorPixels(a, '#ff3b30');
      const cpu = h.cpuFramePoints(input, frame.width, frame.height, INPUT, fit);
      const gpu = await h.api.__gpuPostForTest({ input, transform: cpu.t, frame, overlay: size, o: O });
      const ref: Uint8Array = await h.api.__pointsOverlayForTest(cpu.fixations, cpu.drawnBox, frame, size, O);
      return {
        t: cpu.t,
        cpu: { points: cpu.points, kept: cpu.fixations.length, box: cpu.box },
        gpu: gpu.stats,
        diff: diff(gpu.pixels, ref),
        red: red(gpu.pixels),
        refRed: red(ref),
      };
    },
    { input, frame, fit, size: OVERLAY, O, INPUT },
  );
}

test('a hand-made list, letterboxed: bar entries dropped, channels merged, the far point removed as an outlier', async () => {
  // Frame 320x180 letterboxed into 224x224: step 319/223, rows above 48.9 and below 174.1 are bars.
  const step = 319 / 223,
    startY = (179 - 319) / 2;
  const input: { x: number; y: number; c: number; w: number }[] = [];
  for (let i = 0; i < 30; i++) input.push({ x: 100 + (i % 6), y: 100 + Math.floor(i / 6), c: 0, w: 1 + 0.1 * i });
  for (let i = 0; i < 5; i++) input.push({ x: 100 + i, y: 100, c: 1 + (i % 2), w: 0.5 }); // same pixels: merged
  input.push({ x: 10, y: 170, c: 0, w: 3 }); // in the photo, ~163 px from the cluster (radius 36.7): an outlier
  input.push({ x: 100, y: 20, c: 0, w: 9 }, { x: 150, y: 200, c: 2, w: 9 }); // top and bottom bars: no photo pixel
  // Listed in no particular order, as the unraveller appends them.
  input.reverse();
  const d = await handList(input, { width: 320, height: 180 }, 'letterbox');
  expect(d.t.stepX).toBeCloseTo(step, 12);
  expect(d.t.startY).toBeCloseTo(startY, 12);
  // By hand: 30 cluster pixels + the far one in the photo; the far one has 1 neighbour (20 * 1 <= 31): removed.
  expect(d.cpu.points).toBe(31);
  expect(d.cpu.kept).toBe(30);
  expect(d.gpu.points).toBe(31);
  expect(d.gpu.kept).toBe(30);
  const box = [100 * step, 100 * step + startY, 105 * step, 104 * step + startY];
  for (let k = 0; k < 4; k++) {
    expect(d.cpu.box[k]).toBeCloseTo(box[k], 9);
    expect(Math.abs(d.gpu.box![k] - box[k])).toBeLessThan(1e-3);
  }
  expect(d.refRed).toBeGreaterThan(0);
  expect(d.red).toBe(d.refRed);
  expect(d.diff.max, JSON.stringify(d.diff)).toBeLessThanOrEqual(1);
});

test('a hand-made list where no point has enough neighbours: all are kept (the "none survive" rule)', async () => {
  // 24 points 30 input px (43 frame px) apart, radius 36.7 frame px: each has only itself (20 * 1 <= 24).
  const input = [];
  for (let x = 30; x <= 180; x += 30)
    for (let y = 60; y <= 150; y += 30) input.push({ x, y, c: 1, w: x / 100 + y / 1000 });
  const d = await handList(input, { width: 320, height: 180 }, 'letterbox');
  expect(d.cpu.points).toBe(24);
  expect(d.cpu.kept).toBe(24);
  expect(d.gpu.points).toBe(24);
  expect(d.gpu.kept).toBe(24);
  for (let k = 0; k < 4; k++) expect(Math.abs(d.gpu.box![k] - d.cpu.box[k])).toBeLessThan(1e-3);
  expect(d.red).toBe(d.refRed);
  expect(d.diff.max, JSON.stringify(d.diff)).toBeLessThanOrEqual(1);
});

test('a list of fewer than MIN_BOX_POINTS points: their dots, and no box (as fixationBox on the CPU)', async () => {
  // 12 points around (100, 100) in the network input: all kept (below 20 points nothing is an outlier), no box drawn.
  const input = Array.from({ length: 12 }, (_, i) => ({
    x: 95 + (i % 4) * 3,
    y: 95 + Math.floor(i / 4) * 3,
    c: 0,
    w: 1,
  }));
  const d = await handList(input, { width: 320, height: 180 }, 'letterbox');
  expect(d.cpu.kept).toBe(12);
  expect(d.gpu.kept).toBe(12);
  expect(d.gpu.box).not.toBeNull(); // the post's stats still hold the points' extent
  expect(d.refRed).toBeGreaterThan(0); // the dots
  expect(d.red).toBe(d.refRed); // a box outline would add red pixels
  expect(d.diff.max, JSON.stringify(d.diff)).toBeLessThanOrEqual(1);
});

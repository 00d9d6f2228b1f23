// The explain worker on the GPU path (tfjs-webgpu through SwiftShader), overlay presented to a real OffscreenCanvas.
import { expect, test, type Page } from '@playwright/test';
import { PRESENT_LAUNCH } from './launch.ts';
import { CLASS_COLORS, heatGrid, MIN_BOX_POINTS } from '../../../src/engine/post.ts';
import { openGpuHarness, SQUIRREL } from './setup.ts';

test.use({ launchOptions: PRESENT_LAUNCH });
test.describe.configure({ mode: 'serial' });

const OVERLAY = { width: 320, height: 240 };
let page: Page;
test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  await openGpuHarness(page, OVERLAY);
});
test.afterAll(async () => {
  await page?.close();
});

const explain = (req: object) =>
  page.evaluate(([url, r]) => (window as any).h.explainUrl(url, r), [SQUIRREL, req] as const);

test('explains the squirrel: fox squirrel (335), fixations inside the frame, at most 16 KB read back', async () => {
  const r = await explain({});
  expect(r.path).toBe('gpu');
  expect(r.top[0].index).toBe(335);
  expect(r.top[0].label).toMatch(/fox squirrel/);
  const [c] = r.explained;
  expect(c.class.index).toBe(335);
  expect(c.class.prob).toBeCloseTo(r.top[0].prob, 6);
  expect(c.inputFixations.length).toBeGreaterThan(0);
  expect(c.fixations.length).toBeGreaterThan(0);
  for (const p of c.fixations) {
    expect(p.x).toBeGreaterThanOrEqual(0);
    expect(p.x).toBeLessThanOrEqual(r.frameSize.width - 1);
    expect(p.y).toBeGreaterThanOrEqual(0);
    expect(p.y).toBeLessThanOrEqual(r.frameSize.height - 1);
  }
  // The default rules leave a few points on SqueezeNet: no box from fewer than MIN_BOX_POINTS.
  if (c.fixations.length < MIN_BOX_POINTS) {
    expect(c.box).toBeNull();
    expect(c.boxSource).toBeNull();
  } else {
    const [x0, y0, x1, y1] = c.box;
    expect(x0).toBeLessThanOrEqual(x1);
    expect(y0).toBeLessThanOrEqual(y1);
    expect(c.boxSource).toBe('fixations');
  }
  expect(c.peak).not.toBeNull();
  expect(r.readbackBytes).toBeGreaterThan(0);
  expect(r.readbackBytes).toBeLessThanOrEqual(16384);
  for (const s of ['upload', 'preprocess', 'forward', 'unravel', 'heatmap', 'readback', 'total'])
    expect(r.timings[s]).toBeGreaterThanOrEqual(0);
});

test("pipelined frames: frame N+1 is submitted before frame N's result; results in order, equal to one-at-a-time frames", async () => {
  const one = await explain({});
  const { results, events } = await page.evaluate(([url]) => (window as any).h.explainStream(url, 4), [
    SQUIRREL,
  ] as const);
  // The worker overlaps frames: a later frame is submitted while the previous one's readback is in flight. Whether a
  // given readback lands before the next submission completes depends on the machine's load (in a CI run one did),
  // so at least one overlap is asserted; a worker that ran frames whole could show none.
  const overlaps = [1, 2, 3].filter((i) => events.indexOf(`s${i}`) < events.indexOf(`r${i - 1}`));
  expect(overlaps.length, JSON.stringify(events)).toBeGreaterThan(0);
  expect(events.filter((e: string) => e.startsWith('r'))).toEqual(['r0', 'r1', 'r2', 'r3']);
  for (const r of results as (typeof one)[]) {
    expect(r.path).toBe('gpu');
    expect(r.top).toEqual(one.top);
    expect(r.explained[0].inputFixations).toEqual(one.explained[0].inputFixations);
    expect(r.explained[0].box).toEqual(one.explained[0].box);
  }
});

test('GPU heatmap + colormap equals the CPU heatmap + colormap within 1/255 per channel', async () => {
  // Hand-placed points (one off-image, two on the same pixel after rounding, one in a corner): the per-point kernel
  // branch on both sides; and a dense random set: the splat + separable blur branch on both sides.
  const sparse = [
    { x: 20, y: 15, w: 1 },
    { x: 20.4, y: 15.2, w: 0.5 },
    { x: 70, y: 50, w: 2 },
    { x: 40, y: 60, w: 0.25 },
    { x: 95, y: 71, w: 1 },
    { x: -3, y: 5, w: 1 },
  ];
  let s = 12345;
  const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const dense = Array.from({ length: 500 }, () => ({ x: rand() * 30, y: rand() * 20, w: 0.1 + rand() }));
  const cases = [
    { points: sparse, width: 96, height: 72, colormap: 'jet', opacity: 0.6 },
    { points: sparse, width: 96, height: 72, colormap: 'turbo', opacity: 1 },
    { points: dense, width: 64, height: 48, colormap: 'viridis', opacity: 0.8 },
  ];
  for (const c of cases) {
    const d = await page.evaluate(async (c) => {
      const h = (window as any).h;
      const gpu: Uint8Array = await h.api.__heatmapForTest(c.points, c.width, c.height, {
        colormap: c.colormap,
        opacity: c.opacity,
      });
      const cpu: Uint8Array = h.cpuHeatmapPixels(c.points, c.width, c.height, c.colormap, c.opacity);
      let maxDiff = 0,
        maxAlpha = 0,
        transparent = 0;
      for (let i = 0; i < cpu.length; i++) maxDiff = Math.max(maxDiff, Math.abs(gpu[i] - cpu[i]));
      for (let i = 3; i < cpu.length; i += 4) {
        maxAlpha = Math.max(maxAlpha, cpu[i]);
        if (cpu[i] === 0) transparent++;
      }
      return { len: gpu.length, want: cpu.length, maxDiff, maxAlpha, transparent };
    }, c);
    expect(d.len).toBe(d.want);
    // Not a vacuous comparison: the map reaches full opacity somewhere and is transparent elsewhere.
    expect(d.maxAlpha).toBe(Math.round(c.opacity * 255));
    expect(d.transparent, c.colormap).toBeGreaterThan(0);
    expect(d.maxDiff, `${c.colormap}`).toBeLessThanOrEqual(1);
  }
});

test('several classes: GPU heatmaps in their class hues equal the CPU classOverlay within 1/255 per channel', async () => {
  // Three classes: A and B overlap (the stronger takes the pixel), C alone; a dense set takes the blur branch.
  let s = 777;
  const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const A = [
    { x: 20, y: 20, w: 1 },
    { x: 24, y: 22, w: 0.5 },
  ];
  const B = [{ x: 30, y: 24, w: 1 }];
  const C = Array.from({ length: 400 }, () => ({ x: 60 + rand() * 25, y: 40 + rand() * 25, w: 0.1 + rand() }));
  const d = await page.evaluate(
    async (pts) => {
      const h = (window as any).h;
      const gpu: Uint8Array = await h.api.__heatmapForTest(pts, 96, 72, { colormap: 'jet', opacity: 0.8 });
      const cpu: Uint8Array = h.cpuClassHeatmapPixels(pts, 96, 72, 0.8);
      let maxDiff = 0;
      for (let i = 0; i < cpu.length; i++) maxDiff = Math.max(maxDiff, Math.abs(gpu[i] - cpu[i]));
      const at = (x: number, y: number) => Array.from(gpu.slice((y * 96 + x) * 4, (y * 96 + x) * 4 + 4));
      return {
        len: gpu.length,
        want: cpu.length,
        maxDiff,
        a: at(20, 20),
        b: at(30, 24),
        c: at(72, 52),
        none: at(5, 68),
      };
    },
    [A, B, C],
  );
  expect(d.len).toBe(d.want);
  expect(d.maxDiff).toBeLessThanOrEqual(1);
  // Hand-checked: at each class's strongest point the pixel is its hue at full opacity (0.8), premultiplied.
  const hue = (i: number) =>
    CLASS_COLORS[i]
      .slice(1)
      .match(/../g)!
      .map((x) => parseInt(x, 16));
  for (const [px, i] of [
    [d.a, 0],
    [d.b, 1],
  ] as const) {
    expect(px[3]).toBe(Math.round(0.8 * 255));
    hue(i).forEach((c, k) => expect(Math.abs(px[k] - c * 0.8), `class ${i} channel ${k}`).toBeLessThanOrEqual(1));
  }
  expect(d.c[3]).toBeGreaterThan(0);
  hue(2).forEach((c, k) => expect(Math.abs(d.c[k] - (c * d.c[3]) / 255)).toBeLessThanOrEqual(1));
  expect(d.none).toEqual([0, 0, 0, 0]);
});

test('two pinned classes (lemon, orange on fruits.jpg): two heat layers in their hues, each at its own fixations', async () => {
  const FRUITS = '/shared-images/fruits.jpg';
  const r = await page.evaluate(([url, req]) => (window as any).h.explainUrl(url, req), [
    FRUITS,
    { classes: [951, 950], overlay: { points: false, box: false, opacity: 0.8 } },
  ] as const);
  expect(r.explained.map((c: any) => [c.class.index, c.color])).toEqual([
    [951, CLASS_COLORS[0]],
    [950, CLASS_COLORS[1]],
  ]);
  const d = await page.evaluate(
    async ({ r, size }) => {
      const h = (window as any).h;
      const o = await h.api.__overlayForTest();
      const cpu: Uint8Array = h.cpuClassOverlayPixels(
        r.explained.map((c: any) => c.fixations),
        r.frameSize,
        size,
        0.8,
      );
      let maxDiff = 0;
      for (let i = 0; i < cpu.length; i++) maxDiff = Math.max(maxDiff, Math.abs(o.pixels[i] - cpu[i]));
      // The overlay pixel at each class's heatmap peak (frame pixels -> overlay pixels).
      const peaks = r.explained.map((c: any) => {
        const x = Math.min(size.width - 1, Math.round(((c.peak[0] + 0.5) * size.width) / r.frameSize.width - 0.5));
        const y = Math.min(size.height - 1, Math.round(((c.peak[1] + 0.5) * size.height) / r.frameSize.height - 0.5));
        return Array.from(o.pixels.slice((y * size.width + x) * 4, (y * size.width + x) * 4 + 4));
      });
      return { maxDiff, peaks };
    },
    { r, size: OVERLAY },
  );
  expect(d.maxDiff).toBeLessThanOrEqual(1);
  // Lemon's fixations are on the lemon and lime (right), orange's on the orange (left): the maps peak apart.
  const [p0, p1] = r.explained.map((c: any) => c.peak);
  expect(Math.hypot(p0[0] - p1[0], p0[1] - p1[1])).toBeGreaterThan(100);
  r.explained.forEach((c: any, i: number) => {
    const px = d.peaks[i],
      hue = c.color
        .slice(1)
        .match(/../g)!
        .map((x: string) => parseInt(x, 16));
    expect(px[3], `${c.class.label}: opaque at its peak`).toBeGreaterThan(0.5 * 255);
    hue.forEach((v: number, k: number) =>
      expect(Math.abs(px[k] - (v * px[3]) / 255), `${c.class.label} channel ${k}`).toBeLessThanOrEqual(2),
    );
  });

  // Grad-CAM with the same two classes: a map each, each class's hue at its own peak.
  const g = await page.evaluate(
    async ([url, req, size]) => {
      const h = (window as any).h;
      const r = await h.explainUrl(url, req);
      const o = await h.api.__overlayForTest();
      return {
        r,
        px: r.explained.map((c: any) => {
          const x = Math.min(size.width - 1, Math.round(((c.peak[0] + 0.5) * size.width) / r.frameSize.width - 0.5));
          const y = Math.min(size.height - 1, Math.round(((c.peak[1] + 0.5) * size.height) / r.frameSize.height - 0.5));
          return Array.from(o.pixels.slice((y * size.width + x) * 4, (y * size.width + x) * 4 + 4));
        }),
      };
    },
    [
      FRUITS,
      { method: 'gradcam', classes: [951, 950], overlay: { points: false, box: false, opacity: 0.8 } },
      OVERLAY,
    ] as const,
  );
  expect(g.r.explained.map((c: any) => c.class.index)).toEqual([951, 950]);
  g.r.explained.forEach((c: any, i: number) => {
    const px = g.px[i],
      hue = c.color
        .slice(1)
        .match(/../g)!
        .map((x: string) => parseInt(x, 16));
    expect(px[3], `Grad-CAM ${c.class.label}: opaque at its peak`).toBeGreaterThan(0.5 * 255);
    hue.forEach((v: number, k: number) =>
      expect(Math.abs(px[k] - (v * px[3]) / 255), `Grad-CAM ${c.class.label} channel ${k}`).toBeLessThanOrEqual(2),
    );
  });
});

test('the overlay drawn for a frame is the CPU heatmap of its fixations (working grid, upsampled); box edges in the class colour', async () => {
  const r = await explain({ overlay: { points: false, box: false, colormap: 'turbo', opacity: 0.8 } });
  const d = await page.evaluate(
    async ({ r, size }) => {
      const h = (window as any).h;
      const o = await h.api.__overlayForTest();
      const cpu: Uint8Array = h.cpuOverlayHeatPixels(r.explained[0].fixations, r.frameSize, size, 'turbo', 0.8);
      let maxDiff = 0,
        maxAlpha = 0;
      for (let i = 0; i < cpu.length; i++) maxDiff = Math.max(maxDiff, Math.abs(o.pixels[i] - cpu[i]));
      for (let i = 3; i < cpu.length; i += 4) maxAlpha = Math.max(maxAlpha, cpu[i]);
      return { w: o.width, h: o.height, maxDiff, maxAlpha };
    },
    { r, size: OVERLAY },
  );
  expect([d.w, d.h]).toEqual([OVERLAY.width, OVERLAY.height]);
  expect(d.maxAlpha).toBeGreaterThan(0); // not a comparison of two empty layers
  expect(d.maxDiff).toBeLessThanOrEqual(1);

  // Dense fixations: enough points for a box.
  const r2 = await explain({ rules: 'dense', overlay: { heatmap: false, points: false, box: true } });
  expect(r2.explained[0].boxSource).toBe('fixations');
  const px = await page.evaluate(
    async ({ r, size }) => {
      const o = await (window as any).h.api.__overlayForTest();
      const [x0, y0, , y1] = r.explained[0].box;
      const x = Math.ceil((x0 * size.width) / r.frameSize.width),
        y = Math.round((((y0 + y1) / 2) * size.height) / r.frameSize.height);
      const i = (y * size.width + x) * 4;
      return {
        edge: Array.from(o.pixels.slice(i, i + 4)) as number[],
        color: r.explained[0].color as string,
        corner: Array.from(o.pixels.slice(0, 4)) as number[],
      };
    },
    { r: r2, size: OVERLAY },
  );
  const hex = (px.color as string)
    .slice(1)
    .match(/../g)!
    .map((h) => parseInt(h, 16));
  for (let k = 0; k < 3; k++) expect(Math.abs(px.edge[k] - hex[k])).toBeLessThanOrEqual(1);
  expect(px.edge[3]).toBe(255);
  expect(px.corner).toEqual([0, 0, 0, 0]);
});

test('several classes at once, layer view, CAM and Grad-CAM on the GPU path', async () => {
  const first = await explain({});
  const second = first.top[1].index;
  const info = await page.evaluate(() => (window as any).h.api.memory());
  expect(info.gpuBuffers).toBeGreaterThan(0);
  const layer = 'fire9/concat';
  const r = await explain({ classes: [335, second], withLayers: true, overlay: { layer } });
  expect(r.explained.map((c: any) => c.class.index)).toEqual([335, second]);
  expect(r.explained[0].color).not.toBe(r.explained[1].color);
  for (const c of r.explained) expect(c.inputFixations.length).toBeGreaterThan(0);
  expect(r.explained[1].class.prob).toBeCloseTo(first.top[1].prob, 6);
  const kept = r.layers.find((l: any) => l.name === layer);
  expect(kept.count).toBeGreaterThan(0);
  expect(kept.indices.length).toBe(kept.count);
  expect(r.layers.find((l: any) => l.name === 'pool10').count).toBe(1); // the class neuron
  // The layer view alone reads back only its layer.
  const v = await explain({ overlay: { layer } });
  expect(v.layers.map((l: any) => [l.name, l.count])).toEqual([[layer, kept.count]]);
  // The frame's list plus the layer's dense weights: two u32 words per neuron (fixed point, src/engine/ops/common.ts).
  expect(v.readbackBytes).toBeLessThan(16384 + 13 * 13 * 512 * 8 + 64);

  // CAM / Grad-CAM: the CPU maps of the engine (tfjs cpu backend, in the page) made at the overlay's working grid, as
  // the GPU path makes them: the same box and peak, up to one grid cell (the two backends' activations differ in
  // the last bits, which can move a 20%-threshold edge by a cell).
  const grid = heatGrid(OVERLAY.width, OVERLAY.height);
  for (const method of ['cam', 'gradcam'] as const) {
    const cam = await explain({ method });
    const ref = await page.evaluate(([url, o]) => (window as any).h.referenceExplain(url, o), [
      SQUIRREL,
      { method, classIndex: 335, heatmapSize: grid },
    ] as const);
    expect(cam.method).toBe(method);
    expect(cam.explained[0].class.index).toBe(335);
    expect(cam.explained[0].fixations).toEqual([]);
    const cell = Math.max(cam.frameSize.width / grid.width, cam.frameSize.height / grid.height);
    const [x0, y0, x1, y1] = cam.explained[0].box;
    expect(x1 - x0).toBeGreaterThan(cell);
    expect(y1 - y0).toBeGreaterThan(cell);
    cam.explained[0].box.forEach((v: number, i: number) =>
      expect(Math.abs(v - ref.box[i]), `${method} box edge ${i}: ${v} vs CPU ${ref.box[i]}`).toBeLessThanOrEqual(cell),
    );
    cam.explained[0].peak.forEach((v: number, i: number) =>
      expect(Math.abs(v - ref.peak[i]), `${method} peak ${i}: ${v} vs CPU ${ref.peak[i]}`).toBeLessThanOrEqual(cell),
    );
  }
});

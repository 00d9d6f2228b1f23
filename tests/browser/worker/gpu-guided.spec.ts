// The guided method (class map x (epsilon + fixation density)) in the worker: its WGSL twin (GUIDED_WGSL in the GPU
// heatmap) equals guidedMap() on the CPU for the same points and class maps; a real frame on the GPU path and on
// the fallback agrees with the engine's explain() (tfjs cpu backend, in the page) and draws the fixation points.
import { expect, test, type Page } from '@playwright/test';
import { PRESENT_LAUNCH } from './launch.ts';
import { GUIDED } from '../../../src/engine/methods.ts';
import { heatGrid } from '../../../src/engine/post.ts';
import { openGpuHarness, openHarness, SQUIRREL } from './setup.ts';

test.use({ launchOptions: PRESENT_LAUNCH });
test.describe.configure({ mode: 'serial' });

const OVERLAY = { width: 320, height: 240 };
/** The squirrel's box in eval/data/boxes.json (photo pixels). */
const SQUIRREL_BOX = [125, 100, 360, 370];
const inBox = ([x, y]: number[], b: number[]) => x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3];
let page: Page;
test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  await openGpuHarness(page, OVERLAY);
});
test.afterAll(async () => {
  await page?.close();
});

test('GPU guided heat = guidedMap() on the CPU: one class (colormap) and two (hues); few points and many', async () => {
  const d = await page.evaluate(async () => {
    const h = (window as any).h;
    const W = 64,
      H = 48;
    // Class maps: a ramp towards the bottom right, and a bump at (16, 12); each max 1.
    const ramp = new Float32Array(W * H),
      bump = new Float32Array(W * H);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        ramp[y * W + x] = ((x + 1) / W) * ((y + 1) / H);
        bump[y * W + x] = Math.exp(-((x - 16) ** 2 + (y - 12) ** 2) / 200);
      }
    // 6 points (each pixel sums the points' kernels) and 60 (splat + blur passes), with weights and a shared pixel.
    const few = [
      { x: 10, y: 10, w: 1 },
      { x: 40, y: 30, w: 2 },
      { x: 40.2, y: 30.1, w: 0.5 },
      { x: 60, y: 5, w: 1 },
      { x: 3, y: 44, w: 3 },
      { x: 70, y: 10, w: 9 },
    ];
    const many = Array.from({ length: 60 }, (_, i) => ({ x: (i * 37) % W, y: (i * 11) % H, w: 1 + (i % 4) }));
    const o = { colormap: 'turbo', opacity: 0.8 };
    const diff = (a: Uint8Array, b: Uint8Array) => h.pixelDiff(a, b);
    const alpha = (a: Uint8Array) => {
      let m = 0;
      for (let i = 3; i < a.length; i += 4) m = Math.max(m, a[i]);
      return m;
    };
    const out: Record<string, unknown> = {};
    for (const [name, pts, maps] of [
      ['one few', [few], [ramp]],
      ['one many', [many], [bump]],
      ['two', [few, many], [bump, ramp]],
    ] as const) {
      const gpu: Uint8Array = await h.api.__heatmapForTest(pts, W, H, { ...o, guide: { maps, epsilon: 0.1 } });
      const cpu: Uint8Array = h.cpuGuidedPixels(pts, maps, 0.1, W, H, o.colormap, o.opacity);
      // The same points without the class map: the guided heat must differ from it (the map is applied).
      const plain: Uint8Array =
        pts.length > 1
          ? h.cpuClassHeatmapPixels(pts, W, H, o.opacity)
          : h.cpuHeatmapPixels(pts[0], W, H, o.colormap, o.opacity);
      out[name] = { diff: diff(gpu, cpu), fromPlain: diff(cpu, plain).max, alpha: alpha(cpu) };
    }
    return out;
  });
  for (const [name, r] of Object.entries(d) as [
    string,
    { diff: { max: number }; fromPlain: number; alpha: number },
  ][]) {
    expect(r.alpha, name).toBeGreaterThan(0);
    expect(r.fromPlain, name).toBeGreaterThan(20);
    expect(r.diff.max, `${name}: ${JSON.stringify(r.diff)}`).toBeLessThanOrEqual(1);
  }
});

test('a real frame on the GPU path: dense fixations drawn over CAM x (epsilon + density); box and peak as explain() gives them', async () => {
  const grid = heatGrid(OVERLAY.width, OVERLAY.height);
  const d = await page.evaluate(
    async ([url, grid]) => {
      const h = (window as any).h;
      const r = await h.explainUrl(url, {
        method: 'guided',
        overlay: { points: true, box: true, heatmap: true, smoothing: 0 },
      });
      const live = await h.api.__overlayForTest();
      const ref = await h.referenceExplain(url, {
        method: 'guided',
        classIndex: r.explained[0].class.index,
        heatmapSize: grid,
      });
      return { r, ref, red: h.colorPixels(live.pixels, '#ff3b30') };
    },
    [SQUIRREL, grid] as const,
  );
  const { r, ref } = d;
  expect(r.path).toBe('gpu');
  expect(r.method).toBe('guided');
  expect(r.guided).toEqual({ ...GUIDED, classMap: 'cam' }); // the knob table's values, CAM resolved for SqueezeNet
  const [c] = r.explained;
  expect(c.class.index).toBe(335);
  // The dense rules' points, the same as the engine's (discrete choices), drawn as dots in the class colour.
  const key = (p: any) => `${p.x},${p.y}`;
  expect(c.fixations.map(key).sort()).toEqual(ref.fixations.map(key).sort());
  expect(c.fixations.length).toBeGreaterThanOrEqual(20);
  expect(d.red).toBeGreaterThan(0);
  // The map's box (CAM protocol) and peak, on the squirrel, within one heat cell of the engine's on the same grid.
  expect(c.boxSource).toBe('map');
  expect(ref.boxSource).toBe('map');
  expect(inBox(c.peak, SQUIRREL_BOX), `peak ${c.peak}`).toBe(true);
  const cell = Math.max(r.frameSize.width / grid.width, r.frameSize.height / grid.height);
  c.box.forEach((v: number, i: number) =>
    expect(Math.abs(v - ref.box[i]), `box edge ${i}: ${v} vs CPU ${ref.box[i]}`).toBeLessThanOrEqual(cell),
  );
  c.peak.forEach((v: number, i: number) =>
    expect(Math.abs(v - ref.peak[i]), `peak ${i}: ${v} vs CPU ${ref.peak[i]}`).toBeLessThanOrEqual(cell),
  );
});

test('several classes with smoothing on the GPU path; box from the fixations when asked; knobs refused for another method', async () => {
  const d = await page.evaluate(async (url) => {
    const h = (window as any).h;
    const req = { method: 'guided', classes: [335, 336], box: 'fixations', overlay: { smoothing: 0.5 } };
    // Two dense walks a frame on SwiftShader (a CPU) shared with other jobs can take more than the 30 s a hung GPU
    // gets (the worker sets that limit again after its first frame).
    const slow = () => h.api.__readbackTimeoutForTest(180_000);
    await slow();
    const a = await h.explainUrl(url, req);
    await slow();
    const b = await h.explainUrl(url, req);
    let refused = '';
    try {
      await h.explainUrl(url, { method: 'cam', guided: { epsilon: 0 } });
    } catch (e) {
      refused = (e as Error).message;
    }
    console.log(`two-class guided frames: ${a.timings.total.toFixed(0)} ms, ${b.timings.total.toFixed(0)} ms`);
    return { a, b, refused };
  }, SQUIRREL);
  expect(d.a.explained.map((c: any) => c.class.index)).toEqual([335, 336]);
  expect(d.a.explained[0].color).not.toBe(d.a.explained[1].color);
  for (const c of d.b.explained) {
    expect(c.fixations.length).toBeGreaterThan(0);
    expect(c.peak).not.toBeNull();
    // The paper's box around the points (they are many with the dense rules).
    expect(c.boxSource).toBe('fixations');
    const xs = c.fixations.map((p: any) => p.x),
      ys = c.fixations.map((p: any) => p.y);
    expect(c.box).toEqual([Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)]);
  }
  // The same picture twice: the same result (the EMA only smooths the drawn heat).
  expect(d.b.explained.map((c: any) => c.peak)).toEqual(d.a.explained.map((c: any) => c.peak));
  expect(d.refused).toMatch(/guided options apply to method 'guided', not 'cam'/);
});

test('the fallback path: guided points, box and peak as explain() gives them on the overlay grid', async ({
  browser,
}) => {
  const fb = await browser.newPage();
  try {
    await openHarness(fb);
    const size = { width: 200, height: 150 };
    const info = await fb.evaluate(
      (canvas) => (window as any).h.init({ modelId: 'squeezenet1_1', backend: 'fallback', canvas }),
      size,
    );
    expect(info.path).toBe('fallback');
    const d = await fb.evaluate(
      async ([url, size]) => {
        const h = (window as any).h;
        const r = await h.explainUrl(url, { method: 'guided', overlay: { smoothing: 0 } });
        const ref = await h.referenceExplain(url, { method: 'guided', classIndex: 335, heatmapSize: size });
        const o = await h.api.__overlayForTest();
        return { r, ref, red: h.colorPixels(o.pixels, '#ff3b30') };
      },
      [SQUIRREL, size] as const,
    );
    const [c] = d.r.explained;
    expect(d.r.path).toBe('fallback');
    expect(c.class.index).toBe(335);
    const key = (p: any) => `${p.x},${p.y}`;
    expect(c.fixations.map(key).sort()).toEqual(d.ref.fixations.map(key).sort());
    expect(d.red).toBeGreaterThan(0);
    expect(c.boxSource).toBe('map');
    // One cell of the overlay grid (WebGL's activations differ from the cpu backend's in the last bits).
    const cell = Math.max(d.r.frameSize.width / size.width, d.r.frameSize.height / size.height) + 1e-9;
    c.box.forEach((v: number, i: number) =>
      expect(Math.abs(v - d.ref.box[i]), `box edge ${i}`).toBeLessThanOrEqual(cell),
    );
    c.peak.forEach((v: number, i: number) =>
      expect(Math.abs(v - d.ref.peak[i]), `peak ${i}`).toBeLessThanOrEqual(cell),
    );
  } finally {
    await fb.close();
  }
});

// Frame pacing and a long day in exhibit mode, on the tiny CNN (tests/browser/worker/tiny-model.ts) and Chromium's
// own fake camera (60 frames/s), one page:
// * frames sent per second against the target, on a fast fake path (the worker's explain answered at once): 15 in
//   exhibit mode, halved by "save power"; a worker slower than the target lowers the camera's capture size first;
//   nothing is sent while the page is hidden or the picture frozen;
// * a soak on the real path (tiny CNN on WebGPU, overlay presented): worker tensors and GPU buffers and the page's JS
//   heap (after GC) flat over 200 frames after a 50-frame warm-up. Counts are compared exactly, so a tensor or buffer
//   leaked once in 200 frames fails; the heap is read exactly (--enable-precise-memory-info: without it Chromium
//   rounds usedJSHeapSize to coarse buckets), so its bound of 512 KB fails a leak of 2.6 KB a frame, about what the
//   1,000-frame run's 2 MB bound caught (2.1 KB) in a quarter of the frames. The worker's own 200-frame check of
//   every request branch is tests/browser/worker/memory.spec.ts.
import { expect, test, type Page } from '@playwright/test';
import { APP_URL, launch, logPage } from './fixtures.ts';
import { routeTinyModel } from '../worker/tiny-model.ts';

test.use({
  launchOptions: launch({
    args: [
      '--use-fake-device-for-media-stream=fps=60',
      '--use-fake-ui-for-media-stream',
      '--js-flags=--expose-gc',
      '--enable-precise-memory-info',
    ],
  }),
});
test.describe.configure({ mode: 'serial' });

declare global {
  interface Window {
    __pace: { times: number[]; delay: number };
    __realExplain?: unknown;
    gc?: () => void;
  }
}

let page: Page;

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage({ viewport: { width: 640, height: 480 } });
  logPage(page);
  await routeTinyModel(page);
  // The model URL encoded: the route for the tiny model must not match this page's own URL.
  await page.goto(`${APP_URL}/?kiosk&backend=webgpu&idle=3600&model=${encodeURIComponent('/tiny-model/model.json')}`);
  await expect(page.getByTestId('top1')).toHaveText(/^class \d$/, { timeout: 240_000 });
});
test.afterAll(() => page?.close());

/** Replace the worker's explain with one that answers after `delay` ms (the last real result), recording each send. */
async function fakePath(delay: number) {
  await page.evaluate((d) => {
    const e = window.__cnnfix!.engine as unknown as {
      explain: (f: ImageBitmap, r: unknown, s?: () => void) => Promise<unknown>;
    };
    window.__realExplain ??= e.explain;
    window.__pace = { times: [], delay: d };
    e.explain = async (frame, _req, submitted) => {
      window.__pace.times.push(performance.now());
      frame.close();
      await new Promise((r) => setTimeout(r, window.__pace.delay));
      submitted?.();
      return window.__lastResult;
    };
  }, delay);
}

/** Frames sent per second over the next `ms`. */
async function sentPerSecond(ms = 3000) {
  const w = await measure(ms);
  return w.sent / w.s;
}

const settings = () => page.evaluate(() => window.__cnnfix!.stream!.getVideoTracks()[0].getSettings());

/**
 * Over the next `ms`: frames sent; camera frames the page was handed (a requestVideoFrameCallback loop of its own on
 * the same video), and how many of the target's slots (1/target s from the window's start) had one; the main
 * thread's long tasks (ms).
 */
async function measure(ms = 3000, target = 15) {
  return page.evaluate(
    async ([ms, target]) => {
      const v = window.__cnnfix!.video!;
      const handed: number[] = [];
      let blocked = 0,
        on = true;
      const onFrame = () => {
        if (!on) return;
        handed.push(performance.now());
        v.requestVideoFrameCallback(onFrame);
      };
      v.requestVideoFrameCallback(onFrame);
      const long = new PerformanceObserver((l) => {
        for (const e of l.getEntries()) blocked += e.duration;
      });
      long.observe({ type: 'longtask' });
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, ms));
      const t1 = performance.now();
      on = false;
      long.disconnect();
      const sent = window.__pace.times.filter((t) => t >= t0 && t < t1).length;
      const slots = new Set(handed.filter((t) => t < t1).map((t) => Math.floor(((t - t0) * target) / 1000))).size;
      return { sent, delivered: handed.length, slots, blocked, s: (t1 - t0) / 1000 };
    },
    [ms, target] as const,
  );
}

// The picture is hidden (visibility) while rates are measured: painting a 1280x720 video through SwiftShader is this
// machine's compositor, which hands a visible video to the page at 4-20 frames/s under load (a hidden one: 10-55,
// unevenly, with stalls), so the target, not the test machine, is what limits. The frame loop's path is the same.
// Before the fix, exhibit mode's motion sampling read pixels back on the main thread (150-600 ms, twice a second) and
// the pacer dropped the second of each pair of frames a late paint delivered: 3.2-7.4 sent/s against 15.
test('frames sent per second against the target: 15 in exhibit mode, 7.5 to save power', async () => {
  const cam = await settings();
  expect(cam.frameRate).toBeGreaterThanOrEqual(29); // the camera is faster than the target
  await fakePath(2);
  await page.waitForFunction(() => !window.__cnnfix!.inFlight, null, { timeout: 60_000 }); // real frames in flight land
  await page.evaluate(() => (window.__cnnfix!.video!.style.visibility = 'hidden'));
  const rates: string[] = [];
  for (const [savePower, target] of [
    [false, 15],
    [true, 7.5],
  ] as const) {
    await page.evaluate((sp) => window.__cnnfix!.set({ savePower: sp }), savePower);
    expect(await page.evaluate(() => window.__cnnfix!.fix.targetFps)).toBe(target);
    await measure(500, target); // the change takes effect
    // A window in which the page was handed frames in at least a third of the target's slots (up to 3 tries: this
    // machine's renderer stalls for seconds under load).
    let w = await measure(3000, target);
    for (let i = 0; i < 2 && w.slots < (target * w.s) / 3; i++) w = await measure(3000, target);
    rates.push(
      `target ${target}: ${(w.sent / w.s).toFixed(1)} sent/s; handed ${(w.delivered / w.s).toFixed(1)}/s in ${w.slots} of ${Math.round(target * w.s)} slots; main thread blocked ${(w.blocked / w.s / 10).toFixed(0)}%`,
    );
    // The page's thread is free to take each frame (no long task measured here after the fix; 51-86% before).
    expect(w.blocked / (w.s * 1000), rates.at(-1)).toBeLessThan(0.25);
    expect(w.slots, `the machine handed the page too few frames: ${rates.at(-1)}`).toBeGreaterThanOrEqual(
      (target * w.s) / 3,
    );
    // Never above the target (2 frames: the window's edge and the pacer's one frame of credit)...
    expect(w.sent, rates.at(-1)).toBeLessThanOrEqual(target * w.s + 2);
    // ...and a frame in every slot of the target that had one to send: 20% for frames that came while the one before
    // was still being scaled or answered, 1 for the window's edge. (Frames bunched in one slot go as one: the target.)
    expect(w.sent, rates.at(-1)).toBeGreaterThanOrEqual(0.8 * w.slots - 1);
  }
  await page.evaluate(() => window.__cnnfix!.set({ savePower: false })); // the picture stays hidden until the soak
  console.log(`pacing (fast fake path, camera ${cam.frameRate} frames/s): ${rates.join('; ')}`);
});

test('a worker slower than the target: the capture size is lowered first', async () => {
  // From 1280x720 (a stall of this machine during the tests before may have lowered it already).
  await page.evaluate(() =>
    window.__cnnfix!.stream!.getVideoTracks()[0].applyConstraints({ width: { ideal: 1280 }, height: { ideal: 720 } }),
  );
  const before = await settings();
  expect(before.height).toBe(720);
  await fakePath(400); // 2 frames in flight: 5 frames/s against a target of 15
  await page.waitForFunction(
    (h) => window.__cnnfix!.stream!.getVideoTracks()[0].getSettings().height! < h,
    before.height!,
    { timeout: 20_000 },
  );
  const after = await settings();
  console.log(`back-off: capture ${before.width}x${before.height} -> ${after.width}x${after.height}`);
  expect(after.width! / after.height!).toBeCloseTo(before.width! / before.height!, 1);
  await fakePath(2);
});

test('nothing is sent while the page is hidden or the picture frozen', async () => {
  // Sending resumes: a frame goes (the camera's first frame after play() can take seconds on this machine).
  const resumes = async () => {
    const t0 = await page.evaluate(() => performance.now());
    await page.waitForFunction((t) => window.__pace.times.some((x) => x > t), t0, { timeout: 30_000 });
  };
  const flip = (hidden: boolean) =>
    page.evaluate((h) => {
      Object.defineProperty(document, 'hidden', { value: h, configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    }, hidden);
  await flip(true);
  await page.waitForFunction(() => !window.__cnnfix!.inFlight);
  expect(await sentPerSecond(1500)).toBe(0);
  await flip(false);
  await resumes();
  await page.evaluate(() => window.__cnnfix!.toggleFreeze());
  await page.waitForFunction(() => !window.__cnnfix!.inFlight);
  expect(await sentPerSecond(1500)).toBe(0);
  await page.evaluate(() => window.__cnnfix!.toggleFreeze());
  await resumes();
});

/** Frames between the soak's two probes, after a warm-up of WARM_FRAMES. */
const SOAK_FRAMES = 200,
  WARM_FRAMES = 50;

test('200 frames in exhibit mode on the real path: tensors, GPU buffers and JS heap flat', async () => {
  test.setTimeout(300_000);
  await page.evaluate(() => {
    window.__cnnfix!.video!.style.visibility = ''; // the overlay over a shown picture
    (window.__cnnfix!.engine as unknown as { explain: unknown }).explain = window.__realExplain;
    window.__cnnfix!.fix.fps = 60; // as fast as the camera and the worker go
  });
  const probe = () =>
    page.evaluate(async () => {
      window.gc!();
      const mem = await (
        window.__cnnfix!.engine as unknown as {
          api: { memory(): Promise<{ tensors: number; bytes: number; gpuBuffers: number; gpuBytes: number }> };
        }
      ).api.memory();
      return {
        ...mem,
        heap: (performance as unknown as { memory: { usedJSHeapSize: number } }).memory.usedJSHeapSize,
        results: window.__cnnfix!.results,
      };
    });
  const r0 = await page.evaluate(() => window.__cnnfix!.results);
  await page.waitForFunction((n) => window.__cnnfix!.results >= n, r0 + WARM_FRAMES, { timeout: 120_000 });
  const a = await probe();
  const t0 = Date.now();
  await page.waitForFunction((n) => window.__cnnfix!.results >= n, a.results + SOAK_FRAMES, {
    timeout: 240_000,
    polling: 500,
  });
  const b = await probe();
  console.log(
    `soak: ${b.results - a.results} frames in ${((Date.now() - t0) / 1000).toFixed(0)} s; after warm-up: ${JSON.stringify(a)}; at the end: ${JSON.stringify(b)}`,
  );
  expect(b.results - a.results).toBeGreaterThanOrEqual(SOAK_FRAMES);
  expect(b.tensors).toBe(a.tensors);
  expect(b.gpuBuffers).toBe(a.gpuBuffers);
  expect(b.bytes).toBe(a.bytes);
  expect(b.heap - a.heap, 'JS heap growth after GC').toBeLessThan(512 * 1024);
  expect(await page.evaluate(() => window.__lastResult!.top[0].label)).toMatch(/^class \d$/);
});

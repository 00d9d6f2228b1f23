// backend 'auto' with WebGPU available: the first frames are timed on both paths and the faster one is kept.
import { expect, test } from '@playwright/test';
import { PRESENT_LAUNCH } from './launch.ts';
import { openHarness, SQUIRREL } from './setup.ts';

test.use({ launchOptions: PRESENT_LAUNCH });

test("'auto' times both paths on the first frames, keeps the faster, and reports both figures", async ({ page }) => {
  test.setTimeout(600_000);
  await openHarness(page);
  const info = await page.evaluate(() => (window as any).h.init({ modelId: 'squeezenet1_1', backend: 'auto', canvas: { width: 160, height: 120 } }));
  const a = info.auto;
  expect(a).toBeDefined();
  expect(a.frames).toBeGreaterThanOrEqual(2);
  expect(a.gpuMs).toBeGreaterThan(0);
  expect(a.fallbackMs).toBeGreaterThan(0);
  // The kept path is the one with the smaller figure (SwiftShader: the fallback, ~3x faster than emulated WebGPU).
  expect(a.chosen).toBe(a.fallbackMs <= a.gpuMs ? 'fallback' : 'gpu');
  expect(info.path).toBe(a.chosen);
  if (a.chosen === 'fallback') expect(info.fallbackReason).toMatch(/auto: the fallback was faster/);
  // The kept path explains and draws into the canvas (the trial drew nothing there: its context kind is still free).
  const r = await page.evaluate((url) => (window as any).h.explainUrl(url, {}), SQUIRREL);
  expect(r.path).toBe(a.chosen);
  expect(r.top[0].index).toBe(335);
  expect(r.explained[0].fixations.length).toBeGreaterThan(0);
});

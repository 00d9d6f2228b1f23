// backend 'auto' builds one path, once: on a software WebGPU adapter (here SwiftShader) the fallback straight away,
// without a GPU device, a tfjs WebGPU compile or a self-check; the start-up is reported in parts.
import { expect, test } from '@playwright/test';
import { PRESENT_LAUNCH } from './launch.ts';
import { openHarness, SQUIRREL } from './setup.ts';

test.use({ launchOptions: PRESENT_LAUNCH });

test("'auto' on a software adapter goes straight to the fallback, builds nothing on WebGPU, and times its start-up", async ({
  page,
}) => {
  test.setTimeout(600_000);
  await openHarness(page);
  const adapter = await page.evaluate(async () => {
    const a = await navigator.gpu.requestAdapter();
    const i = (a as any).info;
    return [i.vendor, i.architecture, i.device, i.description].join(' ');
  });
  expect(adapter).toMatch(/swiftshader/i); // this machine's WebGPU: a CPU
  const info = await page.evaluate(() =>
    (window as any).h.init({ modelId: 'squeezenet1_1', backend: 'auto', canvas: { width: 160, height: 120 } }),
  );
  expect(info.auto).toEqual({ chosen: 'fallback', adapter: expect.stringMatching(/swiftshader/i), software: true });
  expect(info.path).toBe('fallback');
  expect(info.fallbackReason).toMatch(/auto: the WebGPU adapter is a software one/);
  // One build: no GPU device was made (its parts are absent), the model was downloaded once.
  expect(Object.keys(info.startup).sort()).toEqual(['downloadMs']);
  expect(info.startup.downloadMs).toBeGreaterThan(0);
  expect(await page.evaluate(() => (window as any).h.api.memory())).toMatchObject({ gpuBuffers: 0 });
  // The kept path explains and draws into the canvas.
  const r = await page.evaluate((url) => (window as any).h.explainUrl(url, {}), SQUIRREL);
  expect(r.path).toBe('fallback');
  expect(r.top[0].index).toBe(335);
  expect(r.explained[0].fixations.length).toBeGreaterThan(0);
});

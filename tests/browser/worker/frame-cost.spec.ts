// What a frame costs after warm-up, from the worker's counters (src/gpu/counters.ts, in test and bench builds), on
// every path that has a GPU: no synchronous read (a dataSync drains the WebGPU queue through a canvas copy, issue 20
// item 5); on the WGSL path, for every catalog model, no bind group created and at most 1 MB written or cleared by
// the host (the unravelling clears only what the last frame kept; a step's own bind group is made once, and each
// activation buffer gets one, made for every buffer of the pool's size at once: item 6). Frames are sent as the app sends them (two in flight), so
// tfjs's buffer pool hands the activations a varying choice of buffers as it does live.
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { PRESENT_LAUNCH } from './launch.ts';
import { openHarness, SQUIRREL } from './setup.ts';

test.use({ launchOptions: PRESENT_LAUNCH }); // the overlay canvas presents WebGPU

const WARM = 5,
  COUNTED = 3;

async function frames(page: import('@playwright/test').Page, init: object) {
  const info = await page.evaluate(async (o) => {
    const h = (window as any).h;
    const i = await h.init({ ...o, canvas: { width: 320, height: 240 } });
    return i;
  }, init);
  // The first frame alone (it sets the normal readback limit), then costs, not hang detection: on a loaded CPU
  // (SwiftShader) two frames in flight may outlast that limit.
  await page.evaluate(async (url) => {
    const h = (window as any).h;
    await h.explainUrl(url, {}, 320, 240);
    await h.api.__readbackTimeoutForTest(600_000);
  }, SQUIRREL);
  const { results } = await page.evaluate(([url, n]) => (window as any).h.explainStream(url, n, {}, 320, 240), [
    SQUIRREL,
    WARM - 1 + COUNTED,
  ] as const);
  for (const r of results) expect(r.explained[0].inputFixations.length).toBeGreaterThan(0);
  return { info, counted: results.slice(WARM - 1).map((r: any) => r.counters) };
}

test('frame cost after warm-up: no sync reads on any GPU path; no bind groups and <= 1 MB written on the WGSL path', async ({
  page,
}) => {
  test.setTimeout(900_000);
  await openHarness(page);
  const ids = (
    JSON.parse(readFileSync(new URL('../../../models/catalog.json', import.meta.url), 'utf8')).models as {
      id: string;
    }[]
  ).map((m) => m.id);
  expect(ids.length).toBeGreaterThanOrEqual(3);
  for (const modelId of ids) {
    const { info, counted } = await frames(page, { modelId, backend: 'webgpu' });
    expect(info.path).toBe('gpu');
    expect(info.fallbackReason, modelId).toBeUndefined(); // the WGSL unravelling, not the CPU one
    for (const c of counted) {
      console.log(`${modelId} gpu: ${JSON.stringify(c)}`);
      expect(c.syncReads, modelId).toBe(0);
      // Keyed per step and activation buffers, MobileNetV2 made 6 a frame here; per buffer alone, MobileNet v1 0.25 made 1.
      expect(c.bindGroupsCreated, modelId).toBe(0);
      expect(c.bytesWritten, modelId).toBeLessThanOrEqual(1 << 20);
    }
  }
  // The path a phone takes after a failed self-check: WebGPU inference, the CPU unravelling reading what it needs.
  const cpu = await frames(page, {
    modelId: 'squeezenet1_1',
    backend: 'webgpu',
    __gpuFaultsForTest: { kernel: 'unravel conv', mode: 'wrong' },
  });
  expect(cpu.info.fallbackReason).toMatch(/self-check|CPU/i);
  for (const c of cpu.counted) expect(c.syncReads).toBe(0);
  // The fallback on WebGL has a GPU too.
  const gl = await frames(page, { modelId: 'squeezenet1_1', backend: 'fallback' });
  expect(gl.info.backend).toBe('webgl');
  // 23 a frame before issue 20, then 1: tfjs-webgl's top-k handing the summary's 1000 values to the CPU (readSync).
  for (const c of gl.counted) expect(c.syncReads).toBe(0);
});

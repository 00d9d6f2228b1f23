// A lost GPUDevice (destroyed, as a driver reset would) is recovered: status 'recovering' then 'ready', a new device,
// the model reloaded, the canvas reconfigured, and the next frame is explained as before. The tiny CNN keeps the
// (twice compiled) run short; the reload path is the same for every model.
import { expect, test } from '@playwright/test';
import { PRESENT_LAUNCH } from './launch.ts';
import { openHarness, SQUIRREL } from './setup.ts';
import { routeTinyModel } from './tiny-model.ts';

test.use({ launchOptions: PRESENT_LAUNCH });

test('a lost GPU device is recovered: recovering -> ready, the next explain works', async ({ page }) => {
  await routeTinyModel(page);
  await openHarness(page);
  const out = await page.evaluate(async (url) => {
    const h = (window as any).h;
    const info = await h.init({ modelUrl: '/tiny-model/model.json', backend: 'webgpu', canvas: { width: 64, height: 48 } });
    const before = await h.explainUrl(url, {}, 64, 48);
    const lost = await h.api.__loseDeviceForTest();
    const seen = [lost.state];
    for (let i = 0; i < 1200; i++) {
      const s = await h.api.status();
      if (seen[seen.length - 1] !== s.state) seen.push(s.state);
      if (s.state === 'ready' || s.state === 'error') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const after = await h.explainUrl(url, {}, 64, 48);
    const overlay = await h.api.__overlayForTest();
    return { info, before, seen, after, alpha: Math.max(...Array.from(overlay.pixels as Uint8Array).filter((_, i) => i % 4 === 3)) };
  }, SQUIRREL);
  expect(out.info.path).toBe('gpu');
  expect(out.seen).toEqual(['recovering', 'ready']);
  expect(out.after.path).toBe('gpu');
  expect(out.after.top.map((t: any) => t.index)).toEqual(out.before.top.map((t: any) => t.index));
  // Same kept neurons; weights to float precision (the GPU adds merged weights in any order).
  const a = out.after.explained[0].inputFixations, b = out.before.explained[0].inputFixations;
  expect(a.length).toBeGreaterThan(0);
  expect(a.map((f: any) => [f.x, f.y, f.c])).toEqual(b.map((f: any) => [f.x, f.y, f.c]));
  a.forEach((f: any, i: number) => expect(f.w).toBeCloseTo(b[i].w, 5));
  expect(out.alpha).toBeGreaterThan(0); // the rebuilt overlay draws
});

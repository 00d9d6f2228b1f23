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
    const info = await h.init({
      modelUrl: '/tiny-model/model.json',
      backend: 'webgpu',
      canvas: { width: 64, height: 48 },
    });
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
    return {
      info,
      before,
      seen,
      after,
      alpha: Math.max(...Array.from(overlay.pixels as Uint8Array).filter((_, i) => i % 4 === 3)),
    };
  }, SQUIRREL);
  expect(out.info.path).toBe('gpu');
  expect(out.seen).toEqual(['recovering', 'ready']);
  expect(out.after.path).toBe('gpu');
  expect(out.after.top.map((t: any) => t.index)).toEqual(out.before.top.map((t: any) => t.index));
  // Same kept neurons; weights to float precision (the GPU adds merged weights in any order).
  const a = out.after.explained[0].inputFixations,
    b = out.before.explained[0].inputFixations;
  expect(a.length).toBeGreaterThan(0);
  expect(a.map((f: any) => [f.x, f.y, f.c])).toEqual(b.map((f: any) => [f.x, f.y, f.c]));
  a.forEach((f: any, i: number) => expect(f.w).toBeCloseTo(b[i].w, 5));
  expect(out.alpha).toBeGreaterThan(0); // the rebuilt overlay draws
});

/** Poll the worker's status until it is 'ready' or 'error'; the states and recovery attempts seen, with times. */
const settle = `async (h) => {
  const seen = [], t0 = performance.now();
  for (let i = 0; i < 3000; i++) {
    const s = await h.api.status();
    const last = seen[seen.length - 1];
    if (!last || last.state !== s.state || last.attempt !== s.attempt) seen.push({ ...s, t: performance.now() - t0 });
    if (s.state === 'ready' || s.state === 'error') break;
    await new Promise((r) => setTimeout(r, 25));
  }
  return seen;
}`;

test('a device lost again at every recovery: 3 attempts with backoff, then an error that asks for a restart; a new init works', async ({
  page,
}) => {
  await routeTinyModel(page);
  await openHarness(page);
  const out = await page.evaluate(
    async ([url, settleSrc]) => {
      const h = (window as any).h;
      const settle = eval(settleSrc);
      await h.init({ modelUrl: '/tiny-model/model.json', backend: 'webgpu', canvas: { width: 64, height: 48 } });
      await h.explainUrl(url, {}, 64, 48);
      await h.api.__gpuFaultForTest('lose'); // every new device comes back already lost
      await h.api.__loseDeviceForTest();
      const seen = await settle(h);
      const attempts = await h.api.__recoveryAttemptsForTest();
      const explainAfter = await h.explainUrl(url, {}, 64, 48).then(
        () => 'explained',
        (e: Error) => e.message,
      );
      // What the page's restart does: a new start without the fault, on a fresh canvas.
      await h.api.__gpuFaultForTest(null);
      const info = await h.init({
        modelUrl: '/tiny-model/model.json',
        backend: 'webgpu',
        canvas: { width: 64, height: 48 },
      });
      const again = await h.explainUrl(url, {}, 64, 48);
      const overlay = await h.api.__overlayForTest();
      return {
        seen,
        attempts,
        explainAfter,
        info,
        again,
        alpha: Math.max(...Array.from(overlay.pixels as Uint8Array).filter((_, i) => i % 4 === 3)),
      };
    },
    [SQUIRREL, settle] as const,
  );
  // Three attempts; backoff: 1 s before the second, 2 s before the third (on top of each failed attempt's own time).
  const t = out.attempts as number[];
  expect(t.length).toBe(3);
  expect(t[1] - t[0]).toBeGreaterThanOrEqual(1000);
  expect(t[2] - t[1]).toBeGreaterThanOrEqual(2000);
  expect(out.seen.filter((s: any) => s.state === 'recovering' && s.attempt > 0).map((s: any) => s.attempt)).toEqual(
    expect.arrayContaining([1]),
  );
  const last = out.seen[out.seen.length - 1];
  expect(last.state).toBe('error');
  expect(last.next).toBe('restart');
  expect(last.message).toMatch(
    /The GPU device was lost and could not be recovered \(3 attempts without an explained frame; last: the new GPU device is already lost \(destroyed/,
  );
  expect(out.explainAfter).toMatch(
    /explain: the worker is in error \(The GPU device was lost and could not be recovered/,
  );
  expect(out.info.path).toBe('gpu');
  expect(out.again.path).toBe('gpu');
  expect(out.again.explained[0].inputFixations.length).toBeGreaterThan(0);
  expect(out.alpha).toBeGreaterThan(0);
});

test('a device lost while the page is hidden: no attempt until it is visible again, then recovered', async ({
  page,
}) => {
  await routeTinyModel(page);
  await openHarness(page);
  const out = await page.evaluate(
    async ([url, settleSrc]) => {
      const h = (window as any).h;
      const settle = eval(settleSrc);
      await h.init({
        modelUrl: '/tiny-model/model.json',
        backend: 'webgpu',
        canvas: { width: 64, height: 48 },
        visible: true,
      });
      const before = await h.explainUrl(url, {}, 64, 48);
      await h.api.setVisible(false);
      await h.api.__loseDeviceForTest();
      await new Promise((r) => setTimeout(r, 4000)); // well past the first backoff (0.5 s)
      const hidden = await h.api.status();
      const attemptsHidden = (await h.api.__recoveryAttemptsForTest()).length;
      await h.api.setVisible(true);
      const seen = await settle(h);
      const after = await h.explainUrl(url, {}, 64, 48);
      return { before, hidden, attemptsHidden, seen, after };
    },
    [SQUIRREL, settle] as const,
  );
  expect(out.hidden.state).toBe('recovering');
  expect(out.hidden.attempt).toBe(0);
  expect(out.hidden.message).toMatch(/GPU device lost \(destroyed.*; waiting for the page to be visible/);
  expect(out.attemptsHidden).toBe(0);
  expect(out.seen.map((s: any) => [s.state, s.attempt])).toEqual([
    ['recovering', 1],
    ['ready', undefined],
  ]);
  expect(out.after.path).toBe('gpu');
  expect(out.after.explained[0].inputFixations.map((f: any) => [f.x, f.y, f.c])).toEqual(
    out.before.explained[0].inputFixations.map((f: any) => [f.x, f.y, f.c]),
  );
});

test("WebGPU gone after a loss: the status asks for the fallback, which this canvas (WebGPU's) cannot serve", async ({
  page,
}) => {
  await routeTinyModel(page);
  await openHarness(page);
  const out = await page.evaluate(async (settleSrc) => {
    const h = (window as any).h;
    const settle = eval(settleSrc);
    await h.init({ modelUrl: '/tiny-model/model.json', backend: 'webgpu', canvas: { width: 64, height: 48 } });
    await h.api.__gpuFaultForTest('no-adapter');
    await h.api.__loseDeviceForTest();
    const seen = await settle(h);
    // The same canvas on the fallback: refused by name (never 'ready' without an overlay), not run without overlay.
    const sameCanvas = await h.api.init({ modelUrl: '/tiny-model/model.json', backend: 'fallback' }).then(
      () => null,
      (e: Error) => ({ name: e.name, message: e.message }),
    );
    const status = await h.api.status();
    return { seen, sameCanvas, status };
  }, settle);
  const last = out.seen[out.seen.length - 1];
  expect(last).toMatchObject({ state: 'error', next: 'fallback' });
  expect(last.message).toMatch(/The GPU device was lost and WebGPU is no longer available \(WebGPU: no adapter\)/);
  expect(out.sameCanvas).toEqual({ name: 'FreshCanvasNeeded', message: 'requested' });
  expect(out.status.state).toBe('error');
});

test('a stuck readback: the frame fails naming it, the device is reset and recovered, the next frame works', async ({
  page,
}) => {
  await routeTinyModel(page);
  await openHarness(page);
  const out = await page.evaluate(
    async ([url, settleSrc]) => {
      const h = (window as any).h;
      const settle = eval(settleSrc);
      await h.init({ modelUrl: '/tiny-model/model.json', backend: 'webgpu', canvas: { width: 64, height: 48 } });
      const before = await h.explainUrl(url, {}, 64, 48);
      const old = await h.api.__readbackTimeoutForTest(1); // no GPU readback completes in 1 ms
      const failed = await h.explainUrl(url, {}, 64, 48).then(
        () => null,
        (e: Error) => e.message,
      );
      await h.api.__readbackTimeoutForTest(old);
      const right = await h.api.status(); // right after the failed frame
      const seen = await settle(h);
      const after = await h.explainUrl(url, {}, 64, 48);
      return { old, before, failed, right, seen, after };
    },
    [SQUIRREL, settle] as const,
  );
  expect(out.old).toBe(30_000);
  expect(out.failed).toMatch(
    /^explain: readback of .+ did not complete within 0\.001 s \(the GPU may be hung or lost\); the GPU device is being reset and recovered/,
  );
  expect(out.right.state).toBe('recovering');
  expect(out.seen[out.seen.length - 1].state).toBe('ready');
  expect(out.after.path).toBe('gpu');
  expect(out.after.top.map((t: any) => t.index)).toEqual(out.before.top.map((t: any) => t.index));
});

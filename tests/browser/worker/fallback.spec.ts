// The fallback path (WebGL inference + CPU unravelling on the activation values it reads, read back on demand +
// 2D overlay) against the CPU reference: the engine's explain() on tfjs's cpu backend in the page (every
// activation read), on the very same pixels.
import { expect, test } from '@playwright/test';
import { openHarness, SQUIRREL } from './setup.ts';

test('fallback path: same fixations as the CPU reference on the same input', async ({ page }) => {
  await openHarness(page);
  const info = await page.evaluate(() =>
    (window as any).h.init({ modelId: 'squeezenet1_1', backend: 'fallback', canvas: { width: 200, height: 150 } }),
  );
  expect(info.path).toBe('fallback');
  expect(info.backend).toBe('webgl');
  expect(info.fallbackReason).toBe('requested');
  // The presets, and the widest walk (every positive GAP position, max location): the most values read.
  const wide = { location: 'max', gap: 'positive', weights: 'contribution' };
  for (const rules of ['default', 'reference', wide] as const) {
    const { w, ref } = await page.evaluate(
      async ([url, rules]) => {
        const h = (window as any).h;
        return { w: await h.explainUrl(url, { rules }), ref: await h.referenceExplain(url, { rules }) };
      },
      [SQUIRREL, rules] as const,
    );
    expect(w.path).toBe('fallback');
    expect(w.top[0].index).toBe(335);
    expect(ref.class.index).toBe(335);
    const key = (f: any) => `${f.x},${f.y},${f.c}`;
    const got = w.explained[0].inputFixations;
    const name = JSON.stringify(rules);
    expect(got.length, name).toBeGreaterThan(0);
    expect(got.map(key).sort(), name).toEqual(ref.inputFixations.map(key).sort());
    const refW = new Map(ref.inputFixations.map((f: any) => [key(f), f.w]));
    for (const f of got)
      expect(Math.abs(f.w - (refW.get(key(f)) as number)), key(f)).toBeLessThanOrEqual(
        1e-4 * Math.max(1, Math.abs(f.w)),
      );
    // Frame-pixel fixations and box: the same post-processing as the reference.
    const byXy = (a: any, b: any) => a.x - b.x || a.y - b.y;
    const gotFix = [...w.explained[0].fixations].sort(byXy),
      refFix = [...ref.fixations].sort(byXy);
    expect(
      gotFix.map((p: any) => [p.x, p.y]),
      name,
    ).toEqual(refFix.map((p: any) => [p.x, p.y]));
    gotFix.forEach((p: any, i: number) =>
      expect(Math.abs(p.w - refFix[i].w)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(p.w))),
    );
    expect(w.explained[0].box).toEqual(ref.box);
    // Only the values the steps read come back (every activation is 12.3 MB): at most 1 MB a frame with the presets.
    console.log(`fallback ${name}: ${got.length} input fixations, ${w.readbackBytes} bytes read back`);
    expect(w.readbackBytes).toBeGreaterThanOrEqual(40 + 13 * 13 * 4); // top-5 summary and at least the 13x13 class map
    expect(w.readbackBytes).toBeLessThanOrEqual(rules === wide ? 12.3e6 / 4 : 1 << 20);
  }
});

test('fallback path: two classes drawn in their class hues on the 2D canvas (the CPU classOverlay)', async ({
  page,
}) => {
  await openHarness(page);
  const size = { width: 200, height: 150 };
  await page.evaluate(
    (canvas) => (window as any).h.init({ modelId: 'squeezenet1_1', backend: 'fallback', canvas }),
    size,
  );
  const d = await page.evaluate(async (size) => {
    const h = (window as any).h;
    const r = await h.explainUrl('/shared-images/fruits.jpg', {
      classes: [951, 950],
      overlay: { points: false, box: false, opacity: 0.8 },
    });
    const o = await h.api.__overlayForTest();
    const cpu: Uint8Array = h.cpuClassOverlayPixels(
      r.explained.map((c: any) => c.fixations),
      r.frameSize,
      size,
      0.8,
      false,
    );
    let maxDiff = 0;
    const opaque = [0, 0];
    for (let i = 0; i < cpu.length; i++) maxDiff = Math.max(maxDiff, Math.abs(o.pixels[i] - cpu[i]));
    // Pixels at full opacity in each class's hue (red-dominant: lemon's #ff3b30; green-dominant: orange's #30d158).
    for (let i = 0; i < cpu.length; i += 4)
      if (o.pixels[i + 3] === 204) opaque[o.pixels[i] > o.pixels[i + 1] ? 0 : 1]++;
    return {
      path: r.path,
      classes: r.explained.map((c: any) => c.class.index),
      w: o.width,
      h: o.height,
      maxDiff,
      opaque,
    };
  }, size);
  expect(d.path).toBe('fallback');
  expect(d.classes).toEqual([951, 950]);
  expect([d.w, d.h]).toEqual([size.width, size.height]);
  // The 2D canvas stores 8-bit premultiplied colour: within 2/255 of the CPU composition.
  expect(d.maxDiff).toBeLessThanOrEqual(2);
  expect(d.opaque[0]).toBeGreaterThan(0);
  expect(d.opaque[1]).toBeGreaterThan(0);
});

// The fallback path (WebGL inference + CPU unravelling on the activation values it reads, read back on demand +
// 2D overlay) against the CPU reference: the engine's explain() on tfjs's cpu backend in the page (every
// activation read), on the very same pixels.
import { expect, test } from '@playwright/test';
import { openHarness, SQUIRREL } from './setup.ts';

test('fallback path: same fixations as the CPU reference on the same input', async ({ page }) => {
  await openHarness(page);
  const info = await page.evaluate(() => (window as any).h.init({ modelId: 'squeezenet1_1', backend: 'fallback', canvas: { width: 200, height: 150 } }));
  expect(info.path).toBe('fallback');
  expect(info.backend).toBe('webgl');
  expect(info.fallbackReason).toBe('requested');
  // The presets, and the widest walk (every positive GAP position, max location): the most values read.
  const wide = { location: 'max', gap: 'positive', weights: 'contribution' };
  for (const rules of ['default', 'reference', wide] as const) {
    const { w, ref } = await page.evaluate(async ([url, rules]) => {
      const h = (window as any).h;
      return { w: await h.explainUrl(url, { rules }), ref: await h.referenceExplain(url, { rules }) };
    }, [SQUIRREL, rules] as const);
    expect(w.path).toBe('fallback');
    expect(w.top[0].index).toBe(335);
    expect(ref.class.index).toBe(335);
    const key = (f: any) => `${f.x},${f.y},${f.c}`;
    const got = w.explained[0].inputFixations;
    const name = JSON.stringify(rules);
    expect(got.length, name).toBeGreaterThan(0);
    expect(got.map(key).sort(), name).toEqual(ref.inputFixations.map(key).sort());
    const refW = new Map(ref.inputFixations.map((f: any) => [key(f), f.w]));
    for (const f of got) expect(Math.abs(f.w - (refW.get(key(f)) as number)), key(f)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(f.w)));
    // Frame-pixel fixations and box: the same post-processing as the reference.
    const byXy = (a: any, b: any) => a.x - b.x || a.y - b.y;
    const gotFix = [...w.explained[0].fixations].sort(byXy), refFix = [...ref.fixations].sort(byXy);
    expect(gotFix.map((p: any) => [p.x, p.y]), name).toEqual(refFix.map((p: any) => [p.x, p.y]));
    gotFix.forEach((p: any, i: number) => expect(Math.abs(p.w - refFix[i].w)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(p.w))));
    expect(w.explained[0].box).toEqual(ref.box);
    // Only the values the steps read come back (every activation is 12.3 MB): at most 1 MB a frame with the presets.
    console.log(`fallback ${name}: ${got.length} input fixations, ${w.readbackBytes} bytes read back`);
    expect(w.readbackBytes).toBeGreaterThanOrEqual(40 + 13 * 13 * 4); // top-5 summary and at least the 13x13 class map
    expect(w.readbackBytes).toBeLessThanOrEqual(rules === wide ? 12.3e6 / 4 : 1 << 20);
  }
});

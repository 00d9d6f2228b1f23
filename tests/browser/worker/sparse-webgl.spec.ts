// The fallback's on-demand reads on WebGL (the worker's fallback backend) = unravelCpu on whole activations, bit for
// bit, on the catalog models whose 1x1 convs read their picks (MobileNetV2, MobileNet v1 0.25) and on SqueezeNet,
// with the bytes per frame under 1 MB. Runs in the harness page (its own WebGL context, not the worker's).
import { expect, test } from '@playwright/test';
import { openHarness, SQUIRREL } from './setup.ts';

for (const [model, most] of [['mobilenet_v2', 1 << 20], ['mobilenet_v1_025_224_tfhub', 128 << 10], ['squeezenet1_1', 64 << 10]] as const) {
  test(`sparse reads on WebGL, ${model}, catalog rules: the reference walk bit for bit, at most ${most} bytes`, async ({ page }) => {
    await openHarness(page);
    const r = await page.evaluate(async ([mod, m, url]) => (await import(mod)).sparseVsWhole(m, url), ['/tests/browser/worker/sparse-webgl.ts', model, SQUIRREL] as const);
    console.log(`${model} on ${r.backend}: class ${r.top}, ${r.fixations} input fixations, ${r.bytes} bytes in ${r.reads} reads, ${r.unsettled} unsettled 1x1 rows`);
    expect(r.backend).toBe('webgl');
    expect(r.fixations).toBeGreaterThan(0);
    expect(r.difference).toBeNull();
    expect(r.bytes).toBeGreaterThan(0);
    expect(r.bytes).toBeLessThanOrEqual(most);
  });
}

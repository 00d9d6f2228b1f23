// The fallback's on-demand reads on WebGL (the worker's fallback backend) = unravelCpu on whole activations, bit for
// bit, on the three catalog models (their 1x1 convs read picks, src/worker/sparse-picks-webgl.ts), with the bytes per
// frame bounded (the old reads: 1.2 MB, 203 KB, 49 KB on these three in Node), and with rows the picks leave unsettled. Runs in the harness page (its own WebGL context, not the worker's).
import { expect, test } from '@playwright/test';
import { installed, lacks } from '../../fixtures/data.ts';
import { openHarness, SQUIRREL } from './setup.ts';

for (const [model, most] of [
  ['mobilenet_v2', 1 << 20],
  ['mobilenet_v1_025_224_tfhub', 128 << 10],
  ['squeezenet1_1', 64 << 10],
] as const) {
  test(`sparse reads on WebGL, ${model}, catalog rules: the reference walk bit for bit, at most ${most} bytes`, async ({
    page,
  }) => {
    test.skip(lacks(`sparse-webgl.spec.ts (${model})`, installed(`${model}/model.json`)));
    await openHarness(page);
    const r = await page.evaluate(async ([mod, m, url]) => (await import(mod)).sparseVsWhole(m, url), [
      '/tests/browser/worker/sparse-webgl.ts',
      model,
      SQUIRREL,
    ] as const);
    console.log(
      `${model} on ${r.backend}: class ${r.top}, ${r.fixations} input fixations, ${r.bytes} bytes in ${r.reads} reads, ${r.unsettled} unsettled 1x1 rows`,
    );
    expect(r.backend).toBe('webgl');
    expect(r.fixations).toBeGreaterThan(0);
    expect(r.difference).toBeNull();
    expect(r.bytes).toBeGreaterThan(0);
    expect(r.bytes).toBeLessThanOrEqual(most);
  });
}

test('sparse reads on WebGL, mobilenet_v2, channelRatio 0.8: rows the picks do not settle are read whole, same walk', async ({
  page,
}) => {
  test.skip(lacks('sparse-webgl.spec.ts (mobilenet_v2)', installed('mobilenet_v2/model.json')));
  await openHarness(page);
  const r = await page.evaluate(
    async ([mod, url]) => (await import(mod)).sparseVsWhole('mobilenet_v2', url, { channelRatio: 0.8 }),
    ['/tests/browser/worker/sparse-webgl.ts', SQUIRREL] as const,
  );
  console.log(
    `mobilenet_v2, channelRatio 0.8: ${r.fixations} input fixations, ${r.bytes} bytes in ${r.reads} reads, ${r.unsettled} unsettled 1x1 rows`,
  );
  expect(r.unsettled).toBeGreaterThan(0);
  expect(r.difference).toBeNull();
});

// GPU errors on the GPU path are caught and survived (issue 12): a kernel that does not compile, buffers over the
// device's limit, and a kernel that compiles but answers wrongly (caught by the start-up self-check) each switch the
// path to the CPU unravelling, with the reason in InitInfo.fallbackReason and the worker status; the fixations then
// equal those of the healthy WGSL unravelling of the same frame. Each part has its own error scopes and fallback
// (issue 20): a broken post/heatmap or overlay shader leaves the unravelling on the GPU, and a broken unravelling
// leaves the overlay drawn. The tiny CNN keeps this quick on SwiftShader; the
// last test runs SqueezeNet: the same frame twice gives identical fixations.
import { expect, test, type Page } from '@playwright/test';
import { PRESENT_LAUNCH } from './launch.ts';
import { openHarness, SQUIRREL } from './setup.ts';
import { routeTinyModel } from './tiny-model.ts';

test.use({ launchOptions: PRESENT_LAUNCH });
test.describe.configure({ mode: 'serial' }); // the fault cases compare with the healthy run's answer

const TINY = { modelUrl: '/tiny-model/model.json', backend: 'webgpu', canvas: { width: 64, height: 48 } };

async function run(page: Page, faults?: object, overlay = true) {
  return page.evaluate(
    async ({ o, url, overlay }) => {
      const h = (window as any).h;
      const info = await h.init(o);
      const frames = [];
      // Class 2 and 'top' (the class the seed kernel or the CPU picks), with every layer's kept set.
      for (const classes of [2, 'top']) frames.push(await h.explainUrl(url, { classes, withLayers: true }, 64, 48));
      // The last frame's overlay, drawn again offscreen by the overlay's pipelines: how many pixels it covers.
      let drawn = -1;
      if (overlay) {
        const px: Uint8Array = (await h.api.__overlayForTest()).pixels;
        drawn = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i] > 0) drawn++;
      }
      return { info, frames, status: await h.api.status(), drawn };
    },
    { o: { ...TINY, ...(faults ? { __gpuFaultsForTest: faults } : {}) }, url: SQUIRREL, overlay },
  );
}

type Run = Awaited<ReturnType<typeof run>>;
/** The fixations and per-layer kept sets of a run, weights rounded to the agreement GPU vs CPU has (1e-5 relative). */
function answer(r: Pick<Run, 'frames'>) {
  return r.frames.map((f: any) => ({
    class: f.explained[0].class.index,
    input: f.explained[0].inputFixations.map((p: any) => [p.x, p.y, p.c, Number(p.w.toPrecision(5))]),
    layers: f.layers.map((l: any) => [l.name, l.count, Array.from(l.indices ?? [])]),
  }));
}

let healthy: Run;
test.beforeEach(async ({ page }) => {
  await routeTinyModel(page);
  await openHarness(page);
});

test('healthy device: WGSL unravelling passes the self-check, no reason, no GPU errors', async ({ page }) => {
  healthy = await run(page);
  expect(healthy.info.path).toBe('gpu');
  expect(healthy.info.fallbackReason).toBeUndefined();
  expect(healthy.status.unravelNote).toBeUndefined();
  expect(healthy.status.gpuErrors).toBeUndefined();
  expect(healthy.status.state).toBe('ready');
  for (const f of healthy.frames) expect(f.explained[0].inputFixations.length).toBeGreaterThan(0);
  expect(healthy.drawn).toBeGreaterThan(0);
});

const cases: [string, object, RegExp][] = [
  [
    'a kernel whose WGSL does not compile',
    { kernel: 'unravel conv', mode: 'compile' },
    /GPU kernel 'unravel conv': WGSL error at line \d+:\d+/,
  ],
  [
    'buffers over the storage binding limit',
    { unravelLimit: 4096 },
    /'[^']+' needs \d+ bytes, over this device's storage binding limit 4096/,
  ],
  [
    'a kernel that compiles but answers wrongly (self-check)',
    { kernel: 'unravel conv', mode: 'wrong' },
    /GPU self-check: class \d, layer '[^']+': GPU kept/,
  ],
];
for (const [name, faults, why] of cases) {
  test(`${name} -> CPU unravelling with the reason; same fixations as the healthy GPU`, async ({ page }) => {
    expect(healthy, 'the healthy run ran first').toBeDefined();
    const r = await run(page, faults);
    expect(r.info.path).toBe('gpu'); // WebGPU inference and overlay stay; only the unravelling moved
    expect(r.info.fallbackReason).toMatch(/WGSL unravelling unavailable \(.*\); using the CPU reference/);
    expect(r.info.fallbackReason).toMatch(why);
    expect(r.status.unravelNote).toBe(r.info.fallbackReason);
    expect(r.status.state).toBe('ready');
    // Only the unravelling is blamed: post, heatmap and overlay keep working.
    expect(r.info.fallbackReason).not.toMatch(/overlay unavailable|post and heatmap unavailable/);
    expect(r.drawn).toBeGreaterThan(0);
    // The CPU walk reads activation values back (the GPU walk reads only the compact list and the layers' weights).
    expect(answer(r)).toEqual(answer(healthy));
  });
}

const parts: [string, string, RegExp][] = [
  ['overlay', 'overlay', /^GPU overlay unavailable \(validation: .*\); frames are explained but not drawn$/],
  [
    'post',
    'post',
    /^GPU post and heatmap unavailable \(validation: .*\); the overlay shows the CPU's points and box, without the heatmap$/,
  ],
  ['heatmap', 'heatmap', /^GPU post and heatmap unavailable \(validation: .*\)/],
];
for (const [name, kernel, why] of parts) {
  test(`a ${name} shader that does not compile: only that part falls back; the unravelling stays on the GPU`, async ({
    page,
  }) => {
    expect(healthy, 'the healthy run ran first').toBeDefined();
    const r = await run(page, { kernel, mode: 'compile' }, name !== 'overlay');
    expect(r.info.path).toBe('gpu');
    expect(r.status.unravelNote).toMatch(why);
    expect(r.status.unravelNote).not.toMatch(/WGSL unravelling unavailable/);
    expect(r.status.state).toBe('ready');
    expect(answer(r)).toEqual(answer(healthy));
    // The post's fallback draws the CPU's points and box through the overlay.
    if (name !== 'overlay') expect(r.drawn).toBeGreaterThanOrEqual(0);
  });
}

test('a rules variant first used at a frame: compiled and self-checked in its own scopes first; its failure -> CPU, with the reason', async ({
  page,
}) => {
  // Kernels for rules other than the model's default are compiled and self-checked when first used.
  const reference = { location: 'center', gap: 'argmax', weights: 'count' };
  const frames = (faults?: object) =>
    page.evaluate(
      async ({ o, url, rules }) => {
        const h = (window as any).h;
        const info = await h.init(o);
        const out = [];
        for (let i = 0; i < 2; i++) out.push(await h.explainUrl(url, { classes: 2, rules, withLayers: true }, 64, 48));
        return { info, frames: out, status: await h.api.status() };
      },
      { o: { ...TINY, ...(faults ? { __gpuFaultsForTest: faults } : {}) }, url: SQUIRREL, rules: reference },
    );
  const good = await frames();
  const bad = await frames({ kernel: 'unravel conv', mode: 'lazy' });
  expect(good.status.unravelNote).toBeUndefined();
  expect(bad.info.fallbackReason).toBeUndefined(); // set-up and self-check were fine
  expect(bad.status.unravelNote).toMatch(
    /^WGSL unravelling unavailable \(rules center\|argmax\|count\S* first used: .*GPU kernel 'unravel conv'.*\); using the CPU reference$/,
  );
  expect(bad.status.state).toBe('ready');
  expect(good.frames[0].explained[0].inputFixations.length).toBeGreaterThan(0);
  expect(answer(bad)).toEqual(answer(good));
});

test('past the first frames: a new rules variant that fails its check is caught in its own scope and goes to the CPU', async ({
  page,
}) => {
  const reference = { location: 'center', gap: 'argmax', weights: 'count' };
  const r = await page.evaluate(
    async ({ o, url, rules }) => {
      const h = (window as any).h;
      await h.init(o);
      for (let i = 0; i < 4; i++) await h.explainUrl(url, { classes: 2 }, 64, 48); // default rules: compiled ahead
      const before = await h.api.status();
      const frame = await h.explainUrl(url, { classes: 2, rules, withLayers: true }, 64, 48); // compiled now: fails
      return { before, frames: [frame], status: await h.api.status() };
    },
    { o: { ...TINY, __gpuFaultsForTest: { kernel: 'unravel conv', mode: 'lazy' } }, url: SQUIRREL, rules: reference },
  );
  expect(r.before.gpuErrors).toBeUndefined();
  expect(r.before.unravelNote).toBeUndefined();
  expect(r.status.gpuErrors, 'caught by a scope, not uncaptured').toBeUndefined();
  expect(r.status.unravelNote).toMatch(
    /^WGSL unravelling unavailable \(rules \S+ first used: .*GPU kernel 'unravel conv'.*\); using the CPU reference$/,
  );
  const good = await page.evaluate(
    async ({ o, url, rules }) => {
      const h = (window as any).h;
      await h.init(o);
      return { frames: [await h.explainUrl(url, { classes: 2, rules, withLayers: true }, 64, 48)] };
    },
    { o: TINY, url: SQUIRREL, rules: reference },
  );
  expect(answer(r as any)).toEqual(answer(good as any));
});

test('SqueezeNet on the GPU path: the same frame twice gives bit-identical fixations, weights and kept sets', async ({
  page,
}) => {
  test.setTimeout(600_000);
  const r = await page.evaluate(async (url) => {
    const h = (window as any).h;
    const info = await h.init({ modelId: 'squeezenet1_1', backend: 'webgpu' });
    const a = await h.explainUrl(url, { withLayers: true, rules: 'default' });
    const b = await h.explainUrl(url, { withLayers: true, rules: 'default' });
    const c = await h.explainUrl(url, {
      withLayers: true,
      rules: { location: 'max', gap: 'positive', weights: 'contribution' },
    });
    const d = await h.explainUrl(url, {
      withLayers: true,
      rules: { location: 'max', gap: 'positive', weights: 'contribution' },
    });
    return {
      info,
      pairs: [
        [a, b],
        [c, d],
      ],
      status: await h.api.status(),
    };
  }, SQUIRREL);
  expect(r.info.path).toBe('gpu');
  expect(r.info.fallbackReason).toBeUndefined();
  let maxRel = 0;
  for (const [a, b] of r.pairs) {
    const [fa, fb] = [a.explained[0].inputFixations, b.explained[0].inputFixations];
    expect(fa.length).toBeGreaterThan(0);
    // The same neurons at every layer and the same fixations, exactly: every choice the walk makes is
    // order-independent, and merged weights are fixed-point integer sums (SwiftShader runs the invocations on
    // several threads in varying order; float atomics differed by 1 ulp here).
    expect(fb.map((f: any) => [f.x, f.y, f.c, f.w])).toEqual(fa.map((f: any) => [f.x, f.y, f.c, f.w]));
    expect(b.layers.map((l: any) => [l.name, Array.from(l.indices), Array.from(l.weights ?? [])])).toEqual(
      a.layers.map((l: any) => [l.name, Array.from(l.indices), Array.from(l.weights ?? [])]),
    );
    fa.forEach((f: any, i: number) => {
      maxRel = Math.max(maxRel, Math.abs(f.w - fb[i].w) / f.w);
    });
  }
  expect(maxRel).toBe(0);
  console.log(
    `fixations: ${r.pairs.map(([a]) => a.explained[0].inputFixations.length).join(', ')}; max relative weight difference ${maxRel.toExponential(2)}`,
  );
});

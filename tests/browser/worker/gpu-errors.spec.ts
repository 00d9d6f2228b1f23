// GPU errors on the GPU path are caught and survived (issue 12): a kernel that does not compile, buffers over the
// device's limit, and a kernel that compiles but answers wrongly (caught by the start-up self-check) each switch the
// path to the CPU unravelling, with the reason in InitInfo.fallbackReason and the worker status; the fixations then
// equal those of the healthy WGSL unravelling of the same frame. The tiny CNN keeps this quick on SwiftShader; the
// last test runs SqueezeNet: the same frame twice gives identical fixations.
import { expect, test, type Page } from '@playwright/test';
import { PRESENT_LAUNCH } from './launch.ts';
import { openHarness, SQUIRREL } from './setup.ts';
import { routeTinyModel } from './tiny-model.ts';

test.use({ launchOptions: PRESENT_LAUNCH });
test.describe.configure({ mode: 'serial' }); // the fault cases compare with the healthy run's answer

const TINY = { modelUrl: '/tiny-model/model.json', backend: 'webgpu', canvas: { width: 64, height: 48 } };

async function run(page: Page, faults?: object) {
  return page.evaluate(async ({ o, url }) => {
    const h = (window as any).h;
    const info = await h.init(o);
    const frames = [];
    // Class 2 and 'top' (the class the seed kernel or the CPU picks), with every layer's kept set.
    for (const classes of [2, 'top']) frames.push(await h.explainUrl(url, { classes, withLayers: true }, 64, 48));
    return { info, frames, status: await h.api.status() };
  }, { o: { ...TINY, ...(faults ? { __gpuFaultsForTest: faults } : {}) }, url: SQUIRREL });
}

type Run = Awaited<ReturnType<typeof run>>;
/** The fixations and per-layer kept sets of a run, weights rounded to the agreement GPU vs CPU has (1e-5 relative). */
function answer(r: Run) {
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
});

const cases: [string, object, RegExp][] = [
  ['a kernel whose WGSL does not compile', { kernel: 'unravel conv', mode: 'compile' }, /GPU kernel 'unravel conv': WGSL error at line \d+:\d+/],
  ['buffers over the storage binding limit', { unravelLimit: 4096 }, /'[^']+' needs \d+ bytes, over this device's storage binding limit 4096/],
  ['a kernel that compiles but answers wrongly (self-check)', { kernel: 'unravel conv', mode: 'wrong' }, /GPU self-check: class \d, layer '[^']+': GPU kept/],
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
    // The CPU walk reads activation values back (the GPU walk reads only the compact list and the layers' weights).
    expect(answer(r)).toEqual(answer(healthy));
  });
}

test('a kernel first compiled at a frame fails there -> that frame and the next on the CPU, with the reason', async ({ page }) => {
  // Kernels for rules other than the model's default are compiled at their first frame, inside its error scopes.
  const reference = { location: 'center', gap: 'argmax', weights: 'count' };
  const frames = (faults?: object) => page.evaluate(async ({ o, url, rules }) => {
    const h = (window as any).h;
    const info = await h.init(o);
    const out = [];
    for (let i = 0; i < 2; i++) out.push(await h.explainUrl(url, { classes: 2, rules, withLayers: true }, 64, 48));
    return { info, frames: out, status: await h.api.status() };
  }, { o: { ...TINY, ...(faults ? { __gpuFaultsForTest: faults } : {}) }, url: SQUIRREL, rules: reference });
  const good = await frames();
  const bad = await frames({ kernel: 'unravel conv', mode: 'lazy' });
  expect(good.status.unravelNote).toBeUndefined();
  expect(bad.info.fallbackReason).toBeUndefined(); // set-up and self-check were fine
  expect(bad.status.unravelNote).toMatch(/^WGSL unravelling unavailable \(a GPU error in the first frames \(validation: .*unravel conv.*\)\); using the CPU reference$/);
  expect(bad.status.state).toBe('ready');
  expect(good.frames[0].explained[0].inputFixations.length).toBeGreaterThan(0);
  expect(answer(bad)).toEqual(answer(good));
});

test('past the first frames: an uncaptured GPU error is counted in the status and the frame goes to the CPU', async ({ page }) => {
  const reference = { location: 'center', gap: 'argmax', weights: 'count' };
  const r = await page.evaluate(async ({ o, url, rules }) => {
    const h = (window as any).h;
    await h.init(o);
    for (let i = 0; i < 4; i++) await h.explainUrl(url, { classes: 2 }, 64, 48); // default rules: compiled ahead
    const before = await h.api.status();
    const frame = await h.explainUrl(url, { classes: 2, rules, withLayers: true }, 64, 48); // compiled now: fails
    return { before, frames: [frame], status: await h.api.status() };
  }, { o: { ...TINY, __gpuFaultsForTest: { kernel: 'unravel conv', mode: 'lazy' } }, url: SQUIRREL, rules: reference });
  expect(r.before.gpuErrors).toBeUndefined();
  expect(r.before.unravelNote).toBeUndefined();
  expect(r.status.gpuErrors.count).toBeGreaterThan(0);
  expect(r.status.gpuErrors.last).toMatch(/unravel/);
  expect(r.status.unravelNote).toMatch(/^WGSL unravelling unavailable \(a GPU error in a frame \(uncaptured: .*\)\); using the CPU reference$/);
  const good = await page.evaluate(async ({ o, url, rules }) => {
    const h = (window as any).h;
    await h.init(o);
    return { frames: [await h.explainUrl(url, { classes: 2, rules, withLayers: true }, 64, 48)] };
  }, { o: TINY, url: SQUIRREL, rules: reference });
  expect(answer(r as any)).toEqual(answer(good as any));
});

test('SqueezeNet on the GPU path: the same frame twice gives the same fixations and kept sets', async ({ page }) => {
  test.setTimeout(600_000);
  const r = await page.evaluate(async (url) => {
    const h = (window as any).h;
    const info = await h.init({ modelId: 'squeezenet1_1', backend: 'webgpu' });
    const a = await h.explainUrl(url, { withLayers: true, rules: 'default' });
    const b = await h.explainUrl(url, { withLayers: true, rules: 'default' });
    const c = await h.explainUrl(url, { withLayers: true, rules: { location: 'max', gap: 'positive', weights: 'contribution' } });
    const d = await h.explainUrl(url, { withLayers: true, rules: { location: 'max', gap: 'positive', weights: 'contribution' } });
    return { info, pairs: [[a, b], [c, d]], status: await h.api.status() };
  }, SQUIRREL);
  expect(r.info.path).toBe('gpu');
  expect(r.info.fallbackReason).toBeUndefined();
  let maxRel = 0;
  for (const [a, b] of r.pairs) {
    const [fa, fb] = [a.explained[0].inputFixations, b.explained[0].inputFixations];
    expect(fa.length).toBeGreaterThan(0);
    // The same neurons at every layer and the same fixations, exactly: every choice the walk makes is
    // order-independent. The weights are sums by float atomics in scheduling order (SwiftShader runs the
    // invocations on several threads), so they agree to float rounding only (measured: 1 ulp).
    expect(fb.map((f: any) => [f.x, f.y, f.c])).toEqual(fa.map((f: any) => [f.x, f.y, f.c]));
    expect(b.layers.map((l: any) => [l.name, Array.from(l.indices)])).toEqual(a.layers.map((l: any) => [l.name, Array.from(l.indices)]));
    fa.forEach((f: any, i: number) => { maxRel = Math.max(maxRel, Math.abs(f.w - fb[i].w) / f.w); });
  }
  expect(maxRel).toBeLessThanOrEqual(1e-6);
  console.log(`fixations: ${r.pairs.map(([a]) => a.explained[0].inputFixations.length).join(', ')}; max relative weight difference ${maxRel.toExponential(2)}`);
});

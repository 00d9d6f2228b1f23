// <cnn-fixations> on the example page of the production build (examples/element.html): one module import and one
// tag explain a photo; the `result` event carries the worker's FrameResult; the overlay is drawn over the picture;
// changing an attribute (method, classes, source) explains again; a bad value is named and the default used.
import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { CLASS_COLORS, type FrameResult } from '../../../src/worker/api.ts';
import {
  APP_URL,
  BOXES_JSON,
  FIRST_RESULT_MS,
  FOX_SQUIRREL,
  launch,
  photo,
  logPage,
  overlayScreens,
  overlayShare,
} from './fixtures.ts';

test.use({ launchOptions: launch() });
test.describe.configure({ mode: 'serial' });

declare global {
  interface Window {
    __results: FrameResult[];
    __problems: string[];
  }
}

let page: Page;

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage({ viewport: { width: 820, height: 1100 } });
  logPage(page);
  // Every event from the first on: a capturing listener on window sees them (they do not bubble).
  await page.addInitScript(() => {
    window.__results = [];
    window.__problems = [];
    window.addEventListener('result', (e) => window.__results.push((e as CustomEvent<FrameResult>).detail), true);
    window.addEventListener(
      'problem',
      (e) => window.__problems.push((e as CustomEvent<{ message: string }>).detail.message),
      true,
    );
  });
  // Shared photos at an address of this site.
  await page.route('**/shared-photos/*', (route) =>
    route.fulfill({
      body: readFileSync(photo(new URL(route.request().url()).pathname.split('/').pop()!)),
      contentType: 'image/jpeg',
    }),
  );
  await page.goto(`${APP_URL}/examples/element.html`);
});
test.afterAll(() => page?.close());

const count = () => page.evaluate(() => window.__results.length);
/** The first result after the `before`-th. */
async function nextResult(before: number): Promise<FrameResult> {
  await page.waitForFunction((n) => window.__results.length > n, before, { timeout: FIRST_RESULT_MS });
  return page.evaluate((n) => window.__results[n], before);
}

test('the tag alone explains squirrel_cls.jpg: a result event with 335 fox squirrel, and an overlay', async () => {
  const r = await nextResult(0);
  expect(r.top[0].index).toBe(335);
  expect(r.top[0].label).toMatch(FOX_SQUIRREL);
  // No method attribute ('auto'): SqueezeNet's own default, its catalog "method", which the worker reports.
  expect(r.method).toBe('guided');
  expect(
    await page.locator('cnn-fixations').evaluate((el) => (el as unknown as { info: { method: string } }).info.method),
  ).toBe('guided');
  expect(r.explained.map((e) => e.class.index)).toEqual([335]);
  expect(r.explained[0].fixations.length).toBeGreaterThan(0);
  expect(r.frameSize).toEqual({ width: 535, height: 426 });
  // The page's readout is filled from the event.
  await expect(page.locator('#readout')).toContainText(FOX_SQUIRREL);
  // The element takes the picture's aspect ratio, and the overlay lies over the picture.
  const box = (await page.locator('cnn-fixations').boundingBox())!;
  expect(box.width / box.height).toBeCloseTo(535 / 426, 2);
  const host = (await page.locator('cnn-fixations .overlay-host').boundingBox())!;
  for (const k of ['x', 'y', 'width', 'height'] as const) expect(Math.abs(host[k] - box[k])).toBeLessThan(1.5);
  expect(await overlayShare(page)).toBeGreaterThan(0.005);
  // The page keeps the app's policy: network to this origin only, in the meta tag and the server's header.
  const meta = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  expect(meta).toMatch(/connect-src 'self' blob:(;|$)/);
  expect((await page.request.get(`${APP_URL}/examples/element.html`)).headers()['content-security-policy']).toBe(meta);
  if (process.env.ELEMENT_SCREENSHOT) await page.screenshot({ path: process.env.ELEMENT_SCREENSHOT, fullPage: true });
});

test('changing the method or the classes attribute explains again', async () => {
  let n = await count();
  await page.locator('cnn-fixations').evaluate((el) => el.setAttribute('method', 'gradcam'));
  let r = await nextResult(n);
  expect(r.method).toBe('gradcam');
  expect(r.explained[0].class.index).toBe(335);

  n = await count();
  await page.locator('cnn-fixations').evaluate((el) => el.setAttribute('classes', '879'));
  r = await nextResult(n);
  expect(r.method).toBe('gradcam');
  expect(r.explained.map((e) => [e.class.index, e.class.label])).toEqual([[879, 'umbrella']]);
  expect(r.top[0].index).toBe(335); // the prediction itself is unchanged

  n = await count();
  await page.locator('cnn-fixations').evaluate((el) => {
    el.setAttribute('method', 'fixations');
    el.setAttribute('classes', 'top');
  });
  r = await nextResult(n);
  expect([r.method, r.explained[0].class.index]).toEqual(['fixations', 335]);
  expect(r.explained[0].fixations.length).toBeGreaterThan(0);
});

test('source set to another shared photo URL: the butterfly is explained', async () => {
  const item = (JSON.parse(readFileSync(BOXES_JSON, 'utf8')).items as { image: string; classes: number[] }[]).find(
    (i) => i.image === 'butterfly.jpg',
  )!;
  const n = await count();
  await page.locator('cnn-fixations').evaluate((el) => el.setAttribute('source', '/shared-photos/butterfly.jpg'));
  const r = await nextResult(n);
  expect(item.classes).toContain(r.top[0].index);
  expect(r.explained[0].class.index).toBe(r.top[0].index);
});

test('classes="951,950" on fruits.jpg: two heatmaps, each in its class colour over its own object', async () => {
  const n = await count();
  await page.locator('cnn-fixations').evaluate((el) => {
    for (const [k, v] of [
      ['points', 'false'],
      ['box', 'false'],
      ['opacity', '0.8'],
      ['classes', '951,950'],
      ['source', '/shared-photos/fruits.jpg'],
    ])
      el.setAttribute(k, v);
  });
  const two = (r: FrameResult) => r.frameSize.width === 512 && r.explained.length === 2;
  await page.waitForFunction(
    (n) => window.__results.slice(n).some((r) => r.frameSize.width === 512 && r.explained.length === 2),
    n,
    { timeout: FIRST_RESULT_MS },
  );
  const results = await page.evaluate(() => window.__results);
  const r = results.at(-1)!;
  expect(two(r)).toBe(true); // the overlay on screen is this result's
  expect(r.explained.map((e) => [e.class.index, e.color])).toEqual([
    [951, CLASS_COLORS[0]],
    [950, CLASS_COLORS[1]],
  ]);
  // Screenshots with and without the overlay: over the picture, the overlay pixel is hue * a + picture * (1 - a).
  const { on, off } = await overlayScreens(page);
  /** The blend factor a (least squares) that makes `hex` over the picture give the screen pixel, and the misfit. */
  const fit = ([fx, fy]: [number, number], hex: string) => {
    const x = Math.round(((fx + 0.5) * on.width) / r.frameSize.width - 0.5),
      y = Math.round(((fy + 0.5) * on.height) / r.frameSize.height - 0.5);
    const i = 4 * (y * on.width + x);
    const hue = hex
      .slice(1)
      .match(/../g)!
      .map((h) => parseInt(h, 16));
    const d = [0, 1, 2].map((k) => hue[k] - off.data[i + k]),
      got = [0, 1, 2].map((k) => on.data[i + k] - off.data[i + k]);
    const a = d.reduce((s, v, k) => s + v * got[k], 0) / d.reduce((s, v) => s + v * v, 0);
    return { a, misfit: Math.max(...d.map((v, k) => Math.abs(got[k] - a * v))) };
  };
  r.explained.forEach((e, i) => {
    const own = fit(e.peak!, e.color),
      other = fit(e.peak!, r.explained[1 - i].color);
    expect(own.a, `${e.class.label}: ${JSON.stringify(own)}`).toBeGreaterThan(0.4);
    expect(own.misfit, `${e.class.label}: ${JSON.stringify(own)}`).toBeLessThanOrEqual(8);
    // Not vacuous: the other class's hue does not explain the pixel (no blend factor in 0..1 fits).
    expect(
      other.a <= 0.05 || other.misfit > 20,
      `${e.class.label} is not in the other hue: ${JSON.stringify(other)}`,
    ).toBe(true);
  });
  const [a, b] = r.explained.map((e) => e.peak!);
  expect(Math.hypot(a[0] - b[0], a[1] - b[1])).toBeGreaterThan(100);
  expect(await count()).toBe(results.length); // and still is
  if (process.env.ELEMENT_CLASSES_SCREENSHOT)
    await page.locator('cnn-fixations').screenshot({ path: process.env.ELEMENT_CLASSES_SCREENSHOT });
  await page.locator('cnn-fixations').evaluate((el) => {
    for (const k of ['points', 'box', 'opacity', 'classes']) el.removeAttribute(k);
  });
});

test('a bad attribute value is named, and the default is used', async () => {
  const n = await count();
  await page.locator('cnn-fixations').evaluate((el) => el.setAttribute('colormap', 'rainbow'));
  await expect
    .poll(() => page.evaluate(() => window.__problems))
    .toContainEqual(expect.stringContaining("colormap 'rainbow' is not one of turbo, jet, viridis"));
  expect(
    await page.locator('cnn-fixations').evaluate((el) => (el as HTMLElement & { colormap: string }).colormap),
  ).toBe('turbo');
  await nextResult(n); // still explaining
});

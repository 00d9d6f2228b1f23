// Shared by the app's tests: the production build's URL, Chromium flags for a fake camera showing the squirrel
// photo, and small helpers. The y4m is made with ffmpeg once per machine (os.tmpdir()).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, type Page } from '@playwright/test';
import { PNG } from 'pngjs';
import { APP_URL } from '../../../playwright.config.ts';
import { BOXES_JSON, SQUIRREL } from '../../fixtures/data.ts';
import { PRESENT_ARGS, PRESENT_ENV } from '../worker/launch.ts';

export { APP_URL };
export { BOXES_JSON, installed, lacks, mirror, photo } from '../../fixtures/data.ts';
export const SQUIRREL_JPG = SQUIRREL;
/** Hand-drawn squirrel box of eval/data/boxes.json, in the photo's pixels [x1, y1, x2, y2]. */
export const SQUIRREL_BOX = (
  JSON.parse(readFileSync(BOXES_JSON, 'utf8')).items as { image: string; box: number[] }[]
).find((i) => i.image === 'squirrel_cls.jpg')!.box as [number, number, number, number];
export const SQUIRREL_SIZE = { width: 535, height: 426 };
export const FOX_SQUIRREL = /fox squirrel/;

/**
 * The photo as a y4m for --use-file-for-fake-video-capture. yuv420p needs an even width: the last column is
 * cropped (534 x 426), so frame pixels are photo pixels.
 */
export function squirrelY4m(): string {
  const out = join(tmpdir(), 'cnnfix-app-squirrel-534x426.y4m');
  if (!existsSync(out)) {
    const tmp = `${out}.${process.pid}.tmp.y4m`;
    execFileSync('ffmpeg', [
      '-loglevel',
      'error',
      '-y',
      '-loop',
      '1',
      '-i',
      SQUIRREL_JPG,
      '-vf',
      'crop=534:426:0:0',
      '-t',
      '1',
      '-r',
      '10',
      '-pix_fmt',
      'yuv420p',
      tmp,
    ]);
    renameSync(tmp, out);
  }
  return out;
}

/** WebGPU presenting to a canvas under SwiftShader needs Vulkan (flags in ../worker/launch.ts); the overlay is such a canvas. */
export { PRESENT_ARGS };
const FAKE_CAMERA = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];

/** Launch options: overlay-capable WebGPU, and optionally the fake squirrel camera. */
export function launch(opts: { camera?: boolean; args?: string[] } = {}) {
  const args = [...PRESENT_ARGS, ...(opts.args ?? [])];
  if (opts.camera) args.push(...FAKE_CAMERA, `--use-file-for-fake-video-capture=${squirrelY4m()}`);
  return { executablePath: '/usr/bin/chromium', args, env: PRESENT_ENV };
}

/** SwiftShader is slow, and slower with other work on the machine: the first explanation can take minutes. */
export const FIRST_RESULT_MS = 240_000;

export function logPage(page: Page) {
  page.on('console', (m) => {
    if (m.type() === 'error') console.log('[page error]', m.text().slice(0, 400));
  });
  page.on('pageerror', (e) => console.log('[pageerror]', e.message));
}

export async function waitForEngine(page: Page) {
  await page.waitForFunction(() => window.__cnnfix?.engineState !== 'loading', null, { timeout: FIRST_RESULT_MS });
  expect(await page.evaluate(() => window.__cnnfix!.engineMessage)).toBe('');
}

/** Wait for a FrameResult whose top-1 matches (and, for still images, which came after `since`). */
export async function waitForTop1(page: Page, label: RegExp) {
  await expect(page.getByTestId('top1')).toHaveText(label, { timeout: FIRST_RESULT_MS });
}

/** Drop a file onto the stage the way a browser does: a drop event whose DataTransfer holds it. */
export async function dropFile(page: Page, path: string, type = 'image/jpeg') {
  const b64 = readFileSync(path).toString('base64');
  const name = path.split('/').pop()!;
  await page.getByTestId('stage').evaluate(
    (stage, [b64, name, type]) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], name, { type }));
      stage.dispatchEvent(
        new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true, composed: true }),
      );
      stage.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true, composed: true }));
    },
    [b64, name, type] as const,
  );
}

/** Heatmap peak of the first explained class, mapped from frame pixels to the squirrel photo's pixels. */
export async function peakInPhoto(page: Page): Promise<[number, number]> {
  const r = await page.evaluate(() => {
    const r = window.__lastResult!;
    return { peak: r.explained[0].peak, frame: r.frameSize };
  });
  expect(r.peak).not.toBeNull();
  // Frames are the photo itself (still) or its 534-column crop (camera); a scaled camera frame scales back.
  const sx = r.frame.width === 534 ? 1 : SQUIRREL_SIZE.width / r.frame.width;
  const sy = SQUIRREL_SIZE.height / r.frame.height;
  return [r.peak![0] * sx, r.peak![1] * sy];
}

export function inBox([x, y]: [number, number], [x1, y1, x2, y2]: number[]) {
  return x >= x1 && x <= x2 && y >= y1 && y <= y2;
}

/**
 * Count the frames the app sends to its worker from now on: wraps the public engine's explain() (once per page).
 * "Nothing more happens" is then checked on requests sent, which a wrongly started frame raises at once, instead of
 * on results landed, which on SwiftShader take seconds.
 */
export async function countSent(page: Page) {
  await page.evaluate(() => {
    const e = window.__cnnfix!.engine as unknown as { explain: (...a: unknown[]) => unknown; __sent?: number };
    if (e.__sent !== undefined) return;
    e.__sent = 0;
    const explain = e.explain.bind(e);
    e.explain = (...a: unknown[]) => {
      e.__sent!++;
      return explain(...a);
    };
  });
}
export const sent = (page: Page) =>
  page.evaluate(() => (window.__cnnfix!.engine as unknown as { __sent: number }).__sent);

/**
 * No frame in flight (one already sent may land first), and none sent during the next 30 animation frames: the
 * loop's own clock (it runs on video frames or animation frames), not a fixed sleep, so the quiet window stretches
 * with a loaded machine instead of shrinking against it.
 */
export async function expectQuiet(page: Page) {
  await page.waitForFunction(() => !window.__cnnfix!.inFlight, null, { timeout: FIRST_RESULT_MS });
  const n = await sent(page);
  await page.evaluate(
    () =>
      new Promise<void>((done) => {
        let ticks = 0;
        const tick = () => (++ticks >= 30 ? done() : requestAnimationFrame(tick));
        requestAnimationFrame(tick);
      }),
  );
  expect(await sent(page)).toBe(n);
  expect(await page.evaluate(() => window.__cnnfix!.inFlight)).toBe(false);
}

/** Screenshots of `el` (default: the page's <cnn-fixations>) with (`on`) and without (`off`) the overlay layer. */
export async function overlayScreens(page: Page, el = page.locator('cnn-fixations')) {
  const host = page.locator('cnn-fixations .overlay-host');
  const on = PNG.sync.read(await el.screenshot());
  await host.evaluate((h: HTMLElement) => (h.style.visibility = 'hidden'));
  const off = PNG.sync.read(await el.screenshot());
  await host.evaluate((h: HTMLElement) => (h.style.visibility = ''));
  return { on, off };
}

/** Fraction of the element's pixels that its overlay changes (RGB distance over 60). */
export async function overlayShare(page: Page) {
  const { on, off } = await overlayScreens(page);
  let changed = 0;
  for (let o = 0; o < on.data.length; o += 4) {
    if (
      Math.abs(on.data[o] - off.data[o]) +
        Math.abs(on.data[o + 1] - off.data[o + 1]) +
        Math.abs(on.data[o + 2] - off.data[o + 2]) >
      60
    )
      changed++;
  }
  return changed / (on.width * on.height);
}

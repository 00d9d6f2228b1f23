// Failure paths of a live session: a hidden tab, a lost GPU device, a crashed worker, the camera unplugged. None of
// them is about the model: the tiny CNN (tests/browser/worker/tiny-model.ts) on the GPU path explains each camera
// frame in milliseconds where SqueezeNet on SwiftShader takes seconds, so every wait for "the explanations go on" is short.
import { expect, test, type Page } from '@playwright/test';
import { routeTinyModel } from '../worker/tiny-model.ts';
import { APP_URL, countSent, expectQuiet, launch, logPage } from './fixtures.ts';

/** The tiny CNN's labels: it has no labels file, so its classes are named by index. */
const TINY_LABEL = /^class \d$/;

const results = (page: Page) => page.evaluate(() => window.__cnnfix!.results);

test.use({ launchOptions: launch({ camera: true }) });
test.describe.configure({ mode: 'serial' });
let page: Page;

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  logPage(page);
  await routeTinyModel(page);
  // The GPU path (auto keeps the faster: the fallback on SwiftShader). The model URL is encoded: the tiny model's
  // route must not match this page's own URL.
  await page.goto(`${APP_URL}/?backend=webgpu&model=${encodeURIComponent('/tiny-model/model.json')}`);
  await page.getByTestId('start-camera').click();
  await expect(page.getByTestId('top1')).toHaveText(TINY_LABEL, { timeout: 120_000 });
});
test.afterAll(() => page?.close());

test('a hidden tab pauses the loop; visible again, it resumes', async () => {
  const setHidden = (hidden: boolean) =>
    page.evaluate((h) => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
      document.dispatchEvent(new Event('visibilitychange'));
    }, hidden);
  await setHidden(true);
  await expect(page.getByText('paused', { exact: true })).toBeVisible();
  expect(await page.evaluate(() => window.__cnnfix!.video.paused)).toBe(true);
  // A frame already in flight may still land; then none is sent.
  await countSent(page);
  await expectQuiet(page);
  const n = await results(page);
  // Resumed from quiet: the frames the loop has taken whose results have not landed are never more than two (no
  // frame waits in a queue to go stale), sampled every 20 ms and at each frame sent. That a second one goes out
  // before the first's result is checked on a frozen picture below: with live video on SwiftShader the busy GPU
  // process also holds back the video's next frame (no requestVideoFrameCallback while it computes), so whether a
  // camera frame arrives in time is a race.
  await page.evaluate(() => {
    const w = window as unknown as { __maxInFlight: number };
    const sample = () => {
      w.__maxInFlight = Math.max(w.__maxInFlight, window.__cnnfix!.framesInFlight);
    };
    w.__maxInFlight = 0;
    setInterval(sample, 20);
    const e = window.__cnnfix!.engine as unknown as { explain: (...a: unknown[]) => unknown };
    const explain = e.explain.bind(e);
    e.explain = (...a: unknown[]) => {
      sample();
      return explain(...a);
    };
  });
  await setHidden(false);
  await page.waitForFunction((k) => window.__cnnfix!.results > k + 5, n, { timeout: 60_000 });
  const most = await page.evaluate(() => (window as unknown as { __maxInFlight: number }).__maxInFlight);
  expect(most).toBeGreaterThanOrEqual(1);
  expect(most).toBeLessThanOrEqual(2);
});

test('a frozen picture changed while its frame is out: the next frame goes once it is submitted, before its result; never a third', async () => {
  await page.getByRole('button', { name: 'Freeze' }).click();
  await expect(page.getByText('frozen', { exact: true })).toBeVisible();
  await page.waitForFunction(() => !window.__cnnfix!.inFlight, null, { timeout: 60_000 });
  const n = await results(page);
  const box = page.getByRole('checkbox', { name: 'box' });
  const checked = await box.isChecked();
  // Change 1 sends frame 1; change 2, made as frame 1 goes to the worker, leaves the picture dirty, so the loop takes
  // frame 2 the moment frame 1 is submitted, while frame 1's readback is out; change 3, made when frame 2 is
  // submitted, finds two frames out and must wait for a result. Each change lands before the worker's next message
  // (same task), so the order is fixed. Frame 1's result is handed to the loop only once frame 2 is submitted: a
  // readback slower than the next frame's submission, as SqueezeNet's on SwiftShader, made certain for a model whose
  // readback may otherwise win that race.
  await box.evaluate((el: HTMLElement) => {
    const w = window as unknown as { __most: number; __sends: number };
    const app = window.__cnnfix!;
    const sample = () => {
      w.__most = Math.max(w.__most, app.framesInFlight);
    };
    w.__most = 0;
    w.__sends = 0;
    setInterval(sample, 20);
    const e = app.engine as unknown as { explain: (f: unknown, r: unknown, s?: () => void) => unknown };
    const explain = e.explain.bind(e);
    let secondSubmitted!: () => void;
    const second = new Promise<void>((done) => (secondSubmitted = done));
    e.explain = (f, r, submitted) => {
      const k = ++w.__sends;
      sample();
      const out = explain(
        f,
        r,
        submitted &&
          (() => {
            submitted();
            sample();
            if (k === 2) {
              el.click();
              secondSubmitted();
            }
          }),
      );
      if (k !== 1) return out;
      el.click();
      return Promise.resolve(out).then(async (res) => {
        await second;
        return res;
      });
    };
    el.click();
  });
  await page.waitForFunction((k) => window.__cnnfix!.results >= k + 3 && !window.__cnnfix!.inFlight, n, {
    timeout: 60_000,
  });
  expect(await page.evaluate(() => (window as unknown as { __sends: number }).__sends)).toBe(3);
  expect(await page.evaluate(() => (window as unknown as { __most: number }).__most)).toBe(2);
  await box.setChecked(!checked); // three clicks: back to the first state
  await page.getByRole('button', { name: 'Resume' }).click();
  await page.waitForFunction((k) => window.__cnnfix!.results > k + 4, n, { timeout: 60_000 });
});

test('a lost GPU device: the worker recovers and the explanations go on', async () => {
  // This browser has WebGPU (SwiftShader): the app must be on the GPU path, so the device loss is real.
  expect(await page.evaluate(async () => !!(await navigator.gpu?.requestAdapter()))).toBe(true);
  expect(await page.evaluate(() => window.__cnnfix!.info?.path)).toBe('gpu');
  await page.evaluate(() => (window.__cnnfix!.engine as any).api.__loseDeviceForTest());
  const n = await results(page);
  await page.waitForFunction((k) => window.__cnnfix!.results > k + 1, n, { timeout: 60_000 });
  await expect(page.getByTestId('top1')).toHaveText(TINY_LABEL);
  expect(await page.evaluate(() => window.__cnnfix!.engineState)).toBe('ready');
});

test('a crashed worker (error event) is restarted and the explanations go on', async () => {
  const n = await results(page);
  await page.evaluate(() =>
    (window.__cnnfix!.engine as any).worker.dispatchEvent(new ErrorEvent('error', { message: 'simulated crash' })),
  );
  await expect.poll(() => page.evaluate(() => window.__cnnfix!.engine.restarts)).toBe(1);
  await page.waitForFunction((k) => window.__cnnfix!.results > k, n, { timeout: 60_000 });
  await expect(page.getByTestId('top1')).toHaveText(TINY_LABEL);
});

test('the camera unplugged mid-stream: a message and a way to reconnect', async () => {
  await page.evaluate(() => window.__cnnfix!.stream!.getVideoTracks()[0].dispatchEvent(new Event('ended')));
  await expect(page.getByTestId('camera-error')).toContainText('The camera was disconnected');
  await page.getByRole('button', { name: 'Reconnect the camera' }).click();
  // The camera is back, and frames from it are explained (a frame in flight when the camera ended may still land
  // before the new stream starts: count from the reconnected stream on).
  await page.waitForFunction(() => window.__cnnfix!.source === 'camera', null, { timeout: 60_000 });
  const n = await results(page);
  await page.waitForFunction((k) => window.__cnnfix!.results > k, n, { timeout: 60_000 });
  expect(await page.evaluate(() => window.__cnnfix!.source)).toBe('camera');
});

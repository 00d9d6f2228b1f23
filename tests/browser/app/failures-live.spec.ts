// Failure paths of a live session: a hidden tab, a lost GPU device, a crashed worker, the camera unplugged.
import { expect, test, type Page } from '@playwright/test';
import { APP_URL, FOX_SQUIRREL, countSent, expectQuiet, launch, logPage, waitForTop1 } from './fixtures.ts';

const results = (page: Page) => page.evaluate(() => window.__cnnfix!.results);

test.use({ launchOptions: launch({ camera: true }) });
test.describe.configure({ mode: 'serial' });
let page: Page;

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  logPage(page);
  await page.goto(`${APP_URL}/?backend=webgpu`); // the GPU path (auto keeps the faster: the fallback on SwiftShader)
  await page.getByTestId('start-camera').click();
  await waitForTop1(page, FOX_SQUIRREL);
});
test.afterAll(() => page?.close());

test('a hidden tab pauses the loop; visible again, it resumes', async () => {
  const setHidden = (hidden: boolean) => page.evaluate((h) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
  await setHidden(true);
  await expect(page.getByText('paused', { exact: true })).toBeVisible();
  expect(await page.evaluate(() => window.__cnnfix!.video.paused)).toBe(true);
  // A frame already in flight (seconds on SwiftShader) may still land; then none is sent.
  await countSent(page);
  await expectQuiet(page);
  const n = await results(page);
  // Resumed from quiet: watch the frames sent but not yet answered. On the GPU path the loop sends the next frame
  // once the previous one is submitted, so a second frame goes before the first's result lands; never a third (no
  // frame waits in a queue to go stale).
  await page.evaluate((r0) => {
    const w = window as unknown as { __maxInFlight: number };
    const e = window.__cnnfix!.engine as unknown as { __sent: number };
    const s0 = e.__sent;
    w.__maxInFlight = 0;
    setInterval(() => { w.__maxInFlight = Math.max(w.__maxInFlight, (e.__sent - s0) - (window.__cnnfix!.results - r0)); }, 20);
  }, n);
  await setHidden(false);
  await page.waitForFunction((k) => window.__cnnfix!.results > k + 2, n, { timeout: 240_000 });
  const most = await page.evaluate(() => (window as unknown as { __maxInFlight: number }).__maxInFlight);
  expect(most).toBeGreaterThanOrEqual(2);
  expect(most).toBeLessThanOrEqual(2);
});

test('a lost GPU device: the worker recovers and the explanations go on', async () => {
  // This browser has WebGPU (SwiftShader): the app must be on the GPU path, so the device loss is real.
  expect(await page.evaluate(async () => !!(await navigator.gpu?.requestAdapter()))).toBe(true);
  expect(await page.evaluate(() => window.__cnnfix!.info?.path)).toBe('gpu');
  await page.evaluate(() => (window.__cnnfix!.engine as any).api.__loseDeviceForTest());
  const n = await results(page);
  await page.waitForFunction((k) => window.__cnnfix!.results > k + 1, n, { timeout: 240_000 });
  await expect(page.getByTestId('top1')).toHaveText(FOX_SQUIRREL);
  expect(await page.evaluate(() => window.__cnnfix!.engineState)).toBe('ready');
});

test('a crashed worker (error event) is restarted and the explanations go on', async () => {
  const n = await results(page);
  await page.evaluate(() => (window.__cnnfix!.engine as any).worker.dispatchEvent(new ErrorEvent('error', { message: 'simulated crash' })));
  await expect.poll(() => page.evaluate(() => window.__cnnfix!.engine.restarts)).toBe(1);
  await page.waitForFunction((k) => window.__cnnfix!.results > k, n, { timeout: 240_000 });
  await expect(page.getByTestId('top1')).toHaveText(FOX_SQUIRREL);
});

test('the camera unplugged mid-stream: a message and a way to reconnect', async () => {
  await page.evaluate(() => window.__cnnfix!.stream!.getVideoTracks()[0].dispatchEvent(new Event('ended')));
  await expect(page.getByTestId('camera-error')).toContainText('The camera was disconnected');
  await page.getByRole('button', { name: 'Reconnect the camera' }).click();
  // The camera is back, and frames from it are explained (a frame in flight when the camera ended may still land
  // before the new stream starts: count from the reconnected stream on).
  await page.waitForFunction(() => window.__cnnfix!.source === 'camera', null, { timeout: 60_000 });
  const n = await results(page);
  await page.waitForFunction((k) => window.__cnnfix!.results > k, n, { timeout: 240_000 });
  expect(await page.evaluate(() => window.__cnnfix!.source)).toBe('camera');
});

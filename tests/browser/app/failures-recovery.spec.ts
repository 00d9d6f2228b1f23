// Failure paths of a lost GPU device in the app (the worker's bounded recovery, src/element/worker-client.ts acting on its
// status): lost in a hidden tab (recovered only once visible), lost again and again (a clear error and a Restart
// that works), and WebGPU gone for good (the fallback on a fresh canvas, with a drawn overlay). None of it is about the
// model: the tiny CNN (tests/browser/worker/tiny-model.ts) explains the picture in milliseconds, SqueezeNet on
// SwiftShader in seconds, at every recovery.
import { expect, test, type Page } from '@playwright/test';
import { routeTinyModel } from '../worker/tiny-model.ts';
import { APP_URL, SQUIRREL_JPG, dropFile, launch, logPage, overlayShare } from './fixtures.ts';

/** The tiny CNN has no labels file: its classes are named by index. */
const TINY_LABEL = /^class \d$/;
/** Bounds a hang: a recovery with the tiny model takes seconds. */
const WAIT_MS = 60_000;

test.use({ launchOptions: launch() });
test.describe.configure({ mode: 'serial' });
let page: Page;

const results = () => page.evaluate(() => window.__cnnfix!.results);
const worker = (call: string, ...args: unknown[]) =>
  page.evaluate(([call, args]) => (window.__cnnfix!.engine as any).api[call as string](...(args as unknown[])), [
    call,
    args,
  ] as const);
const setHidden = (hidden: boolean) =>
  page.evaluate((h) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  logPage(page);
  await routeTinyModel(page);
  // Recovery is about the GPU path. The model URL is encoded: the tiny model's route must not match this page's URL.
  await page.goto(`${APP_URL}/?backend=webgpu&model=${encodeURIComponent('/tiny-model/model.json')}`);
  await dropFile(page, SQUIRREL_JPG);
  await expect(page.getByTestId('top1')).toHaveText(TINY_LABEL, { timeout: 120_000 });
  expect(await page.evaluate(() => window.__cnnfix!.info?.path)).toBe('gpu');
});
test.afterAll(() => page?.close());

test('lost while the tab is hidden: no recovery attempt until it is shown, then the picture is explained again', async () => {
  await setHidden(true);
  await worker('__loseDeviceForTest');
  await page.waitForTimeout(4000); // past the first backoff (0.5 s)
  expect(await worker('status')).toMatchObject({ state: 'recovering', attempt: 0 });
  expect(await worker('__recoveryAttemptsForTest')).toEqual([]);
  const n = await results();
  await setHidden(false);
  await page.waitForFunction((k) => window.__cnnfix!.results > k, n, { timeout: WAIT_MS });
  expect(await worker('__recoveryAttemptsForTest')).toEqual([]); // explained again: the count starts over
  await expect(page.getByTestId('top1')).toHaveText(TINY_LABEL);
  expect(await page.evaluate(() => [window.__cnnfix!.engineState, window.__cnnfix!.info?.path])).toEqual([
    'ready',
    'gpu',
  ]);
});

test('lost again at every attempt: a clear error after 3 attempts, and Restart explains again with an overlay', async () => {
  await worker('__gpuFaultForTest', 'reject'); // requestDevice fails from now on, in this worker
  await worker('__loseDeviceForTest');
  const error = page.getByTestId('model-error');
  await expect(error).toContainText(
    'The GPU device was lost and could not be recovered (3 attempts without an explained frame',
    { timeout: 120_000 },
  );
  await expect(error).toContainText('requestDevice failed (test fault)');
  expect(await page.evaluate(() => window.__cnnfix!.engineState)).toBe('failed');
  expect(await page.evaluate(() => window.__cnnfix!.engine.ready)).toBe(false); // no worker left running in a loop
  const n = await results();
  await error.getByRole('button', { name: 'Restart' }).click();
  await page.waitForFunction((k) => window.__cnnfix!.results > k, n, { timeout: WAIT_MS });
  await expect(page.getByTestId('top1')).toHaveText(TINY_LABEL);
  await expect(error).toHaveCount(0);
  expect(await page.evaluate(() => window.__cnnfix!.info?.path)).toBe('gpu');
  expect(await overlayShare(page)).toBeGreaterThan(0.005);
});

test('WebGPU gone after a loss: a new worker on the fallback path, on a fresh canvas, draws the overlay', async () => {
  await page.evaluate(() => ((window as any).__oldCanvas = window.__cnnfix!.engine.canvas));
  const restarts = await page.evaluate(() => window.__cnnfix!.engine.restarts);
  await worker('__gpuFaultForTest', 'no-adapter');
  await worker('__loseDeviceForTest');
  await page.waitForFunction(() => window.__cnnfix!.info?.path === 'fallback', null, { timeout: WAIT_MS });
  const n = await results();
  await page.waitForFunction((k) => window.__cnnfix!.results > k, n, { timeout: WAIT_MS });
  await expect(page.getByTestId('top1')).toHaveText(TINY_LABEL);
  await expect(page.getByTestId('fallback-note')).toContainText(
    'The GPU device was lost and WebGPU is no longer available (WebGPU: no adapter)',
  );
  const s = await page.evaluate(() => ({
    fresh: (window as any).__oldCanvas !== window.__cnnfix!.engine.canvas,
    attached: window.__cnnfix!.engine.canvas!.isConnected,
    restarts: window.__cnnfix!.engine.restarts,
    state: window.__cnnfix!.engineState,
  }));
  expect(s).toEqual({ fresh: true, attached: true, restarts: restarts + 1, state: 'ready' });
  expect(await overlayShare(page)).toBeGreaterThan(0.005);
});

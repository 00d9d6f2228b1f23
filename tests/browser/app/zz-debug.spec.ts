import { test } from '@playwright/test';
import { APP_URL, FOX_SQUIRREL, countSent, expectQuiet, launch, logPage, waitForTop1 } from './fixtures.ts';
test.use({ launchOptions: launch({ camera: true }) });
test('timeline', async ({ page }) => {
  test.setTimeout(300_000);
  logPage(page);
  await page.goto(`${APP_URL}/?backend=webgpu`);
  await page.getByTestId('start-camera').click();
  await waitForTop1(page, FOX_SQUIRREL);
  const setHidden = (hidden: boolean) => page.evaluate((h) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
  await setHidden(true);
  await countSent(page);
  await expectQuiet(page);
  await page.evaluate(() => {
    const e = window.__cnnfix!.engine as any;
    const explain = e.explain.bind(e);
    const t0 = performance.now();
    (window as any).__log = [];
    const log = (s: string) => (window as any).__log.push(`${(performance.now() - t0).toFixed(0)} ${s} pending=${window.__cnnfix!.framesInFlight}`);
    let k = 0;
    e.explain = async (f: any, req: any, sub?: () => void) => {
      const id = ++k;
      log(`send ${id}`);
      const r = await explain(f, req, sub && (() => { log(`submitted ${id}`); sub(); }));
      log(`result ${id} t=${JSON.stringify(r?.timings && Object.fromEntries(Object.entries(r.timings).map(([a, b]: any) => [a, Math.round(b)])))}`);
      return r;
    };
    const v = window.__cnnfix!.video as HTMLVideoElement;
    const onf = () => { log('rvfc'); v.requestVideoFrameCallback(onf); };
    v.requestVideoFrameCallback(onf);
  });
  await setHidden(false);
  await page.waitForTimeout(9000);
  console.log((await page.evaluate(() => (window as any).__log)).filter((l: string, i: number, a: string[]) => !(l.includes('rvfc') && a[i - 1]?.includes('rvfc') && a[i + 1]?.includes('rvfc'))).join('\n'));
});

// Without WebGPU (flag and feature off: no adapter), 'auto' falls back to WebGL with a reason, explains with the
// CPU unravelling and draws the overlay with a 2D context; forcing 'webgpu' fails with a clear error.
import { expect, test } from '@playwright/test';
import { CHROMIUM_ARGS } from '../../../playwright.config.ts';
import { openHarness, SQUIRREL } from './setup.ts';

test.use({
  launchOptions: {
    executablePath: '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu'), '--disable-features=WebGPU'],
  },
});

test("'auto' falls back to WebGL and says why; the overlay is drawn with a 2D context", async ({ page }) => {
  await openHarness(page);
  const info = await page.evaluate(() =>
    (window as any).h.init({ backend: 'auto', canvas: { width: 160, height: 120 } }),
  );
  expect(info.path).toBe('fallback');
  expect(info.backend).toBe('webgl');
  expect(info.fallbackReason).toMatch(/^WebGPU: /);
  expect(info.modelId).toBe('squeezenet1_1'); // the catalog's default
  const r = await page.evaluate(
    (url) => (window as any).h.explainUrl(url, { classes: [335, 336], overlay: { layer: 'fire9/concat' } }, 320, 240),
    SQUIRREL,
  );
  expect(r.path).toBe('fallback');
  expect(r.explained.map((c: any) => c.class.index)).toEqual([335, 336]);
  expect(r.layers.find((l: any) => l.name === 'fire9/concat').count).toBeGreaterThan(0);
  // The overlay canvas (the page's element, drawn by the worker through its OffscreenCanvas) is not blank.
  await expect
    .poll(() =>
      page.evaluate(() => {
        const c = document.querySelector('canvas')!;
        const g = document.createElement('canvas');
        g.width = c.width;
        g.height = c.height;
        const ctx = g.getContext('2d')!;
        ctx.drawImage(c, 0, 0);
        const d = ctx.getImageData(0, 0, g.width, g.height).data;
        let opaque = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) opaque++;
        return opaque;
      }),
    )
    .toBeGreaterThan(0);
  await expect(page.evaluate(() => (window as any).h.init({ backend: 'webgpu' }))).rejects.toThrow(/WebGPU/);
  expect((await page.evaluate(() => (window as any).h.api.status())).state).toBe('error');
});

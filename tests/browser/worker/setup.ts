// Test setup shared by the worker specs: the test photos (tests/fixtures/data.ts) served at /shared-images/, Vite's HMR socket blocked (other
// edits in the working tree must not reload a page mid-test), and the harness page opened.
import { readFileSync } from 'node:fs';
import { expect, type Page } from '@playwright/test';
import { photo } from '../../fixtures/data.ts';

export const SQUIRREL = '/shared-images/squirrel_cls.jpg';

export async function openHarness(page: Page, log = true) {
  if (log) {
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') console.log(`[page ${m.type()}]`, m.text());
    });
    page.on('pageerror', (e) => console.log('[pageerror]', e.message));
  }
  await page.route('**/shared-images/*', (route) => {
    const file = photo(decodeURIComponent(new URL(route.request().url()).pathname.split('/').pop()!));
    return route.fulfill({ body: readFileSync(file), contentType: file.endsWith('.png') ? 'image/png' : 'image/jpeg' });
  });
  await page.routeWebSocket(/\?token=/, () => {});
  await page.goto('/tests/browser/worker/harness.html');
  await page.waitForFunction(() => document.body.dataset.ready === '1');
}

/** The harness with the catalog SqueezeNet on the GPU path (tfjs-webgpu) drawing into an overlay canvas of this size. */
export async function openGpuHarness(page: Page, canvas: { width: number; height: number }) {
  await openHarness(page);
  const info = await page.evaluate(
    (c) => (window as any).h.init({ modelId: 'squeezenet1_1', backend: 'webgpu', canvas: c }),
    canvas,
  );
  expect(info.path).toBe('gpu');
  expect(info.backend).toBe('webgpu');
  return info;
}

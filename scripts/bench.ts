// npm run bench [-- --frames N --out FILE.json --size WxH --warmup K --paths gpu,fallback --model ID --method M --port P] [--node] [--app]
// Starts Vite (mode 'bench': the worker counts its GPU calls) and headless Chromium, feeds the same frame (a shared
// photo, resized) to the explain worker on the GPU path and on the fallback path, three runs of N frames each:
// 1. `timing` mode (the worker waits for the GPU queue between stages, so each stage gets its own GPU time): per-stage
//    medians with p10/p90, the explain/forward ratio, GPU vs CPU unravelling, memory at frame 10 and at the end;
// 2. end to end, as the app runs frames (pipelined: the next frame is sent once the previous one is submitted; fps =
//    frames / wall time): fps and per-frame counters (maps, submits, dispatches, bytes read, buffers
//    and pipelines created, worker CPU ms; medians after the warm-up);
// 3. forward pass + top-5 only, sent the same way: the fps a plain classifier gets, so fpsOverForwardOnly = (2) / (3);
// 4. (2) one frame at a time: pipelinedOverSequential = (2) / (4), what pipelining gains in the same run.
// --model ID: any installed catalog model (default squeezenet1_1). --method M: the explanation method (fixations,
// guided, cam, gradcam; default the model's own, its catalog "method").
// firstFrameMs: from init (model load, shader compilation) to the first result. On SwiftShader (no GPU) only the
// ratios mean anything. --node runs the same without a browser (scripts/bench-node.ts). --app also times the app's first
// label (navigation to the first top-1 on screen, default backend, fake camera) against the faster path's first frame.
import { chromium } from '@playwright/test';
import { createServer } from 'vite';
import { launch } from '../tests/browser/app/fixtures.ts';
import { PRESENT_LAUNCH } from '../tests/browser/worker/launch.ts';
import { openHarness, SQUIRREL } from '../tests/browser/worker/setup.ts';
import { args, measurePath, report, type PathResult } from './bench-lib.ts';

async function main() {
  const o = args();
  if (o.node) return (await import('./bench-node.ts')).benchNode(o);
  const server = await createServer({ mode: 'bench', logLevel: 'warn', server: { port: o.port, strictPort: true } });
  await server.listen();
  const browser = await chromium.launch(PRESENT_LAUNCH);
  const results: Record<string, PathResult> = {};
  let appFirstLabel: { ms: number; info: unknown } | null = null;
  try {
    for (const path of o.paths) {
      const page = await browser.newPage({ baseURL: `http://localhost:${o.port}` });
      await openHarness(page, false);
      const t0 = Date.now();
      const info = await page.evaluate(
        ([modelId, backend, size]) => (window as any).h.init({ modelId, backend, canvas: size }),
        [o.model, path === 'gpu' ? 'webgpu' : 'fallback', { width: o.width, height: o.height }] as const,
      );
      const initMs = Date.now() - t0;
      console.log(`${path}: ${info.backend}${info.fallbackReason ? ` (${info.fallbackReason})` : ''}`);
      results[path] = {
        ...(info.fallbackReason ? { note: info.fallbackReason as string } : {}),
        startup: { ...info.startup, initMs },
        ...(await measurePath(
          path,
          info.backend,
          o,
          t0,
          async (req) => {
            const r = await page.evaluate(([url, w, h, r]) => (window as any).h.explainUrl(url, r, w, h), [
              SQUIRREL,
              o.width,
              o.height,
              req,
            ] as const);
            // The bench measures cost, not hang detection: on a loaded machine (SwiftShader) a readback may take longer
            // than the app's limit, which the worker sets after the first frame.
            await page.evaluate(() => (window as any).h.api.__readbackTimeoutForTest(600_000));
            return r;
          },
          (req, n, m = 2) =>
            page.evaluate(([url, k, w, h, r, mf]) => (window as any).h.explainStream(url, k, r, w, h, mf), [
              SQUIRREL,
              n,
              o.width,
              o.height,
              req,
              m,
            ] as const),
          () => page.evaluate(() => (window as any).h.api.memory()),
        )),
      };
      await page.close();
    }
    if (o.app) appFirstLabel = await firstLabel(o);
  } finally {
    await browser.close();
    await server.close();
  }
  const firstFrames = Object.values(results).map((r) => r.firstFrameMs);
  await report(
    o,
    results,
    { width: o.width, height: o.height },
    {
      runtime: 'chromium (headless)',
      ...(appFirstLabel
        ? {
            app: {
              firstLabelMs: appFirstLabel.ms,
              overFasterPathFirstFrame: appFirstLabel.ms / Math.min(...firstFrames),
              info: appFirstLabel.info,
            },
          }
        : {}),
    },
  );
}

/**
 * The app as a user opens it (default backend 'auto', the fake camera showing the squirrel photo): ms from
 * navigation to the first top-1 label on screen, and what the worker said at start-up (path, InitInfo.startup).
 */
async function firstLabel(o: ReturnType<typeof args>) {
  const browser = await chromium.launch(launch({ camera: true }));
  try {
    const page = await browser.newPage({ viewport: { width: 412, height: 915 } });
    const t0 = Date.now();
    await page.goto(`http://localhost:${o.port}/?model=${o.model}`);
    await page.getByTestId('top1').filter({ hasText: /\S/ }).waitFor({ timeout: 1_200_000 });
    const ms = Date.now() - t0;
    const info = await page.evaluate(() => {
      const i = (window as any).__cnnfix?.info;
      return i && { path: i.path, backend: i.backend, auto: i.auto, startup: i.startup };
    });
    console.log(`app: first label after ${ms} ms (${JSON.stringify(info)})`);
    return { ms, info };
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

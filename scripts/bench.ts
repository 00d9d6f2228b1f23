// npm run bench [-- --frames N --out FILE.json --size WxH --warmup K --paths gpu,fallback --model ID --method M --port P] [--node]
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
// guided, cam, gradcam; default the library's DEFAULT_METHOD).
// firstFrameMs: from init (model load, shader compilation) to the first result. On SwiftShader (no GPU) only the
// ratios mean anything. --node runs the same without a browser (scripts/bench-node.ts).
import { chromium } from '@playwright/test';
import { createServer } from 'vite';
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
  try {
    for (const path of o.paths) {
      const page = await browser.newPage({ baseURL: `http://localhost:${o.port}` });
      await openHarness(page, false);
      const t0 = Date.now();
      const info = await page.evaluate(([modelId, backend, size]) => (window as any).h.init({ modelId, backend, canvas: size }),
        [o.model, path === 'gpu' ? 'webgpu' : 'fallback', { width: o.width, height: o.height }] as const);
      console.log(`${path}: ${info.backend}${info.fallbackReason ? ` (${info.fallbackReason})` : ''}`);
      results[path] = { ...(info.fallbackReason ? { note: info.fallbackReason as string } : {}), ...await measurePath(path, info.backend, o, t0,
        (req) => page.evaluate(([url, w, h, r]) => (window as any).h.explainUrl(url, r, w, h), [SQUIRREL, o.width, o.height, req] as const),
        (req, n, m = 2) => page.evaluate(([url, k, w, h, r, mf]) => (window as any).h.explainStream(url, k, r, w, h, mf), [SQUIRREL, n, o.width, o.height, req, m] as const),
        () => page.evaluate(() => (window as any).h.api.memory())) };
      await page.close();
    }
  } finally {
    await browser.close();
    await server.close();
  }
  report(o, results, { width: o.width, height: o.height }, { runtime: 'chromium (headless)' });
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

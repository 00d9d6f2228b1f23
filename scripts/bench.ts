// npm run bench [-- --frames N --out FILE.json --size WxH --warmup K --paths gpu,fallback --port P]
// Starts Vite and headless Chromium, feeds the same frame (a shared photo, resized) to the explain worker N times
// on the GPU path and on the fallback path, and prints per-stage medians with p10/p90, fps, the explain/forward
// ratio, GPU vs CPU unravelling, and memory at frame 10 and frame N. Stage times come from the worker's `timing`
// mode (it waits for the GPU queue between stages, so each stage gets its own GPU time; fps is therefore a little
// pessimistic). On SwiftShader (no GPU) only the ratios mean anything.
import { writeFileSync } from 'node:fs';
import { chromium } from '@playwright/test';
import { createServer } from 'vite';
import { PRESENT_LAUNCH } from '../tests/browser/worker/launch.ts';
import { openHarness, SQUIRREL } from '../tests/browser/worker/setup.ts';

const STAGES = ['upload', 'preprocess', 'forward', 'unravel', 'heatmap', 'readback', 'total'] as const;

function args() {
  const a = process.argv.slice(2);
  const get = (k: string, d: string) => {
    const i = a.indexOf(`--${k}`);
    return i >= 0 && a[i + 1] !== undefined ? a[i + 1] : d;
  };
  const frames = Number(get('frames', '200'));
  const warmup = Number(get('warmup', '2'));
  const [w, h] = get('size', '640x480').split('x').map(Number);
  const paths = get('paths', 'gpu,fallback').split(',') as ('gpu' | 'fallback')[];
  if (!(frames >= 1) || !(warmup >= 0) || !(w > 0 && h > 0) || paths.some((p) => p !== 'gpu' && p !== 'fallback')) {
    throw new Error('usage: bench [--frames N>=1] [--warmup K>=0] [--size WxH] [--paths gpu,fallback] [--out FILE.json] [--port P]');
  }
  return { frames, warmup, width: w, height: h, paths, out: get('out', ''), port: Number(get('port', '5299')) };
}

interface Spread { median: number; p10: number; p90: number }
function spread(v: number[]): Spread {
  const s = [...v].sort((a, b) => a - b);
  const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.max(0, Math.round(p * (s.length - 1))))] : NaN);
  return { median: q(0.5), p10: q(0.1), p90: q(0.9) };
}
type Memory = { tensors: number; bytes: number; gpuBuffers: number; gpuBytes: number };

async function main() {
  const o = args();
  const server = await createServer({ logLevel: 'warn', server: { port: o.port, strictPort: true } });
  await server.listen();
  const browser = await chromium.launch(PRESENT_LAUNCH);
  const results: Record<string, any> = {};
  try {
    for (const path of o.paths) {
      const page = await browser.newPage({ baseURL: `http://localhost:${o.port}` });
      await openHarness(page, false);
      const info = await page.evaluate(([backend, size]) => (window as any).h.init({ modelId: 'squeezenet1_1', backend, canvas: size }),
        [path === 'gpu' ? 'webgpu' : 'fallback', { width: o.width, height: o.height }] as const);
      console.log(`${path}: ${info.backend}${info.fallbackReason ? ` (${info.fallbackReason})` : ''}`);
      const times: Record<string, number[]> = Object.fromEntries(STAGES.map((s) => [s, []]));
      const memory: Record<string, Memory> = {};
      let readback = 0;
      const memAt = Math.min(10, o.frames);
      for (let i = 1; i <= o.frames; i++) {
        const r = await page.evaluate(([url, w, h]) => (window as any).h.explainUrl(url, { timing: true }, w, h), [SQUIRREL, o.width, o.height] as const);
        if (r.path !== path) throw new Error(`asked for the ${path} path, the worker ran ${r.path}`);
        if (i > o.warmup) for (const s of STAGES) times[s].push(r.timings[s]);
        readback = r.readbackBytes;
        if (i === memAt || i === o.frames) memory[i === memAt ? 'at10' : 'atEnd'] = await page.evaluate(() => (window as any).h.api.memory());
        if (i % 10 === 0 || i === o.frames) process.stdout.write(`  ${path} frame ${i}/${o.frames}: ${r.timings.total.toFixed(0)} ms\r`);
      }
      process.stdout.write('\n');
      memory.atEnd ??= memory.at10;
      const st = Object.fromEntries(STAGES.map((s) => [s, spread(times[s])])) as Record<(typeof STAGES)[number], Spread>;
      results[path] = {
        backend: info.backend, stages: st, readbackBytes: readback, memory,
        forwardMs: st.forward.median, unravelMs: st.unravel.median, heatmapMs: st.heatmap.median, totalMs: st.total.median,
        fps: 1000 / st.total.median,
      };
      await page.close();
    }
  } finally {
    await browser.close();
    await server.close();
  }

  const g = results.gpu, f = results.fallback;
  const report = {
    frames: o.frames, warmup: o.warmup, frameSize: { width: o.width, height: o.height }, ...results,
    /** The CPU reference unravelling (unravelCpu) on the fallback path, same frames. */
    cpuUnravelMs: f?.unravelMs ?? null,
    gpuUnravelVsCpu: g && f ? g.unravelMs / f.unravelMs : null,
    ratioExplainToForward: g ? (g.unravelMs + g.heatmapMs) / g.forwardMs : null,
    memory: g ? {
      tensorsAt10: g.memory.at10.tensors, tensorsAtEnd: g.memory.atEnd.tensors,
      bytesAt10: g.memory.at10.bytes, bytesAtEnd: g.memory.atEnd.bytes,
      gpuBuffersAt10: g.memory.at10.gpuBuffers, gpuBuffersAtEnd: g.memory.atEnd.gpuBuffers,
      gpuBytesAt10: g.memory.at10.gpuBytes, gpuBytesAtEnd: g.memory.atEnd.gpuBytes,
    } : null,
  };

  const fmt = (s: Spread) => `${s.median.toFixed(1)} (${s.p10.toFixed(1)}–${s.p90.toFixed(1)})`;
  console.log(`\n${o.frames} frames of ${o.width}x${o.height} (first ${o.warmup} not counted); ms, median (p10–p90)`);
  console.log(['stage'.padEnd(11), ...o.paths.map((p) => p.padEnd(26))].join(' '));
  for (const s of STAGES) console.log([s.padEnd(11), ...o.paths.map((p) => fmt(results[p].stages[s]).padEnd(26))].join(' '));
  console.log(['fps'.padEnd(11), ...o.paths.map((p) => results[p].fps.toFixed(2).padEnd(26))].join(' '));
  console.log(['readback B'.padEnd(11), ...o.paths.map((p) => String(results[p].readbackBytes).padEnd(26))].join(' '));
  if (report.ratioExplainToForward !== null) console.log(`GPU path (unravel + heatmap) / forward: ${report.ratioExplainToForward.toFixed(3)}`);
  if (report.gpuUnravelVsCpu !== null) console.log(`GPU unravel / CPU unravel (unravelCpu, fallback path): ${report.gpuUnravelVsCpu.toFixed(3)}`);
  for (const p of o.paths) {
    const m = results[p].memory;
    console.log(`${p} memory frame ${Math.min(10, o.frames)} -> ${o.frames}: tensors ${m.at10.tensors} -> ${m.atEnd.tensors}, ` +
      `tfjs bytes ${m.at10.bytes} -> ${m.atEnd.bytes}, GPU buffers ${m.at10.gpuBuffers} -> ${m.atEnd.gpuBuffers} (${m.at10.gpuBytes} -> ${m.atEnd.gpuBytes} B)`);
  }
  if (o.out) {
    writeFileSync(o.out, JSON.stringify(report, null, 2));
    console.log(`wrote ${o.out}`);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

// What the browser bench (scripts/bench.ts) and the Node bench (scripts/bench-node.ts) share: options, the three
// runs per path (timing mode, end to end with counters, forward only, end to end one frame at a time), the report
// and its printout.
import { writeFileSync } from 'node:fs';
import type { ExplainRequest, FrameResult, Method } from '../src/worker/api.ts';
import { DEFAULT_METHOD, METHODS } from '../src/engine/methods.ts';

/** `n` frames sent as the app sends them (the next once the previous is submitted): results in order, wall ms. */
export type Stream = (req: ExplainRequest, n: number, maxInFlight?: number) => Promise<{ results: FrameResult[]; ms: number }>;

export const STAGES = ['upload', 'preprocess', 'forward', 'unravel', 'heatmap', 'readback', 'total'] as const;
export const COUNTERS = ['maps', 'submits', 'dispatches', 'bytesRead', 'buffersCreated', 'pipelinesCreated', 'workerCpuMs'] as const;

export interface BenchOptions {
  frames: number; warmup: number; width: number; height: number; paths: ('gpu' | 'fallback')[]; out: string; port: number; node: boolean;
  /** Catalog model id (installed under models/). */
  model: string;
  /** The explanation method of every explained frame (default DEFAULT_METHOD). */
  method: Method;
}

export function args(argv = process.argv.slice(2)): BenchOptions {
  const get = (k: string, d: string) => {
    const i = argv.indexOf(`--${k}`);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : d;
  };
  const frames = Number(get('frames', '200'));
  const warmup = Number(get('warmup', '2'));
  const [w, h] = get('size', '640x480').split('x').map(Number);
  const paths = get('paths', 'gpu,fallback').split(',') as ('gpu' | 'fallback')[];
  const method = get('method', DEFAULT_METHOD) as Method;
  const methods = METHODS.filter((m) => m !== 'center');
  if (!(frames >= 1) || !(warmup >= 0) || !(w > 0 && h > 0) || paths.some((p) => p !== 'gpu' && p !== 'fallback') || !methods.includes(method)) {
    throw new Error(`usage: bench [--frames N>=1] [--warmup K>=0] [--size WxH] [--paths gpu,fallback] [--model ID] [--method ${methods.join('|')}] [--out FILE.json] [--port P] [--node]`);
  }
  return {
    frames, warmup, width: w, height: h, paths, out: get('out', ''), port: Number(get('port', '5299')), node: argv.includes('--node'),
    model: get('model', 'squeezenet1_1'), method,
  };
}

export interface Spread { median: number; p10: number; p90: number }
export function spread(v: number[]): Spread {
  const s = [...v].sort((a, b) => a - b);
  const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.max(0, Math.round(p * (s.length - 1))))] : NaN);
  return { median: q(0.5), p10: q(0.1), p90: q(0.9) };
}
export type Memory = { tensors: number; bytes: number; gpuBuffers: number; gpuBytes: number };

/**
 * The three runs of one path. `run` explains one frame; `t0` is when init started (firstFrameMs runs from it to
 * the first result: model load, shader compilation, the first frame).
 */
export async function measurePath(path: 'gpu' | 'fallback', backend: string, o: BenchOptions, t0: number,
  run: (req: ExplainRequest) => Promise<FrameResult>, stream: Stream, memoryOf: () => Promise<Memory>) {
  const times: Record<string, number[]> = Object.fromEntries(STAGES.map((s) => [s, []]));
  const memory: Record<string, Memory> = {};
  let readback = 0;
  let firstFrameMs = NaN;
  const memAt = Math.min(10, o.frames);
  for (let i = 1; i <= o.frames; i++) {
    const r = await run({ timing: true, method: o.method });
    if (i === 1) firstFrameMs = Date.now() - t0;
    if (r.path !== path) throw new Error(`asked for the ${path} path, ran ${r.path}`);
    if (i > o.warmup) for (const s of STAGES) times[s].push(r.timings[s]);
    readback = r.readbackBytes;
    if (i === memAt || i === o.frames) memory[i === memAt ? 'at10' : 'atEnd'] = await memoryOf();
    if (i % 10 === 0 || i === o.frames) process.stdout.write(`  ${path} frame ${i}/${o.frames}: ${r.timings.total.toFixed(0)} ms\r`);
  }
  process.stdout.write('\n');
  // End to end, as the app runs frames (pipelined: the next frame goes once the previous is submitted, no waits
  // between stages), with the per-frame counters; fps = frames / wall time after the warm-up frames.
  const e2e = await timed(stream, { method: o.method }, o);
  // Pipelined frames overlap, so one frame's counts (from the end of the previous frame to its own end) also hold a
  // part of the next one's; their sum over the counted frames is exact: per frame = sum / frames.
  const sums = Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Record<(typeof COUNTERS)[number], number>;
  for (const r of e2e.results) {
    if (!r.counters) throw new Error('no counters in the result: the worker counts only in bench builds (Vite mode "bench")');
    for (const c of COUNTERS) sums[c] += r.counters[c];
  }
  const totals = e2e.results.map((r) => r.timings.total);
  memory.atEnd = await memoryOf();
  // What a plain classifier costs on the same path, sent the same way: forward pass and top-5.
  const fwd = await timed(stream, { forwardOnly: true }, o);
  // The same end-to-end frames one at a time (the next sent once the previous result is back): what pipelining gains.
  const seq = await timed(stream, { method: o.method }, o, 1);
  memory.atEnd ??= memory.at10;
  const st = Object.fromEntries(STAGES.map((s) => [s, spread(times[s])])) as Record<(typeof STAGES)[number], Spread>;
  const fps = e2e.fps, fpsForwardOnly = fwd.fps;
  return {
    backend, stages: st, readbackBytes: readback, memory,
    forwardMs: st.forward.median, unravelMs: st.unravel.median, heatmapMs: st.heatmap.median, totalMs: st.total.median,
    /** End to end (frames / wall time, pipelined as the app sends frames); fpsTiming is the timing-mode run's (waits between stages). */
    fps, latencyMs: spread(totals).median, fpsTiming: 1000 / st.total.median, fpsForwardOnly, fpsOverForwardOnly: fps / fpsForwardOnly, firstFrameMs,
    /** End to end one frame at a time, and fps / that (pipelining's gain, same run). */
    fpsSequential: seq.fps, pipelinedOverSequential: fps / seq.fps,
    /** Per frame over the counted end-to-end frames (sums / frames). */
    counters: Object.fromEntries(COUNTERS.map((c) => [c, sums[c] / e2e.results.length])) as Record<(typeof COUNTERS)[number], number>,
  };
}
/** `note`: why the path has less than it could (the GPU path unravelling on the CPU), from the worker's init. */
export type PathResult = Awaited<ReturnType<typeof measurePath>> & { note?: string };

/** The warm-up frames, then the counted ones as one stream: fps over the counted frames' wall time. */
async function timed(stream: Stream, req: ExplainRequest, o: BenchOptions, maxInFlight = 2) {
  if (o.warmup > 0) await stream(req, o.warmup, maxInFlight);
  const n = Math.max(1, o.frames - o.warmup);
  const { results, ms } = await stream(req, n, maxInFlight);
  return { results, fps: (1000 * n) / ms };
}

export function report(o: BenchOptions, results: Record<string, PathResult>, frameSize: { width: number; height: number }, extra: object = {}) {
  const g = results.gpu, f = results.fallback;
  const rep = {
    model: o.model, method: o.method, frames: o.frames, warmup: o.warmup, frameSize, ...extra, ...results,
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
  const paths = Object.keys(results);
  const fmt = (s: Spread) => `${s.median.toFixed(1)} (${s.p10.toFixed(1)}–${s.p90.toFixed(1)})`;
  console.log(`\n${o.model}: ${o.frames} frames of ${frameSize.width}x${frameSize.height} per run (first ${o.warmup} not counted); ms, median (p10–p90)`);
  console.log(['stage'.padEnd(11), ...paths.map((p) => p.padEnd(26))].join(' '));
  for (const s of STAGES) console.log([s.padEnd(11), ...paths.map((p) => fmt(results[p].stages[s]).padEnd(26))].join(' '));
  const row = (name: string, fn: (r: PathResult) => string) => console.log([name.padEnd(11), ...paths.map((p) => fn(results[p]).padEnd(26))].join(' '));
  row('fps', (r) => r.fps.toFixed(2));
  row('latency ms', (r) => r.latencyMs.toFixed(0));
  row('fps fwd', (r) => r.fpsForwardOnly.toFixed(2));
  row('fps/fwd', (r) => r.fpsOverForwardOnly.toFixed(3));
  row('fps 1 by 1', (r) => r.fpsSequential.toFixed(2));
  row('fps/1by1', (r) => r.pipelinedOverSequential.toFixed(3));
  row('first ms', (r) => r.firstFrameMs.toFixed(0));
  for (const c of COUNTERS) row(c.slice(0, 11), (r) => String(+r.counters[c].toFixed(1)));
  row('readback B', (r) => String(r.readbackBytes));
  if (rep.ratioExplainToForward !== null) console.log(`GPU path (unravel + heatmap) / forward: ${rep.ratioExplainToForward.toFixed(3)}`);
  if (rep.gpuUnravelVsCpu !== null) console.log(`GPU unravel / CPU unravel (unravelCpu, fallback path): ${rep.gpuUnravelVsCpu.toFixed(3)}`);
  for (const p of paths) if (results[p].note) console.log(`${p}: NOTE ${results[p].note}`);
  for (const p of paths) {
    const m = results[p].memory;
    console.log(`${p} memory frame ${Math.min(10, o.frames)} -> end: tensors ${m.at10.tensors} -> ${m.atEnd.tensors}, ` +
      `tfjs bytes ${m.at10.bytes} -> ${m.atEnd.bytes}, GPU buffers ${m.at10.gpuBuffers} -> ${m.atEnd.gpuBuffers} (${m.at10.gpuBytes} -> ${m.atEnd.gpuBytes} B)`);
  }
  if (o.out) {
    writeFileSync(o.out, JSON.stringify(rep, null, 2));
    console.log(`wrote ${o.out}`);
  }
}

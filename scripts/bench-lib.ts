// What the browser bench (scripts/bench.ts) and the Node bench (scripts/bench-node.ts) share: options, the three
// runs per path (timing mode, end to end with counters, forward only, end to end one frame at a time), the report
// and its printout.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import type { ExplainRequest, FrameResult, Method } from '../src/worker/api.ts';
import { METHODS } from '../src/engine/methods.ts';
import { writeSection } from './eval/report.ts';

/** `n` frames sent as the app sends them (the next once the previous is submitted): results in order, wall ms. */
export type Stream = (
  req: ExplainRequest,
  n: number,
  maxInFlight?: number,
) => Promise<{ results: FrameResult[]; ms: number }>;

export const STAGES = ['upload', 'preprocess', 'forward', 'unravel', 'heatmap', 'readback', 'total'] as const;
export const COUNTERS = [
  'maps',
  'submits',
  'dispatches',
  'bytesRead',
  'bytesWritten',
  'frameBytes',
  'buffersCreated',
  'pipelinesCreated',
  'bindGroupsCreated',
  'tfjsBindGroups',
  'syncReads',
  'workerCpuMs',
] as const;

export interface BenchOptions {
  frames: number;
  warmup: number;
  width: number;
  height: number;
  paths: ('gpu' | 'fallback')[];
  out: string;
  port: number;
  node: boolean;
  /** Catalog model id (installed under models/). */
  model: string;
  /** The explanation method of every explained frame (default: the model's own, its catalog "method"; set from the first frame's result). */
  method?: Method;
  /** Also time the app's first label (browser bench): navigation to the first top-1 on screen, fake camera. */
  app: boolean;
  /** Write this run's table into RESULTS_FILE (its own section, between markers). */
  results: boolean;
}

/** The methods a frame can be explained with (the centre prior is an evaluation baseline only). */
const BENCH_METHODS = METHODS.filter((m) => m !== 'center') as Method[];
const USAGE = `usage: bench [--frames N>=1] [--warmup K>=0] [--size WxH] [--paths gpu,fallback] [--model ID] [--method ${BENCH_METHODS.join('|')}] [--out FILE.json] [--results] [--port P] [--node] [--app]`;

/** The bench's flags, parsed as the CLI parses its own (node:util parseArgs: an unknown flag or a missing value is an error). */
export function args(argv = process.argv.slice(2)): BenchOptions {
  let v;
  try {
    ({ values: v } = parseArgs({
      args: argv,
      options: {
        frames: { type: 'string', default: '200' },
        warmup: { type: 'string', default: '2' },
        size: { type: 'string', default: '640x480' },
        paths: { type: 'string', default: 'gpu,fallback' },
        model: { type: 'string', default: 'squeezenet1_1' },
        method: { type: 'string' },
        out: { type: 'string', default: '' },
        port: { type: 'string', default: '5299' },
        node: { type: 'boolean', default: false },
        app: { type: 'boolean', default: false },
        results: { type: 'boolean', default: false },
      },
    }));
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${USAGE}`);
  }
  const frames = Number(v.frames),
    warmup = Number(v.warmup),
    port = Number(v.port);
  const [w, h] = v.size.split('x').map(Number);
  const paths = v.paths.split(',') as ('gpu' | 'fallback')[];
  const method = v.method as Method | undefined;
  const bad = [
    !(Number.isInteger(frames) && frames >= 1) && `--frames '${v.frames}'`,
    !(Number.isInteger(warmup) && warmup >= 0) && `--warmup '${v.warmup}'`,
    !(w > 0 && h > 0) && `--size '${v.size}'`,
    paths.some((p) => p !== 'gpu' && p !== 'fallback') && `--paths '${v.paths}'`,
    method !== undefined && !BENCH_METHODS.includes(method) && `--method '${v.method}'`,
    !(Number.isInteger(port) && port > 0) && `--port '${v.port}'`,
  ].filter(Boolean);
  if (bad.length) throw new Error(`bench: bad value ${bad.join(', ')}\n${USAGE}`);
  return {
    frames,
    warmup,
    width: w,
    height: h,
    paths,
    out: v.out,
    port,
    node: v.node,
    model: v.model,
    method,
    app: v.app,
    results: v.results,
  };
}

export interface Spread {
  median: number;
  p10: number;
  p90: number;
}
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
export async function measurePath(
  path: 'gpu' | 'fallback',
  backend: string,
  o: BenchOptions,
  t0: number,
  run: (req: ExplainRequest) => Promise<FrameResult>,
  stream: Stream,
  memoryOf: () => Promise<Memory>,
) {
  const times: Record<string, number[]> = Object.fromEntries(STAGES.map((s) => [s, []]));
  const memory: Record<string, Memory> = {};
  let readback = 0;
  let firstFrameMs = NaN;
  const memAt = Math.min(10, o.frames);
  for (let i = 1; i <= o.frames; i++) {
    const r = await run({ timing: true, method: o.method });
    if (i === 1) firstFrameMs = Date.now() - t0;
    o.method ??= r.method; // the model's own default, named in the report
    if (r.path !== path) throw new Error(`asked for the ${path} path, ran ${r.path}`);
    if (i > o.warmup) for (const s of STAGES) times[s].push(r.timings[s]);
    readback = r.readbackBytes;
    if (i === memAt || i === o.frames) memory[i === memAt ? 'at10' : 'atEnd'] = await memoryOf();
    if (i % 10 === 0 || i === o.frames)
      process.stdout.write(`  ${path} frame ${i}/${o.frames}: ${r.timings.total.toFixed(0)} ms\r`);
  }
  process.stdout.write('\n');
  // End to end, as the app runs frames (pipelined: the next frame goes once the previous is submitted, no waits
  // between stages), with the per-frame counters; fps = frames / wall time after the warm-up frames.
  const e2e = await timed(stream, { method: o.method }, o);
  // Pipelined frames overlap, so one frame's counts (from the end of the previous frame to its own end) also hold a
  // part of the next one's; their sum over the counted frames is exact: per frame = sum / frames.
  const sums = Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Record<(typeof COUNTERS)[number], number>;
  for (const r of e2e.results) {
    if (!r.counters)
      throw new Error('no counters in the result: the worker counts only in bench builds (Vite mode "bench")');
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
  const fps = e2e.fps,
    fpsForwardOnly = fwd.fps;
  return {
    backend,
    stages: st,
    readbackBytes: readback,
    memory,
    forwardMs: st.forward.median,
    unravelMs: st.unravel.median,
    heatmapMs: st.heatmap.median,
    totalMs: st.total.median,
    /** End to end (frames / wall time, pipelined as the app sends frames); fpsTiming is the timing-mode run's (waits between stages). */
    fps,
    latencyMs: spread(totals).median,
    fpsTiming: 1000 / st.total.median,
    fpsForwardOnly,
    fpsOverForwardOnly: fps / fpsForwardOnly,
    firstFrameMs,
    /** End to end one frame at a time, and fps / that (pipelining's gain, same run). */
    fpsSequential: seq.fps,
    pipelinedOverSequential: fps / seq.fps,
    /** Per frame over the counted end-to-end frames (sums / frames). */
    counters: Object.fromEntries(COUNTERS.map((c) => [c, sums[c] / e2e.results.length])) as Record<
      (typeof COUNTERS)[number],
      number
    >,
  };
}
/** `note`: why the path has less than it could (the GPU path unravelling on the CPU), from the worker's init. */
export type PathResult = Awaited<ReturnType<typeof measurePath>> & { note?: string; startup?: Record<string, number> };

/** The warm-up frames, then the counted ones as one stream: fps over the counted frames' wall time. */
async function timed(stream: Stream, req: ExplainRequest, o: BenchOptions, maxInFlight = 2) {
  if (o.warmup > 0) await stream(req, o.warmup, maxInFlight);
  const n = Math.max(1, o.frames - o.warmup);
  const { results, ms } = await stream(req, n, maxInFlight);
  return { results, fps: (1000 * n) / ms };
}

export async function report(
  o: BenchOptions,
  results: Record<string, PathResult>,
  frameSize: { width: number; height: number },
  extra: object = {},
) {
  const g = results.gpu,
    f = results.fallback;
  const rep = {
    model: o.model,
    method: o.method,
    frames: o.frames,
    warmup: o.warmup,
    frameSize,
    ...extra,
    ...results,
    /** The CPU reference unravelling (unravelCpu) on the fallback path, same frames. */
    cpuUnravelMs: f?.unravelMs ?? null,
    gpuUnravelVsCpu: g && f ? g.unravelMs / f.unravelMs : null,
    ratioExplainToForward: g ? (g.unravelMs + g.heatmapMs) / g.forwardMs : null,
    memory: g
      ? {
          tensorsAt10: g.memory.at10.tensors,
          tensorsAtEnd: g.memory.atEnd.tensors,
          bytesAt10: g.memory.at10.bytes,
          bytesAtEnd: g.memory.atEnd.bytes,
          gpuBuffersAt10: g.memory.at10.gpuBuffers,
          gpuBuffersAtEnd: g.memory.atEnd.gpuBuffers,
          gpuBytesAt10: g.memory.at10.gpuBytes,
          gpuBytesAtEnd: g.memory.atEnd.gpuBytes,
        }
      : null,
  };
  const paths = Object.keys(results);
  const fmt = (s: Spread) => `${s.median.toFixed(1)} (${s.p10.toFixed(1)}–${s.p90.toFixed(1)})`;
  console.log(
    `\n${o.model}: ${o.frames} frames of ${frameSize.width}x${frameSize.height} per run (first ${o.warmup} not counted); ms, median (p10–p90)`,
  );
  console.log(['stage'.padEnd(11), ...paths.map((p) => p.padEnd(26))].join(' '));
  for (const s of STAGES)
    console.log([s.padEnd(11), ...paths.map((p) => fmt(results[p].stages[s]).padEnd(26))].join(' '));
  const row = (name: string, fn: (r: PathResult) => string) =>
    console.log([name.padEnd(11), ...paths.map((p) => fn(results[p]).padEnd(26))].join(' '));
  row('fps', (r) => r.fps.toFixed(2));
  row('latency ms', (r) => r.latencyMs.toFixed(0));
  row('fps fwd', (r) => r.fpsForwardOnly.toFixed(2));
  row('fps/fwd', (r) => r.fpsOverForwardOnly.toFixed(3));
  row('fps 1 by 1', (r) => r.fpsSequential.toFixed(2));
  row('fps/1by1', (r) => r.pipelinedOverSequential.toFixed(3));
  row('first ms', (r) => r.firstFrameMs.toFixed(0));
  // Where the first frame's time went: init's parts (InitInfo.startup), then the first frame itself.
  const parts = [...new Set(paths.flatMap((p) => Object.keys(results[p].startup ?? {})))].filter((k) => k !== 'initMs');
  for (const k of parts)
    row(` ${k.replace(/Ms$/, '')}`, (r) => (r.startup?.[k] !== undefined ? r.startup[k].toFixed(0) : '–'));
  row(' frame 1', (r) => (r.startup?.initMs !== undefined ? (r.firstFrameMs - r.startup.initMs).toFixed(0) : '–'));
  for (const c of COUNTERS) row(c.slice(0, 11), (r) => String(+r.counters[c].toFixed(1)));
  row('readback B', (r) => String(r.readbackBytes));
  const app = (extra as { app?: { firstLabelMs: number; overFasterPathFirstFrame: number } }).app;
  if (app)
    console.log(
      `app first label: ${app.firstLabelMs} ms = ${app.overFasterPathFirstFrame.toFixed(2)} x the faster path's first frame (target <= 1.5)`,
    );
  if (rep.ratioExplainToForward !== null)
    console.log(`GPU path (unravel + heatmap) / forward: ${rep.ratioExplainToForward.toFixed(3)}`);
  if (rep.gpuUnravelVsCpu !== null)
    console.log(`GPU unravel / CPU unravel (unravelCpu, fallback path): ${rep.gpuUnravelVsCpu.toFixed(3)}`);
  for (const p of paths) if (results[p].note) console.log(`${p}: NOTE ${results[p].note}`);
  for (const p of paths) {
    const m = results[p].memory;
    console.log(
      `${p} memory frame ${Math.min(10, o.frames)} -> end: tensors ${m.at10.tensors} -> ${m.atEnd.tensors}, ` +
        `tfjs bytes ${m.at10.bytes} -> ${m.atEnd.bytes}, GPU buffers ${m.at10.gpuBuffers} -> ${m.atEnd.gpuBuffers} (${m.at10.gpuBytes} -> ${m.atEnd.gpuBytes} B)`,
    );
  }
  if (o.out) {
    writeFileSync(o.out, JSON.stringify(rep, null, 2));
    console.log(`wrote ${o.out}`);
  }
  if (o.results) {
    const runtime = (extra as { runtime?: string }).runtime?.startsWith('node') ? 'node' : 'chromium';
    const name = `bench:${runtime}:${paths.join('+')}:${o.model}`;
    await writeSection(name, resultsTable(o, results, frameSize, extra), RESULTS_FILE);
    console.log(`wrote section ${name} of ${RESULTS_FILE}`);
  }
}

/** The bench's generated tables (`--results`), one section per runtime, paths and model. */
export const RESULTS_FILE = new URL('../bench/results.md', import.meta.url).pathname;

/** The rows of a results table: per-frame counters after the warm-up, then where the first frame's time went. */
const RESULT_COUNTERS = [
  'dispatches',
  'bytesWritten',
  'bytesRead',
  'maps',
  'bindGroupsCreated',
  'tfjsBindGroups',
  'syncReads',
  'submits',
  'buffersCreated',
  'pipelinesCreated',
  'frameBytes',
] as const satisfies readonly (typeof COUNTERS)[number][];
const STARTUP_PARTS = ['deviceMs', 'downloadMs', 'tfjsCompileMs', 'kernelCompileMs', 'selfCheckMs', 'postCheckMs'];

/** One run as markdown: the machine and its load, then a table with a column per path. */
export function resultsTable(
  o: BenchOptions,
  results: Record<string, PathResult>,
  frameSize: { width: number; height: number },
  extra: object = {},
): string {
  const paths = Object.keys(results);
  const e = extra as { runtime?: string; adapter?: string };
  const int = (v: number | undefined) =>
    v === undefined || Number.isNaN(v) ? '–' : Math.round(v).toLocaleString('en-US');
  const num = (v: number) =>
    Number.isInteger(v) ? v.toLocaleString('en-US') : v.toLocaleString('en-US', { maximumFractionDigits: 1 });
  let commit = '';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    /* not a checkout */
  }
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(', ');
  const out = [
    `**${o.model}**, ${e.runtime ?? ''}${e.adapter ? ` (${e.adapter})` : ''}, ${frameSize.width}x${frameSize.height} frames, method ${o.method}; ` +
      `${o.frames} frames per run, the first ${o.warmup} not counted; ${new Date().toISOString().slice(0, 16)}Z, commit ${commit || '?'}; ` +
      `${cpus().length} x ${cpus()[0]?.model.trim() ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load average ${load} at the end (1, 5, 15 min).`,
    '',
    `| per frame after warm-up | ${paths.map((p) => `${p} (${results[p].backend})`).join(' | ')} |`,
    `|---|${paths.map(() => '---:|').join('')}`,
    ...RESULT_COUNTERS.map((c) => `| ${c} | ${paths.map((p) => num(results[p].counters[c])).join(' | ')} |`),
    `| **first frame, ms** | ${paths.map(() => '').join(' | ')} |`,
    ...STARTUP_PARTS.map(
      (k) => `| ${k.replace(/Ms$/, '')} | ${paths.map((p) => int(results[p].startup?.[k])).join(' | ')} |`,
    ),
    `| frame 1 | ${paths.map((p) => int(results[p].startup?.initMs !== undefined ? results[p].firstFrameMs - results[p].startup!.initMs : undefined)).join(' | ')} |`,
    `| first frame (total) | ${paths.map((p) => int(results[p].firstFrameMs)).join(' | ')} |`,
    `| fps / forward-only fps | ${paths.map((p) => results[p].fpsOverForwardOnly.toFixed(2)).join(' | ')} |`,
  ];
  const notes = paths.filter((p) => results[p].note).map((p) => `${p}: ${results[p].note}`);
  if (notes.length) out.push('', ...notes);
  return out.join('\n');
}

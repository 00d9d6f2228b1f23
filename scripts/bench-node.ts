// npm run bench -- --node [--frames N --warmup K --out FILE.json --paths gpu|fallback --model ID]
// The bench without a browser: the worker's own frame driver (src/worker/path.ts explainFrame) in Node, on
// tfjs-webgpu through the optional `webgpu` package (Dawn: a real GPU's Vulkan driver where there is one, else
// SwiftShader's) for the GPU path, or wasm for the fallback path (one path per process: tfjs keeps one backend).
// No overlay canvas (nothing is presented); the frame is the shared squirrel photo at its own size. Same report
// shape as the browser bench.
import * as tf from '@tensorflow/tfjs-core';
import { countBackendReads, frameCounters, snapshot } from '../src/gpu/counters.ts';
import { setReadbackTimeout } from '../src/gpu/readback.ts';
import { initNodeBackend, loadModel, readImage } from '../src/node/index.ts';
import { initNodeWebGpu } from '../src/node/webgpu.ts';
import { SQUIRREL } from '../tests/fixtures/data.ts';
import type { ExplainRequest, FrameResult } from '../src/worker/api.ts';
import { measurePath, report, type BenchOptions, type PathResult } from './bench-lib.ts';

export async function benchNode(o: BenchOptions) {
  const paths = o.paths.length === 2 ? ['gpu' as const] : o.paths;
  if (paths.length !== 1) throw new Error('bench --node: one path per run (--paths gpu or --paths fallback)');
  const path = paths[0];
  // The bench measures cost, not hang detection: on a loaded CPU (SwiftShader) a readback may outlast the app's limit.
  setReadbackTimeout(600_000);
  const t0 = Date.now();
  let gpuInfo: string | undefined;
  let memoryGpu = () => ({ gpuBuffers: 0, gpuBytes: 0 });
  let makePath: (fm: Awaited<ReturnType<typeof loadModel>>) => Promise<import('../src/worker/path.ts').FramePath>;
  // Where the first frame's time goes, as the worker's InitInfo.startup: device, download (here: read from disk and
  // parsed), then the GPU path's compile and checks; initMs is init's end.
  const startup: Record<string, number> = {};
  if (path === 'gpu') {
    const ctx = await initNodeWebGpu({ count: true });
    await initNodeBackend('webgpu');
    gpuInfo = [ctx.adapterInfo?.vendor, ctx.adapterInfo?.architecture, ctx.adapterInfo?.description]
      .filter(Boolean)
      .join(' ');
    console.log(`gpu: webgpu in Node (${gpuInfo || 'adapter info unavailable'})`);
    memoryGpu = () => ({ gpuBuffers: ctx.buffers.buffers, gpuBytes: ctx.buffers.bytes });
    // Imported after navigator.gpu exists (the GPU code reads WebGPU globals).
    const { GpuPath } = await import('../src/worker/gpu-path.ts');
    makePath = async (fm) => {
      const p = new GpuPath(ctx, fm, null);
      Object.assign(startup, await p.compile());
      return p;
    };
  } else {
    const backend = await initNodeBackend('wasm');
    countBackendReads(tf.backend());
    console.log(`fallback: ${backend} in Node`);
    const { FallbackPath } = await import('../src/worker/fallback-path.ts');
    makePath = async (fm) => new FallbackPath(backend as 'wasm' | 'cpu', fm, null);
  }
  startup.deviceMs = Date.now() - t0;
  const { explainFrame, startFrame } = await import('../src/worker/path.ts');
  const { planFrame } = await import('../src/worker/plan.ts');
  const t1 = Date.now();
  const fm = await loadModel(o.model);
  startup.downloadMs = Date.now() - t1;
  const fp = await makePath(fm);
  startup.initMs = Date.now() - t0;
  const image = await readImage(SQUIRREL);
  const [height, width] = image.shape;
  const run = async (req: ExplainRequest) => {
    const before = snapshot();
    const r = await explainFrame(fp, tf.clone(image) as tf.Tensor3D, planFrame(fm, req));
    r.counters = frameCounters(before, r.timings.total);
    return r;
  };
  // As the worker runs frames: each frame is submitted once the previous one is, finished in order; a frame's
  // counters run from the end of the previous one (frames overlap).
  const stream = async (req: ExplainRequest, n: number, maxInFlight = 2) => {
    const t0s = performance.now();
    const plan = planFrame(fm, req);
    let last = snapshot();
    let finishing: Promise<unknown> = Promise.resolve();
    const done: Promise<FrameResult>[] = [];
    for (let i = 0; i < n; i++) {
      if (i >= maxInFlight) await done[i - maxInFlight]; // at most two frames in flight, as the app's frame loop
      const started = await startFrame(fp, tf.clone(image) as tf.Tensor3D, plan);
      const r = finishing
        .then(() => started.finish())
        .then((x) => {
          x.counters = frameCounters(last, x.timings.total);
          last = snapshot();
          return x;
        });
      finishing = r.catch(() => undefined);
      done.push(r);
    }
    const results = await Promise.all(done);
    return { results, ms: performance.now() - t0s };
  };
  const results: Record<string, PathResult> = {};
  try {
    results[path] = {
      startup,
      ...(await measurePath(path, path === 'gpu' ? 'webgpu' : tf.getBackend(), o, t0, run, stream, async () => {
        const m = tf.memory();
        return { tensors: m.numTensors, bytes: m.numBytes, ...memoryGpu() };
      })),
    };
  } finally {
    fp.destroy();
    image.dispose();
    fm.dispose();
  }
  await report(
    o,
    results,
    { width, height },
    { runtime: 'node', ...(gpuInfo !== undefined ? { adapter: gpuInfo } : {}) },
  );
}

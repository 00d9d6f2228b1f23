// The explain worker (comlink): owns the model, the backend (WebGPU first, else WebGL, else wasm) and the overlay
// canvas. Frames are submitted one at a time (calls queue up) and finished in order; a frame's submission may run
// while the previous frame's readback is in flight (workers/path.ts startFrame). A lost GPUDevice is recovered in the background
// (status 'recovering' -> 'ready'): new device, model reloaded, GPU resources rebuilt, canvas reconfigured.
import { expose } from 'comlink';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import type { FixationModel } from '../src/engine/model.ts';
import { countBackendReads, frameCounters, snapshot } from '../src/gpu/counters.ts';
import { createGpuContext, releaseGpuContext, type GpuContext } from '../src/gpu/device.ts';
import type { Backend, ExplainRequest, ExplainWorkerTestApi, FrameResult, InitInfo, InitOptions, WorkerStatus } from './api.ts';
import { FallbackPath } from './fallback-path.ts';
import { GpuPath } from './gpu-path.ts';
import { loadFixationModel } from './load.ts';
import { explainFrame, startFrame, type FramePath } from './path.ts';
import { planFrame } from './plan.ts';

setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
});

/** Bench builds (Vite mode 'bench') count each frame's GPU calls and readbacks into its result. */
const COUNT = import.meta.env.MODE === 'bench';

let status: WorkerStatus = { state: 'idle' };
let opts: InitOptions | null = null;
let canvas: OffscreenCanvas | null = null;
let gpu: GpuContext | null = null;
let fm: FixationModel | null = null;
let path: FramePath | null = null;
let fallbackReason: string | undefined;
let recovering: Promise<void> | null = null;
/** Serialises init/dispose and the frames' submissions: the paths reuse their GPU buffers frame to frame. */
let queue: Promise<unknown> = Promise.resolve();
const serial = <T>(f: () => Promise<T>): Promise<T> => {
  const r = queue.then(f, f);
  queue = r.catch(() => undefined);
  return r;
};
/** The frames' second halves (readback, heatmap, overlay), in submission order. */
let finishing: Promise<unknown> = Promise.resolve();
const inOrder = <T>(f: () => Promise<T>): Promise<T> => {
  const r = finishing.then(f, f);
  finishing = r.catch(() => undefined);
  return r;
};
/** Bench builds: counters at the end of the last finished frame (a frame's counts run from there, see explain). */
let lastCount: ReturnType<typeof snapshot> | null = null;

function teardown() {
  path?.destroy();
  path = null;
  try { fm?.dispose(); } catch { /* a lost device */ }
  fm = null;
  if (gpu) {
    const g = gpu;
    gpu = null; // before destroying, so that the lost handler knows it was us
    releaseGpuContext(g);
  }
}

async function startFallback(): Promise<Backend> {
  for (const b of ['webgl', 'wasm'] as const) {
    try {
      if (await tf.setBackend(b)) { await tf.ready(); return b; }
    } catch { /* next */ }
  }
  await tf.setBackend('cpu');
  return 'cpu';
}

/** 'auto' times this many frames on each path (the first warms up: tfjs compiles its shaders) and keeps the faster. */
const TRIAL_FRAMES = 2;

/** ms of the last of TRIAL_FRAMES frames explained on `p` (a fixed noise frame, 640x480, default request). */
async function timeFrames(p: FramePath): Promise<number> {
  const plan = planFrame(p.fm, {});
  let ms = NaN;
  for (let i = 0; i < TRIAL_FRAMES; i++) {
    const frame = tf.randomUniform([480, 640, 3], 0, 256, 'int32', 7) as tf.Tensor3D; // owned (disposed) by the frame
    const t0 = performance.now();
    await explainFrame(p, frame, plan);
    ms = performance.now() - t0;
  }
  return ms;
}

/** The GPU path drawing into `target` (null: nothing presented, as for the 'auto' trial). */
async function startGpu(o: InitOptions, target: OffscreenCanvas | null) {
  gpu = await createGpuContext({ count: COUNT });
  fm = await loadFixationModel(o);
  const gp = new GpuPath(gpu, fm, target);
  path = gp;
  await gp.compile();
  watchDevice(gpu);
}

async function start(o: InitOptions): Promise<InitInfo> {
  const want = o.backend ?? 'auto';
  if (!['auto', 'webgpu', 'fallback'].includes(want)) throw new Error(`init: backend must be 'auto', 'webgpu' or 'fallback', got '${want}'`);
  fallbackReason = undefined;
  let auto: InitInfo['auto'];
  if (want !== 'fallback') {
    try {
      // 'auto' first times the GPU path without the canvas: a canvas that gave a 'webgpu' context cannot give a '2d' one.
      await startGpu(o, want === 'auto' ? null : canvas);
    } catch (e) {
      teardown();
      if (want === 'webgpu') throw e;
      fallbackReason = `WebGPU: ${(e as Error).message}`;
    }
  } else {
    fallbackReason = 'requested';
  }
  if (want === 'auto' && path) {
    // Both paths work here: keep the faster one on the first frames (on SwiftShader the fallback, on a GPU the GPU path).
    let gpuMs = NaN;
    try { gpuMs = await timeFrames(path); } catch (e) { fallbackReason = `WebGPU: ${(e as Error).message}`; }
    teardown();
    const backend = await startFallback();
    if (COUNT) countBackendReads(tf.backend());
    fm = await loadFixationModel(o);
    const trial = new FallbackPath(backend, fm, null);
    const fallbackMs = await timeFrames(trial);
    trial.destroy();
    if (fallbackMs <= gpuMs || !(gpuMs >= 0)) {
      path = new FallbackPath(backend, fm, canvas);
      if (gpuMs >= 0) fallbackReason = `auto: the fallback was faster here (${fallbackMs.toFixed(0)} ms against ${gpuMs.toFixed(0)} ms per frame on the GPU path)`;
    } else {
      try { fm.dispose(); } catch { /* next */ }
      fm = null;
      await startGpu(o, canvas);
    }
    auto = { chosen: path!.name, gpuMs, fallbackMs, frames: TRIAL_FRAMES };
  }
  if (!path) {
    const backend = await startFallback();
    if (COUNT) countBackendReads(tf.backend());
    fm = await loadFixationModel(o);
    path = new FallbackPath(backend, fm, canvas);
  }
  const note = path.note;
  return {
    modelId: fm!.info.id,
    labels: fm!.info.labels,
    path: path.name,
    backend: path.backend,
    ...(fallbackReason || note ? { fallbackReason: [fallbackReason, note].filter(Boolean).join('; ') } : {}),
    inputSize: fm!.input.height,
    inputShape: [fm!.input.height, fm!.input.width, fm!.input.channels],
    preprocessing: fm!.info.preprocessing,
    logits: fm!.info.logits,
    layers: fm!.graph.order.map((n) => ({ name: n.name, shape: n.shape })),
    ...(auto ? { auto } : {}),
  };
}

function watchDevice(g: GpuContext) {
  void g.device.lost.then((info) => {
    if (gpu !== g) return; // released on purpose (teardown, dispose, new init)
    status = { state: 'recovering', message: `GPU device lost (${info.reason}: ${info.message}); reinitialising` };
    recovering = serial(async () => {
      try {
        teardown();
        await start({ ...opts!, backend: 'webgpu' });
        status = { state: 'ready' };
      } catch (e) {
        // WebGPU is gone for good: continue on the fallback path (without overlay if the canvas is WebGPU's).
        try {
          teardown();
          await start({ ...opts!, backend: 'fallback' });
          fallbackReason = `GPU device lost and not recoverable (${(e as Error).message})`;
          status = { state: 'ready', message: fallbackReason };
        } catch (e2) {
          status = { state: 'error', message: `recovery failed: ${(e2 as Error).message}` };
        }
      } finally {
        recovering = null;
      }
    });
  });
}

const api: ExplainWorkerTestApi = {
  init(o: InitOptions) {
    return serial(async () => {
      await finishing; // frames in flight finish on the old path
      lastCount = null;
      status = { state: 'loading' };
      teardown();
      opts = { ...o, canvas: undefined };
      if (o.canvas) canvas = o.canvas;
      try {
        const info = await start(opts);
        status = { state: 'ready' };
        return info;
      } catch (e) {
        teardown();
        status = { state: 'error', message: (e as Error).message };
        throw e;
      }
    });
  },

  async explain(frame: ImageBitmap | VideoFrame, req: ExplainRequest = {}, submitted?: () => void): Promise<FrameResult> {
    if (recovering) await recovering;
    const lost = (e: unknown) => (recovering || status.state === 'recovering')
      ? new Error(`explain: the GPU device was lost during this frame; the worker is recovering, send the next frame (${(e as Error).message})`)
      : e;
    const started = await serial(async () => {
      if (!path) {
        frame.close();
        throw new Error(status.state === 'error' ? `explain: the worker is in error (${status.message})` : 'explain: call init() first');
      }
      let plan;
      try { plan = planFrame(path.fm, req); } catch (e) { frame.close(); throw e; }
      // Pipelined frames overlap, so a frame's counts run from the end of the previous one (steady state: one frame's).
      if (COUNT && !lastCount) lastCount = snapshot();
      try {
        return await startFrame(path, frame, plan);
      } catch (e) {
        throw lost(e);
      }
    }).finally(() => { try { submitted?.(); } catch { /* the page went away */ } });
    return inOrder(async () => {
      try {
        const r = await started.finish();
        if (COUNT && lastCount) { r.counters = frameCounters(lastCount, r.timings.total); lastCount = snapshot(); }
        return r;
      } catch (e) {
        throw lost(e);
      }
    });
  },

  async resize(width: number, height: number) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 8192 || height > 8192) {
      throw new Error(`resize: width and height must be integers in 1..8192, got ${width}x${height}`);
    }
    if (!canvas) throw new Error('resize: no overlay canvas (pass one to init)');
    await serial(async () => {
      canvas!.width = width;
      canvas!.height = height;
    });
  },

  async status() {
    return status;
  },

  async memory() {
    const m = tf.memory();
    return { tensors: m.numTensors, bytes: m.numBytes, gpuBuffers: gpu?.buffers.buffers ?? 0, gpuBytes: gpu?.buffers.bytes ?? 0 };
  },

  dispose() {
    return serial(async () => {
      await finishing;
      teardown();
      status = { state: 'idle' };
    });
  },

  async __loseDeviceForTest() {
    if (!gpu) throw new Error('__loseDeviceForTest: not on the GPU path');
    gpu.device.destroy();
    for (let i = 0; i < 500 && status.state !== 'recovering'; i++) await new Promise((r) => setTimeout(r, 10));
    return status;
  },

  __heatmapForTest(points, width, height, o) {
    return serial(async () => {
      if (!(path instanceof GpuPath)) throw new Error('__heatmapForTest: not on the GPU path');
      return path.heatmapPixels(points, width, height, o.colormap, o.opacity, o.sigma);
    });
  },

  __overlayForTest() {
    return serial(async () => {
      await finishing;
      if (!(path instanceof GpuPath || path instanceof FallbackPath)) throw new Error('__overlayForTest: no path');
      return path.lastOverlayPixels();
    });
  },
};

expose(api);

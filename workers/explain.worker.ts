// The explain worker (comlink): owns the model, the backend (WebGPU first, else WebGL, else wasm) and the overlay
// canvas. Frames are explained one at a time (calls queue up). A lost GPUDevice is recovered in the background
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
import { setGpuFaults } from '../src/gpu/kernels.ts';
import type { Backend, ExplainRequest, ExplainWorkerTestApi, FrameResult, InitInfo, InitOptions, WorkerStatus } from './api.ts';
import { FallbackPath } from './fallback-path.ts';
import { GpuPath } from './gpu-path.ts';
import { loadFixationModel } from './load.ts';
import { explainFrame, type FramePath } from './path.ts';
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
/** Serialises init/explain/dispose: the paths reuse their GPU buffers frame to frame. */
let queue: Promise<unknown> = Promise.resolve();
const serial = <T>(f: () => Promise<T>): Promise<T> => {
  const r = queue.then(f, f);
  queue = r.catch(() => undefined);
  return r;
};

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

async function start(o: InitOptions): Promise<InitInfo> {
  const want = o.backend ?? 'auto';
  if (!['auto', 'webgpu', 'fallback'].includes(want)) throw new Error(`init: backend must be 'auto', 'webgpu' or 'fallback', got '${want}'`);
  fallbackReason = undefined;
  if (want !== 'fallback') {
    try {
      setGpuFaults(o.__gpuFaultsForTest);
      gpu = await createGpuContext({ count: COUNT });
      fm = await loadFixationModel(o);
      const gp = new GpuPath(gpu, fm, canvas);
      path = gp;
      await gp.compile();
      watchDevice(gpu);
    } catch (e) {
      teardown();
      if (want === 'webgpu') throw e;
      fallbackReason = `WebGPU: ${(e as Error).message}`;
    }
  } else {
    fallbackReason = 'requested';
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

  async explain(frame: ImageBitmap | VideoFrame, req: ExplainRequest = {}): Promise<FrameResult> {
    if (recovering) await recovering;
    return serial(async () => {
      if (!path) {
        frame.close();
        throw new Error(status.state === 'error' ? `explain: the worker is in error (${status.message})` : 'explain: call init() first');
      }
      try {
        let plan;
        try { plan = planFrame(path.fm, req); } catch (e) { frame.close(); throw e; }
        const before = COUNT ? snapshot() : null;
        const r = await explainFrame(path, frame, plan);
        if (before) r.counters = frameCounters(before, r.timings.total);
        return r;
      } catch (e) {
        if (recovering || status.state === 'recovering') {
          throw new Error(`explain: the GPU device was lost during this frame; the worker is recovering, send the next frame (${(e as Error).message})`);
        }
        throw e;
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
    const note = path instanceof GpuPath ? path.note : undefined;
    return { ...status, ...(gpu?.uncaptured.count ? { gpuErrors: { ...gpu.uncaptured } } : {}), ...(note ? { unravelNote: note } : {}) };
  },

  async memory() {
    const m = tf.memory();
    return { tensors: m.numTensors, bytes: m.numBytes, gpuBuffers: gpu?.buffers.buffers ?? 0, gpuBytes: gpu?.buffers.bytes ?? 0 };
  },

  dispose() {
    return serial(async () => {
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
      if (!(path instanceof GpuPath || path instanceof FallbackPath)) throw new Error('__overlayForTest: no path');
      return path.lastOverlayPixels();
    });
  },
};

expose(api);

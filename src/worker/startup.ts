// Back-end start-up: the model and the frame path the worker runs (WebGPU first, else WebGL, else wasm; wasm first
// on Safari, see backend-choice.ts; 'auto' times both paths and keeps the faster), the GPU device it owns, and
// their teardown. The worker's session state lives here: what is running, on which canvas.
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import type { FixationModel } from '../engine/model.ts';
import { countBackendReads } from '../gpu/counters.ts';
import { createGpuContext, releaseGpuContext, type GpuContext } from '../gpu/device.ts';
import { setGpuFaults } from '../gpu/kernels.ts';
import type { Backend, InitInfo, InitOptions, WorkerStatus } from './api.ts';
import { chooseFallback } from './backend-choice.ts';
import { FallbackPath } from './fallback-path.ts';
import { GpuPath } from './gpu-path.ts';
import { loadFixationModel } from './load.ts';
import { explainFrame, type FramePath } from './path.ts';
import { planFrame } from './plan.ts';

/** Bench builds (Vite mode 'bench') count each frame's GPU calls and readbacks into its result. */
export const COUNT = import.meta.env.MODE === 'bench';

/** What the worker runs: its status, options, overlay canvas, GPU device, model and frame path. */
export class Session {
  status: WorkerStatus = { state: 'idle' };
  opts: InitOptions | null = null;
  canvas: OffscreenCanvas | null = null;
  gpu: GpuContext | null = null;
  fm: FixationModel | null = null;
  path: FramePath | null = null;
  fallbackReason: string | undefined;
  wasmInfo: InitInfo['wasm'];
  /** Called with each GPU device once its path is ready (device recovery watches it). */
  onDevice: (g: GpuContext) => void = () => {};

  teardown() {
    this.path?.destroy();
    this.path = null;
    try { this.fm?.dispose(); } catch { /* a lost device */ }
    this.fm = null;
    if (this.gpu) {
      const g = this.gpu;
      this.gpu = null; // before destroying, so that the lost handler knows it was us
      releaseGpuContext(g);
    }
  }

  /** The first fallback backend that starts, in the order chooseFallback() gives for this browser. */
  async startFallback(): Promise<{ backend: Backend; reason?: string }> {
    const { order, reason } = chooseFallback(navigator.userAgent);
    this.wasmInfo = undefined;
    for (const b of order) {
      try {
        if (await tf.setBackend(b)) {
          await tf.ready();
          if (b === 'wasm') {
            this.wasmInfo = {
              simd: !!(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
              threadsSupported: !!(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')),
              threads: getThreadsCount(),
            };
          }
          return { backend: b, reason };
        }
      } catch { /* next */ }
    }
    await tf.setBackend('cpu');
    return { backend: 'cpu', reason };
  }

  /**
   * The GPU path on a new device, drawing into `target` (null: nothing presented, as for the 'auto' trial); rejects if
   * the device is lost before it is ready (lose -> reload -> lose).
   */
  async startGpu(o: InitOptions, target: OffscreenCanvas | null) {
    const g = await createGpuContext({ count: COUNT });
    this.gpu = g;
    let lost: GPUDeviceLostInfo | null = null;
    void g.device.lost.then((info) => { lost = info; });
    const check = () => {
      if (lost) throw new Error(`the new GPU device is already lost (${lost.reason || 'unknown'}: ${lost.message})`);
    };
    await new Promise((r) => setTimeout(r, 0)); // lets an already-settled lost promise be seen
    check();
    this.fm = await loadFixationModel(o);
    const gp = new GpuPath(g, this.fm, target);
    this.path = gp;
    await gp.compile();
    check();
    this.onDevice(g);
  }

  /** Start the back-end `o.backend` asks for (opts and canvas set); what the page is told about it. */
  async start(o: InitOptions): Promise<InitInfo> {
    const want = o.backend ?? 'auto';
    if (!['auto', 'webgpu', 'fallback'].includes(want)) throw new Error(`init: backend must be 'auto', 'webgpu' or 'fallback', got '${want}'`);
    this.fallbackReason = undefined;
    let auto: InitInfo['auto'];
    if (want !== 'fallback') {
      try {
        setGpuFaults(o.__gpuFaultsForTest);
        // 'auto' first times the GPU path without the canvas: a canvas that gave a 'webgpu' context cannot give a '2d' one.
        await this.startGpu(o, want === 'auto' ? null : this.canvas);
      } catch (e) {
        this.teardown();
        if (want === 'webgpu') throw e;
        this.fallbackReason = `WebGPU: ${(e as Error).message}`;
      }
    } else {
      this.fallbackReason = o.fallbackReason ?? 'requested';
    }
    if (want === 'auto' && this.path) {
      // Both paths work here: keep the faster one on the first frames (on SwiftShader the fallback, on a GPU the GPU path).
      let gpuMs = NaN;
      try { gpuMs = await timeFrames(this.path); } catch (e) { this.fallbackReason = `WebGPU: ${(e as Error).message}`; }
      this.teardown();
      const { backend } = await this.startFallback();
      if (COUNT) countBackendReads(tf.backend());
      this.fm = await loadFixationModel(o);
      const trial = new FallbackPath(backend, this.fm, null);
      const fallbackMs = await timeFrames(trial);
      trial.destroy();
      if (fallbackMs <= gpuMs || !(gpuMs >= 0)) {
        this.path = new FallbackPath(backend, this.fm, this.canvas);
        if (gpuMs >= 0) this.fallbackReason = `auto: the fallback was faster here (${fallbackMs.toFixed(0)} ms against ${gpuMs.toFixed(0)} ms per frame on the GPU path)`;
      } else {
        try { this.fm.dispose(); } catch { /* next */ }
        this.fm = null;
        await this.startGpu(o, this.canvas);
      }
      auto = { chosen: this.path!.name, gpuMs, fallbackMs, frames: TRIAL_FRAMES };
    }
    if (!this.path) {
      if (this.canvas && !this.canvas.getContext('2d')) throw freshCanvasNeeded(this.fallbackReason!);
      const { backend, reason } = await this.startFallback();
      if (reason) this.fallbackReason = `${this.fallbackReason}; ${reason}`;
      if (COUNT) countBackendReads(tf.backend());
      this.fm = await loadFixationModel(o);
      this.path = new FallbackPath(backend, this.fm, this.canvas);
    }
    const path = this.path, fm = this.fm!, note = path.note;
    return {
      modelId: fm.info.id,
      labels: fm.info.labels,
      path: path.name,
      backend: path.backend,
      ...(path.backend === 'wasm' && this.wasmInfo ? { wasm: this.wasmInfo } : {}),
      ...(this.fallbackReason || note ? { fallbackReason: [this.fallbackReason, note].filter(Boolean).join('; ') } : {}),
      inputSize: fm.input.height,
      inputShape: [fm.input.height, fm.input.width, fm.input.channels],
      preprocessing: fm.info.preprocessing,
      logits: fm.info.logits,
      layers: fm.graph.order.map((n) => ({ name: n.name, shape: n.shape })),
      ...(auto ? { auto } : {}),
    };
  }
}

/** The fallback needs a 2D context; a canvas that has given a WebGPU context cannot: the page must send a new one. */
function freshCanvasNeeded(reason: string): Error {
  return Object.assign(new Error(reason), { name: 'FreshCanvasNeeded' });
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

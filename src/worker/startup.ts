// Back-end start-up: the model and the frame path the worker runs (WebGPU first, else WebGL, else wasm; wasm first
// on Safari, see backend-choice.ts), the GPU device it owns, and their teardown. 'auto' builds one path, once: a
// software WebGPU adapter (SwiftShader, llvmpipe, WARP: a CPU behind WebGPU) goes straight to the fallback, which is
// faster there; a real GPU keeps the GPU path it builds. Start-up is timed in parts (InitInfo.startup). The worker's
// session state lives here: what is running, on which canvas.
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import type { FixationModel } from '../engine/model.ts';
import { countBackendReads } from '../gpu/counters.ts';
import { createGpuContext, probeAdapter, releaseGpuContext, type GpuContext } from '../gpu/device.ts';
import { setGpuFaults } from '../gpu/kernels.ts';
import type { Backend, InitInfo, InitOptions, LoadProgress, Method, WorkerStatus } from './api.ts';
import { methodFor } from '../engine/methods.ts';
import { chooseFallback } from './backend-choice.ts';
import { FallbackPath } from './fallback-path.ts';
import { GpuPath } from './gpu-path.ts';
import { loadFixationModel } from './load.ts';
import type { FramePath } from './path.ts';

/**
 * Bench and test builds (any Vite mode but 'production') count each frame's GPU calls, writes and readbacks into its
 * result (FrameResult.counters, src/gpu/counters.ts): the frame-cost tests assert on them.
 */
export const COUNT = import.meta.env.MODE !== 'production';

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
  /** The last start's parts, ms (InitInfo.startup). */
  startup: Record<string, number> = {};
  /** Called with each GPU device once its path is ready (device recovery watches it). */
  onDevice: (g: GpuContext) => void = () => {};
  /** init()'s progress listener (the page's, through comlink); a page that went away is not an error here. */
  report: ((p: LoadProgress) => void) | undefined;

  tell(p: LoadProgress) {
    const r = this.report?.(p) as unknown;
    if (r instanceof Promise) r.catch(() => {});
  }
  private readonly onBytes = (loaded: number, total: number) => this.tell({ step: 'model', loaded, total });

  teardown() {
    this.path?.destroy();
    this.path = null;
    try {
      this.fm?.dispose();
    } catch {
      /* a lost device */
    }
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
          // tfjs-webgl hands a top-k over fewer than 100,000 values (the summary's, over the classes) to the CPU with a
          // synchronous readSync that stalls the worker on the whole forward pass; on the GPU (bitonic, ties to the
          // lower index as on the CPU) the frame's only wait is the summary's await data().
          if (b === 'webgl') tf.env().set('TOPK_LAST_DIM_CPU_HANDOFF_SIZE_THRESHOLD', 0);
          if (b === 'wasm') {
            this.wasmInfo = {
              simd: !!(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
              threadsSupported: !!(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')),
              threads: getThreadsCount(),
            };
          }
          return { backend: b, reason };
        }
      } catch {
        /* next */
      }
    }
    await tf.setBackend('cpu');
    return { backend: 'cpu', reason };
  }

  /**
   * The GPU path on a new device, drawing into `target` (null: nothing presented, as for the 'auto' trial); rejects if
   * the device is lost before it is ready (lose -> reload -> lose).
   */
  async startGpu(o: InitOptions, target: OffscreenCanvas | null) {
    const t0 = performance.now();
    const g = await createGpuContext({ count: COUNT });
    this.gpu = g;
    this.startup.deviceMs = performance.now() - t0;
    let lost: GPUDeviceLostInfo | null = null;
    void g.device.lost.then((info) => {
      lost = info;
    });
    const check = () => {
      if (lost) throw new Error(`the new GPU device is already lost (${lost.reason || 'unknown'}: ${lost.message})`);
    };
    await new Promise((r) => setTimeout(r, 0)); // lets an already-settled lost promise be seen
    check();
    const t1 = performance.now();
    this.fm = await loadFixationModel(o, this.onBytes);
    this.startup.downloadMs = performance.now() - t1;
    const gp = new GpuPath(g, this.fm, target);
    this.path = gp;
    this.tell({ step: 'compile' });
    Object.assign(this.startup, await gp.compile());
    check();
    this.onDevice(g);
  }

  /** Start the back-end `o.backend` asks for (opts and canvas set); what the page is told about it. */
  async start(o: InitOptions): Promise<InitInfo> {
    const want = o.backend ?? 'auto';
    if (!['auto', 'webgpu', 'fallback'].includes(want))
      throw new Error(`init: backend must be 'auto', 'webgpu' or 'fallback', got '${want}'`);
    this.fallbackReason = undefined;
    this.startup = {};
    let auto: InitInfo['auto'];
    let skipGpu = want === 'fallback';
    if (want === 'fallback') this.fallbackReason = o.fallbackReason ?? 'requested';
    if (want === 'auto') {
      // Decided from the adapter, before building anything: no second device, compile or self-check.
      setGpuFaults(o.__gpuFaultsForTest);
      const a = await probeAdapter();
      if (a?.software) {
        skipGpu = true;
        this.fallbackReason = `auto: the WebGPU adapter is a software one (${a.name}): the fallback is faster there`;
      }
      auto = { chosen: a?.software || !a ? 'fallback' : 'gpu', adapter: a?.name ?? null, software: !!a?.software };
    }
    if (!skipGpu) {
      try {
        setGpuFaults(o.__gpuFaultsForTest);
        await this.startGpu(o, this.canvas);
      } catch (e) {
        this.teardown();
        if (want === 'webgpu') throw e;
        this.fallbackReason = `WebGPU: ${(e as Error).message}`;
      }
    }
    if (!this.path) {
      if (this.canvas && !this.canvas.getContext('2d')) throw freshCanvasNeeded(this.fallbackReason!);
      const { backend, reason } = await this.startFallback();
      if (reason) this.fallbackReason = `${this.fallbackReason}; ${reason}`;
      if (COUNT) countBackendReads(tf.backend());
      const t1 = performance.now();
      this.fm = await loadFixationModel(o, this.onBytes);
      this.startup.downloadMs = performance.now() - t1;
      this.tell({ step: 'compile' });
      this.path = new FallbackPath(backend, this.fm, this.canvas);
    }
    if (auto) auto.chosen = this.path.name;
    const path = this.path,
      fm = this.fm!,
      note = path.note;
    return {
      modelId: fm.info.id,
      labels: fm.info.labels,
      path: path.name,
      backend: path.backend,
      ...(path.backend === 'wasm' && this.wasmInfo ? { wasm: this.wasmInfo } : {}),
      ...(this.fallbackReason || note
        ? { fallbackReason: [this.fallbackReason, note].filter(Boolean).join('; ') }
        : {}),
      inputSize: fm.input.height,
      inputShape: [fm.input.height, fm.input.width, fm.input.channels],
      preprocessing: fm.info.preprocessing,
      logits: fm.info.logits,
      layers: fm.graph.order.map((n) => ({ name: n.name, shape: n.shape })),
      method: methodFor(fm.info) as Method,
      ...(auto ? { auto } : {}),
      startup: { ...this.startup },
    };
  }
}

/** The fallback needs a 2D context; a canvas that has given a WebGPU context cannot: the page must send a new one. */
function freshCanvasNeeded(reason: string): Error {
  return Object.assign(new Error(reason), { name: 'FreshCanvasNeeded' });
}

// The explain worker (comlink): owns the model, the backend (WebGPU first, else WebGL, else wasm; wasm first on
// Safari, see backend-choice.ts; 'auto' times both paths and keeps the faster) and the overlay canvas. Frames are
// submitted one at a time (calls queue up) and finished in order; a frame's submission may run while the previous
// frame's readback is in flight (src/worker/path.ts startFrame). A lost GPUDevice is recovered in the background
// (status 'recovering' -> 'ready': new device, model reloaded, GPU resources rebuilt, canvas reconfigured), with
// bounded attempts and backoff, only while the page is visible; when that fails the status says what the page must
// do (WorkerStatus.next). Never 'ready' without an overlay.
import { expose } from 'comlink';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import './wasm-threads.ts';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import type { FixationModel } from '../engine/model.ts';
import { countBackendReads, frameCounters, snapshot } from '../gpu/counters.ts';
import { createGpuContext, releaseGpuContext, type GpuContext } from '../gpu/device.ts';
import { setGpuFaults } from '../gpu/kernels.ts';
import { FIRST_READBACK_TIMEOUT_MS, READBACK_TIMEOUT_MS, ReadbackTimeoutError, setReadbackTimeout } from '../gpu/readback.ts';
import type { Backend, ExplainRequest, ExplainWorkerTestApi, FrameResult, InitInfo, InitOptions, WorkerStatus } from './api.ts';
import { chooseFallback } from './backend-choice.ts';
import { FallbackPath } from './fallback-path.ts';
import { GpuPath } from './gpu-path.ts';
import { loadFixationModel } from './load.ts';
import { explainFrame, startFrame, type FramePath } from './path.ts';
import { overlayOptions, planFrame } from './plan.ts';

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
let wasmInfo: InitInfo['wasm'];

/**
 * Device-loss recovery: at most RECOVERY_ATTEMPTS attempts until a frame is explained again (successful recoveries
 * count too, so a device lost again and again, or lost at the first frame, ends in an error instead of a loop), the
 * n-th after BACKOFF_MS * 2^(n-1).
 */
const RECOVERY_ATTEMPTS = 3;
const BACKOFF_MS = 500;
/** When the attempts since the last explained frame began (Date.now()). */
let attempts: number[] = [];
/** A frame was explained since the last (re)start: readbacks have the normal limit, not the first frame's. */
let warm = false;
function started() {
  warm = false;
  setReadbackTimeout(FIRST_READBACK_TIMEOUT_MS);
}
/** The page's visibility (setVisible); a hidden page gets no recovery attempt until it is shown again. */
let visible = true;
let wakers: (() => void)[] = [];
/** Bumped by init and dispose: a recovery begun under an older epoch stops. */
let epoch = 0;
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

/** The first fallback backend that starts, in the order chooseFallback() gives for this browser. */
async function startFallback(): Promise<{ backend: Backend; reason?: string }> {
  const { order, reason } = chooseFallback(navigator.userAgent);
  wasmInfo = undefined;
  for (const b of order) {
    try {
      if (await tf.setBackend(b)) {
        await tf.ready();
        if (b === 'wasm') {
          wasmInfo = {
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

/** WebGPU is there to be had: an adapter is given (after a loss, a missing one means it is gone for good). */
async function webgpuAvailable(): Promise<boolean> {
  try { return !!(await navigator.gpu?.requestAdapter()); } catch { return false; }
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

/**
 * The GPU path on a new device, drawing into `target` (null: nothing presented, as for the 'auto' trial); rejects if
 * the device is lost before it is ready (lose -> reload -> lose).
 */
async function startGpu(o: InitOptions, target: OffscreenCanvas | null) {
  const g = await createGpuContext({ count: COUNT });
  gpu = g;
  let lost: GPUDeviceLostInfo | null = null;
  void g.device.lost.then((info) => { lost = info; });
  const check = () => {
    if (lost) throw new Error(`the new GPU device is already lost (${lost.reason || 'unknown'}: ${lost.message})`);
  };
  await new Promise((r) => setTimeout(r, 0)); // lets an already-settled lost promise be seen
  check();
  fm = await loadFixationModel(o);
  const gp = new GpuPath(g, fm, target);
  path = gp;
  await gp.compile();
  check();
  watchDevice(g);
}

async function start(o: InitOptions): Promise<InitInfo> {
  const want = o.backend ?? 'auto';
  if (!['auto', 'webgpu', 'fallback'].includes(want)) throw new Error(`init: backend must be 'auto', 'webgpu' or 'fallback', got '${want}'`);
  fallbackReason = undefined;
  let auto: InitInfo['auto'];
  if (want !== 'fallback') {
    try {
      setGpuFaults(o.__gpuFaultsForTest);
      // 'auto' first times the GPU path without the canvas: a canvas that gave a 'webgpu' context cannot give a '2d' one.
      await startGpu(o, want === 'auto' ? null : canvas);
    } catch (e) {
      teardown();
      if (want === 'webgpu') throw e;
      fallbackReason = `WebGPU: ${(e as Error).message}`;
    }
  } else {
    fallbackReason = o.fallbackReason ?? 'requested';
  }
  if (want === 'auto' && path) {
    // Both paths work here: keep the faster one on the first frames (on SwiftShader the fallback, on a GPU the GPU path).
    let gpuMs = NaN;
    try { gpuMs = await timeFrames(path); } catch (e) { fallbackReason = `WebGPU: ${(e as Error).message}`; }
    teardown();
    const { backend } = await startFallback();
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
    if (canvas && !canvas.getContext('2d')) throw freshCanvasNeeded(fallbackReason!);
    const { backend, reason } = await startFallback();
    if (reason) fallbackReason = `${fallbackReason}; ${reason}`;
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
    ...(path.backend === 'wasm' && wasmInfo ? { wasm: wasmInfo } : {}),
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
    const why = `GPU device lost (${info.reason || 'unknown'}: ${info.message})`;
    status = { state: 'recovering', message: `${why}; recovering`, attempt: 0 };
    const e0 = epoch;
    recovering = recover(why, e0).finally(() => { if (epoch === e0) recovering = null; });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Resolves when the page is visible (at once if it is) or the epoch changes. */
const whenVisible = () => (visible ? Promise.resolve() : new Promise<void>((r) => wakers.push(r)));
function wake() {
  const w = wakers;
  wakers = [];
  for (const f of w) f();
}

async function recover(why: string, e0: number): Promise<void> {
  // After the frame that met the loss (its readbacks fail at once on a lost device, or time out): the dead device goes.
  await serial(async () => { if (epoch === e0) teardown(); });
  let last = why;
  let gone = false;
  for (;;) {
    if (attempts.length >= RECOVERY_ATTEMPTS) break;
    const n = attempts.length + 1;
    // Back off, then wait for the page to be visible: a hidden tab (or a phone's locked screen) gets no attempt.
    await sleep(BACKOFF_MS * 2 ** (n - 1));
    while (!visible && epoch === e0) {
      status = { state: 'recovering', message: `${why}; waiting for the page to be visible`, attempt: 0 };
      await whenVisible();
    }
    if (epoch !== e0) return;
    attempts.push(Date.now());
    status = { state: 'recovering', message: `${why}; recovery attempt ${n} of ${RECOVERY_ATTEMPTS}`, attempt: n };
    try {
      await serial(async () => {
        if (epoch !== e0) return;
        try { await startGpu({ ...opts!, backend: 'webgpu' }, canvas); } catch (e) { teardown(); throw e; }
      });
      if (epoch === e0) {
        started();
        status = { state: 'ready' };
      }
      return;
    } catch (e) {
      last = (e as Error).message;
      gone = !(await webgpuAvailable());
      if (gone) break; // no adapter: more attempts would not bring WebGPU back
    }
  }
  if (epoch !== e0) return;
  status = gone
    ? { state: 'error', next: 'fallback', message: `The GPU device was lost and WebGPU is no longer available (${last})` }
    : {
      state: 'error', next: 'restart',
      message: `The GPU device was lost and could not be recovered (${RECOVERY_ATTEMPTS} attempts without an explained frame; last: ${last}). Restart to try again.`,
    };
}

/** What a failed frame tells the page. */
function failed(e: unknown): unknown {
  // A stuck readback leaves its buffer mapping pending: the device is unusable. Lose it on purpose (recovery
  // follows); on the fallback path the page restarts the worker.
  if (e instanceof ReadbackTimeoutError) {
    if (!gpu) {
      status = { state: 'error', message: e.message };
      return e;
    }
    // Said at once: the lost handler runs only when device.lost settles.
    status = { state: 'recovering', message: `${e.message}; resetting the GPU device`, attempt: 0 };
    gpu.device.destroy();
    return new Error(`explain: ${e.message}; the GPU device is being reset and recovered, send the next frame`);
  }
  if (recovering || status.state === 'recovering') {
    return new Error(`explain: the GPU device was lost during this frame; the worker is recovering, send the next frame (${(e as Error).message})`);
  }
  return e;
}

const api: ExplainWorkerTestApi = {
  init(o: InitOptions) {
    epoch++;
    recovering = null;
    attempts = []; // a new start (the user's restart) gets the full number of attempts again
    wake();
    if (o.visible !== undefined) visible = o.visible;
    return serial(async () => {
      await finishing; // frames in flight finish on the old path
      lastCount = null;
      status = { state: 'loading' };
      teardown();
      opts = { ...o, canvas: undefined, visible: undefined };
      if (o.canvas) canvas = o.canvas;
      try {
        const info = await start(opts);
        started();
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
    const begun = await serial(async () => {
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
        throw failed(e);
      }
    }).finally(() => { try { submitted?.(); } catch { /* the page went away */ } });
    return inOrder(async () => {
      try {
        const r = await begun.finish();
        if (COUNT && lastCount) { r.counters = frameCounters(lastCount, r.timings.total); lastCount = snapshot(); }
        attempts = []; // explained: a later loss gets the full number of attempts again
        if (!warm) {
          warm = true;
          setReadbackTimeout(READBACK_TIMEOUT_MS);
        }
        return r;
      } catch (e) {
        throw failed(e);
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

  async setVisible(v: boolean) {
    visible = v;
    if (v) wake();
  },

  async memory() {
    const m = tf.memory();
    return { tensors: m.numTensors, bytes: m.numBytes, gpuBuffers: gpu?.buffers.buffers ?? 0, gpuBytes: gpu?.buffers.bytes ?? 0 };
  },

  dispose() {
    epoch++;
    recovering = null;
    wake();
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

  async __gpuFaultForTest(fault) {
    const g = navigator.gpu as GPU & { requestAdapter: GPU['requestAdapter'] };
    if (!g) throw new Error('__gpuFaultForTest: no navigator.gpu');
    delete (g as Partial<typeof g>).requestAdapter; // the prototype's again
    if (!fault) return;
    const requestAdapter = g.requestAdapter.bind(g);
    g.requestAdapter = async (o) => {
      if (fault === 'no-adapter') return null;
      const a = await requestAdapter(o);
      if (!a) return a;
      const requestDevice = a.requestDevice.bind(a);
      a.requestDevice = async (d) => {
        if (fault === 'reject') throw new DOMException('requestDevice failed (test fault)', 'OperationError');
        const dev = await requestDevice(d);
        dev.destroy(); // as a driver reset between requestDevice and first use
        return dev;
      };
      return a;
    };
  },

  async __readbackTimeoutForTest(ms) {
    return setReadbackTimeout(ms);
  },

  async __recoveryAttemptsForTest() {
    return [...attempts];
  },

  __heatmapForTest(points, width, height, o) {
    return serial(async () => {
      if (!(path instanceof GpuPath)) throw new Error('__heatmapForTest: not on the GPU path');
      return path.heatmapPixels(points, width, height, o.colormap, o.opacity, o.sigma, o.guide);
    });
  },

  __overlayForTest() {
    return serial(async () => {
      await finishing;
      if (!(path instanceof GpuPath || path instanceof FallbackPath)) throw new Error('__overlayForTest: no path');
      return path.lastOverlayPixels();
    });
  },

  __gpuPostForTest(list) {
    return serial(async () => {
      await finishing;
      if (!(path instanceof GpuPath)) throw new Error('__gpuPostForTest: not on the GPU path');
      return path.postPixels(list ? { ...list, o: overlayOptions(list.o) } : null);
    });
  },

  __pointsOverlayForTest(fixations, box, frame, overlay, o) {
    return serial(async () => {
      if (!(path instanceof GpuPath)) throw new Error('__pointsOverlayForTest: not on the GPU path');
      return path.pointsPixels(fixations, box, frame, overlay, overlayOptions(o));
    });
  },
};

expose(api);

// The explain worker (comlink): owns the model, the back-end and the overlay canvas. Its jobs, one module each:
// back-end start-up and the session state (startup.ts), device recovery (recovery.ts), the request queue (queue.ts)
// and the test hooks (test-hooks.ts, test and bench builds only). Frames are submitted one at a time (calls queue up)
// and finished in order; a frame's submission may run while the previous frame's readback is in flight
// (src/worker/path.ts startFrame). Never 'ready' without an overlay.
import { expose } from 'comlink';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import './wasm-threads.ts';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { frameCounters, snapshot } from '../gpu/counters.ts';
import type {
  ExplainRequest,
  ExplainWorkerApi,
  ExplainWorkerTestApi,
  FrameResult,
  InitOptions,
  LoadProgress,
} from './api.ts';
import { GpuPath } from './gpu-path.ts';
import { startFrame } from './path.ts';
import { planFrame } from './plan.ts';
import { RequestQueue } from './queue.ts';
import { Recovery } from './recovery.ts';
import { COUNT, Session } from './startup.ts';
import { testHooks } from './test-hooks.ts';

setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
});

const s = new Session();
const q = new RequestQueue();
const recovery = new Recovery(s, q);
/** Bench builds: counters at the end of the last finished frame (a frame's counts run from there, see explain). */
let lastCount: ReturnType<typeof snapshot> | null = null;

const api: ExplainWorkerApi = {
  init(o: InitOptions, progress?: (p: LoadProgress) => void) {
    s.report = progress;
    recovery.restart(true);
    if (o.visible !== undefined) recovery.setVisible(o.visible);
    return q.serial(async () => {
      await q.finishing; // frames in flight finish on the old path
      lastCount = null;
      s.status = { state: 'loading' };
      s.teardown();
      s.opts = { ...o, canvas: undefined, visible: undefined };
      if (o.canvas) s.canvas = o.canvas;
      try {
        const info = await s.start(s.opts);
        recovery.started();
        s.status = { state: 'ready' };
        return info;
      } catch (e) {
        s.teardown();
        s.status = { state: 'error', message: (e as Error).message };
        throw e;
      }
    });
  },

  async explain(
    frame: ImageBitmap | VideoFrame,
    req: ExplainRequest = {},
    submitted?: () => void,
  ): Promise<FrameResult> {
    if (recovery.recovering) await recovery.recovering;
    const begun = await q
      .serial(async () => {
        const path = s.path;
        if (!path) {
          frame.close();
          throw new Error(
            s.status.state === 'error'
              ? `explain: the worker is in error (${s.status.message})`
              : 'explain: call init() first',
          );
        }
        let plan;
        try {
          plan = planFrame(path.fm, req);
        } catch (e) {
          frame.close();
          throw e;
        }
        // Pipelined frames overlap, so a frame's counts run from the end of the previous one (steady state: one frame's).
        if (COUNT && !lastCount) lastCount = snapshot();
        try {
          return await startFrame(path, frame, plan);
        } catch (e) {
          throw recovery.failed(e);
        }
      })
      .finally(() => {
        try {
          submitted?.();
        } catch {
          /* the page went away */
        }
      });
    return q.inOrder(async () => {
      try {
        const r = await begun.finish();
        if (COUNT && lastCount) {
          r.counters = frameCounters(lastCount, r.timings.total);
          lastCount = snapshot();
        }
        recovery.explained();
        return r;
      } catch (e) {
        throw recovery.failed(e);
      }
    });
  },

  async resize(width: number, height: number) {
    if (
      !Number.isInteger(width) ||
      !Number.isInteger(height) ||
      width < 1 ||
      height < 1 ||
      width > 8192 ||
      height > 8192
    ) {
      throw new Error(`resize: width and height must be integers in 1..8192, got ${width}x${height}`);
    }
    const canvas = s.canvas;
    if (!canvas) throw new Error('resize: no overlay canvas (pass one to init)');
    await q.serial(async () => {
      canvas.width = width;
      canvas.height = height;
    });
  },

  async status() {
    const note = s.path instanceof GpuPath ? s.path.note : undefined;
    return {
      ...s.status,
      ...(s.gpu?.uncaptured.count ? { gpuErrors: { ...s.gpu.uncaptured } } : {}),
      ...(note ? { unravelNote: note } : {}),
    };
  },

  async setVisible(v: boolean) {
    recovery.setVisible(v);
  },

  async memory() {
    const m = tf.memory();
    return {
      tensors: m.numTensors,
      bytes: m.numBytes,
      gpuBuffers: s.gpu?.buffers.buffers ?? 0,
      gpuBytes: s.gpu?.buffers.bytes ?? 0,
    };
  },

  dispose() {
    recovery.restart(false);
    return q.serial(async () => {
      await q.finishing;
      s.teardown();
      s.status = { state: 'idle' };
    });
  },
};

// The production build leaves the hooks out (the condition is a build-time constant).
expose(
  import.meta.env.MODE !== 'production'
    ? ({ ...api, ...testHooks(s, q, recovery) } satisfies ExplainWorkerTestApi)
    : api,
);

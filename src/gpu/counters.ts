// Bench-only instrumentation: counts what a frame costs in WebGPU calls by wrapping the device's methods (buffer
// maps and the bytes they bring back, queue submissions, compute dispatches, buffers and pipelines created) and
// the time the worker spends waiting on maps and tensor reads. Installed only in bench builds (Vite mode 'bench'):
// the wrappers cost a little on every call.
import type * as tf from '@tensorflow/tfjs-core';

/** Totals since install; a frame's figures are the difference of two snapshots. */
export interface Counters {
  maps: number;
  submits: number;
  dispatches: number;
  bytesRead: number;
  buffersCreated: number;
  pipelinesCreated: number;
  /** Time spent awaiting maps and tensor reads (the rest of a frame's time is the worker's own CPU time). */
  waitMs: number;
}

export const counters: Counters = { maps: 0, submits: 0, dispatches: 0, bytesRead: 0, buffersCreated: 0, pipelinesCreated: 0, waitMs: 0 };

export const snapshot = (): Counters => ({ ...counters });

/** A frame's counts since `before`; its worker CPU time is its total time minus the time spent waiting. */
export function frameCounters(before: Counters, totalMs: number) {
  const d = Object.fromEntries(Object.entries(counters).map(([k, v]) => [k, v - before[k as keyof Counters]])) as unknown as Counters;
  const { waitMs, ...c } = d;
  return { ...c, workerCpuMs: totalMs - waitMs };
}

type Fn = (...a: any[]) => any;
function wrap<T extends object>(o: T, name: keyof T, f: (orig: Fn) => Fn) {
  const orig = (o[name] as Fn).bind(o);
  (o as Record<keyof T, Fn>)[name] = f(orig);
}

/** Count this device's calls (before tfjs or anything else uses it). */
export function countDevice(device: GPUDevice) {
  wrap(device, 'createBuffer', (orig) => (desc: GPUBufferDescriptor) => {
    counters.buffersCreated++;
    const buf: GPUBuffer = orig(desc);
    wrap(buf, 'mapAsync', (map) => async (mode: number, offset = 0, size?: number) => {
      counters.maps++;
      counters.bytesRead += size ?? buf.size - offset;
      const t0 = performance.now();
      try { return await map(mode, offset, size); } finally { counters.waitMs += performance.now() - t0; }
    });
    return buf;
  });
  for (const m of ['createComputePipeline', 'createComputePipelineAsync', 'createRenderPipeline', 'createRenderPipelineAsync'] as const) {
    wrap(device, m, (orig) => (...a: unknown[]) => { counters.pipelinesCreated++; return orig(...a); });
  }
  wrap(device.queue, 'submit', (orig) => (cmds: GPUCommandBuffer[]) => { counters.submits++; return orig(cmds); });
  wrap(device.queue, 'onSubmittedWorkDone', (orig) => async () => {
    const t0 = performance.now();
    try { return await orig(); } finally { counters.waitMs += performance.now() - t0; }
  });
  wrap(device, 'createCommandEncoder', (orig) => (desc?: GPUCommandEncoderDescriptor) => {
    const enc: GPUCommandEncoder = orig(desc);
    wrap(enc, 'beginComputePass', (begin) => (d?: GPUComputePassDescriptor) => {
      const pass: GPUComputePassEncoder = begin(d);
      for (const m of ['dispatchWorkgroups', 'dispatchWorkgroupsIndirect'] as const) {
        wrap(pass, m, (orig2) => (...a: unknown[]) => { counters.dispatches++; return orig2(...a); });
      }
      return pass;
    });
    return enc;
  });
}

/**
 * Count the reads of a backend without GPUBuffer maps (WebGL, wasm): each backend read (data(), dataSync(), and the
 * reads kernels make themselves, e.g. WebGL's topk handing small inputs to the CPU) is one readback of its bytes,
 * and its time is waiting. On the webgpu backend countDevice() counts the maps instead.
 */
const counted = new WeakSet<object>();
export function countBackendReads(backend: tf.KernelBackend) {
  if (counted.has(backend)) return;
  counted.add(backend);
  const b = backend as unknown as { read: Fn; readSync: Fn };
  const count = (v: unknown, ms: number) => {
    counters.maps++;
    counters.bytesRead += (v as ArrayBufferView | undefined)?.byteLength ?? 0;
    counters.waitMs += ms;
  };
  wrap(b, 'read', (orig) => async (...a: unknown[]) => {
    const t0 = performance.now();
    const v = await orig(...a);
    count(v, performance.now() - t0);
    return v;
  });
  wrap(b, 'readSync', (orig) => (...a: unknown[]) => {
    const t0 = performance.now();
    const v = orig(...a);
    count(v, performance.now() - t0);
    return v;
  });
}

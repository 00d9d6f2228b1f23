// Bench-only instrumentation: counts what a frame costs in WebGPU calls by wrapping the device's methods (buffer
// maps and the bytes they bring back, queue submissions, compute dispatches, buffers, pipelines and bind groups
// created, bytes the host writes or clears on the GPU), synchronous tensor reads, and the time the worker spends
// waiting on maps and tensor reads. Installed only in bench and test builds: the wrappers cost a little on every call.
import type * as tf from '@tensorflow/tfjs-core';

/** Totals since install; a frame's figures are the difference of two snapshots. */
export interface Counters {
  maps: number;
  submits: number;
  dispatches: number;
  bytesRead: number;
  buffersCreated: number;
  pipelinesCreated: number;
  /** Bind groups this code creates (tfjs's own, one per op it runs, are tfjsBindGroups). */
  bindGroupsCreated: number;
  tfjsBindGroups: number;
  /** Bytes the host writes (queue.writeBuffer, writeTexture) or clears (clearBuffer) on the GPU, tfjs's included. */
  bytesWritten: number;
  /** The frame's own upload (copyExternalImageToTexture: width x height x 4), apart from bytesWritten. */
  frameBytes: number;
  /** Synchronous tensor reads (dataSync, readSync) that had to wait for the device: none should happen on a GPU. */
  syncReads: number;
  /** Time spent awaiting maps and tensor reads (the rest of a frame's time is the worker's own CPU time). */
  waitMs: number;
}

export const counters: Counters = {
  maps: 0,
  submits: 0,
  dispatches: 0,
  bytesRead: 0,
  buffersCreated: 0,
  pipelinesCreated: 0,
  bindGroupsCreated: 0,
  tfjsBindGroups: 0,
  bytesWritten: 0,
  frameBytes: 0,
  syncReads: 0,
  waitMs: 0,
};
/** Inside a tfjs program's recording (countTfjs): bind groups made then are tfjs's. */
let inTfjs = 0;

export const snapshot = (): Counters => ({ ...counters });

/** A frame's counts since `before`; its worker CPU time is its total time minus the time spent waiting. */
export function frameCounters(before: Counters, totalMs: number) {
  const d = Object.fromEntries(
    Object.entries(counters).map(([k, v]) => [k, v - before[k as keyof Counters]]),
  ) as unknown as Counters;
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
      try {
        return await map(mode, offset, size);
      } finally {
        counters.waitMs += performance.now() - t0;
      }
    });
    return buf;
  });
  for (const m of [
    'createComputePipeline',
    'createComputePipelineAsync',
    'createRenderPipeline',
    'createRenderPipelineAsync',
  ] as const) {
    wrap(device, m, (orig) => (...a: unknown[]) => {
      counters.pipelinesCreated++;
      return orig(...a);
    });
  }
  wrap(device, 'createBindGroup', (orig) => (desc: GPUBindGroupDescriptor) => {
    if (inTfjs) counters.tfjsBindGroups++;
    else counters.bindGroupsCreated++;
    return orig(desc);
  });
  wrap(device.queue, 'submit', (orig) => (cmds: GPUCommandBuffer[]) => {
    counters.submits++;
    return orig(cmds);
  });
  wrap(
    device.queue,
    'writeBuffer',
    (orig) =>
      (buf: GPUBuffer, off: number, data: BufferSource, dataOff = 0, size?: number) => {
        const per = (data as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
        counters.bytesWritten += size !== undefined ? size * per : data.byteLength - dataOff * per;
        return orig(buf, off, data, dataOff, size);
      },
  );
  wrap(device.queue, 'writeTexture', (orig) => (dst: unknown, data: BufferSource, layout: unknown, size: unknown) => {
    counters.bytesWritten += data.byteLength;
    return orig(dst, data, layout, size);
  });
  wrap(device.queue, 'copyExternalImageToTexture', (orig) => (src: unknown, dst: unknown, size: GPUExtent3DStrict) => {
    const [w, h = 1] = Array.isArray(size) ? size : [(size as GPUExtent3DDict).width, (size as GPUExtent3DDict).height];
    counters.frameBytes += w * (h ?? 1) * 4;
    return orig(src, dst, size);
  });
  wrap(device.queue, 'onSubmittedWorkDone', (orig) => async () => {
    const t0 = performance.now();
    try {
      return await orig();
    } finally {
      counters.waitMs += performance.now() - t0;
    }
  });
  wrap(device, 'createCommandEncoder', (orig) => (desc?: GPUCommandEncoderDescriptor) => {
    const enc: GPUCommandEncoder = orig(desc);
    wrap(enc, 'clearBuffer', (clear) => (buf: GPUBuffer, off = 0, size?: number) => {
      counters.bytesWritten += size ?? buf.size - off;
      return clear(buf, off, size);
    });
    wrap(enc, 'beginComputePass', (begin) => (d?: GPUComputePassDescriptor) => {
      const pass: GPUComputePassEncoder = begin(d);
      for (const m of ['dispatchWorkgroups', 'dispatchWorkgroupsIndirect'] as const) {
        wrap(pass, m, (orig2) => (...a: unknown[]) => {
          counters.dispatches++;
          return orig2(...a);
        });
      }
      return pass;
    });
    return enc;
  });
}

/** Mark tfjs's own calls on the device (its per-op bind groups), so that bindGroupsCreated counts this code's only. */
export function countTfjs(backend: object) {
  wrap(backend as { runWebGPUProgram: Fn }, 'runWebGPUProgram', (orig) => (...a: unknown[]) => {
    inTfjs++;
    try {
      return orig(...a);
    } finally {
      inTfjs--;
    }
  });
}

/**
 * Count a backend's synchronous reads that wait for the device (dataSync and tfjs-internal readSync on data that
 * is not on the CPU already): the frame path must make none on a backend with a GPU (WebGPU, WebGL).
 */
const syncCounted = new WeakSet<object>();
export function countSyncReads(backend: tf.KernelBackend) {
  if (syncCounted.has(backend)) return;
  syncCounted.add(backend);
  const b = backend as unknown as {
    readSync: Fn;
    tensorMap?: { get(id: object): { values?: unknown } | undefined };
    texData?: { get(id: object): { values?: unknown } | undefined };
  };
  wrap(b, 'readSync', (orig) => (dataId: object, ...a: unknown[]) => {
    const entry = (b.tensorMap ?? b.texData)?.get(dataId);
    if (entry && entry.values == null) counters.syncReads++;
    return orig(dataId, ...a);
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
  countSyncReads(backend);
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

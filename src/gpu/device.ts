// tfjs-webgpu on a GPUDevice this code owns: so that the explain pipeline shares the device with the model
// (activations are read in place, never copied to the CPU), can watch device.lost, and can count buffers.
import * as tf from '@tensorflow/tfjs-core';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { countDevice, countSyncReads, countTfjs } from './counters.ts';
import { readback } from './readback.ts';
import { trackBuffers } from './bind-groups.ts';

/** Live GPUBuffers on a device (created minus destroyed), tfjs's pool included: the leak check. */
export interface BufferCount {
  buffers: number;
  bytes: number;
}

export interface GpuContext {
  device: GPUDevice;
  backend: WebGPUBackend;
  adapterInfo?: GPUAdapterInfo;
  isFallbackAdapter: boolean;
  buffers: BufferCount;
  /** GPU errors no error scope caught (device 'uncapturederror' events): counted, the last one kept. */
  uncaptured: { count: number; last?: string };
}

/**
 * Request an adapter and device (the same features and limits tfjs asks for), count its buffers, and make it
 * the device of tfjs's 'webgpu' backend, which becomes the active backend.
 */
export async function createGpuContext(opts: { count?: boolean } = {}): Promise<GpuContext> {
  if (typeof navigator === 'undefined' || !navigator.gpu)
    throw new Error('WebGPU is not available (navigator.gpu is missing)');
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('WebGPU: no adapter');
  const requiredFeatures: GPUFeatureName[] = [];
  if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    },
  });
  if (opts.count) countDevice(device); // bench builds: per-frame call counts
  const buffers = countBuffers(device);
  trackBuffers(device); // the unravelling's activation bind groups cover tfjs's pool (bind-groups.ts)
  // Without a handler these only reach the console; counted so that the worker status can show them.
  const uncaptured: GpuContext['uncaptured'] = { count: 0 };
  device.addEventListener?.('uncapturederror', (e) => {
    uncaptured.count++;
    uncaptured.last = (e as GPUUncapturedErrorEvent).error.message;
    console.error(`WebGPU error: ${uncaptured.last}`);
  });
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  const backend = new WebGPUBackend(device, info);
  if (opts.count) {
    countTfjs(backend);
    countSyncReads(backend);
  }
  // Replace the factory tfjs registered on import (it would open a second device) by one returning ours.
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => backend, 3);
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs could not start its webgpu backend');
  await tf.ready();
  const isFallbackAdapter = !!(
    (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter ??
    (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter
  );
  return { device, backend, adapterInfo: info, isFallbackAdapter, buffers, uncaptured };
}

/**
 * The adapter WebGPU would give, without a device: whether it is a software one (isFallbackAdapter, or SwiftShader /
 * a CPU rasteriser named in its info), and its name. null: no adapter.
 */
export async function probeAdapter(): Promise<{ software: boolean; name: string } | null> {
  if (typeof navigator === 'undefined' || !navigator.gpu) return null;
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  if (!adapter) return null;
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  const name =
    [info?.vendor, info?.architecture, info?.device, info?.description].filter(Boolean).join(' ') || 'unnamed adapter';
  const flagged = !!(
    (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter ??
    (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter
  );
  return { software: flagged || isSoftwareName(name), name };
}

/** SwiftShader (Chromium's CPU Vulkan), llvmpipe / lavapipe (Mesa), WARP (Windows): a CPU behind WebGPU. */
export const isSoftwareName = (name: string) =>
  /swiftshader|llvmpipe|lavapipe|software|\bwarp\b|microsoft basic render/i.test(name);

/** Drop the tfjs backend of a (possibly lost) device; tolerant of a destroyed device. */
export function releaseGpuContext(ctx: GpuContext) {
  try {
    if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  } catch {
    /* the backend's dispose may throw on a lost device */
  }
  try {
    ctx.device.destroy();
  } catch {
    /* already gone */
  }
}

function countBuffers(device: GPUDevice): BufferCount {
  const count: BufferCount = { buffers: 0, bytes: 0 };
  const create = device.createBuffer.bind(device);
  device.createBuffer = (desc: GPUBufferDescriptor) => {
    const buf = create(desc);
    count.buffers++;
    count.bytes += buf.size;
    const destroy = buf.destroy.bind(buf);
    let alive = true;
    buf.destroy = () => {
      if (alive) {
        alive = false;
        count.buffers--;
        count.bytes -= buf.size;
      }
      destroy();
    };
    return buf;
  };
  return count;
}

/** The GPUBuffer holding a tensor on the webgpu backend, read in place (no copy). */
export function tensorBuffer(backend: WebGPUBackend, t: tf.Tensor): GPUBuffer {
  backend.uploadToGPU(t.dataId);
  const res = backend.tensorMap.get(t.dataId)?.resource;
  if (!(res instanceof GPUBuffer))
    throw new Error(`tensor [${t.shape}] is not held in a GPUBuffer on the webgpu backend`);
  return res;
}

/** Submit tfjs's pending commands, so that work submitted after this sees their results (queue order). */
export function flushTf(backend: WebGPUBackend) {
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();
}

/** A reusable MAP_READ buffer for small readbacks; grows by powers of two. */
export class Staging {
  private buf: GPUBuffer | null = null;
  constructor(
    private device: GPUDevice,
    private label: string,
  ) {}
  get(bytes: number): GPUBuffer {
    const size = Math.max(16, 2 ** Math.ceil(Math.log2(Math.max(bytes, 1))));
    if (!this.buf || this.buf.size < bytes) {
      this.buf?.destroy();
      this.buf = this.device.createBuffer({
        label: this.label,
        size,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
    }
    return this.buf;
  }
  /** Map and copy out the first `bytes` (the caller has submitted the copy into get()). */
  async read(bytes: number): Promise<ArrayBuffer> {
    const buf = this.buf!;
    await readback(buf.mapAsync(GPUMapMode.READ, 0, align4(bytes)), this.label);
    const out = buf.getMappedRange(0, align4(bytes)).slice(0, bytes);
    buf.unmap();
    return out;
  }
  destroy() {
    this.buf?.destroy();
    this.buf = null;
  }
}

export const align4 = (n: number) => Math.ceil(n / 4) * 4;

/** A storage buffer that grows by powers of two (stable size after warm-up, so buffer counts stay flat). */
export class Growable {
  buf: GPUBuffer | null = null;
  constructor(
    private device: GPUDevice,
    private label: string,
    private usage: number,
  ) {}
  ensure(bytes: number): GPUBuffer {
    if (!this.buf || this.buf.size < bytes) {
      this.buf?.destroy();
      const size = Math.max(256, 2 ** Math.ceil(Math.log2(Math.max(bytes, 1))));
      this.buf = this.device.createBuffer({ label: this.label, size, usage: this.usage });
    }
    return this.buf;
  }
  destroy() {
    this.buf?.destroy();
    this.buf = null;
  }
}

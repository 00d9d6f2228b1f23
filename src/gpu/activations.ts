// Activations of a tfjs-webgpu forward pass as GPUBuffers (f32, NHWC, batch 1), for the GPU unravelling.
// tensor.dataToGPU() copies the tensor's buffer on the backend's queue (before any later submission), so the copy
// is consistent with the forward pass; dispose() releases the copies (call it once the unravelling is submitted
// and done, i.e. after the readback).
import type * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { FixationModel } from '../engine/model.ts';
import { tensorBuffer } from './device.ts';
import { bufferWith } from './kernels.ts';

/**
 * The model's own GPUBuffer of a graph constant (f32), for GpuUnraveller.create: the unravelling binds tfjs's copy of
 * the conv and matmul weights instead of uploading its own (one copy of the weights on the GPU, not two).
 */
export function modelConstants(backend: WebGPUBackend, fm: FixationModel): (name: string) => GPUBuffer | undefined {
  return (name) => {
    const t = fm.constantTensor(name);
    return t?.dtype === 'float32' ? tensorBuffer(backend, t) : undefined;
  };
}

export interface GpuActivations {
  get(name: string): GPUBuffer;
  dispose(): void;
}

export function gpuActivations(device: GPUDevice, tensors: Map<string, tf.Tensor>, names: string[]): GpuActivations {
  const buffers = new Map<string, GPUBuffer>();
  const refs: tf.Tensor[] = [];
  const own: GPUBuffer[] = [];
  const dispose = () => {
    refs.forEach((t) => t.dispose());
    own.forEach((b) => b.destroy());
  };
  try {
    for (const name of names) {
      const t = tensors.get(name);
      if (!t) throw new Error(`activation '${name}' was not captured by the forward pass`);
      if (t.dtype !== 'float32') throw new Error(`activation '${name}' is ${t.dtype}, expected float32`);
      if (t.shape[0] !== 1) throw new Error(`activation '${name}' has batch ${t.shape[0]}, expected 1`);
      let buffer: GPUBuffer | undefined;
      try {
        const d = t.dataToGPU();
        refs.push(d.tensorRef);
        buffer = d.buffer;
      } catch {
        // Not resident on this backend's GPU (e.g. a small tensor the backend computed on the CPU): upload it.
      }
      if (!buffer) {
        buffer = bufferWith(device, `activation ${name}`, t.dataSync() as Float32Array, GPUBufferUsage.STORAGE);
        own.push(buffer);
      }
      buffers.set(name, buffer);
    }
  } catch (e) {
    dispose();
    throw e;
  }
  return {
    get(name) {
      const b = buffers.get(name);
      if (!b) throw new Error(`activation '${name}' was not requested (have: ${[...buffers.keys()].join(', ')})`);
      return b;
    },
    dispose,
  };
}

// The unravelling's seed kernel (src/gpu/seed.ts) on a real WebGPU device in Node (the `webgpu` package, Dawn on
// SwiftShader in CI) against its CPU twin seedClass(): the argmax of the logits (first maximum on ties, negative
// scores, NaN skipped) and an explicit class, on hand-made vectors whose answers are worked out in the comments.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindGroupLayout, bufferWith, computePipeline } from '../../src/gpu/kernels.ts';
import { SEED_BINDINGS, seedClass, seedWgsl, TOP } from '../../src/gpu/seed.ts';
import { fixedWeightOf } from '../../src/engine/ops/common.ts';
import { nodeWebGpuUnavailable } from '../../src/node/webgpu.ts';

const why = await nodeWebGpuUnavailable();
if (why) console.log(`seed.test.ts skipped: ${why}`);

const CASES: { name: string; logits: number[]; index: number; want: number }[] = [
  { name: 'max in the middle', logits: [0.1, 2.5, -1, 2.4], index: TOP, want: 1 },
  { name: 'all negative: the least negative', logits: [-3, -0.5, -7, -0.75], index: TOP, want: 1 },
  { name: 'tie: the first of the equal maxima', logits: [1, 4, 4, 2, 4], index: TOP, want: 1 },
  { name: 'max last', logits: [0, 0, 0, 0, 0, 0, 0, 9], index: TOP, want: 7 },
  { name: 'NaN never wins (after the first entry)', logits: [1, NaN, 3, NaN], index: TOP, want: 2 },
  { name: 'explicit class, not the max', logits: [5, 1, 2], index: 2, want: 2 },
  {
    name: '1000 scores, max at 335',
    logits: Array.from({ length: 1000 }, (_, i) => (i === 335 ? 10 : Math.sin(i))),
    index: TOP,
    want: 335,
  },
];

describe.skipIf(!!why)('seed kernel = seedClass (WebGPU in Node)', () => {
  let device: GPUDevice;
  beforeAll(async () => {
    const adapter = await navigator.gpu.requestAdapter();
    device = await adapter!.requestDevice();
  });
  afterAll(() => device?.destroy());

  for (const c of CASES) {
    it(c.name, async () => {
      expect(seedClass(Float32Array.from(c.logits), c.index)).toBe(c.want);
      const U = GPUBufferUsage;
      const n = c.logits.length;
      const params = bufferWith(device, 'seed params', Uint32Array.of(c.index, n, 0, 0), U.UNIFORM);
      const weights = bufferWith(device, 'weights', new Uint32Array(2 * n), U.STORAGE | U.COPY_SRC);
      const list = bufferWith(device, 'list', new Uint32Array(4 + n), U.STORAGE | U.COPY_SRC);
      const logits = bufferWith(device, 'logits', Float32Array.from(c.logits), U.STORAGE);
      const header = bufferWith(device, 'header', Uint32Array.of(0, 12345), U.STORAGE | U.COPY_SRC);
      const group = device.createBindGroup({
        layout: bindGroupLayout(device, SEED_BINDINGS[0]),
        entries: [{ buffer: params, size: 16 }, { buffer: weights }, { buffer: list }, { buffer: header }].map(
          (resource, binding) => ({ binding, resource }),
        ),
      });
      const logitsGroup = device.createBindGroup({
        layout: bindGroupLayout(device, SEED_BINDINGS[1]),
        entries: [{ binding: 0, resource: { buffer: logits } }],
      });
      const out = device.createBuffer({ size: n * 8 + 32 + 8, usage: U.MAP_READ | U.COPY_DST });
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(computePipeline(device, 'seed', seedWgsl, SEED_BINDINGS));
      pass.setBindGroup(0, group, [0]);
      pass.setBindGroup(1, logitsGroup);
      pass.dispatchWorkgroups(1);
      pass.end();
      enc.copyBufferToBuffer(weights, 0, out, 0, n * 8);
      enc.copyBufferToBuffer(list, 0, out, n * 8, 20);
      enc.copyBufferToBuffer(header, 0, out, n * 8 + 32, 8);
      device.queue.submit([enc.finish()]);
      await out.mapAsync(GPUMapMode.READ);
      const data = out.getMappedRange().slice(0);
      out.unmap();
      const w = new Uint32Array(data, 0, 2 * n); // fixed point: (hi | kept bit, lo) per neuron
      const l = new Uint32Array(data, n * 8, 5);
      const h = new Uint32Array(data, n * 8 + 32, 2);
      expect(h[1]).toBe(c.want); // the class comes back in the fixation list's header
      expect(Array.from(l)).toEqual([1, 1, 0, 0, c.want]); // count 1, one workgroup, the class neuron
      expect(Array.from({ length: n }, (_, i) => (w[2 * i] & 0x80000000 ? i : -1)).filter((i) => i >= 0)).toEqual([
        c.want,
      ]);
      expect(fixedWeightOf(w[2 * c.want], w[2 * c.want + 1])).toBe(1);
      for (const b of [params, weights, list, logits, header, out]) b.destroy();
    });
  }
});

// The library on tfjs-webgpu in Node (the optional `webgpu` package: Dawn, on SwiftShader in CI): forward pass and
// WGSL unravelling without a browser, against the CPU reference — the engine's explain() with unravelCpu on the
// same forward pass's read-back activations — on SqueezeNet: same class, the same kept neurons at every layer.
// Skipped, with the reason printed, only where the `webgpu` package or a Vulkan driver is missing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain } from '../../src/engine/explain.ts';
import { gpuSelfCheck } from '../../src/gpu/selfcheck.ts';
import type { FixationModel } from '../../src/engine/model.ts';
import { initNodeBackend, loadModel, readImage } from '../../src/node/index.ts';
import { nodeWebGpuUnavailable, webGpuUnravel, initNodeWebGpu } from '../../src/node/webgpu.ts';
import { photo } from '../fixtures/photos.ts';

const SQUIRREL = photo('squirrel_cls.jpg');
const why = await nodeWebGpuUnavailable();
if (why) console.log(`node-webgpu.test.ts skipped: ${why}`);

describe.skipIf(!!why)('SqueezeNet on tfjs-webgpu in Node: WGSL unravelling = CPU reference', () => {
  let fm: FixationModel;
  beforeAll(async () => {
    expect(await initNodeBackend('webgpu')).toBe('webgpu');
    fm = await loadModel('squeezenet1_1');
  }, 300_000);
  afterAll(() => fm?.dispose());

  // One preset (a SwiftShader forward pass takes seconds); the browser tests cover both presets on every image.
  for (const rules of ['default'] as const) {
    it(`${rules} rules on squirrel_cls.jpg`, async () => {
      const ctx = await initNodeWebGpu();
      const unravel = await webGpuUnravel(ctx, fm.graph, fm.info.rules);
      // Its kernels were compiled at load: the first unravelling creates no pipeline.
      const device = ctx.device;
      let created = 0;
      const made = (f: (...a: any[]) => any) => (...a: any[]) => { created++; return f.apply(device, a); };
      const [sync, async] = [device.createComputePipeline, device.createComputePipelineAsync];
      const counted: typeof unravel = async (...a) => {
        Object.assign(device, { createComputePipeline: made(sync), createComputePipelineAsync: made(async) });
        try { return await unravel(...a); } finally { Object.assign(device, { createComputePipeline: sync, createComputePipelineAsync: async }); }
      };
      const gpu = await explain(fm, await readImage(SQUIRREL), { rules, unravel: counted });
      expect(created).toBe(0);
      const cpu = await explain(fm, await readImage(SQUIRREL), { rules });
      expect(gpu.class.index).toBe(335);
      expect(cpu.class.index).toBe(335);
      expect(gpu.kept.map((l) => l.name)).toEqual(cpu.kept.map((l) => l.name));
      for (let i = 0; i < cpu.kept.length; i++) {
        expect(Array.from(gpu.kept[i].indices), cpu.kept[i].name).toEqual(Array.from(cpu.kept[i].indices));
        const w = cpu.kept[i].weights;
        gpu.kept[i].weights.forEach((v, j) => expect(Math.abs(v - w[j]), cpu.kept[i].name).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(w[j]))));
      }
      expect(gpu.inputFixations.length).toBeGreaterThan(0);
      expect(gpu.inputFixations.map((f) => [f.x, f.y, f.c])).toEqual(cpu.inputFixations.map((f) => [f.x, f.y, f.c]));
      expect(gpu.box).toEqual(cpu.box);
    }, 300_000);
  }
});

// The worker's start-up self-check (src/gpu/selfcheck.ts) must pass on a correct WebGPU, or a model silently runs the
// CPU unravelling on the GPU path: it did for MobileNetV2 (a check graph with wrong conv shapes, so the GPU read
// past a layer where the CPU did not). Every catalog model's kernel kinds, under its rules and both presets.
describe.skipIf(!!why)('GPU self-check on Dawn (SwiftShader here)', () => {
  for (const id of ['squeezenet1_1', 'mobilenet_v2', 'mobilenet_v1_025_224_tfhub', null] as const) {
    it(`${id ?? 'every kernel kind'}: passes under the model's rules, default and reference`, async () => {
      const { device } = await initNodeWebGpu();
      await initNodeBackend('webgpu');
      const fm = id ? await loadModel(id) : null;
      try {
        for (const rules of [fm?.info.rules ?? 'default', 'default', 'reference'] as const) {
          await expect(gpuSelfCheck(device, rules, fm?.graph), JSON.stringify(rules)).resolves.toBeUndefined();
        }
      } finally {
        fm?.dispose();
      }
    }, 300_000);
  }
});

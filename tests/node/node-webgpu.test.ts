// The library on tfjs-webgpu in Node (the optional `webgpu` package: Dawn, on SwiftShader in CI): forward pass and
// WGSL unravelling without a browser, against the CPU reference — the engine's explain() with unravelCpu on the
// same forward pass's read-back activations — on SqueezeNet: same class, the same kept neurons at every layer.
// Skipped, with the reason printed, only where the `webgpu` package or a Vulkan driver is missing.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain } from '../../src/engine/explain.ts';
import { gpuSelfCheck } from '../../src/gpu/selfcheck.ts';
import { bufferWith } from '../../src/gpu/kernels.ts';
import { GpuUnraveller, type FixationList } from '../../src/gpu/unravel.ts';
import { unravelCpu } from '../../src/engine/unravel.ts';
import { resolveRules, size, type Graph, type GraphNode, type KeptLayer } from '../../src/engine/types.ts';
import type { FixationModel } from '../../src/engine/model.ts';
import { initNodeBackend, loadModel, readImage } from '../../src/node/index.ts';
import { nodeWebGpuUnavailable, webGpuUnravel, initNodeWebGpu } from '../../src/node/webgpu.ts';
import { installed, lacks, SQUIRREL } from '../fixtures/data.ts';

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
      const made =
        (f: (...a: any[]) => any) =>
        (...a: any[]) => {
          created++;
          return f.apply(device, a);
        };
      const [sync, async] = [device.createComputePipeline, device.createComputePipelineAsync];
      const counted: typeof unravel = async (...a) => {
        Object.assign(device, { createComputePipeline: made(sync), createComputePipelineAsync: made(async) });
        try {
          return await unravel(...a);
        } finally {
          Object.assign(device, { createComputePipeline: sync, createComputePipelineAsync: async });
        }
      };
      const gpu = await explain(fm, await readImage(SQUIRREL), { method: 'fixations', rules, unravel: counted });
      expect(created).toBe(0);
      const cpu = await explain(fm, await readImage(SQUIRREL), { method: 'fixations', rules });
      expect(gpu.class.index).toBe(335);
      expect(cpu.class.index).toBe(335);
      expect(gpu.kept.map((l) => l.name)).toEqual(cpu.kept.map((l) => l.name));
      for (let i = 0; i < cpu.kept.length; i++) {
        expect(Array.from(gpu.kept[i].indices), cpu.kept[i].name).toEqual(Array.from(cpu.kept[i].indices));
        const w = cpu.kept[i].weights;
        gpu.kept[i].weights.forEach((v, j) =>
          expect(Math.abs(v - w[j]), cpu.kept[i].name).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(w[j]))),
        );
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
    // The MobileNets are installed from the model mirror; without it their checks skip, naming the missing file.
    it.skipIf(!!id && lacks(`node-webgpu.test.ts (${id})`, installed(`${id}/model.json`)))(
      `${id ?? 'every kernel kind'}: passes under the model's rules, default and reference`,
      async () => {
        const { device } = await initNodeWebGpu();
        await initNodeBackend('webgpu');
        // The check reads only the model's graph (its kernel kinds), never its tensors: the model loads on tfjs's cpu
        // backend, sparing a forward pass of the whole network on SwiftShader.
        const fm = id ? await onCpu(() => loadModel(id)) : null;
        try {
          for (const rules of [fm?.info.rules ?? 'default', 'default', 'reference'] as const) {
            await expect(gpuSelfCheck(device, rules, fm?.graph), JSON.stringify(rules)).resolves.toBeUndefined();
          }
        } finally {
          fm?.dispose();
        }
      },
      300_000,
    );
  }
});

/** Runs `f` with tfjs on its cpu backend, then returns to the backend that was active. */
async function onCpu<T>(f: () => Promise<T>): Promise<T> {
  const was = tf.getBackend();
  await tf.setBackend('cpu');
  try {
    return await f();
  } finally {
    await tf.setBackend(was);
  }
}

// Issue 20, item 2: merged weights are fixed-point integer sums, so the same frame twice gives bit-identical weights,
// kept sets and compact list, whatever order the GPU's invocations run in (float compare-exchange adds did not:
// SwiftShader runs invocations on several threads, and the low bits changed from run to run). A graph where many
// keeps merge: two 3x3 convs with channelRatio fan-outs over a 48x48 map, a global mean fanning out to every
// positive position, then the logits.
describe.skipIf(!!why)('deterministic merged weights on Dawn', () => {
  it('the same activations unravelled four times: bit-identical weights, kept sets and compact list; = CPU within 1e-5', async () => {
    const { device } = await initNodeWebGpu();
    let s = 12345;
    const noise = (n: number) =>
      Float32Array.from({ length: n }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 31 - 1);
    const S = 48;
    const conv = (name: string, input: string, cin: number, cout: number): GraphNode => ({
      kind: 'conv',
      name,
      shape: [S, S, cout],
      inputs: [input],
      kernel: [3, 3],
      strides: [1, 1],
      dilations: [1, 1],
      pad: [1, 1],
      depthwise: false,
      weights: noise(9 * cin * cout),
    });
    const nodes: GraphNode[] = [
      { kind: 'input', name: 'input', shape: [S, S, 3], inputs: [] },
      conv('a', 'input', 3, 8),
      conv('b', 'a', 8, 8),
      { kind: 'gap', name: 'gap', shape: [8], inputs: ['b'] },
    ];
    const order = [...nodes].reverse();
    const graph: Graph = {
      order,
      byName: new Map(order.map((n) => [n.name, n])),
      input: nodes[0] as Graph['input'],
      logits: 'gap',
      captures: order.map((n) => n.name),
    };
    const acts = new Map(order.map((n) => [n.name, Float32Array.from(noise(size(n.shape)), (v) => Math.abs(v))]));
    const rules = resolveRules({ location: 'max', gap: 'positive', weights: 'contribution', channelRatio: 0.3 });
    const unr = GpuUnraveller.create(device, graph);
    const buffers = new Map([...acts].map(([n, a]) => [n, bufferWith(device, n, a, GPUBufferUsage.STORAGE)]));
    try {
      const runs: { layers: KeptLayer[]; list: FixationList }[] = [];
      for (let i = 0; i < 4; i++) {
        const enc = device.createCommandEncoder();
        unr.encode(enc, (n) => buffers.get(n)!, 2, rules);
        device.queue.submit([enc.finish()]);
        runs.push({ layers: await unr.readLayers(), list: await unr.readInputFixations() });
      }
      const bits = (r: (typeof runs)[0]) =>
        r.layers.map((l) => [l.name, [...l.indices], [...new Uint32Array(l.weights.buffer)]]);
      const input = runs[0].layers.at(-1)!;
      expect(input.indices.length, 'enough merging to matter').toBeGreaterThan(1000);
      for (const r of runs.slice(1)) {
        expect(bits(r)).toEqual(bits(runs[0]));
        expect(r.list.fixations.map((f) => [f.x, f.y, f.c, f.w])).toEqual(
          runs[0].list.fixations.map((f) => [f.x, f.y, f.c, f.w]),
        );
      }
      const cpu = unravelCpu(graph, (n) => acts.get(n)!, 2, rules);
      cpu.layers.forEach((l, i) => {
        expect([...runs[0].layers[i].indices], l.name).toEqual([...l.indices]);
        runs[0].layers[i].weights.forEach((w, j) =>
          expect(Math.abs(w - l.weights[j]), l.name).toBeLessThanOrEqual(1e-5 * l.weights[j]),
        );
      });
    } finally {
      unr.destroy();
      buffers.forEach((b) => b.destroy());
    }
  }, 300_000);
});

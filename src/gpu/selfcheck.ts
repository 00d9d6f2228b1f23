// A one-time start-up check that the WGSL unravelling gives the CPU reference's answer on this device: a tiny graph
// with one node of every kernel kind (pad, conv, depthwise conv, a ReLU with a second consumer (copy kernel), add,
// max and average pool, concat, global mean, fully connected) and fixed activations, unravelled on both sides and
// compared. A driver that compiles the kernels but runs them wrongly (atomics, robust access, ...) fails here, and
// the caller switches to the CPU unravelling. Cost: about 10 dispatches over a few hundred neurons, one readback.
import { unravelCpu } from '../engine/unravel.ts';
import { resolveRules, size, type Graph, type GraphNode, type PresetName, type Rules } from '../engine/types.ts';
import { bufferWith } from './kernels.ts';
import { GpuUnraveller } from './unravel.ts';

/** Deterministic values in [-1, 1) (a small LCG), so that ties are rare and both signs occur. */
function noise(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 31) - 1);
}

/** The check's graph: 6x6x3 input -> ... -> 5 logits; every node kind the unravelling has a kernel for. */
export function selfCheckGraph(): Graph {
  const conv = (name: string, input: string, shape: number[], cin: number, cout: number, depthwise: boolean, seed: number, scale?: Float32Array): GraphNode => ({
    kind: 'conv', name, shape, inputs: [input], kernel: [3, 3], strides: [1, 1], dilations: [1, 1], pad: depthwise ? [1, 1] : [0, 0],
    depthwise, weights: noise(9 * cin * (depthwise ? 1 : cout), seed), ...(scale ? { scale } : {}),
  });
  // Consumers before producers, logits first (Graph.order).
  const order: GraphNode[] = [
    { kind: 'matmul', name: 'fc', shape: [5], inputs: ['gap'], weights: noise(8 * 5, 9), fromSpatial: false },
    { kind: 'gap', name: 'gap', shape: [8], inputs: ['cat'] },
    { kind: 'concat', name: 'cat', shape: [3, 3, 8], inputs: ['maxpool', 'avgpool'], offsets: [0, 4] },
    { kind: 'pool', name: 'maxpool', shape: [3, 3, 4], inputs: ['add'], op: 'max', kernel: [2, 2], strides: [2, 2], pad: [0, 0] },
    { kind: 'pool', name: 'avgpool', shape: [3, 3, 4], inputs: ['add'], op: 'avg', kernel: [2, 2], strides: [2, 2], pad: [0, 0] },
    { kind: 'add', name: 'add', shape: [6, 6, 4], inputs: ['relu', 'dw'], skip: 0 },
    { kind: 'identity', name: 'relu', shape: [6, 6, 4], inputs: ['conv'], op: 'Relu' },
    conv('dw', 'conv', [6, 6, 4], 4, 4, true, 5),
    conv('conv', 'pad', [6, 6, 4], 3, 4, false, 3, Float32Array.of(1, -0.5, 2, 0.75)),
    { kind: 'pad', name: 'pad', shape: [8, 8, 3], inputs: ['input'], before: [1, 1, 0], mode: 'constant' },
    { kind: 'input', name: 'input', shape: [6, 6, 3], inputs: [] },
  ];
  const byName = new Map(order.map((n) => [n.name, n]));
  const captures = order.filter((n) => n.kind !== 'input').map((n) => n.name).concat('input');
  return { order, byName, input: byName.get('input') as Graph['input'], logits: 'fc', captures };
}

/**
 * Unravel the check graph on the GPU and on the CPU under `rules` (the model's default rules, so that the kernels
 * compiled for the model are the ones checked) for two classes; resolves when they agree (same kept neurons at
 * every layer, weights within 1e-5 relative, the compact list = the input layer), else rejects saying where.
 */
export async function gpuSelfCheck(device: GPUDevice, rules: Rules | PresetName): Promise<void> {
  const r = resolveRules(rules);
  const graph = selfCheckGraph();
  const acts = new Map(graph.order.map((n, i) => [n.name, noise(size(n.shape), 101 + i)]));
  const unr = GpuUnraveller.create(device, graph);
  const buffers = new Map([...acts].map(([name, a]) => [name, bufferWith(device, `self-check ${name}`, a, GPUBufferUsage.STORAGE)]));
  try {
    await unr.compile(r);
    for (const classIndex of [0, 3]) {
      const encoder = device.createCommandEncoder({ label: 'unravel self-check' });
      unr.encode(encoder, (name) => buffers.get(name)!, classIndex, r);
      device.queue.submit([encoder.finish()]);
      const [layers, list] = [await unr.readLayers(), await unr.readInputFixations()];
      const cpu = unravelCpu(graph, (name) => acts.get(name)!, classIndex, r);
      for (const want of cpu.layers) {
        const got = layers.find((l) => l.name === want.name)!;
        const same = got.indices.length === want.indices.length && got.indices.every((v, i) => v === want.indices[i])
          && got.weights.every((w, i) => Math.abs(w - want.weights[i]) <= 1e-5 * Math.abs(want.weights[i]));
        if (!same) {
          throw new Error(`GPU self-check: class ${classIndex}, layer '${want.name}': GPU kept [${[...got.indices]}], CPU [${[...want.indices]}]`);
        }
      }
      if (list.total !== cpu.inputFixations.length) {
        throw new Error(`GPU self-check: class ${classIndex}: compact list has ${list.total} fixations, CPU ${cpu.inputFixations.length}`);
      }
    }
  } finally {
    unr.destroy();
    buffers.forEach((b) => b.destroy());
  }
}

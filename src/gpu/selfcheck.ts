// A one-time start-up check that the WGSL unravelling gives the CPU reference's answer on this device: a tiny graph
// with one node of each kernel kind the model uses (of pad, conv, depthwise conv, a ReLU with a second consumer (the
// copy kernel), add, max and average pool, concat, global mean, fully connected) and fixed activations, unravelled
// on both sides and compared. A driver that compiles the kernels but runs them wrongly (atomics, robust access, ...)
// fails here, and the caller switches to the CPU unravelling. Only the model's kernel kinds, so nothing is compiled
// for it: a few dispatches over a few hundred neurons and four small readbacks.
import { unravelCpu } from '../engine/unravel.ts';
import { resolveRules, size, type Graph, type GraphNode, type PresetName, type Rules } from '../engine/types.ts';
import { fixedWeightOf } from '../engine/ops/common.ts';
import {
  DEFAULT_POST,
  heatGrid,
  heatmap,
  removeOutliers,
  rescalePoints,
  tightBox,
  toImagePoints,
  type Size,
} from '../engine/post.ts';
import { colorize } from '../engine/colormap.ts';
import type { InputFixation, PixelTransform } from '../engine/types.ts';
import type { GpuHeatmap } from './heatmap.ts';
import type { GpuOverlay } from './overlay.ts';
import { packFixationList, type GpuPost } from './post.ts';
import { readback } from './readback.ts';
import { bufferWith } from './kernels.ts';
import { GpuUnraveller, keepHeaviest, kernelKinds, MAX_FIXATIONS } from './unravel.ts';

type Kind = GraphNode['kind'];

/** Deterministic values in [-1, 1) (a small LCG), so that ties are rare and both signs occur. */
function noise(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 31 - 1);
}

/**
 * The check graph: a 6x6x3 input through a node of each of `kinds` that the unravelling dispatches a kernel for
 * (default: all), built input first: [pad] conv 3x3 -> [ReLU + depthwise -> add] -> [max pool, avg pool -> concat]
 * -> [global mean] -> [fully connected]. Without conv it is the input alone.
 */
export function selfCheckGraph(
  kinds: Set<Kind> = new Set(['pad', 'conv', 'identity', 'add', 'pool', 'concat', 'gap', 'matmul']),
): Graph {
  const nodes: GraphNode[] = [{ kind: 'input', name: 'input', shape: [6, 6, 3], inputs: [] }];
  let top = nodes[0];
  const add = (n: GraphNode) => {
    nodes.push(n);
    return n;
  };
  const conv = (
    name: string,
    input: GraphNode,
    cout: number,
    depthwise: boolean,
    seed: number,
    scale?: Float32Array,
  ): GraphNode => {
    const [H, W, cin] = input.shape;
    const pad = input.kind === 'pad' ? 0 : 1; // a 3x3 'same' conv, padded by the pad node when there is one
    return add({
      kind: 'conv',
      name,
      shape: [H + 2 * pad - 2, W + 2 * pad - 2, cout],
      inputs: [input.name],
      kernel: [3, 3],
      strides: [1, 1],
      dilations: [1, 1],
      pad: [pad, pad],
      depthwise,
      weights: noise(9 * cin * (depthwise ? 1 : cout), seed),
      ...(scale ? { scale } : {}),
    });
  };
  if (!kinds.has('conv')) return graphOf(nodes);
  if (kinds.has('pad'))
    top = add({ kind: 'pad', name: 'pad', shape: [8, 8, 3], inputs: ['input'], before: [1, 1, 0], mode: 'constant' });
  top = conv('conv', top, 4, false, 3, Float32Array.of(1, -0.5, 2, 0.75));
  if (kinds.has('add')) {
    const dw = conv('dw', top, 4, true, 5);
    // A ReLU beside the depthwise conv: its input has two consumers, so it runs the copy kernel.
    const left = kinds.has('identity')
      ? add({ kind: 'identity', name: 'relu', shape: top.shape, inputs: [top.name], op: 'Relu' })
      : top;
    top = add({ kind: 'add', name: 'add', shape: top.shape, inputs: [left.name, dw.name], skip: 0 });
  }
  if (kinds.has('pool')) {
    const [H, W, C] = top.shape;
    const pool = (name: string, op: 'max' | 'avg') =>
      add({
        kind: 'pool',
        name,
        shape: [H / 2, W / 2, C],
        inputs: [top.name],
        op,
        kernel: [2, 2],
        strides: [2, 2],
        pad: [0, 0],
      });
    const max = pool('maxpool', 'max');
    if (kinds.has('concat')) {
      const avg = pool('avgpool', 'avg');
      top = add({
        kind: 'concat',
        name: 'cat',
        shape: [H / 2, W / 2, 2 * C],
        inputs: [max.name, avg.name],
        offsets: [0, C],
      });
    } else {
      top = max;
    }
  }
  if (kinds.has('gap')) top = add({ kind: 'gap', name: 'gap', shape: [top.shape[2]], inputs: [top.name] });
  if (kinds.has('matmul')) {
    const N = size(top.shape);
    top = add({
      kind: 'matmul',
      name: 'fc',
      shape: [5],
      inputs: [top.name],
      weights: noise(N * 5, 9),
      fromSpatial: top.shape.length > 1,
    });
  }
  return graphOf(nodes);
}

function graphOf(nodes: GraphNode[]): Graph {
  const order = [...nodes].reverse(); // consumers before producers, logits first
  const byName = new Map(order.map((n) => [n.name, n]));
  return {
    order,
    byName,
    input: nodes[0] as Graph['input'],
    logits: order[0].name,
    captures: order.map((n) => n.name),
  };
}

/**
 * Unravel the check graph for the kernel kinds of `model` (all when absent) on the GPU and on the CPU under `rules`
 * (the model's default rules, so that the kernels compiled for the model are the ones checked), for two classes;
 * resolves when they agree (same kept neurons at every layer, weights within 1e-5 relative, the compact list = the
 * input layer), else rejects saying where. Nothing to check (no conv kernel): resolves.
 */
export async function gpuSelfCheck(
  device: GPUDevice,
  rules: Rules | PresetName,
  model?: Graph,
  compaction = true,
): Promise<void> {
  const r = resolveRules(rules);
  const graph = selfCheckGraph(model ? kernelKinds(model) : undefined);
  if (graph.order.length < 2) return;
  const acts = new Map(graph.order.map((n, i) => [n.name, noise(size(n.shape), 101 + i)]));
  const unr = GpuUnraveller.create(device, graph);
  const buffers = new Map(
    [...acts].map(([name, a]) => [name, bufferWith(device, `self-check ${name}`, a, GPUBufferUsage.STORAGE)]),
  );
  const classes = size(graph.byName.get(graph.logits)!.shape);
  try {
    if (compaction) await compactionSelfCheck(device); // rules-independent: once per device is enough
    await unr.compile(r);
    for (const classIndex of [0, Math.min(3, classes - 1)]) {
      const encoder = device.createCommandEncoder({ label: 'unravel self-check' });
      unr.encode(encoder, (name) => buffers.get(name)!, classIndex, r);
      device.queue.submit([encoder.finish()]);
      const [layers, list] = [await unr.readLayers(), await unr.readInputFixations()];
      const cpu = unravelCpu(graph, (name) => acts.get(name)!, classIndex, r);
      for (const want of cpu.layers) {
        const got = layers.find((l) => l.name === want.name)!;
        const same =
          got.indices.length === want.indices.length &&
          got.indices.every((v, i) => v === want.indices[i]) &&
          got.weights.every((w, i) => Math.abs(w - want.weights[i]) <= 1e-5 * Math.abs(want.weights[i]));
        if (!same) {
          throw new Error(
            `GPU self-check: class ${classIndex}, layer '${want.name}': GPU kept [${[...got.indices]}], CPU [${[...want.indices]}]`,
          );
        }
      }
      // The compact list item by item (the check graph keeps fewer than MAX_FIXATIONS: all of them, by index).
      const want = cpu.inputFixations;
      const bad = want.findIndex((f, i) => {
        const g = list.fixations[i];
        return !g || g.x !== f.x || g.y !== f.y || g.c !== f.c || Math.abs(g.w - f.w) > 1e-5 * f.w;
      });
      if (list.total !== want.length || list.fixations.length !== want.length || bad >= 0) {
        throw new Error(
          `GPU self-check: class ${classIndex}: compact list has ${list.total} fixations, CPU ${want.length}` +
            (bad >= 0 ? `; item ${bad} differs` : ''),
        );
      }
    }
  } finally {
    unr.destroy();
    buffers.forEach((b) => b.destroy());
  }
}

/**
 * The compaction past MAX_FIXATIONS (the check graph keeps far fewer): 4608 input neurons of which about 4250 are
 * kept, listed in a scrambled order, with 50 distinct weights (ties broken by index), through the radix-select kernel;
 * the list must be keepHeaviest() of them, item by item (index and weight bits).
 */
export async function compactionSelfCheck(device: GPUDevice): Promise<void> {
  const graph = graphOf([
    { kind: 'input', name: 'input', shape: [48, 48, 2], inputs: [] },
    { kind: 'gap', name: 'gap', shape: [2], inputs: ['input'] },
  ]);
  const n = 48 * 48 * 2;
  const unr = GpuUnraveller.create(device, graph);
  try {
    const words = new Uint32Array(2 * n);
    const kept: number[] = [];
    for (let i = 0; i < n; i++) {
      if ((i * 7919) % 13 === 0) continue;
      const units = (((i * 37) % 50) + 1) * 2 ** 42; // (1..50) / 64 in 2^-48 units
      words[2 * i] = 0x80000000 | Math.floor(units / 2 ** 32);
      words[2 * i + 1] = units % 2 ** 32;
      kept.push(i);
    }
    let s = 7;
    for (let i = kept.length - 1; i > 0; i--) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const j = s % (i + 1);
      [kept[i], kept[j]] = [kept[j], kept[i]];
    }
    device.queue.writeBuffer(unr.inputWeights, 0, words);
    device.queue.writeBuffer(unr.inputList, 0, Uint32Array.from([kept.length, 0, 1, 1, ...kept]));
    const encoder = device.createCommandEncoder({ label: 'compaction self-check' });
    unr.encodeCompact(encoder);
    device.queue.submit([encoder.finish()]);
    const list = await unr.readInputFixations();
    const want = keepHeaviest(
      kept.map((index) => ({ index, w: fixedWeightOf(words[2 * index], words[2 * index + 1]) })),
      MAX_FIXATIONS,
    );
    const got = list.fixations.map((f) => (f.y * 48 + f.x) * 2 + f.c);
    const bad = want.findIndex((f, i) => got[i] !== f.index || list.fixations[i].w !== f.w);
    if (list.total !== kept.length || got.length !== want.length || bad >= 0) {
      throw new Error(
        `GPU self-check: compaction of ${kept.length} kept to ${MAX_FIXATIONS}: total ${list.total}, ` +
          `${got.length} items, first difference at item ${bad} (GPU ${got[bad]}, CPU ${want[bad]?.index})`,
      );
    }
  } finally {
    unr.destroy();
  }
}

/** A small frame's fixations for the draw checks: a cluster, a second one, a far outlier, two channels per pixel. */
function checkList(): { input: InputFixation[]; transform: PixelTransform; frame: Size } {
  const input: InputFixation[] = [];
  const r = lcg(5);
  for (let i = 0; i < 90; i++) {
    const [cx, cy] = i < 60 ? [9, 11] : [22, 20];
    input.push({
      x: cx + Math.floor(r() * 6),
      y: cy + Math.floor(r() * 5),
      c: i % 2,
      w: Math.fround(0.002 + r() * 0.02),
    });
  }
  input.push({ x: 31, y: 0, c: 0, w: 0.01 });
  const seen = new Set<number>();
  const list = input.filter((f) => {
    const k = (f.y * 32 + f.x) * 3 + f.c;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  list.sort((a, b) => (a.y * 32 + a.x) * 3 + a.c - ((b.y * 32 + b.x) * 3 + b.c));
  const transform: PixelTransform = {
    fit: 'crop',
    srcWidth: 64,
    srcHeight: 48,
    inputWidth: 32,
    inputHeight: 32,
    stepX: 2,
    stepY: 1.5,
    startX: 0,
    startY: 0,
  };
  return { input: list, transform, frame: { width: 64, height: 48 } };
}

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/**
 * The post and heatmap kernels (src/gpu/post.ts, heatmap.ts) on a fixed list, against their CPU twins: points in the
 * photo, outliers, box (toImagePoints, removeOutliers, tightBox) and the normalised heat on the grid (heatmap()).
 */
export async function postSelfCheck(device: GPUDevice, post: GpuPost, heat: GpuHeatmap): Promise<void> {
  const { input, transform, frame } = checkList();
  const grid = heatGrid(frame.width, frame.height);
  const packed = packFixationList(input, 32, 3);
  const list = bufferWith(device, 'post self-check list', packed, GPUBufferUsage.STORAGE);
  const out = device.createBuffer({
    label: 'post self-check readback',
    size: grid.width * grid.height * 4,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    const enc = device.createCommandEncoder({ label: 'post self-check' });
    heat.encodeSplat(enc, { ...grid, sigma: DEFAULT_POST.sigma, smoothing: 0 }, 0, (e, target) =>
      post.encode(e, list, target, {
        transform,
        channels: 3,
        frame,
        overlay: frame,
        heat: grid,
        points: true,
        box: true,
        color: [1, 0, 0],
      }),
    );
    enc.copyBufferToBuffer(heat.heat, 0, out, 0, grid.width * grid.height * 4);
    device.queue.submit([enc.finish()]);
    const stats = await post.readStats();
    await readback(out.mapAsync(GPUMapMode.READ), 'the post self-check');
    const got = new Float32Array(out.getMappedRange().slice(0));
    out.unmap();
    const points = toImagePoints(input, transform);
    const kept = removeOutliers(points, frame.width, frame.height);
    const box = tightBox(kept)!;
    const want = heatmap(rescalePoints(kept, frame, grid), grid.width, grid.height, DEFAULT_POST.sigma);
    let maxDiff = 0;
    want.forEach((v, i) => {
      maxDiff = Math.max(maxDiff, Math.abs(v - got[i]));
    });
    if (
      stats.points !== points.length ||
      stats.kept !== kept.length ||
      !stats.box ||
      stats.box.some((b, k) => Math.abs(b - box[k]) > 1e-3) ||
      !(maxDiff <= 1e-3)
    ) {
      throw new Error(
        `GPU self-check: post/heatmap: points ${stats.points} (CPU ${points.length}), kept ${stats.kept} (CPU ${kept.length}), ` +
          `box [${stats.box}] (CPU [${box}]), heat max difference ${maxDiff}`,
      );
    }
  } finally {
    list.destroy();
    out.destroy();
  }
}

/** The overlay's render pipelines: a known heat map through the colormap, and a rect, against the CPU's colorize(). */
export async function overlaySelfCheck(device: GPUDevice, overlay: GpuOverlay): Promise<void> {
  const [w, h] = [24, 16];
  const map = Float32Array.from({ length: w * h }, (_, i) => ((i % w) / (w - 1)) * (Math.floor(i / w) / (h - 1)));
  const buffer = bufferWith(device, 'overlay self-check heat', map, GPUBufferUsage.STORAGE);
  try {
    const rect = { x0: 2, y0: 3, x1: 6, y1: 7, color: [0, 0, 1, 1] as [number, number, number, number] };
    const px = await overlay.drawOffscreen(
      w,
      h,
      { buffer, width: w, height: h, stride: 0, hues: null, colormap: 'jet', opacity: 0.8 },
      [rect],
    );
    const want = colorize(map, 'jet', 0.8, true);
    for (let y = 3; y < 7; y++) for (let x = 2; x < 6; x++) want.set([0, 0, 255, 255], 4 * (y * w + x));
    let max = 0;
    want.forEach((v, i) => {
      max = Math.max(max, Math.abs(v - px[i]));
    });
    if (max > 2) throw new Error(`GPU self-check: overlay: pixels differ from the CPU's by up to ${max}`);
  } finally {
    buffer.destroy();
  }
}

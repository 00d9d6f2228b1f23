// A classifier loaded through tfjs: preprocessing (resize + crop/letterbox + normalise, on the backend in use),
// one forward pass that also yields every activation the unravelling reads, and the engine graph.
import * as tf from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { buildGraph, tensorName, type TfNode } from './graph.ts';
import { resolveRules, type Graph, type PixelTransform, type Rules, type TopClass } from './types.ts';

export interface Preprocessing {
  /** Pixel values are first scaled from [0,255] to this range, then (x - mean) / std per channel. */
  range: [number, number];
  mean: [number, number, number];
  std: [number, number, number];
}
export interface ModelInfo {
  id: string;
  inputSize: number;
  preprocessing: Preprocessing;
  logits: string;
  probs?: string;
  labels: string[];
  /** The model's default fixation rules (catalog "rules"); absent: PRESETS.default. */
  rules?: Rules;
}
export type Fit = 'crop' | 'letterbox';

export interface Forward {
  logits: Float32Array;
  probs: Float32Array;
  /** Captured activations, still on the backend; dispose with disposeForward. */
  tensors: Map<string, tf.Tensor>;
}

export class FixationModel {
  readonly graph: Graph;
  private constructor(readonly model: GraphModel, readonly info: ModelInfo, graph: Graph) {
    this.graph = graph;
  }

  /** Build the engine graph from a loaded GraphModel; one dry run on zeros gives every node's shape. */
  static create(model: GraphModel, info: ModelInfo): FixationModel {
    // artifacts is private in the typings, but it is the parsed model.json.
    const artifacts = (model as unknown as { artifacts?: { modelTopology?: { node?: TfNode[] } } }).artifacts;
    const topology = artifacts?.modelTopology?.node;
    if (!topology) throw new Error(`model '${info.id}': model.json has no modelTopology.node (not a TF.js graph model?)`);
    if (info.rules) {
      try { resolveRules(info.rules); } catch (e) { throw new Error(`model '${info.id}': its default rules: ${(e as Error).message}`); }
    }
    const names = topology.filter((n) => n.op !== 'Const').map((n) => n.name);
    for (const n of [info.logits, info.probs].filter(Boolean) as string[]) {
      if (!names.includes(n)) throw new Error(`model '${info.id}': node '${n}' is not in the graph`);
    }
    // Read the constants before the dry run: once tfjs-webgpu uploads a tensor it drops the CPU copy, and a
    // synchronous read then goes through a WebGPU canvas (slow, and it loses a device without presentation).
    const constants = new Map(Object.entries(model.weights).map(([name, [t]]) =>
      [name, { values: t.dataSync() as Float32Array | Int32Array, shape: t.shape }]));
    const reachable = reachableFrom(topology, info.logits);
    const zeros = tf.zeros([1, info.inputSize, info.inputSize, 3]);
    const outs = executeAll(model, zeros, names.filter((n) => reachable.has(n)));
    const shapes = new Map(names.filter((n) => reachable.has(n)).map((n, i) => [n, outs[i].shape]));
    tf.dispose([zeros, ...outs]);
    const graph = buildGraph({
      nodes: topology,
      logits: info.logits,
      shape: (n) => shapes.get(n) ?? [],
      constant: (name) => constants.get(name),
    });
    if (graph.input.shape[0] !== info.inputSize || graph.input.shape[1] !== info.inputSize) {
      throw new Error(`model '${info.id}': input is ${graph.input.shape}, catalog says ${info.inputSize}`);
    }
    return new FixationModel(model, info, graph);
  }

  /**
   * Image (H,W,3 or 4 channels, values 0..255) -> network input [1,S,S,3], and the exact map back to image pixels.
   * Resizing is bilinear between pixel centres (tf.image.cropAndResize), so the transform is affine and exact.
   */
  preprocess(image: tf.Tensor3D, fit: Fit = 'crop'): { input: tf.Tensor4D; transform: PixelTransform } {
    const [H, W, ch] = image.shape;
    if (ch !== 3 && ch !== 4) throw new Error(`image must have 3 or 4 channels, got ${ch}`);
    const S = this.info.inputSize;
    const transform = pixelTransform(W, H, S, fit);
    const { range: [lo, hi], mean, std } = this.info.preprocessing;
    // Each channel's mean as a 0..255 pixel value: the colour that normalises to exactly 0.
    const meanPx = mean.map((m) => ((m - lo) / (hi - lo)) * 255);
    const input = tf.tidy(() => {
      const rgb = tf.cast(ch === 4 ? tf.slice(image, [0, 0, 0], [H, W, 3]) : image, 'float32');
      const box = [
        transform.startY / Math.max(H - 1, 1), transform.startX / Math.max(W - 1, 1),
        (transform.startY + transform.stepY * (S - 1)) / Math.max(H - 1, 1),
        (transform.startX + transform.stepX * (S - 1)) / Math.max(W - 1, 1),
      ];
      // ((x (hi - lo) / 255 + lo) - mean) / std = (x - meanPx) (hi - lo) / (255 std): centring before the resize lets
      // the letterbox bars (cropAndResize's single extrapolation value, 0) come out exactly 0 in every channel.
      const centred = tf.expandDims(tf.sub(rgb, tf.tensor1d(meanPx)), 0) as tf.Tensor4D;
      const crop = tf.image.cropAndResize(centred, [box], [0], [S, S], 'bilinear', 0);
      return tf.mul(crop, tf.tensor1d(std.map((s) => (hi - lo) / (255 * s)))) as tf.Tensor4D;
    });
    return { input, transform };
  }

  /** One forward pass; returns logits, probabilities, and the activations the unravelling needs. */
  async forward(input: tf.Tensor4D): Promise<Forward> {
    const { logits, probs } = this.info;
    const names = [...new Set([logits, ...(probs ? [probs] : []), ...this.graph.captures])];
    const outs = executeAll(this.model, input, names);
    const tensors = new Map(names.map((n, i) => [n, outs[i]]));
    const logitsData = (await tensors.get(logits)!.data()) as Float32Array;
    const probsData = probs
      ? ((await tensors.get(probs)!.data()) as Float32Array)
      : softmax(logitsData);
    return { logits: logitsData, probs: probsData, tensors };
  }

  top(probs: Float32Array, k = 5): TopClass[] {
    return topK(probs, k).map((index) => ({ index, label: this.info.labels[index] ?? `class ${index}`, prob: probs[index] }));
  }

  dispose() {
    this.model.dispose();
  }
}

/** Dispose the forward's tensors, except those in `keep` (e.g. a caller-owned input that was also captured). */
export function disposeForward(f: Forward, keep: tf.Tensor[] = []) {
  tf.dispose([...f.tensors.values()].filter((t) => !keep.includes(t)));
}

export function pixelTransform(W: number, H: number, S: number, fit: Fit): PixelTransform {
  const side = fit === 'crop' ? Math.min(W, H) : Math.max(W, H);
  const step = (side - 1) / (S - 1);
  return { fit, srcWidth: W, srcHeight: H, size: S, stepX: step, stepY: step, startX: (W - side) / 2, startY: (H - side) / 2 };
}

export function topK(v: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[b] - v[a] || a - b).slice(0, k);
}

function softmax(v: Float32Array): Float32Array {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** GraphModel.execute returns a bare tensor (not a 1-array) for a single output name: always give an array. */
function executeAll(model: GraphModel, input: tf.Tensor, names: string[]): tf.Tensor[] {
  const out = model.execute(input, names);
  return Array.isArray(out) ? out : [out];
}

function reachableFrom(nodes: TfNode[], from: string): Set<string> {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n) || !byName.has(n)) continue;
    seen.add(n);
    if (byName.get(n)!.op === 'Const') { seen.delete(n); continue; }
    for (const i of byName.get(n)!.input ?? []) if (!i.startsWith('^')) stack.push(tensorName(i));
  }
  return seen;
}

// A classifier loaded through tfjs: preprocessing (resize + crop/letterbox + luminance + normalise, on the backend in use),
// one forward pass that also yields every activation the unravelling reads, and the engine graph.
import * as tf from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { buildGraph, tensorName, type TfNode } from './graph.ts';
import { checkMethodFacts, type ExplainMethod, type GuidedOptions } from './methods.ts';
import { BINARY_CLASSES, resolveRules, type Graph, type PixelTransform, type Rules, type TopClass } from './types.ts';

export interface Preprocessing {
  /** Pixel values are first scaled from [0,255] to this range (e.g. [0,1], [-1,1], [0,255]), then (x - mean) / std. */
  range: [number, number];
  /** One entry per input channel, or one for all. */
  mean: number[];
  std: number[];
}
export interface ModelInfo {
  id: string;
  /** Where a user's own model came from (a path, URL or file name): errors name it. */
  source?: string;
  /** Side of a square input (the catalog's field). Non-square: inputHeight and inputWidth. Absent: the input signature's. */
  inputSize?: number;
  inputHeight?: number;
  inputWidth?: number;
  /** 3 (RGB) or 1 (the frame's luminance). Absent: the input signature's, else 3. */
  inputChannels?: number;
  preprocessing: Preprocessing;
  logits: string;
  probs?: string;
  labels: string[];
  /** The model's default fixation rules (catalog "rules"); absent: PRESETS.default. */
  rules?: Rules;
  /** The model's default explanation method (catalog "method"); absent: DEFAULT_METHOD. */
  method?: ExplainMethod;
  /** The model's guided knobs over GUIDED (catalog "guided"). */
  guided?: Partial<GuidedOptions>;
}
/** The network input, batch dropped: [height, width, channels]. */
export interface InputShape {
  height: number;
  width: number;
  channels: 1 | 3;
}
export type Fit = 'crop' | 'letterbox';

/**
 * How the logits become probabilities: 'softmax' over the classes; 'sigmoid' per class (multi-label heads);
 * 'binary': one sigmoid logit, shown as two classes, 0 = present (the model's own probability) and 1 = absent
 * (the negated logit, so that "why absent" unravels like any class).
 */
export type Head = 'softmax' | 'sigmoid' | 'binary';
/** The class index of "absent" under a binary (one-logit sigmoid) head. */
export const ABSENT = BINARY_CLASSES.absent;

export interface Forward {
  logits: Float32Array;
  probs: Float32Array;
  /** Captured activations, still on the backend; dispose with disposeForward. */
  tensors: Map<string, tf.Tensor>;
}

interface PreprocessConstants {
  backend: string;
  luma: tf.Tensor1D;
  meanPx: tf.Tensor1D;
  scale: tf.Tensor1D;
  boxInd: tf.Tensor1D;
  boxes: Map<string, tf.Tensor2D>;
}
/** Crop boxes kept per model (frame size x fit). */
const BOX_CACHE = 4;

export class FixationModel {
  readonly graph: Graph;
  private prep?: PreprocessConstants;
  private constructor(
    readonly model: GraphModel,
    readonly info: ModelInfo,
    graph: Graph,
    readonly input: InputShape,
    readonly head: Head,
  ) {
    this.graph = graph;
  }

  /** Build the engine graph from a loaded GraphModel; one dry run on zeros gives every node's shape. */
  static create(model: GraphModel, info: ModelInfo): FixationModel {
    // artifacts is private in the typings, but it is the parsed model.json.
    const artifacts = (model as unknown as { artifacts?: { modelTopology?: { node?: TfNode[] } } }).artifacts;
    const topology = artifacts?.modelTopology?.node;
    if (!topology) throw new Error(`${where(info)}: model.json has no modelTopology.node (not a TF.js graph model?)`);
    if (info.rules) {
      try {
        resolveRules(info.rules);
      } catch (e) {
        throw new Error(`${where(info)}: its default rules: ${(e as Error).message}`);
      }
    }
    try {
      checkMethodFacts(info);
    } catch (e) {
      throw new Error(`${where(info)}: ${(e as Error).message}`);
    }
    const names = topology.filter((n) => n.op !== 'Const').map((n) => n.name);
    for (const [field, n] of [
      ['logits', info.logits],
      ['probs', info.probs],
    ] as const) {
      if (n && !names.includes(n)) throw new Error(`${where(info)}: ${field} node '${n}' is not in the graph`);
    }
    const sigmoid = !!info.probs && topology.find((n) => n.name === info.probs)?.op === 'Sigmoid';
    const head: Head =
      sigmoid && negateOneLogit(model, topology, info.logits) ? 'binary' : sigmoid ? 'sigmoid' : 'softmax';
    if (head === 'binary') info = { ...info, labels: binaryLabels(info.labels) };
    const input = inputShape(info, model.inputs[0]?.shape);
    channelNorm(info, input.channels); // a mean/std that does not fit the channels fails here, not on the first frame
    // Read the constants before the dry run: once tfjs-webgpu uploads a tensor it drops the CPU copy, and a
    // synchronous read then goes through a WebGPU canvas (slow, and it loses a device without presentation).
    const constants = new Map(
      Object.entries(model.weights).map(([name, [t]]) => [
        name,
        { values: t.dataSync() as Float32Array | Int32Array, shape: t.shape },
      ]),
    );
    const reachable = reachableFrom(topology, info.logits);
    const zeros = tf.zeros([1, input.height, input.width, input.channels]);
    let outs: tf.Tensor[];
    try {
      outs = executeAll(
        model,
        zeros,
        names.filter((n) => reachable.has(n)),
      );
    } catch (e) {
      zeros.dispose();
      throw new Error(
        `${where(info)}: the dry run on a [1,${input.height},${input.width},${input.channels}] input failed (${(e as Error).message})`,
      );
    }
    const shapes = new Map(names.filter((n) => reachable.has(n)).map((n, i) => [n, outs[i].shape]));
    tf.dispose([zeros, ...outs]);
    const graph = buildGraph({
      nodes: topology,
      logits: info.logits,
      shape: (n) => shapes.get(n) ?? [],
      constant: (name) => constants.get(name),
    });
    const [gh, gw, gc] = graph.input.shape;
    if (gh !== input.height || gw !== input.width || gc !== input.channels) {
      throw new Error(
        `${where(info)}: input is ${graph.input.shape}, the model info says ${input.height},${input.width},${input.channels}`,
      );
    }
    // tfjs keeps model.json's weight bytes (artifacts.weightData) only for model.save(), which this never calls: the
    // weights live in its tensors (on the GPU after the dry run) and in the graph's copies for the CPU rules. A copy
    // of the artifacts without them, so that a caller's artifacts object (a model in memory) stays whole.
    (model as unknown as { artifacts: object }).artifacts = { ...artifacts, weightData: undefined };
    return new FixationModel(model, info, graph, input, head);
  }

  /**
   * Image (H,W,3 or 4 channels, values 0..255) -> network input [1,h,w,c], and the exact map back to image pixels.
   * Resizing is bilinear between pixel centres (tf.image.cropAndResize), so the transform is affine and exact.
   * A 1-channel model gets the luminance (BT.601: 0.299 R + 0.587 G + 0.114 B); letterbox bars are 0 after
   * normalisation, in every channel.
   */
  preprocess(image: tf.Tensor3D, fit: Fit = 'crop'): { input: tf.Tensor4D; transform: PixelTransform } {
    const [H, W, ch] = image.shape;
    if (ch !== 3 && ch !== 4) throw new Error(`image must have 3 or 4 channels, got ${ch}`);
    const { height: h, width: w, channels } = this.input;
    const transform = pixelTransform(W, H, { width: w, height: h }, fit);
    const k = this.constants();
    const box = this.cropBox(W, H, fit);
    const input = tf.tidy(() => {
      const rgb = tf.cast(ch === 4 ? tf.slice(image, [0, 0, 0], [H, W, 3]) : image, 'float32');
      // A 1-channel model sees the luminance (linear, so taking it before the resize changes nothing).
      const pixels = channels === 1 ? tf.sum(tf.mul(rgb, k.luma), -1, true) : rgb;
      // ((x (hi - lo) / 255 + lo) - mean) / std = (x - meanPx) (hi - lo) / (255 std). A letterbox centres before the
      // resize, so that its bars (cropAndResize's single extrapolation value, 0) come out exactly 0 in every channel;
      // a crop has no bars and centres the network-sized result instead of every frame pixel (a subtraction over the
      // whole frame costs far more than one over the network-sized input).
      const bars = fit === 'letterbox';
      const src = tf.expandDims(bars ? tf.sub(pixels, k.meanPx) : pixels, 0) as tf.Tensor4D;
      const crop = tf.image.cropAndResize(src, box, k.boxInd, [h, w], 'bilinear', 0);
      return tf.mul(bars ? crop : tf.sub(crop, k.meanPx), k.scale) as tf.Tensor4D;
    });
    return { input, transform };
  }

  /**
   * The preprocessing's constant tensors, made once on the backend in use and kept (uploading them every frame cost
   * one new staging buffer each on tfjs-webgpu): BT.601 luma weights, each channel's mean as a 0..255 pixel value
   * (the colour that normalises to exactly 0), the per-channel scale (hi - lo) / (255 std), the box index [0].
   */
  private constants(): PreprocessConstants {
    const backend = tf.getBackend();
    if (this.prep?.backend === backend) return this.prep;
    this.disposeConstants();
    const [lo, hi] = this.info.preprocessing.range;
    const { mean, std } = channelNorm(this.info, this.input.channels);
    this.prep = {
      backend,
      luma: tf.keep(tf.tensor1d(LUMA)),
      meanPx: tf.keep(tf.tensor1d(mean.map((m) => ((m - lo) / (hi - lo)) * 255))),
      scale: tf.keep(tf.tensor1d(std.map((s) => (hi - lo) / (255 * s)))),
      boxInd: tf.keep(tf.tensor1d([0], 'int32')),
      boxes: new Map(),
    };
    return this.prep;
  }

  /** cropAndResize's box [1,4] (normalised corners) for a frame size and fit; the last few kept (a camera's size rarely changes). */
  private cropBox(W: number, H: number, fit: Fit): tf.Tensor2D {
    const boxes = this.constants().boxes;
    const key = `${W}x${H}:${fit}`;
    let t = boxes.get(key);
    if (t) {
      boxes.delete(key); // most recently used last
    } else {
      const { height: h, width: w } = this.input;
      const r = region(W, H, w, h, fit);
      t = tf.keep(
        tf.tensor2d([
          [
            r.startY / Math.max(H - 1, 1),
            r.startX / Math.max(W - 1, 1),
            (r.startY + r.extY) / Math.max(H - 1, 1),
            (r.startX + r.extX) / Math.max(W - 1, 1),
          ],
        ]),
      );
      if (boxes.size >= BOX_CACHE) {
        const [oldest, old] = boxes.entries().next().value!;
        boxes.delete(oldest);
        old.dispose();
      }
    }
    boxes.set(key, t);
    return t;
  }

  private disposeConstants() {
    if (!this.prep) return;
    const { luma, meanPx, scale, boxInd, boxes } = this.prep;
    tf.dispose([luma, meanPx, scale, boxInd, ...boxes.values()]);
    this.prep = undefined;
  }

  /** One forward pass; returns logits, probabilities, and the activations the unravelling needs. */
  async forward(input: tf.Tensor4D): Promise<Forward> {
    const { logits, probs } = this.info;
    const names = [...new Set([logits, ...(probs ? [probs] : []), ...this.graph.captures])];
    const outs = executeAll(this.model, input, names);
    const tensors = new Map(names.map((n, i) => [n, outs[i]]));
    const logitsData = (await tensors.get(logits)!.data()) as Float32Array;
    const probsData = probs ? ((await tensors.get(probs)!.data()) as Float32Array) : softmax(logitsData);
    return { logits: logitsData, probs: probsData, tensors };
  }

  top(probs: Float32Array, k = 5): TopClass[] {
    return topK(probs, k).map((index) => ({
      index,
      label: this.info.labels[index] ?? `class ${index}`,
      prob: probs[index],
    }));
  }

  /** The model's tensor of a graph constant (e.g. a conv's weights), as tfjs holds it on its backend. */
  constantTensor(name: string): tf.Tensor | undefined {
    return this.model.weights[name]?.[0] ?? this.model.weights[tensorName(name)]?.[0];
  }

  dispose() {
    try {
      this.disposeConstants();
    } finally {
      this.model.dispose();
    }
  }
}

/** Dispose the forward's tensors, except those in `keep` (e.g. a caller-owned input that was also captured). */
export function disposeForward(f: Forward, keep: tf.Tensor[] = []) {
  tf.dispose([...f.tensors.values()].filter((t) => !keep.includes(t)));
}

/**
 * The map from network-input pixel centres to image pixel coordinates: one step for both axes (no distortion), the
 * region centred. 'crop' takes the largest region of the input's aspect inside the image, 'letterbox' the smallest
 * containing it. Corner pixel centres map to corner pixel centres (as cropAndResize samples).
 * `input`: the network input's side (square) or its width and height.
 */
export function pixelTransform(
  W: number,
  H: number,
  input: number | { width: number; height: number },
  fit: Fit,
): PixelTransform {
  const { width: w, height: h } = typeof input === 'number' ? { width: input, height: input } : input;
  const r = region(W, H, w, h, fit);
  return {
    fit,
    srcWidth: W,
    srcHeight: H,
    inputWidth: w,
    inputHeight: h,
    stepX: r.step,
    stepY: r.step,
    startX: r.startX,
    startY: r.startY,
  };
}

/**
 * The sampled region: step, start and extent (first to last sample centre) per axis. The axis that sets the step
 * spans exactly 0..side-1 (extents from integer products, so no rounding puts a sample a hair outside the image,
 * where cropAndResize would write the bar value).
 */
function region(W: number, H: number, w: number, h: number, fit: Fit) {
  if (!(w >= 2 && h >= 2)) throw new Error(`network input must be at least 2x2 pixels, got ${w}x${h}`);
  const sx = (W - 1) / (w - 1),
    sy = (H - 1) / (h - 1);
  const byX = fit === 'crop' ? sx <= sy : sx >= sy;
  const extX = byX ? W - 1 : ((H - 1) * (w - 1)) / (h - 1);
  const extY = byX ? ((W - 1) * (h - 1)) / (w - 1) : H - 1;
  return { step: byX ? sx : sy, startX: (W - 1 - extX) / 2, startY: (H - 1 - extY) / 2, extX, extY };
}

/** BT.601 luma weights (sum 1: white stays 255). */
const LUMA = [0.299, 0.587, 0.114];

/**
 * The network input's shape: the model info's (inputHeight/inputWidth, else inputSize), else the model's input
 * signature [1,h,w,c]; channels 3 unless either says 1. A clear error when they disagree or nothing tells.
 */
export function inputShape(info: ModelInfo, signature?: (number | null)[]): InputShape {
  const sig = (i: number) =>
    signature && signature.length === 4 && signature[i] != null && signature[i]! > 0 ? signature[i]! : undefined;
  const h = info.inputHeight ?? info.inputSize ?? sig(1);
  const w = info.inputWidth ?? info.inputSize ?? sig(2);
  const c = info.inputChannels ?? sig(3) ?? 3;
  const at = where(info);
  if (h === undefined || w === undefined)
    throw new Error(
      `${at}: the input size is unknown (the input signature is [${signature}]); give the input size (CLI --input-size N, info.inputSize, or inputHeight and inputWidth)`,
    );
  for (const [name, v] of [
    ['height', h],
    ['width', w],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${at}: input ${name} ${v} must be a positive integer`);
  }
  if (c !== 1 && c !== 3) throw new Error(`${at}: input channels ${c} are not supported (1: luminance, or 3: RGB)`);
  const given = [h, w, c],
    got = [sig(1), sig(2), sig(3)];
  if (got.some((v, i) => v !== undefined && v !== given[i])) {
    const [sh, sw] = [sig(1), sig(2)];
    const fix =
      sh !== undefined && sw !== undefined && (sh !== h || sw !== w)
        ? `: give input size ${sh === sw ? sh : `${sh}x${sw}`} or leave it out`
        : '';
    throw new Error(`${at}: the model's input is [${signature}], the model info says [1,${h},${w},${c}]${fix}`);
  }
  return { height: h, width: w, channels: c };
}

/**
 * Per-channel mean and std of the preprocessing: one entry per channel, or one for every channel (3 equal entries,
 * as the range presets give, also serve a 1-channel input).
 */
export function channelNorm(info: ModelInfo, channels: number): { mean: number[]; std: number[] } {
  const { mean, std, range } = info.preprocessing;
  const fit = (v: number[], name: string) => {
    if (Array.isArray(v) && v.length > 1 && v.every((x) => x === v[0])) v = [v[0]];
    if (!Array.isArray(v) || (v.length !== 1 && v.length !== channels)) {
      throw new Error(
        `${where(info)}: preprocessing.${name} has ${Array.isArray(v) ? v.length : 'no'} entries, the input has ${channels} channel(s) (give 1 or ${channels})`,
      );
    }
    return v.length === channels ? v : Array<number>(channels).fill(v[0]);
  };
  if (!(range?.length === 2 && range[1] !== range[0]))
    throw new Error(`${where(info)}: preprocessing.range [${range}] must be two different numbers`);
  const s = fit(std, 'std');
  if (s.some((x) => !(x !== 0 && Number.isFinite(x))))
    throw new Error(`${where(info)}: preprocessing.std [${std}] must be non-zero`);
  return { mean: fit(mean, 'mean'), std: s };
}

export function topK(v: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: v.length }, (_, i) => i)
    .sort((a, b) => v[b] - v[a] || a - b)
    .slice(0, k);
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
    if (byName.get(n)!.op === 'Const') {
      seen.delete(n);
      continue;
    }
    for (const i of byName.get(n)!.input ?? []) if (!i.startsWith('^')) stack.push(tensorName(i));
  }
  return seen;
}

/** How errors name a model: its source (a user's file or URL) if known, else its id. */
export function where(info: Pick<ModelInfo, 'id' | 'source'>): string {
  return info.source ? `model ${info.source}` : `model '${info.id}'`;
}

/**
 * A one-logit sigmoid head becomes two logits [z, -z], so that "absent" is a class like any other: its probability is
 * sigmoid(-z) = 1 - sigmoid(z), and it unravels from the negated weights. Done on the model's own weights (the last
 * weighted layer and the biases above it), before anything reads them, so the tfjs forward pass, the CPU graph and
 * the GPU kernels all see the same head. False (nothing changed) when the logits are not one value of a MatMul or
 * convolution seen through biases and Identity.
 */
function negateOneLogit(model: GraphModel, nodes: TfNode[], logits: string): boolean {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const isConst = (i: string) => byName.get(i)?.op === 'Const';
  // Each constant to double: along its last axis (interleaved) or its first (a transposed MatMul kernel).
  const edits: { name: string; last: boolean }[] = [];
  for (let n = byName.get(logits); ;) {
    if (!n) return false;
    const ins = (n.input ?? []).filter((i) => !i.startsWith('^')).map(tensorName);
    const live = ins.filter((i) => !isConst(i));
    if (live.length !== 1 || ins[0] !== live[0]) return false;
    if (/^(_Fused)?(MatMul|Conv2D)$/.test(n.op)) {
      const fused = (n.attr?.fused_ops?.list?.s ?? []).map((s: string) => atob(s));
      if (fused.some((f: string) => f !== 'BiasAdd')) return false; // a Relu after the logit is not odd
      const transposed = n.attr?.transpose_b?.b === true;
      edits.push({ name: ins[1], last: !transposed });
      if (fused.length) edits.push({ name: ins[2], last: true });
      break;
    }
    if (!['Identity', 'BiasAdd', 'AddV2', 'Add', 'StopGradient', 'Snapshot'].includes(n.op)) return false;
    edits.push(...ins.slice(1).map((name) => ({ name, last: true })));
    n = byName.get(live[0]);
  }
  const weights = model.weights;
  const tensors = edits.map((e) => weights[e.name]?.[0]);
  if (
    tensors.some(
      (t, i) =>
        !t || t.dtype !== 'float32' || t.shape.length === 0 || (edits[i].last ? t.shape.at(-1) : t.shape[0]) !== 1,
    )
  )
    return false;
  const doubled = { ...weights };
  edits.forEach(({ name, last }, i) => {
    const t = tensors[i]!;
    const v = t.dataSync() as Float32Array;
    const out = new Float32Array(2 * v.length);
    for (let j = 0; j < v.length; j++) {
      if (last) {
        out[2 * j] = v[j];
        out[2 * j + 1] = -v[j];
      } else {
        out[j] = v[j];
        out[v.length + j] = -v[j];
      }
    }
    const shape = last ? [...t.shape.slice(0, -1), 2] : [2, ...t.shape.slice(1)];
    doubled[name] = [tf.tensor(out, shape, 'float32')];
    t.dispose();
  });
  // Through the executor's setter: it also records the weights' ids, which its disposal after a run must spare.
  (model as unknown as { executor: { weightMap: typeof weights } }).executor.weightMap = doubled;
  return true;
}

/**
 * Labels of a binary head, [present, absent]: one label L gives [L, 'not L']; two labels are read in Keras's order
 * for a sigmoid output, [negative, positive] (the sigmoid is the probability of the second), so they swap.
 */
function binaryLabels(labels: string[]): string[] {
  if (labels.length >= 2) return [labels[1], labels[0]];
  return labels.length === 1 ? [labels[0], `not ${labels[0]}`] : ['present', 'absent'];
}

// Baselines the fixations are measured against: CAM, Grad-CAM and a centre prior. Each gives a low-resolution map
// on a layer's grid, upsampled to image pixels through the receptive-field geometry and the same PixelTransform as
// the fixations, normalised to max 1.
//
// CAM needs a global average pool followed only by linear steps (MatMul, a 1x1 conv on the pooled map, BiasAdd,
// Squeeze/Reshape): the class score is then linear in the pooled map, with one weight per channel.
// Grad-CAM works on any model: tf.grad of the class logit with respect to a layer's activation, fed back into the
// graph (GraphModel.execute with that node as a feed runs the rest). Where the head has a closed form (the CAM heads
// above) the gradient at the head's layer is computed exactly from the weights instead: the fast path, checked
// against tf.grad in tests/node/baselines.test.ts.
import * as tf from '@tensorflow/tfjs-core';
import type { FixationModel } from './model.ts';
import type { ConvNode, GapNode, Graph, GraphNode, MatMulNode, PixelTransform } from './types.ts';
import type { Activations } from './unravel.ts';
import { tensorName, type TfNode } from './graph.ts';

export type BaselineMethod = 'cam' | 'gradcam' | 'center';

/** A map on a layer's spatial grid (row-major height x width). */
export interface LowResMap {
  layer: string;
  height: number;
  width: number;
  data: Float32Array;
}

/** A linear layer above the pool: a MatMul, or a 1x1 conv on the 1x1 pooled map (TF Hub classifiers). */
export type LinearNode = MatMulNode | ConvNode;

/** The classifier head: a global average pool, then linear layers or nothing (the pooled map is the score). */
export interface ClassHead {
  gap: GapNode;
  /** Linear layers between the pool and the logits, from the logits down. Empty when each pooled channel is a class score. */
  linear: LinearNode[];
  /** The linear layer right above the pool (ResNet, MobileNet...), if any. */
  fc?: LinearNode;
  /** Without linear layers: the conv that makes the class map (SqueezeNet conv10), and the activation applied to it. */
  classConv?: ConvNode;
  activation: 'linear' | 'relu' | 'relu6';
}

// Ops between the pool and the logits that keep the score linear in the pooled vector (biases do not matter).
const LINEAR_ABOVE_GAP = new Set(['Reshape', 'Squeeze', 'Flatten', 'Identity', 'BiasAdd', 'StopGradient', 'Snapshot']);

/** An Add/AddV2/Sub of a constant (a bias, as ONNX Gemm converts to): linear in the other input. */
function isBiasAdd(fm: FixationModel, name: string, op: string): boolean {
  if (!['AddV2', 'Add', 'Sub'].includes(op)) return false;
  const nodes =
    (fm.model as unknown as { artifacts?: { modelTopology?: { node?: TfNode[] } } }).artifacts?.modelTopology?.node ??
    [];
  const consts = new Set(nodes.filter((n) => n.op === 'Const').map((n) => n.name));
  const ins = (nodes.find((n) => n.name === name)?.input ?? []).filter((i) => !i.startsWith('^')).map(tensorName);
  // The constant must be the subtrahend of a Sub (c - x flips the sign).
  return ins.length === 2 && ins.filter((i) => !consts.has(i)).length === 1 && (op !== 'Sub' || consts.has(ins[1]));
}

/** A 1x1 conv applied to a 1x1 map: a linear layer with the same [K, M] weight layout as a MatMul. */
function isPointwiseOnVector(g: Graph, node: GraphNode): node is ConvNode {
  if (node.kind !== 'conv' || node.depthwise || node.kernel[0] !== 1 || node.kernel[1] !== 1) return false;
  const [H, W] = g.byName.get(node.inputs[0])!.shape;
  return H === 1 && W === 1;
}

/** Find the GAP (+ linear layers) head below the logits; an error names the node where the search stopped. */
export function classHead(fm: FixationModel): ClassHead {
  const g = fm.graph;
  let node: GraphNode = g.byName.get(g.logits)!;
  const linear: LinearNode[] = [];
  for (;;) {
    if (node.kind === 'gap') break;
    if ((node.kind === 'matmul' && !node.fromSpatial) || isPointwiseOnVector(g, node)) linear.push(node);
    else if (!(node.kind === 'identity' && (LINEAR_ABOVE_GAP.has(node.op) || isBiasAdd(fm, node.name, node.op)))) {
      throw new Error(
        `CAM needs a global average pool followed only by linear steps (MatMul, 1x1 conv, BiasAdd, Squeeze) below ` +
          `the logits '${g.logits}'; stopped at node '${node.name}' (${node.kind === 'identity' ? node.op : node.kind}). ` +
          `Grad-CAM works on any model (method 'gradcam').`,
      );
    }
    node = g.byName.get(node.inputs[0])!;
  }
  const gap = node;
  if (linear.length) {
    for (const l of linear) if (l.kind === 'conv') fusedActivation(fm, l.name, 'CAM', true);
    return { gap, linear, fc: linear[linear.length - 1], activation: 'linear' };
  }
  // No linear layer: the pooled map is the class map; find the conv that makes it and its activation.
  let activation: ClassHead['activation'] = 'linear';
  let below = g.byName.get(gap.inputs[0]);
  while (below?.kind === 'identity') {
    if (below.op === 'Relu' || below.op === 'Relu6') activation = below.op === 'Relu' ? 'relu' : 'relu6';
    else if (below.op !== 'BiasAdd' && below.op !== 'Identity') break;
    below = g.byName.get(below.inputs[0]);
  }
  if (below?.kind !== 'conv') return { gap, linear, activation };
  const fused = fusedActivation(fm, below.name, 'Grad-CAM');
  if (fused) activation = fused;
  return { gap, linear, classConv: below, activation };
}

/** The activation a _FusedConv2D applies after its bias, read from the model topology. */
function fusedActivation(
  fm: FixationModel,
  name: string,
  what: string,
  mustBeLinear = false,
): ClassHead['activation'] | undefined {
  const art = (fm.model as unknown as { artifacts?: { modelTopology?: { node?: { name: string; attr?: any }[] } } })
    .artifacts;
  const tfNode = art?.modelTopology?.node?.find((n) => n.name === name);
  const ops: string[] = (tfNode?.attr?.fused_ops?.list?.s ?? []).map((s: string) => atob(s));
  const other = ops.filter((o) => o !== 'BiasAdd' && o !== 'FusedBatchNorm');
  if (mustBeLinear && other.length)
    throw new Error(`${what}: the linear layer '${name}' above the pool fuses activation '${other[0]}'`);
  if (ops.includes('Relu')) return 'relu';
  if (ops.includes('Relu6')) return 'relu6';
  if (other.length) throw new Error(`${what}: node '${name}' fuses activation '${other[0]}', which is not supported`);
  return undefined;
}

function checkClass(head: ClassHead, logitsSize: number, c: number, C: number) {
  if (!Number.isInteger(c) || c < 0 || c >= logitsSize)
    throw new Error(`class index ${c} is out of range 0..${logitsSize - 1}`);
  if (!head.linear.length && C !== logitsSize) {
    throw new Error(
      `CAM: the pooled map '${head.gap.inputs[0]}' has ${C} channels but there are ${logitsSize} classes`,
    );
  }
}

/**
 * The weight of each pooled channel in the class score: the class column pushed down through the linear layers
 * (a folded BatchNorm scale included). Without linear layers, one-hot on the class channel.
 */
export function classWeights(fm: FixationModel, head: ClassHead, c: number): Float64Array {
  const g = fm.graph;
  const C = g.byName.get(head.gap.inputs[0])!.shape[2];
  let v = new Float64Array(sizeOf(g, g.logits));
  checkClass(head, v.length, c, C);
  v[c] = 1;
  for (const l of head.linear) {
    const M = l.shape.at(-1)!;
    const N = l.weights.length / M;
    if (v.length !== M)
      throw new Error(`CAM: linear layer '${l.name}' has ${M} outputs, the layer above reads ${v.length}`);
    const scale = l.kind === 'conv' ? l.scale : undefined;
    const next = new Float64Array(N);
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let m = 0; m < M; m++) if (v[m]) s += l.weights[n * M + m] * v[m] * (scale ? scale[m] : 1);
      next[n] = s;
    }
    v = next;
  }
  if (v.length !== C)
    throw new Error(`CAM: the pooled map '${head.gap.inputs[0]}' has ${C} channels, the head reads ${v.length}`);
  return v;
}

/** CAM (Zhou et al. 2016): the GAP input weighted by the class's weights, or its class channel when there are none. */
export function camMap(fm: FixationModel, act: Activations, c: number, head = classHead(fm)): LowResMap {
  const layer = head.gap.inputs[0];
  const [H, W, C] = fm.graph.byName.get(layer)!.shape;
  const w = classWeights(fm, head, c);
  const a = act(layer);
  const data = new Float32Array(H * W);
  for (let p = 0; p < H * W; p++) {
    let s = 0;
    for (let k = 0; k < C; k++) if (w[k]) s += a[p * C + k] * w[k];
    data[p] = s;
  }
  // Zhou et al.'s code shifts the map to a minimum of 0 before normalising.
  let min = Infinity;
  for (const v of data) if (v < min) min = v;
  for (let i = 0; i < data.length; i++) data[i] -= min;
  return { layer, height: H, width: W, data };
}

/** Grad-CAM options: the layer (default gradCamLayer), the network input (needed when the layer does not cut the graph). */
export interface GradCamOptions {
  layer?: string;
  input?: tf.Tensor4D;
  /** Differentiate with tf.grad even where the closed form applies (to check one against the other). */
  autodiff?: boolean;
}

/** The layer of the closed form, where the head allows one (see gradCamGradient); else undefined. */
function closedFormLayer(fm: FixationModel): string | undefined {
  let head: ClassHead;
  try {
    head = classHead(fm);
  } catch {
    return undefined;
  }
  const conv = head.classConv;
  const [H, W] = fm.graph.byName.get(head.gap.inputs[0])!.shape;
  return !head.linear.length && conv && isOneByOne(conv, H, W) ? conv.inputs[0] : head.gap.inputs[0];
}

function isOneByOne(conv: ConvNode, H: number, W: number) {
  return (
    !conv.depthwise &&
    conv.kernel[0] === 1 &&
    conv.kernel[1] === 1 &&
    conv.strides[0] === 1 &&
    conv.strides[1] === 1 &&
    conv.shape[0] === H &&
    conv.shape[1] === W
  );
}

/**
 * The default Grad-CAM layer: the last spatial map (more than one position) below the logits, following the first
 * input; where the pooled map is itself the class map (SqueezeNet: conv10 -> GAP), the input of the class conv, the
 * last layer whose channels are features rather than classes.
 */
export function gradCamLayer(fm: FixationModel): string {
  const closed = closedFormLayer(fm);
  if (closed) return closed;
  const g = fm.graph;
  for (let node = g.byName.get(g.logits); node; node = g.byName.get(node.inputs[0])) {
    if (node.shape.length === 3 && node.shape[0] * node.shape[1] > 1) return node.name;
  }
  throw new Error(`Grad-CAM: no spatial layer (H x W > 1) below the logits '${g.logits}'`);
}

/** A spatial layer of the graph, or an error naming it. */
function spatialLayer(g: Graph, layer: string): [number, number, number] {
  const node = g.byName.get(layer);
  if (!node) throw new Error(`Grad-CAM: layer '${layer}' is not a node the logits '${g.logits}' depend on`);
  if (node.shape.length !== 3)
    throw new Error(`Grad-CAM: layer '${layer}' is not a spatial map (shape [${node.shape}])`);
  return node.shape as [number, number, number];
}

let gradients: Promise<void> | undefined;
let gradientsLoaded = false;
/**
 * Register the gradient of every tfjs op (tfjs-core registers none; the @tensorflow/tfjs bundle would). Loaded on
 * first use, as it is large: explain() awaits it before a Grad-CAM that needs tf.grad.
 */
export function loadGradients(): Promise<void> {
  gradients ??= import('@tensorflow/tfjs-core/dist/register_all_gradients.js').then(() => {
    gradientsLoaded = true;
  });
  return gradients;
}

/** Whether Grad-CAM at this layer (default gradCamLayer) needs tf.grad, i.e. has no closed form. */
export function needsAutodiff(fm: FixationModel, layer = gradCamLayer(fm)): boolean {
  return layer !== closedFormLayer(fm);
}

/**
 * d(class logit)/d(A) at a layer A, by automatic differentiation: the activation is fed back into the graph at its
 * node (with the network input, for the other paths that do not pass through it) and tf.grad differentiates the rest.
 */
export async function gradCamGradientAutodiff(
  fm: FixationModel,
  layer: string,
  A: Float32Array,
  c: number,
  input?: tf.Tensor4D,
): Promise<Float32Array> {
  const g = fm.graph;
  const shape = spatialLayer(g, layer);
  const logitsSize = sizeOf(g, g.logits);
  if (!Number.isInteger(c) || c < 0 || c >= logitsSize)
    throw new Error(`class index ${c} is out of range 0..${logitsSize - 1}`);
  if (A.length !== shape[0] * shape[1] * shape[2])
    throw new Error(`Grad-CAM: activation of '${layer}' has ${A.length} values, the layer is [${shape}]`);
  if (!gradientsLoaded) throw new Error('Grad-CAM by tf.grad: await loadGradients() first (explain() does)');
  const a = tf.tensor4d(A, [1, ...shape]);
  try {
    const grad = tf.tidy(() =>
      tf.grad((x: tf.Tensor) => {
        const feeds: Record<string, tf.Tensor> = { [layer]: x };
        if (input && layer !== g.input.name) feeds[g.input.name] = input;
        const out = fm.model.execute(feeds, g.logits) as tf.Tensor;
        return tf.sum(tf.slice(tf.reshape(out, [-1]), [c], [1]));
      })(a),
    );
    // Never dataSync: on WebGPU a synchronous read drains the queue through a canvas copy (issue 20).
    try {
      return (await grad.data()) as Float32Array;
    } finally {
      grad.dispose();
    }
  } catch (e) {
    throw new Error(
      `Grad-CAM: cannot differentiate the logits '${g.logits}' with respect to layer '${layer}' (${(e as Error).message})`,
    );
  } finally {
    a.dispose();
  }
}

/**
 * d(class score)/d(A) at the Grad-CAM layer A. The closed form, where the head allows one and A is its layer:
 * - GAP + linear layers: A is the GAP input, dS/dA[y,x,k] = w_k / HW (w: classWeights).
 * - Class map made by a 1x1 stride-1 conv (SqueezeNet): A is that conv's input (fire9/concat) and
 *   dS/dA[y,x,k] = (1/HW) * W[k,c] * act'(z_c[y,x]), with act' read from the captured (post-activation) class map.
 * - Any other class map: A is the class map itself, dS/dA = act'/HW on channel c (Grad-CAM then equals CAM).
 * Anything else (another layer, a head without a global average pool): tf.grad (gradCamGradientAutodiff).
 */
export async function gradCamGradient(
  fm: FixationModel,
  act: Activations,
  c: number,
  opts: GradCamOptions = {},
): Promise<{ layer: string; shape: [number, number, number]; gradient: Float32Array; exact: boolean }> {
  const g = fm.graph;
  const layer = opts.layer ?? gradCamLayer(fm);
  const shape = spatialLayer(g, layer);
  if (opts.autodiff || needsAutodiff(fm, layer)) {
    return {
      layer,
      shape,
      gradient: await gradCamGradientAutodiff(fm, layer, act(layer), c, opts.input),
      exact: false,
    };
  }
  const head = classHead(fm);
  const mapName = head.gap.inputs[0];
  const [H, W, M] = g.byName.get(mapName)!.shape;
  const HW = H * W;
  if (head.linear.length) {
    const w = classWeights(fm, head, c);
    const gradient = new Float32Array(HW * M);
    for (let p = 0; p < HW; p++) for (let k = 0; k < M; k++) gradient[p * M + k] = w[k] / HW;
    return { layer, shape, gradient, exact: true };
  }
  checkClass(head, sizeOf(g, g.logits), c, M);
  const out = act(mapName);
  const d = (v: number) =>
    head.activation === 'relu' ? (v > 0 ? 1 : 0) : head.activation === 'relu6' ? (v > 0 && v < 6 ? 1 : 0) : 1;
  const conv = head.classConv;
  if (!conv || !isOneByOne(conv, H, W)) {
    const gradient = new Float32Array(HW * M);
    for (let p = 0; p < HW; p++) gradient[p * M + c] = d(out[p * M + c]) / HW;
    return { layer, shape, gradient, exact: true };
  }
  const K = shape[2];
  const scale = conv.scale ? conv.scale[c] : 1;
  const gradient = new Float32Array(HW * K);
  for (let p = 0; p < HW; p++) {
    const dp = (d(out[p * M + c]) * scale) / HW;
    if (dp === 0) continue;
    for (let k = 0; k < K; k++) gradient[p * K + k] = conv.weights[k * M + c] * dp;
  }
  return { layer, shape, gradient, exact: true };
}

/** Grad-CAM (Selvaraju et al. 2017): ReLU(sum_k alpha_k A_k), alpha_k = spatial mean of dS/dA_k. */
export async function gradCamMap(
  fm: FixationModel,
  act: Activations,
  c: number,
  opts: GradCamOptions = {},
): Promise<LowResMap> {
  const {
    layer,
    shape: [H, W, K],
    gradient,
  } = await gradCamGradient(fm, act, c, opts);
  const HW = H * W;
  const alpha = new Float64Array(K);
  for (let p = 0; p < HW; p++) for (let k = 0; k < K; k++) alpha[k] += gradient[p * K + k] / HW;
  const a = act(layer);
  const data = new Float32Array(HW);
  for (let p = 0; p < HW; p++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += alpha[k] * a[p * K + k];
    data[p] = Math.max(s, 0);
  }
  return { layer, height: H, width: W, data };
}

/**
 * Where the centre of a layer's cell sits in network-input pixels, per axis: pixel = offset + scale * cell.
 * Composed down the first-input path (branches of a concat or add are aligned).
 */
export function receptiveField(g: Graph, layer: string): { scale: [number, number]; offset: [number, number] } {
  const scale: [number, number] = [1, 1],
    offset: [number, number] = [0, 0];
  for (let node = g.byName.get(layer); node && node.kind !== 'input'; node = g.byName.get(node.inputs[0])) {
    const s: [number, number] = [1, 1];
    let o: [number, number] = [0, 0];
    if (node.kind === 'conv' || node.kind === 'pool') {
      const dil = node.kind === 'conv' ? node.dilations : [1, 1];
      for (const i of [0, 1] as const) {
        s[i] = node.strides[i];
        o[i] = -node.pad[i] + ((node.kernel[i] - 1) * dil[i]) / 2;
      }
    } else if (node.kind === 'pad') {
      o = [-node.before[0], -node.before[1]];
    } else if (node.kind === 'gap' || node.kind === 'matmul') {
      throw new Error(`receptiveField: layer '${layer}' is not spatial (passes through '${node.name}')`);
    }
    // below = s * here + o, so the composition keeps pixel = offset + scale * cell.
    for (const i of [0, 1] as const) {
      offset[i] = s[i] * offset[i] + o[i];
      scale[i] = s[i] * scale[i];
    }
  }
  return { scale, offset };
}

/** Bilinear upsampling of a layer map to a width x height heatmap of the image, normalised to max 1. */
export function upsampleMap(g: Graph, map: LowResMap, t: PixelTransform, width: number, height: number): Float32Array {
  const { scale, offset } = receptiveField(g, map.layer);
  const out = new Float32Array(width * height);
  // Heatmap pixel -> image pixel (explain scales points the same way) -> network pixel -> fractional cell.
  const cell = (px: number, size: number, src: number, start: number, step: number, i: 0 | 1, n: number) => {
    const f = (((px * src) / size - start) / step - offset[i]) / scale[i];
    return Math.min(Math.max(f, 0), n - 1);
  };
  const xs = Float64Array.from({ length: width }, (_, x) =>
    cell(x, width, t.srcWidth, t.startX, t.stepX, 1, map.width),
  );
  for (let y = 0; y < height; y++) {
    const fy = cell(y, height, t.srcHeight, t.startY, t.stepY, 0, map.height);
    const y0 = Math.floor(fy),
      y1 = Math.min(y0 + 1, map.height - 1),
      wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = xs[x];
      const x0 = Math.floor(fx),
        x1 = Math.min(x0 + 1, map.width - 1),
        wx = fx - x0;
      const r0 = map.data[y0 * map.width + x0] * (1 - wx) + map.data[y0 * map.width + x1] * wx;
      const r1 = map.data[y1 * map.width + x0] * (1 - wx) + map.data[y1 * map.width + x1] * wx;
      out[y * width + x] = r0 * (1 - wy) + r1 * wy;
    }
  }
  return normaliseMax(out);
}

/** A centred Gaussian, sigma a fraction of each side: the "everything is in the middle" baseline. */
export function centerPrior(width: number, height: number, sigmaFrac = 0.25): Float32Array {
  const out = new Float32Array(width * height);
  const sx = sigmaFrac * width,
    sy = sigmaFrac * height;
  const cx = (width - 1) / 2,
    cy = (height - 1) / 2;
  for (let y = 0; y < height; y++) {
    const gy = ((y - cy) / sy) ** 2;
    for (let x = 0; x < width; x++) out[y * width + x] = Math.exp(-0.5 * (((x - cx) / sx) ** 2 + gy));
  }
  return out;
}

/** One baseline as an image heatmap (width x height, max 1); `layer` is the map's layer (none for the prior). */
export async function baselineHeatmap(
  fm: FixationModel,
  act: Activations,
  c: number,
  method: BaselineMethod,
  t: PixelTransform,
  width: number,
  height: number,
  gradcam: GradCamOptions = {},
): Promise<{ heatmap: Float32Array; layer?: string }> {
  if (method === 'center') return { heatmap: centerPrior(width, height) };
  const map = method === 'cam' ? camMap(fm, act, c) : await gradCamMap(fm, act, c, gradcam);
  return { heatmap: upsampleMap(fm.graph, map, t, width, height), layer: map.layer };
}

function normaliseMax(v: Float32Array): Float32Array {
  let max = 0;
  for (const x of v) if (x > max) max = x;
  if (max > 0) for (let i = 0; i < v.length; i++) v[i] /= max;
  return v;
}

function sizeOf(g: Graph, name: string): number {
  return g.byName.get(name)!.shape.reduce((a, b) => a * b, 1);
}

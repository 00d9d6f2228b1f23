// Baselines the fixations are measured against: CAM, Grad-CAM and a centre prior. Each gives a low-resolution map
// on a layer's grid, upsampled to image pixels through the receptive-field geometry and the same PixelTransform as
// the fixations, normalised to max 1.
//
// Both CAM and Grad-CAM are computed exactly from the captured activations and the weights (no tf.grad): the class
// score of a GAP head is linear in the pooled map, so its gradient has a closed form.
import type { FixationModel } from './model.ts';
import type { ConvNode, GapNode, Graph, GraphNode, MatMulNode, PixelTransform } from './types.ts';
import type { Activations } from './unravel.ts';

export type BaselineMethod = 'cam' | 'gradcam' | 'center';

/** A map on a layer's spatial grid (row-major height x width). */
export interface LowResMap { layer: string; height: number; width: number; data: Float32Array }

/** The classifier head: a global average pool, then either a linear layer or nothing (the pooled map is the score). */
export interface ClassHead {
  gap: GapNode;
  /** Linear layer after the pool (ResNet, MobileNet...). Absent when each pooled channel is a class score. */
  fc?: MatMulNode;
  /** Without fc: the conv that makes the class map (SqueezeNet conv10), and the activation applied to it. */
  classConv?: ConvNode;
  activation: 'linear' | 'relu' | 'relu6';
}

// Ops between the pool and the logits that keep the score linear in the pooled vector (biases do not matter).
const LINEAR_ABOVE_GAP = new Set(['Reshape', 'Squeeze', 'Flatten', 'Identity', 'BiasAdd', 'StopGradient', 'Snapshot']);

/** Find the GAP (+ optional FC) head below the logits; an error names the node where the search stopped. */
export function classHead(fm: FixationModel): ClassHead {
  const g = fm.graph;
  let node: GraphNode = g.byName.get(g.logits)!;
  let fc: MatMulNode | undefined;
  for (;;) {
    if (node.kind === 'gap') break;
    if (node.kind === 'matmul' && !fc && !node.fromSpatial) fc = node;
    else if (!(node.kind === 'identity' && LINEAR_ABOVE_GAP.has(node.op))) {
      throw new Error(
        `CAM needs a global average pool (optionally followed by one linear layer) below the logits '${g.logits}'; ` +
        `stopped at node '${node.name}' (${node.kind === 'identity' ? node.op : node.kind})`);
    }
    node = g.byName.get(node.inputs[0])!;
  }
  const gap = node;
  if (fc) return { gap, fc, activation: 'linear' };
  // No FC: the pooled map is the class map; find the conv that makes it and its activation.
  let activation: ClassHead['activation'] = 'linear';
  let below = g.byName.get(gap.inputs[0]);
  while (below?.kind === 'identity') {
    if (below.op === 'Relu' || below.op === 'Relu6') activation = below.op === 'Relu' ? 'relu' : 'relu6';
    else if (below.op !== 'BiasAdd' && below.op !== 'Identity') break;
    below = g.byName.get(below.inputs[0]);
  }
  if (below?.kind !== 'conv') return { gap, activation };
  const fused = fusedActivation(fm, below.name);
  if (fused) activation = fused;
  return { gap, classConv: below, activation };
}

/** The activation a _FusedConv2D applies after its bias, read from the model topology. */
function fusedActivation(fm: FixationModel, name: string): ClassHead['activation'] | undefined {
  const art = (fm.model as unknown as { artifacts?: { modelTopology?: { node?: { name: string; attr?: any }[] } } }).artifacts;
  const tfNode = art?.modelTopology?.node?.find((n) => n.name === name);
  const ops: string[] = (tfNode?.attr?.fused_ops?.list?.s ?? []).map((s: string) => atob(s));
  if (ops.includes('Relu')) return 'relu';
  if (ops.includes('Relu6')) return 'relu6';
  const other = ops.filter((o) => o !== 'BiasAdd' && o !== 'FusedBatchNorm');
  if (other.length) throw new Error(`Grad-CAM: node '${name}' fuses activation '${other[0]}', which is not supported`);
  return undefined;
}

function checkClass(head: ClassHead, logitsSize: number, c: number, C: number) {
  if (!Number.isInteger(c) || c < 0 || c >= logitsSize) throw new Error(`class index ${c} is out of range 0..${logitsSize - 1}`);
  if (!head.fc && C !== logitsSize) {
    throw new Error(`CAM: the pooled map '${head.gap.inputs[0]}' has ${C} channels but there are ${logitsSize} classes`);
  }
}

/** CAM (Zhou et al. 2016): the GAP input weighted by the class's FC weights, or its class channel when there is no FC. */
export function camMap(fm: FixationModel, act: Activations, c: number, head = classHead(fm)): LowResMap {
  const layer = head.gap.inputs[0];
  const [H, W, C] = fm.graph.byName.get(layer)!.shape;
  const logitsSize = sizeOf(fm.graph, fm.graph.logits);
  checkClass(head, logitsSize, c, C);
  const a = act(layer);
  const data = new Float32Array(H * W);
  for (let p = 0; p < H * W; p++) {
    if (!head.fc) { data[p] = a[p * C + c]; continue; }
    let s = 0;
    for (let k = 0; k < C; k++) s += a[p * C + k] * head.fc.weights[k * logitsSize + c];
    data[p] = s;
  }
  // Zhou et al.'s code shifts the map to a minimum of 0 before normalising.
  let min = Infinity;
  for (const v of data) if (v < min) min = v;
  for (let i = 0; i < data.length; i++) data[i] -= min;
  return { layer, height: H, width: W, data };
}

/**
 * d(class score)/d(A) at the Grad-CAM target layer A, exact:
 * - FC head: A is the GAP input, dS/dA[y,x,k] = W_fc[k,c] / HW.
 * - Class map made by a 1x1 stride-1 conv (SqueezeNet): A is that conv's input (fire9/concat) and
 *   dS/dA[y,x,k] = (1/HW) * W[k,c] * act'(z_c[y,x]), with act' read from the captured (post-activation) class map.
 * - Any other class map: A is the class map itself, dS/dA = act'/HW on channel c (Grad-CAM then equals CAM).
 */
export function gradCamGradient(fm: FixationModel, act: Activations, c: number, head = classHead(fm)):
  { layer: string; shape: [number, number, number]; gradient: Float32Array } {
  const g = fm.graph;
  const mapName = head.gap.inputs[0];
  const [H, W, M] = g.byName.get(mapName)!.shape;
  const logitsSize = sizeOf(g, g.logits);
  checkClass(head, logitsSize, c, M);
  const HW = H * W;
  if (head.fc) {
    const gradient = new Float32Array(HW * M);
    for (let p = 0; p < HW; p++) for (let k = 0; k < M; k++) gradient[p * M + k] = head.fc.weights[k * logitsSize + c] / HW;
    return { layer: mapName, shape: [H, W, M], gradient };
  }
  const out = act(mapName);
  const d = (v: number) => (head.activation === 'relu' ? (v > 0 ? 1 : 0) : head.activation === 'relu6' ? (v > 0 && v < 6 ? 1 : 0) : 1);
  const conv = head.classConv;
  const oneByOne = conv && !conv.depthwise && conv.kernel[0] === 1 && conv.kernel[1] === 1 &&
    conv.strides[0] === 1 && conv.strides[1] === 1 && conv.shape[0] === H && conv.shape[1] === W;
  if (!conv || !oneByOne) {
    const gradient = new Float32Array(HW * M);
    for (let p = 0; p < HW; p++) gradient[p * M + c] = d(out[p * M + c]) / HW;
    return { layer: mapName, shape: [H, W, M], gradient };
  }
  const layer = conv.inputs[0];
  const K = g.byName.get(layer)!.shape[2];
  const scale = conv.scale ? conv.scale[c] : 1;
  const gradient = new Float32Array(HW * K);
  for (let p = 0; p < HW; p++) {
    const dp = (d(out[p * M + c]) * scale) / HW;
    if (dp === 0) continue;
    for (let k = 0; k < K; k++) gradient[p * K + k] = conv.weights[k * M + c] * dp;
  }
  return { layer, shape: [H, W, K], gradient };
}

/** Grad-CAM (Selvaraju et al. 2017): ReLU(sum_k alpha_k A_k), alpha_k = spatial mean of dS/dA_k. */
export function gradCamMap(fm: FixationModel, act: Activations, c: number, head = classHead(fm)): LowResMap {
  const { layer, shape: [H, W, K], gradient } = gradCamGradient(fm, act, c, head);
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
  let scale: [number, number] = [1, 1], offset: [number, number] = [0, 0];
  for (let node = g.byName.get(layer); node && node.kind !== 'input'; node = g.byName.get(node.inputs[0])) {
    let s: [number, number] = [1, 1], o: [number, number] = [0, 0];
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
    for (const i of [0, 1] as const) { offset[i] = s[i] * offset[i] + o[i]; scale[i] = s[i] * scale[i]; }
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
  const xs = Float64Array.from({ length: width }, (_, x) => cell(x, width, t.srcWidth, t.startX, t.stepX, 1, map.width));
  for (let y = 0; y < height; y++) {
    const fy = cell(y, height, t.srcHeight, t.startY, t.stepY, 0, map.height);
    const y0 = Math.floor(fy), y1 = Math.min(y0 + 1, map.height - 1), wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = xs[x];
      const x0 = Math.floor(fx), x1 = Math.min(x0 + 1, map.width - 1), wx = fx - x0;
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
  const sx = sigmaFrac * width, sy = sigmaFrac * height;
  const cx = (width - 1) / 2, cy = (height - 1) / 2;
  for (let y = 0; y < height; y++) {
    const gy = ((y - cy) / sy) ** 2;
    for (let x = 0; x < width; x++) out[y * width + x] = Math.exp(-0.5 * (((x - cx) / sx) ** 2 + gy));
  }
  return out;
}

/** One baseline as an image heatmap (width x height, max 1); `layer` is the map's layer (none for the prior). */
export function baselineHeatmap(
  fm: FixationModel, act: Activations, c: number, method: BaselineMethod, t: PixelTransform, width: number, height: number,
): { heatmap: Float32Array; layer?: string } {
  if (method === 'center') return { heatmap: centerPrior(width, height) };
  const map = method === 'cam' ? camMap(fm, act, c) : gradCamMap(fm, act, c);
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

// The model-in-the-loop protocols: class probabilities of a batch, deletion/insertion curves (RISE), and the
// cascading weight randomisation of the sanity check (Adebayo et al. 2018).
import * as tf from '@tensorflow/tfjs-core';
import { FixationModel } from '../../src/engine/model.ts';
import type { PixelTransform } from '../../src/engine/types.ts';
import { rng } from './synthetic.ts';

/** Softmax probabilities of a batch [B,S,S,3] (network input), as B rows of the class count. */
export async function probsOf(fm: FixationModel, batch: tf.Tensor4D): Promise<Float32Array[]> {
  const out = tf.tidy(() => {
    const t = fm.model.execute(batch, fm.info.probs ?? fm.info.logits) as tf.Tensor;
    return (fm.info.probs ? t : tf.softmax(t)) as tf.Tensor2D;
  });
  const data = (await out.data()) as Float32Array;
  const n = out.shape[1];
  out.dispose();
  return Array.from({ length: batch.shape[0] }, (_, i) => data.subarray(i * n, (i + 1) * n));
}

/** The heatmap (image pixels, width x height) read at the centre of every network-input pixel. */
export function saliencyAtInput(map: Float32Array, width: number, height: number, t: PixelTransform): Float32Array {
  const Sh = t.inputHeight,
    Sw = t.inputWidth,
    sx = width / t.srcWidth,
    sy = height / t.srcHeight;
  const out = new Float32Array(Sh * Sw);
  for (let i = 0; i < Sh; i++) {
    const y = Math.min(Math.max(Math.round((i * t.stepY + t.startY) * sy), 0), height - 1);
    for (let j = 0; j < Sw; j++) {
      const x = Math.min(Math.max(Math.round((j * t.stepX + t.startX) * sx), 0), width - 1);
      out[i * Sw + j] = map[y * width + x];
    }
  }
  return out;
}

/** Separable Gaussian blur of an S x S x 3 network input, edges clamped (the insertion start image). */
export function blurInput(x: Float32Array, S: number, sigma: number): Float32Array {
  const r = Math.ceil(3 * sigma);
  const k = Float32Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const ks = k.reduce((a, b) => a + b, 0);
  const tmp = new Float32Array(x.length),
    out = new Float32Array(x.length);
  const at = (v: number) => Math.min(Math.max(v, 0), S - 1);
  for (let y = 0; y < S; y++)
    for (let xx = 0; xx < S; xx++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let d = -r; d <= r; d++) s += x[(y * S + at(xx + d)) * 3 + c] * k[d + r];
        tmp[(y * S + xx) * 3 + c] = s / ks;
      }
  for (let y = 0; y < S; y++)
    for (let xx = 0; xx < S; xx++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let d = -r; d <= r; d++) s += tmp[(at(y + d) * S + xx) * 3 + c] * k[d + r];
        out[(y * S + xx) * 3 + c] = s / ks;
      }
  return out;
}

/** Per case: the network input, its blurred copy, the endpoint probabilities shared by all methods, tie-break keys. */
export interface PerturbationBase {
  S: number;
  x: Float32Array;
  blurred: Float32Array;
  /** p(class) of the input, of the all-mean (zero) input, of the blurred input. */
  pOrig: number;
  pZero: number;
  pBlur: number;
  /** Random keys that order pixels of equal saliency (the same for every method). */
  keys: Float32Array;
}

export const INSERTION_BLUR_SIGMA = 5; // network-input pixels: removes the object's detail, keeps colours

export async function perturbationBase(
  fm: FixationModel,
  input: tf.Tensor4D,
  c: number,
  seed: number,
): Promise<PerturbationBase> {
  const S = input.shape[1];
  const x = (await input.data()) as Float32Array;
  const blurred = blurInput(x, S, INSERTION_BLUR_SIGMA);
  const batch = tf.tidy(
    () => tf.concat([input, tf.zerosLike(input), tf.tensor4d(blurred, [1, S, S, 3])]) as tf.Tensor4D,
  );
  const p = await probsOf(fm, batch);
  batch.dispose();
  const r = rng(seed);
  return {
    S,
    x,
    blurred,
    pOrig: p[0][c],
    pZero: p[1][c],
    pBlur: p[2][c],
    keys: Float32Array.from({ length: S * S }, r),
  };
}

/**
 * Deletion and insertion curves (Petsiuk et al., RISE), `steps` equal steps of S*S/steps pixels in the order of the
 * saliency (ties by the shared random keys). Deletion sets pixels to the dataset mean (zero after normalisation);
 * insertion copies them into the blurred input. Returns p(class) at 0..steps; endpoints come from `base`.
 */
export async function perturbationCurves(
  fm: FixationModel,
  base: PerturbationBase,
  sal: Float32Array,
  c: number,
  steps: number,
  which: 'both' | 'deletion' = 'both',
): Promise<{ deletion: number[]; insertion?: number[] }> {
  const { S, x, blurred, keys } = base;
  const P = S * S;
  const order = Int32Array.from({ length: P }, (_, i) => i).sort((a, b) => sal[b] - sal[a] || keys[a] - keys[b]);
  const inner = steps - 1;
  const n = which === 'both' ? 2 * inner : inner;
  const buf = new Float32Array(n * P * 3);
  for (let k = 1; k <= inner; k++) {
    const upto = Math.round((k / steps) * P);
    const del = buf.subarray((k - 1) * P * 3, k * P * 3);
    del.set(x);
    for (let i = 0; i < upto; i++) {
      const o = order[i] * 3;
      del[o] = del[o + 1] = del[o + 2] = 0;
    }
    if (which === 'both') {
      const ins = buf.subarray((inner + k - 1) * P * 3, (inner + k) * P * 3);
      ins.set(blurred);
      for (let i = 0; i < upto; i++) {
        const o = order[i] * 3;
        ins[o] = x[o];
        ins[o + 1] = x[o + 1];
        ins[o + 2] = x[o + 2];
      }
    }
  }
  const batch = tf.tensor4d(buf, [n, S, S, 3]);
  const p = (await probsOf(fm, batch)).map((row) => row[c]);
  batch.dispose();
  const deletion = [base.pOrig, ...p.slice(0, inner), base.pZero];
  if (which === 'deletion') return { deletion };
  return { deletion, insertion: [base.pBlur, ...p.slice(inner), base.pOrig] };
}

/**
 * The layer groups of the sanity check, top first, each with the weight (and fused bias) tensors it reads. By the
 * first part of the node names where that gives 3 to 12 groups (SqueezeNet: conv10, fire9, ..., fire2, conv1);
 * else (TF Hub's long scopes, MobileNetV2's 50-odd layers) the conv/matmul layers in order, cut into at most
 * MAX_GROUPS runs of consecutive layers, each named after its top layer.
 */
export function cascadeGroups(fm: FixationModel): { group: string; weights: string[] }[] {
  const art = (
    fm.model as unknown as {
      artifacts: { modelTopology: { node: { name: string; op: string; input?: string[]; attr?: any }[] } };
    }
  ).artifacts.modelTopology.node;
  const byName = new Map(art.map((n) => [n.name, n]));
  const layers = fm.graph.order
    .filter((n) => n.kind === 'conv' || n.kind === 'matmul')
    .map((node) => {
      const tfNode = byName.get(node.name)!;
      const consts = (tfNode.input ?? []).filter((i) => byName.get(i)?.op === 'Const');
      const fused: string[] = (tfNode.attr?.fused_ops?.list?.s ?? []).map((s: string) => atob(s));
      // The weights, plus the bias of a fused BiasAdd (BatchNorm statistics are left alone: a random variance is not one).
      return { name: node.name, weights: consts.slice(0, fused[0] === 'BiasAdd' ? 2 : 1) };
    });
  const byPrefix: { group: string; weights: string[] }[] = [];
  for (const l of layers) {
    const g = l.name.split('/')[0];
    let entry = byPrefix.find((e) => e.group === g);
    if (!entry) byPrefix.push((entry = { group: g, weights: [] }));
    entry.weights.push(...l.weights);
  }
  if (byPrefix.length >= 3 && byPrefix.length <= MAX_GROUPS + 2) return byPrefix;
  const n = Math.min(MAX_GROUPS, layers.length);
  return Array.from({ length: n }, (_, i) => {
    const run = layers.slice(Math.floor((i * layers.length) / n), Math.floor(((i + 1) * layers.length) / n));
    return { group: shortName(run[0].name), weights: run.flatMap((l) => l.weights) };
  });
}
const MAX_GROUPS = 10;

/** The telling part of a layer name: 'module_apply_default/MobilenetV1/MobilenetV1/Conv2d_13_pointwise/...' -> 'Conv2d_13_pointwise'. */
function shortName(name: string): string {
  const parts = name.split('/');
  return parts.find((p) => /conv|block|fire|logits|predictions|dense|fc/i.test(p)) ?? parts[0];
}

/**
 * Models with the top `depth` groups re-initialised (cascading: each depth adds the next group down; a group's random
 * values are the same at every depth). Values ~ N(0, std of the original tensor), seeded.
 */
export async function* cascade(
  fm: FixationModel,
  seed = 7,
): AsyncGenerator<{ depth: number; group: string; model: FixationModel }> {
  const gm = fm.model as unknown as { executor: { weightMap: Record<string, tf.Tensor[]> } };
  const original = gm.executor.weightMap;
  const groups = cascadeGroups(fm);
  const map = { ...original };
  const made: tf.Tensor[] = [];
  try {
    for (let d = 0; d < groups.length; d++) {
      for (const name of groups[d].weights) {
        const t = original[name][0];
        const v = (await t.data()) as Float32Array;
        let m = 0,
          s = 0;
        for (const a of v) m += a;
        m /= v.length;
        for (const a of v) s += (a - m) ** 2;
        const sd = Math.sqrt(s / v.length) || 1e-2;
        const r = rng(seed ^ hash(name));
        const rand = Float32Array.from({ length: v.length }, () => sd * gauss(r));
        const nt = tf.tensor(rand, t.shape, 'float32');
        made.push(nt);
        map[name] = [nt];
      }
      // The setter also records which tensors are weights (not to be disposed during execution).
      gm.executor.weightMap = { ...map };
      yield { depth: d + 1, group: groups[d].group, model: FixationModel.create(fm.model, fm.info) };
    }
  } finally {
    gm.executor.weightMap = original;
    tf.dispose(made);
  }
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

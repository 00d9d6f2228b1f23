// Per-frame plumbing shared by the GPU and fallback paths: stage timings, frame upload, the forward pass and its
// top-5 summary, and the CPU baselines (CAM, Grad-CAM) on read-back activations.
import * as tf from '@tensorflow/tfjs-core';
import { baselineHeatmap, classHead } from '../src/engine/baselines.ts';
import type { FixationModel } from '../src/engine/model.ts';
import { camBox, peak, type Box } from '../src/engine/post.ts';
import type { PixelTransform, TopClass } from '../src/engine/types.ts';
import type { ExplainedClass, FrameResult, Method } from './api.ts';
import { labelOf } from './scene.ts';

export const STAGES = ['upload', 'preprocess', 'forward', 'unravel', 'heatmap', 'readback'] as const;
export type Stage = (typeof STAGES)[number];

/** Stage stopwatch; `sync` (timing mode) waits for the GPU before each lap so the time lands in its stage. */
export class Laps {
  readonly t: Record<string, number> = Object.fromEntries(STAGES.map((s) => [s, 0]));
  private start = performance.now();
  private t0 = this.start;
  constructor(private sync?: () => Promise<void>) {}
  async lap(stage: Stage) {
    if (this.sync) await this.sync();
    const now = performance.now();
    this.t[stage] += now - this.t0;
    this.t0 = now;
  }
  /** Move time measured inside one stage to another (reads interleaved with CPU work). */
  move(from: Stage, to: Stage, ms: number) {
    this.t[from] -= ms;
    this.t[to] += ms;
  }
    /** Time since the last lap goes to `stage` without waiting (readbacks wait by themselves). */
  mark(stage: Stage) {
    const now = performance.now();
    this.t[stage] += now - this.t0;
    this.t0 = now;
  }
  done(): Record<string, number> {
    this.t.total = performance.now() - this.start;
    return this.t;
  }
}

/** The frame as an int32 [H,W,3] tensor on the active backend; the frame is closed. */
export async function uploadFrame(frame: ImageBitmap | VideoFrame): Promise<tf.Tensor3D> {
  let bitmap: ImageBitmap;
  if (typeof VideoFrame !== 'undefined' && frame instanceof VideoFrame) {
    // tfjs reads ImageBitmaps (copyExternalImageToTexture / texImage2D), not VideoFrames.
    try { bitmap = await createImageBitmap(frame); } finally { frame.close(); }
  } else if (frame instanceof ImageBitmap) {
    bitmap = frame;
  } else {
    throw new Error(`explain: frame must be an ImageBitmap or a VideoFrame, got ${Object.prototype.toString.call(frame)}`);
  }
  try {
    if (!bitmap.width || !bitmap.height) throw new Error('explain: the frame is empty (0 pixels) or already closed');
    return tf.browser.fromPixels(bitmap, 3) as tf.Tensor3D;
  } finally {
    bitmap.close();
  }
}

/**
 * The part of a frame both paths share: upload, preprocess, one forward pass yielding every output the unravelling
 * reads. Every tensor made goes into `owned` (the caller disposes them at the end of the frame).
 */
export async function forwardFrame(
  fm: FixationModel, frame: ImageBitmap | VideoFrame, fit: 'crop' | 'letterbox', laps: Laps, owned: tf.Tensor[],
): Promise<{ fw: number; fh: number; transform: PixelTransform; tensors: Map<string, tf.Tensor> }> {
  const img = await uploadFrame(frame);
  owned.push(img);
  const [fh, fw] = img.shape;
  await laps.lap('upload');
  const { input, transform } = fm.preprocess(img, fit);
  owned.push(input);
  await laps.lap('preprocess');
  const names = forwardNames(fm);
  const out = fm.model.execute(input, names);
  const outs = Array.isArray(out) ? out : [out]; // a bare tensor for a single name
  owned.push(...outs);
  return { fw, fh, transform, tensors: new Map(names.map((n, i) => [n, outs[i]])) };
}

/**
 * Top-5 and the probabilities of the classes to explain ('top' = the top-1), in one small readback (topk and
 * gather on the backend): 4 * (10 + classes) bytes.
 */
export async function summarize(fm: FixationModel, tensors: Map<string, tf.Tensor>, classes: 'top' | number[], owned: tf.Tensor[]):
  Promise<{ top: TopClass[]; classes: number[]; probs: number[]; bytes: number }> {
  const logits = tensors.get(fm.info.logits)!;
  const k = Math.min(5, logits.size);
  const summary = tf.tidy(() => {
    const flat = fm.info.probs ? tf.reshape(tensors.get(fm.info.probs)!, [-1]) : tf.softmax(tf.reshape(logits, [-1]));
    const { values, indices } = tf.topk(flat, k);
    const parts = [values, tf.cast(indices, 'float32')];
    if (classes !== 'top') parts.push(tf.gather(flat, tf.tensor1d(classes, 'int32')));
    return tf.concat(parts);
  });
  owned.push(summary);
  const s = (await summary.data()) as Float32Array;
  const top = Array.from({ length: k }, (_, i) => Math.round(s[k + i])).map((index, i) => ({ index, label: labelOf(fm, index), prob: s[i] }));
  return classes === 'top'
    ? { top, classes: [top[0].index], probs: [s[0]], bytes: s.byteLength }
    : { top, classes, probs: classes.map((_, i) => s[2 * k + i]), bytes: s.byteLength };
}

/** Whole activations read back (the baselines' maps). */
export async function readActivations(tensors: Map<string, tf.Tensor>, names: string[]): Promise<{ values: Map<string, Float32Array>; bytes: number }> {
  const values = new Map<string, Float32Array>();
  let bytes = 0;
  for (const n of names) {
    const a = (await tensors.get(n)!.data()) as Float32Array;
    values.set(n, a);
    bytes += a.byteLength;
  }
  return { values, bytes };
}

/** Output names of the forward pass: logits, probs (if the model has them) and every captured activation. */
export function forwardNames(fm: FixationModel): string[] {
  const { logits, probs } = fm.info;
  return [...new Set([logits, ...(probs ? [probs] : []), ...fm.graph.captures])];
}

/** Activations a baseline reads (the class head's map, and for Grad-CAM the class conv's input). */
export function baselineNames(fm: FixationModel, method: Method): string[] {
  const head = classHead(fm);
  const names = [head.gap.inputs[0]];
  if (method === 'gradcam' && head.classConv) names.push(head.classConv.inputs[0]);
  return names;
}

/** Per-class CAM / Grad-CAM maps at the overlay size, with box and peak in frame pixels. */
export function baselineClasses(fm: FixationModel, acts: Map<string, Float32Array>, classes: number[], method: 'cam' | 'gradcam',
  t: PixelTransform, width: number, height: number): { map: Float32Array; box: Box | null; peak: [number, number] }[] {
  const sx = width / t.srcWidth, sy = height / t.srcHeight;
  return classes.map((c) => {
    const map = baselineHeatmap(fm, (n) => {
      const a = acts.get(n);
      if (!a) throw new Error(`${method}: activation '${n}' was not read`);
      return a;
    }, c, method, t, width, height).heatmap;
    const b = camBox(map, width, height);
    const [px, py] = peak(map, width);
    return { map, box: b && [b[0] / sx, b[1] / sy, b[2] / sx, b[3] / sy], peak: [px / sx, py / sy] };
  });
}

/** Dispose every tensor of a frame once (the input placeholder may also be a captured output). */
export function disposeAll(...groups: (tf.Tensor | tf.Tensor[] | Iterable<tf.Tensor> | undefined | null)[]) {
  const all = new Set<tf.Tensor>();
  for (const g of groups) {
    if (!g) continue;
    if (g instanceof tf.Tensor) all.add(g);
    else for (const t of g) all.add(t);
  }
  for (const t of all) if (!t.isDisposed) t.dispose();
}

export type { ExplainedClass, FrameResult };

// Per-frame plumbing shared by the GPU and fallback paths: stage timings, frame upload, the forward pass and its
// top-5 summary, and the CPU baselines (CAM, Grad-CAM) on read-back activations.
import * as tf from '@tensorflow/tfjs-core';
import { baselineHeatmap, classHead } from '../engine/baselines.ts';
import { pixelTransform, type FixationModel } from '../engine/model.ts';
import { camBox, peak, type Box } from '../engine/post.ts';
import type { PixelTransform, TopClass } from '../engine/types.ts';
import { readback } from '../gpu/readback.ts';
import type { ExplainedClass, FrameResult } from './api.ts';
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

/** A frame: from the camera or a picture; in Node (bench) an image tensor [H,W,3|4] 0..255, owned by the frame. */
export type Frame = ImageBitmap | VideoFrame | tf.Tensor3D;

/** The frame as an int32 [H,W,3] tensor on the active backend; the frame is closed. */
export async function uploadFrame(frame: Frame): Promise<tf.Tensor3D> {
  if (frame instanceof tf.Tensor) return frame;
  let bitmap: ImageBitmap;
  if (typeof VideoFrame !== 'undefined' && frame instanceof VideoFrame) {
    // tfjs reads ImageBitmaps (copyExternalImageToTexture / texImage2D), not VideoFrames.
    try {
      bitmap = await createImageBitmap(frame);
    } finally {
      frame.close();
    }
  } else if (frame instanceof ImageBitmap) {
    bitmap = frame;
  } else {
    throw new Error(
      `explain: frame must be an ImageBitmap or a VideoFrame, got ${Object.prototype.toString.call(frame)}`,
    );
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
  fm: FixationModel,
  frame: Frame,
  fit: 'crop' | 'letterbox',
  laps: Laps,
  owned: tf.Tensor[],
  source?: { width: number; height: number },
): Promise<{ fw: number; fh: number; transform: PixelTransform; tensors: Map<string, tf.Tensor> }> {
  const img = await uploadFrame(frame);
  owned.push(img);
  let [fh, fw] = img.shape;
  await laps.lap('upload');
  const pre = fm.preprocess(img, fit);
  const input = pre.input;
  let transform = pre.transform;
  if (source) {
    // A frame scaled down at capture samples the same region of the source picture: map to its pixels.
    [fw, fh] = [source.width, source.height];
    transform = pixelTransform(fw, fh, { width: transform.inputWidth, height: transform.inputHeight }, fit);
  }
  owned.push(input);
  await laps.lap('preprocess');
  const names = forwardNames(fm);
  const out = fm.model.execute(input, names);
  const outs = Array.isArray(out) ? out : [out]; // a bare tensor for a single name
  owned.push(...outs);
  return { fw, fh, transform, tensors: new Map(names.map((n, i) => [n, outs[i]])) };
}

export interface Summary {
  top: TopClass[];
  classes: number[];
  probs: number[];
}

/**
 * Top-5 and the probabilities of the requested classes, as one small tensor made on the backend (topk, gather):
 * [5 probs, 5 indices, requested probs], 4 * (10 + classes) bytes, read back alone or with the fixations.
 */
export function summaryTensor(
  fm: FixationModel,
  tensors: Map<string, tf.Tensor>,
  classes: 'top' | number[],
): tf.Tensor {
  return tf.tidy(() => {
    const flat = fm.info.probs
      ? tf.reshape(tensors.get(fm.info.probs)!, [-1])
      : tf.softmax(tf.reshape(tensors.get(fm.info.logits)!, [-1]));
    const k = Math.min(5, flat.size);
    const { values, indices } = tf.topk(flat, k);
    const parts = [values, tf.cast(indices, 'float32')];
    if (classes !== 'top') parts.push(tf.gather(flat, tf.tensor1d(classes, 'int32')));
    return tf.concat(parts);
  });
}

/**
 * The summary's values -> top-5 and the classes to explain with their probabilities. 'top' is the class the
 * unravelling chose (`chosen`: the GPU's argmax of the logits), else the top-1.
 */
export function readSummary(fm: FixationModel, s: Float32Array, classes: 'top' | number[], chosen?: number): Summary {
  const k = (s.length - (classes === 'top' ? 0 : classes.length)) / 2;
  const top = Array.from({ length: k }, (_, i) => Math.round(s[k + i])).map((index, i) => ({
    index,
    label: labelOf(fm, index),
    prob: s[i],
  }));
  if (classes !== 'top') return { top, classes, probs: classes.map((_, i) => s[2 * k + i]) };
  const c = chosen ?? top[0].index;
  // The argmax of the logits is the top-1 of the probabilities (softmax is monotonic); the lookup covers a tie.
  return { top, classes: [c], probs: [top.find((t) => t.index === c)?.prob ?? s[0]] };
}

/** The top-1 class of a 'top' summary (its indices follow its values). */
export const summaryTop1 = (s: Float32Array): number => Math.round(s[s.length / 2]);

/** Whole activations read back (the baselines' maps). */
export async function readActivations(
  tensors: Map<string, tf.Tensor>,
  names: string[],
): Promise<{ values: Map<string, Float32Array>; bytes: number }> {
  const values = new Map<string, Float32Array>();
  let bytes = 0;
  for (const n of names) {
    const a = (await readback(tensors.get(n)!.data(), `activation '${n}'`)) as Float32Array;
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

/** Activations a class map reads (the class head's map, and for Grad-CAM the class conv's input). */
export function baselineNames(fm: FixationModel, method: 'cam' | 'gradcam'): string[] {
  const head = classHead(fm);
  const names = [head.gap.inputs[0]];
  if (method === 'gradcam' && head.classConv) names.push(head.classConv.inputs[0]);
  return names;
}

/** Per-class CAM / Grad-CAM maps (width x height, max 1) from read-back activations. */
export function classMaps(
  fm: FixationModel,
  acts: Map<string, Float32Array>,
  classes: number[],
  method: 'cam' | 'gradcam',
  t: PixelTransform,
  width: number,
  height: number,
): Promise<Float32Array[]> {
  return Promise.all(
    classes.map(
      async (c) =>
        (
          await baselineHeatmap(
            fm,
            (n) => {
              const a = acts.get(n);
              if (!a) throw new Error(`${method}: activation '${n}' was not read`);
              return a;
            },
            c,
            method,
            t,
            width,
            height,
          )
        ).heatmap,
    ),
  );
}

/** A map's CAM-protocol box and first maximum, from map pixels to frame pixels. */
export function mapBoxPeak(
  map: Float32Array,
  width: number,
  height: number,
  t: PixelTransform,
): { box: Box | null; peak: [number, number] } {
  const sx = width / t.srcWidth,
    sy = height / t.srcHeight;
  const b = camBox(map, width, height);
  const [px, py] = peak(map, width);
  return { box: b && [b[0] / sx, b[1] / sy, b[2] / sx, b[3] / sy], peak: [px / sx, py / sy] };
}

/** Per-class CAM / Grad-CAM maps at the overlay size, with box and peak in frame pixels. */
export async function baselineClasses(
  fm: FixationModel,
  acts: Map<string, Float32Array>,
  classes: number[],
  method: 'cam' | 'gradcam',
  t: PixelTransform,
  width: number,
  height: number,
): Promise<{ map: Float32Array; box: Box | null; peak: [number, number] }[]> {
  return (await classMaps(fm, acts, classes, method, t, width, height)).map((map) => ({
    map,
    ...mapBoxPeak(map, width, height, t),
  }));
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

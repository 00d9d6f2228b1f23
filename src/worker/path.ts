// One driver for both paths. A path (GPU: WebGPU + WGSL; fallback: WebGL/wasm + CPU) provides the stages that
// differ — unravel, heatmap, draw, peak — and explainFrame() runs a frame through them from a resolved FramePlan:
// forward pass and top-5, the classes to explain, their fixations and boxes, the overlay, the result.
import type * as tf from '@tensorflow/tfjs-core';
import type { FixationModel } from '../engine/model.ts';
import { backedPoints, guidedMap } from '../engine/guided.ts';
import { chooseBox, DEFAULT_POST, heatmap, heatPeak, rescalePoints, type Size } from '../engine/post.ts';
import type { Fixation, InputFixation, KeptLayer, PixelTransform } from '../engine/types.ts';
import type { Rect } from '../gpu/overlay.ts';
import { readback } from '../gpu/readback.ts';
import {
  CLASS_COLORS,
  type Backend,
  type ExplainedClass,
  type FrameResult,
  type OverlayOptions,
  type PathName,
} from './api.ts';
import {
  baselineClasses,
  baselineNames,
  classMaps,
  disposeAll,
  mapBoxPeak,
  forwardFrame,
  Laps,
  readActivations,
  readSummary,
  summaryTensor,
  type Frame,
  type Summary,
} from './frame.ts';
import type { FramePlan } from './plan.ts';
import type { Pending } from './unraveller.ts';
import { classColor, framePoints, labelOf, layerCells, sceneRects, type ClassScene } from './scene.ts';

/**
 * The kept neurons of one class (the class: 'top' resolved), per-layer kept sets when the plan asks for them (the
 * fallback has them all), and the frame summary's values when a summary tensor was given.
 */
export interface Unravelled {
  input: InputFixation[];
  layers?: KeptLayer[];
  bytes: number;
  classIndex: number;
  summary?: Float32Array;
  /** The frame's overlay (heatmap, points, box) was drawn on the GPU from the unravelling's GPU-side list (ListDraw). */
  drawn?: boolean;
}

/**
 * A single-class fixations frame's overlay, for a path that can draw it from the unravelling's list where it lies
 * (GPU path: src/gpu/post.ts, in the frame's submit half): the frame's transform and size, its heat slot's smoothing.
 */
export interface ListDraw {
  transform: PixelTransform;
  frame: Size;
  smoothing: number;
  overlay: OverlayOptions;
}

/**
 * What the heatmap is made of: frame fixations scaled to the heat grid; a map made on the CPU (baselines); or the
 * guided method's parts, points and class map (`guide`, the heat grid's size, max 1), with its CPU twin's result
 * (`map`: guidedMap(), what the fallback draws; the GPU path makes its own from the parts).
 */
export type HeatSource =
  | { points: Fixation[] }
  | { map: Float32Array }
  | { points: Fixation[]; guide: Float32Array; epsilon: number; sigma: number; map: Float32Array };

export interface FramePath {
  readonly name: PathName;
  readonly backend: Backend;
  readonly fm: FixationModel;
  /** Why this path has less than it could (CPU unravelling on the GPU path, no overlay on the fallback). */
  readonly note?: string;
  /** This frame's stopwatch (on the GPU path with `timing`, it waits for the queue between stages). */
  laps(timing: boolean): Laps;
  /**
   * Unravel one class ('top' = the top-1, chosen without a round trip where the path can) on this frame's
   * activations; `summary` (the frame's top-5 tensor) is read back with the result. Laps 'unravel' and 'readback'.
   * With `draw`, a path that can draws the overlay from its own list before the readback (the result says `drawn`).
   */
  unravel(
    tensors: Map<string, tf.Tensor>,
    classIndex: number | 'top',
    plan: FramePlan,
    laps: Laps,
    summary?: tf.Tensor,
    draw?: ListDraw,
  ): Promise<Unravelled>;
  /**
   * unravel() in two steps, where the path can pipeline frames (GPU path): resolves once the unravelling and its
   * readback are submitted, so that the next frame may be encoded over the same buffers; `result` settles with the map.
   */
  beginUnravel?(
    tensors: Map<string, tf.Tensor>,
    classIndex: number | 'top',
    plan: FramePlan,
    laps: Laps,
    summary?: tf.Tensor,
    draw?: ListDraw,
  ): Promise<Pending<Unravelled>>;
  /** The overlay's size (the canvas, else the frame) and the heatmap's (the GPU path works on a smaller grid). */
  sizes(frame: Size): { overlay: Size; heat: Size };
  /**
   * Make one heatmap per explained class (heat-size cells; class i in slot i, drawn in CLASS_COLORS[i] when there
   * are several), each smoothed over frames in its slot (smoothing 0: this frame replaces the history). For points,
   * returns each map's first maximum of this frame's (unsmoothed) map, in heat cells: computed on the CPU from the
   * points on both paths (peak(heatmap())), so that the GPU path does not wait for the GPU a second time in a frame.
   */
  heatmap(srcs: HeatSource[], heat: Size, smoothing: number): ([number, number] | null)[];
  /** Draw the heat layer, points, boxes and cells into the overlay canvas. */
  draw(rects: Rect[], overlay: Size, o: OverlayOptions): void;
  destroy(): void;
}

/** The classes (as requested: 'top' stays 'top' as its class changes) and method each path's heat slots hold. */
const heatKeys = new WeakMap<FramePath, string>();

export async function explainFrame(path: FramePath, frame: Frame, plan: FramePlan): Promise<FrameResult> {
  return (await startFrame(path, frame, plan)).finish();
}

/** A frame whose GPU work is submitted; finish() waits for its readback and draws its overlay (if not drawn yet). */
export interface StartedFrame {
  finish(): Promise<FrameResult>;
}

/**
 * The first half of a frame: forward pass, unravelling and readback submitted. Where the path can pipeline
 * (beginUnravel, one class, no kept sets read back, not timing) it returns with the readback still in flight and the
 * frame's tensors disposed (the GPU has the work queued), so that the next frame can be submitted before this one's
 * map resolves; finish() then waits for it and runs the rest (the result; the heatmap and overlay too unless they
 * were drawn from the GPU list in this half: ListDraw). Otherwise the whole frame
 * runs here and finish() hands over the result. Callers start frames one at a time and finish them in order.
 */
export async function startFrame(path: FramePath, frame: Frame, plan: FramePlan): Promise<StartedFrame> {
  const fm = path.fm;
  const laps = path.laps(plan.timing);
  const owned: tf.Tensor[] = [];
  let bytes = 0;
  let pipelined = false;
  try {
    const { fw, fh, transform, tensors } = await forwardFrame(fm, frame, plan.fit, laps, owned, plan.source);
    const frameSize = { width: fw, height: fh };
    await laps.lap('forward');
    const st = summaryTensor(fm, tensors, plan.classes);
    owned.push(st);
    // The fixations' first class comes back with the summary (one readback); the class for 'top' is the path's.
    let first: Unravelled | null = null;
    let s: Summary;
    if (plan.forwardOnly) {
      const v = (await readback(st.data(), 'the frame summary')) as Float32Array;
      laps.mark('readback');
      s = readSummary(fm, v, plan.classes);
      const r: FrameResult = {
        top: s.top,
        explained: [],
        path: path.name,
        backend: path.backend,
        method: plan.method,
        frameSize,
        layers: [],
        timings: laps.done(),
        readbackBytes: v.byteLength,
      };
      return { finish: async () => r };
    }
    // Each slot's EMA smooths one class over frames: a new class list or method starts every slot over. Decided
    // here, in submission order, since a frame drawn from the GPU list updates its slot in this half.
    const key = `${plan.method}:${plan.classes === 'top' ? 'top' : plan.classes.join(',')}`;
    const smoothing = heatKeys.get(path) === key ? plan.overlay.smoothing : 0;
    heatKeys.set(path, key);
    const firstClass = plan.classes === 'top' ? 'top' : plan.classes[0];
    const fixated = plan.method === 'fixations' || plan.method === 'guided';
    // (The GPU list's post draws the fixations' own box: only when that is the box asked for.)
    const single =
      plan.method === 'fixations' &&
      plan.box === 'fixations' &&
      !plan.layers &&
      (plan.classes === 'top' || plan.classes.length === 1);
    // The overlay of a single-class frame without a layer view can be drawn from the GPU list (path permitting).
    const draw: ListDraw | undefined = single
      ? { transform, frame: frameSize, smoothing, overlay: plan.overlay }
      : undefined;
    if (single && path.beginUnravel && !plan.timing) {
      const pending = await path.beginUnravel(tensors, firstClass, plan, laps, st, draw);
      disposeAll(owned);
      pipelined = true;
      return { finish: async () => rest(await pending.result) };
    }
    const r = await rest(fixated ? await path.unravel(tensors, firstClass, plan, laps, st, draw) : null);
    return { finish: async () => r };

    /** Everything after the first class's unravelling (which brings the frame summary back with it). */
    async function rest(u: Unravelled | null): Promise<FrameResult> {
      if (u) {
        first = u;
        s = readSummary(fm, first.summary!, plan.classes, first.classIndex);
      } else {
        const v = (await readback(st.data(), 'the frame summary')) as Float32Array;
        bytes += v.byteLength;
        laps.mark('readback');
        s = readSummary(fm, v, plan.classes);
      }
      const classes = s.classes;
      const { overlay, heat } = path.sizes(frameSize);
      const explained: ExplainedClass[] = classes.map((index, i) => ({
        class: { index, label: labelOf(fm, index), prob: s.probs[i] },
        color: CLASS_COLORS[i],
        inputFixations: [],
        fixations: [],
        box: null,
        boxSource: null,
        peak: null,
      }));
      const scenes: ClassScene[] = [];
      let layers: FrameResult['layers'] = [];
      let srcs: HeatSource[];

      if (fixated) {
        for (let i = 0; i < classes.length; i++) {
          const u = i === 0 ? first! : await path.unravel(tensors, classes[i], plan, laps);
          bytes += u.bytes;
          const { fixations, box } = framePoints(u.input, transform);
          const scene: ClassScene = { color: classColor(i), fixations, box };
          const layer = plan.overlay.layer;
          if (layer) {
            const l = u.layers?.find((x) => x.name === layer);
            if (!l) throw new Error(`overlay.layer: no layer '${layer}' in the unravelling`);
            scene.cells = layerCells(fm.graph, layer, l.indices, transform);
          }
          if (i === 0 && u.layers) {
            layers = u.layers.map((l) => ({
              name: l.name,
              count: l.indices.length,
              shape: l.shape,
              ...(plan.withIndices ? { indices: l.indices } : {}),
            }));
          }
          scenes.push(scene);
          Object.assign(explained[i], {
            inputFixations: u.input,
            fixations,
            ...chooseBox('fixations', fixations, null),
          });
        }
        const points = scenes.map((c) => rescalePoints(c.fixations, frameSize, heat));
        srcs = points.map((p) => ({ points: p }));
        const g = plan.guided;
        if (g) {
          // The class maps from read-back activations at the heat size (as the baselines'), times the density.
          const acts = await readActivations(tensors, baselineNames(fm, g.classMap));
          bytes += acts.bytes;
          laps.mark('readback');
          const maps = await classMaps(fm, acts.values, classes, g.classMap, transform, heat.width, heat.height);
          srcs = points.map((p, i) => {
            const map = guidedMap(maps[i], heatmap(p, heat.width, heat.height, g.sigma), g.epsilon);
            const { box, peak } = mapBoxPeak(map, heat.width, heat.height, transform);
            explained[i].peak = peak;
            scenes[i].backed = backedPoints(
              scenes[i].fixations,
              map,
              heat.width,
              heat.height,
              frameSize.width,
              frameSize.height,
            );
            if (plan.box === 'map') Object.assign(explained[i], chooseBox('map', [], box));
            return { points: p, guide: maps[i], epsilon: g.epsilon, sigma: g.sigma, map };
          });
        } else if (plan.box === 'map') {
          // The fixations' own heatmap's CAM-protocol box, on the CPU twin of the heat grid.
          points.forEach((p, i) => {
            const map = heatmap(p, heat.width, heat.height, DEFAULT_POST.sigma);
            Object.assign(explained[i], chooseBox('map', [], mapBoxPeak(map, heat.width, heat.height, transform).box));
          });
        }
        explained.forEach((e, i) => {
          scenes[i].box = e.box;
        });
      } else {
        // Baselines: not the hot path; their maps come from read-back activations, made at the heat size (the CAM is
        // itself upsampled from the last conv layer, 13x13 for SqueezeNet).
        const acts = await readActivations(tensors, baselineNames(fm, plan.method as 'cam' | 'gradcam'));
        bytes += acts.bytes;
        laps.mark('readback');
        const maps = await baselineClasses(
          fm,
          acts.values,
          classes,
          plan.method as 'cam' | 'gradcam',
          transform,
          heat.width,
          heat.height,
        );
        await laps.lap('unravel');
        maps.forEach((m, i) => {
          scenes.push({ color: classColor(i), fixations: [], box: m.box });
          Object.assign(explained[i], { ...chooseBox('map', [], m.box), peak: m.peak });
        });
        srcs = maps.map((m) => ({ map: m.map }));
      }

      let peaks: ([number, number] | null)[];
      if (first?.drawn) {
        // Drawn in the submit half from the GPU list; the result's peak still comes from the CPU twin.
        peaks = srcs.map((src) => ('points' in src ? heatPeak(src.points, heat) : null));
      } else {
        peaks = path.heatmap(srcs, heat, smoothing);
        path.draw(sceneRects(scenes, frameSize, overlay, plan.overlay), overlay, plan.overlay);
      }
      await laps.lap('heatmap');
      peaks.forEach((pk, i) => {
        if (!pk) return;
        const [q] = rescalePoints([{ x: pk[0], y: pk[1], w: 0 }], heat, frameSize); // cell centre -> frame pixel
        explained[i].peak = [q.x, q.y];
      });
      return {
        top: s.top,
        explained,
        path: path.name,
        backend: path.backend,
        method: plan.method,
        ...(plan.guided ? { guided: plan.guided } : {}),
        frameSize,
        layers,
        timings: laps.done(),
        readbackBytes: bytes,
      };
    }
  } finally {
    if (!pipelined) disposeAll(owned);
  }
}

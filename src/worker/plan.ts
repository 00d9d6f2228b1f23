// A request resolved once, at the top of a frame, into what the stages need: checked rules, classes, overlay
// options and the layers wanted. Every bad value is reported here, before any GPU work starts.
import { classHead } from '../engine/baselines.ts';
import { size } from '../engine/graph.ts';
import { guidedClassMap } from '../engine/guided.ts';
import { BOX_SOURCE, METHODS as ENGINE_METHODS, methodFor, resolveGuided, unknownMethod } from '../engine/methods.ts';
import type { FixationModel } from '../engine/model.ts';
import { resolveRules, type Rules } from '../engine/types.ts';
import {
  CLASS_COLORS,
  type BoxSource,
  type ExplainRequest,
  type GuidedOptions,
  type Method,
  type OverlayOptions,
} from './api.ts';

export const DEFAULT_OVERLAY: OverlayOptions = {
  points: true,
  heatmap: true,
  box: true,
  colormap: 'jet',
  opacity: 0.6,
  smoothing: 0,
};

export interface FramePlan {
  method: Method;
  /** Method 'guided': its knobs and the class map it uses. */
  guided?: GuidedOptions & { classMap: 'cam' | 'gradcam' };
  /** Where the boxes come from. */
  box: BoxSource;
  rules: Rules;
  fit: 'crop' | 'letterbox';
  /** The picture the frame was scaled down from (ExplainRequest.sourceSize): results are in its pixels. */
  source?: { width: number; height: number };
  /** 'top' = the top-1 class, known after the forward pass; else checked, de-duplicated class indices. */
  classes: 'top' | number[];
  overlay: OverlayOptions;
  /** Kept sets wanted from the unravelling: every layer (withLayers), the layer view's one, or none. */
  layers: 'all' | string[] | null;
  /** Return the kept indices per layer (withLayers). */
  withIndices: boolean;
  /** Wait for the GPU between stages (benchmarks). */
  timing: boolean;
  /** Stop after the forward pass and the top-5 (benchmarks). */
  forwardOnly: boolean;
}

/** The methods the worker runs: the engine's, but the centre prior. */
export const METHODS = ENGINE_METHODS.filter((m): m is Method => m !== 'center');

export function planFrame(fm: FixationModel, req: ExplainRequest = {}): FramePlan {
  const method = methodFor(fm.info, req.method) as Method;
  if (!METHODS.includes(method)) throw unknownMethod(method, METHODS);
  // The worker's class maps (CAM, Grad-CAM in closed form) need a global-average-pool head.
  if (method !== 'fixations') {
    try {
      classHead(fm);
    } catch (e) {
      throw new Error(`method '${method}' does not apply to model '${fm.info.id}': ${(e as Error).message}`);
    }
  }
  if (req.guided !== undefined && method !== 'guided')
    throw new Error(`guided options apply to method 'guided', not '${method}'`);
  const g = method === 'guided' ? resolveGuided(req.guided, fm.info.guided) : undefined;
  const box = req.box ?? BOX_SOURCE[method];
  if (box !== 'fixations' && box !== 'map') throw new Error(`box must be 'fixations' or 'map', got '${box}'`);
  if (box === 'fixations' && method !== 'fixations' && method !== 'guided')
    throw new Error(`box 'fixations': method '${method}' has no fixations`);
  const fit = req.fit ?? 'crop';
  if (fit !== 'crop' && fit !== 'letterbox') throw new Error(`fit must be 'crop' or 'letterbox', got '${fit}'`);
  const source = req.sourceSize;
  if (
    source &&
    !(Number.isInteger(source.width) && Number.isInteger(source.height) && source.width >= 1 && source.height >= 1)
  ) {
    throw new Error(`sourceSize must be positive integers, got ${JSON.stringify(source)}`);
  }
  const overlay = overlayOptions(req.overlay);
  if (overlay.layer !== undefined && !fm.graph.byName.has(overlay.layer))
    throw new Error(`overlay.layer: no layer '${overlay.layer}' in the model`);
  const numClasses = size(fm.graph.byName.get(fm.graph.logits)!.shape);
  return {
    method,
    ...(g ? { guided: { ...g, classMap: guidedClassMap(fm, g.classMap) } } : {}),
    box,
    rules: resolveRules(req.rules ?? g?.rules ?? 'default', {}, fm.info.rules), // 'default': the model's own (catalog "rules")
    fit,
    ...(source ? { source: { width: source.width, height: source.height } } : {}),
    classes: req.classes === undefined || req.classes === 'top' ? 'top' : checkClasses(req.classes, numClasses),
    overlay,
    layers: req.withLayers ? 'all' : overlay.layer ? [overlay.layer] : null,
    withIndices: !!req.withLayers,
    timing: !!req.timing,
    forwardOnly: !!req.forwardOnly,
  };
}

export function overlayOptions(o: Partial<OverlayOptions> | undefined): OverlayOptions {
  const r = { ...DEFAULT_OVERLAY, ...Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) };
  if (!(r.opacity >= 0 && r.opacity <= 1)) throw new Error(`overlay.opacity must be in 0..1, got ${r.opacity}`);
  if (!(r.smoothing >= 0 && r.smoothing < 1))
    throw new Error(`overlay.smoothing must be in [0, 1), got ${r.smoothing}`);
  return r;
}

/** Requested class indices, checked against the model's class count. */
function checkClasses(c: number | number[], numClasses: number): number[] {
  const list = Array.isArray(c) ? c : [c];
  if (list.length === 0) throw new Error('classes: empty list');
  if (list.length > CLASS_COLORS.length)
    throw new Error(`classes: at most ${CLASS_COLORS.length} at once, got ${list.length}`);
  for (const i of list) {
    if (!Number.isInteger(i) || i < 0 || i >= numClasses)
      throw new Error(`classes: index ${i} is out of range 0..${numClasses - 1}`);
  }
  return [...new Set(list)];
}

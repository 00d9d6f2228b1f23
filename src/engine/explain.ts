// explain(): preprocess -> forward with captures -> CPU unravelling -> image-space fixations, heatmap, box.
// The baselines (CAM, Grad-CAM, centre prior) share everything but the unravelling; 'guided' has both (a class map
// times the fixations' density). Heat, points and box are three things: the heat is the method's map, the points
// the fixations after outlier removal, the box from the fixations or from the map (BOX_SOURCE, `box`). Several
// classes share the forward pass; each gets its own fixations, heatmap and colour (CLASS_COLORS).
import * as tf from '@tensorflow/tfjs-core';
import { baselineHeatmap, classHead, gradCamLayer, loadGradients, needsAutodiff } from './baselines.ts';
import { guidedClassMap, guidedHeatmap } from './guided.ts';
import {
  BOX_SOURCE,
  METHODS,
  methodFor,
  resolveGuided,
  unknownMethod,
  type BoxSource,
  type ExplainMethod,
  type GuidedOptions,
} from './methods.ts';
import { disposeForward, type Fit, type FixationModel } from './model.ts';
import {
  camBox,
  chooseBox,
  CLASS_COLORS,
  DEFAULT_POST,
  heatmap,
  peak,
  removeOutliers,
  toImagePoints,
  type Box,
  type PostOptions,
} from './post.ts';
import { unravelCpu, type UnravelResult } from './unravel.ts';
import {
  resolveRules,
  type Fixation,
  type InputFixation,
  type KeptLayer,
  type PixelTransform,
  type PresetName,
  type Rules,
  type TopClass,
} from './types.ts';

export type { ExplainMethod, BoxSource, GuidedOptions };

export interface ExplainOptions {
  /**
   * Default: the model's own (its catalog "method"), else DEFAULT_METHOD (src/engine/methods.ts). The baselines leave fixations/inputFixations/kept empty;
   * 'guided' has the fixations that feed its density.
   */
  method?: ExplainMethod;
  /**
   * 'top' (default) explains the top-1 class; a number explains that class index; a list explains each of them
   * (at most CLASS_COLORS.length), each with its own heatmap and colour in `classes`.
   */
  classIndex?: 'top' | number | number[];
  /**
   * 'default' (the model's own default rules where the catalog gives them), 'reference', 'dense', or a Rules object.
   * Method 'guided': the rules of the fixations feeding its density, default GUIDED.rules.
   */
  rules?: PresetName | Rules;
  /** Override single rules of the preset. */
  override?: Partial<Rules>;
  fit?: Fit;
  post?: Partial<PostOptions>;
  /** Heatmap size; default the image size (for a preprocessed tensor, the network input size). */
  heatmapSize?: { width: number; height: number };
  /**
   * Grad-CAM (and 'guided' with a Grad-CAM class map, which a layer implies): the layer to differentiate at (a node
   * name); default the last spatial layer (gradCamLayer).
   */
  layer?: string;
  /** Method 'guided': its knobs over the model's own (catalog "guided") over GUIDED (src/engine/methods.ts). */
  guided?: Partial<GuidedOptions>;
  /**
   * Where the box comes from: 'fixations' (the paper's box: the fixations after outlier removal, none below
   * MIN_BOX_POINTS) or 'map' (the CAM protocol on the method's heatmap). Default BOX_SOURCE[method].
   */
  box?: BoxSource;
  /**
   * The unravelling on the forward pass's own tensors instead of unravelCpu on read-back activations (e.g. the WGSL
   * walker on tfjs-webgpu's buffers: src/node/webgpu.ts). Same result contract as unravelCpu.
   */
  unravel?: (tensors: Map<string, tf.Tensor>, classIndex: number, rules: Rules) => Promise<UnravelResult>;
}

/** The explanation of one class. */
export interface ClassExplanation {
  class: TopClass;
  /** '#rrggbb': CLASS_COLORS[i] for the i-th explained class (its points, box and hue in the per-class overlay). */
  color: string;
  layers: { name: string; count: number }[];
  kept: KeptLayer[];
  inputFixations: InputFixation[];
  /** Image-pixel fixations after outlier removal. */
  fixations: Fixation[];
  /** The box (from the source in boxSource), and the CAM-protocol box of the heatmap. */
  box: Box | null;
  /** Which box `box` is: 'fixations' (the paper's box), 'map' (= camBox), null when there is none (too few points). */
  boxSource: BoxSource | null;
  camBox: Box | null;
  peak: [number, number];
  heatmap: { width: number; height: number; data: Float32Array };
  /** CAM / Grad-CAM / guided: the layer of the class map. */
  layer?: string;
}

/** The first explained class's fields at the top level (the single-class API), every class in `classes`. */
export interface Explanation extends ClassExplanation {
  model: string;
  method: ExplainMethod;
  top: TopClass[];
  /** The rules of the fixations (methods 'fixations' and 'guided'; the resolved request otherwise). */
  rules: Rules;
  /** Method 'guided': its knobs in effect, with the class map it used. */
  guided?: GuidedOptions & { classMap: 'cam' | 'gradcam' };
  classes: ClassExplanation[];
  transform: PixelTransform;
  timingsMs: Record<string, number>;
}

/** Explain an image (H,W,3|4 values 0..255), or an already preprocessed network input [1,h,w,c]. */
export async function explain(
  fm: FixationModel,
  image: tf.Tensor3D | tf.Tensor4D,
  opts: ExplainOptions = {},
): Promise<Explanation> {
  const method = methodFor(fm.info, opts.method);
  if (!METHODS.includes(method)) throw unknownMethod(method);
  if (opts.layer !== undefined && method !== 'gradcam' && method !== 'guided')
    throw new Error(`option 'layer' applies to method 'gradcam' or 'guided', not '${method}'`);
  if (opts.guided !== undefined && method !== 'guided')
    throw new Error(`option 'guided' applies to method 'guided', not '${method}'`);
  const fixated = method === 'fixations' || method === 'guided';
  const boxSource = opts.box ?? BOX_SOURCE[method];
  if (boxSource !== 'fixations' && boxSource !== 'map')
    throw new Error(`box '${String(boxSource)}' is not one of fixations, map`);
  if (boxSource === 'fixations' && !fixated)
    throw new Error(`box 'fixations': method '${method}' has no fixations (use box 'map')`);
  const g = method === 'guided' ? resolveGuided(opts.guided, fm.info.guided) : undefined;
  // The class map of 'guided', and whether CAM applies to this model at all: errors name the method and the model.
  const classMap = g ? guidedClassMap(fm, g.classMap, opts.layer) : undefined;
  if (method === 'cam') {
    try {
      classHead(fm);
    } catch (e) {
      throw new Error(`method 'cam' does not apply to model '${fm.info.id}': ${(e as Error).message}`);
    }
  }
  if (Array.isArray(opts.classIndex) && (opts.classIndex.length < 1 || opts.classIndex.length > CLASS_COLORS.length)) {
    throw new Error(`classIndex: give 1 to ${CLASS_COLORS.length} classes, got ${opts.classIndex.length}`);
  }
  const rules = resolveRules(opts.rules ?? g?.rules ?? 'default', opts.override, fm.info.rules);
  const post = { ...DEFAULT_POST, ...opts.post };
  const t: Record<string, number> = {};
  let t0 = performance.now();
  const lap = (k: string) => {
    const n = performance.now();
    t[k] = (t[k] ?? 0) + n - t0;
    t0 = n;
  };

  const { height: h, width: w, channels } = fm.input;
  let input: tf.Tensor4D, transform: PixelTransform;
  if (image.rank === 4) {
    if (image.shape[0] !== 1 || image.shape[1] !== h || image.shape[2] !== w || image.shape[3] !== channels) {
      throw new Error(`input tensor must be [1,${h},${w},${channels}] for model '${fm.info.id}', got [${image.shape}]`);
    }
    input = image as tf.Tensor4D;
    transform = {
      fit: 'crop',
      srcWidth: w,
      srcHeight: h,
      inputWidth: w,
      inputHeight: h,
      stepX: 1,
      stepY: 1,
      startX: 0,
      startY: 0,
    };
  } else {
    ({ input, transform } = fm.preprocess(image as tf.Tensor3D, opts.fit));
  }
  try {
    lap('preprocessMs');
    const fwd = await fm.forward(input);
    const top = fm.top(fwd.probs, 5);
    const wanted =
      opts.classIndex === undefined || opts.classIndex === 'top' ? [top[0].index] : [opts.classIndex].flat();
    const acts = new Map<string, Float32Array>();
    const unravelled = new Map<number, UnravelResult>();
    try {
      if (fixated && opts.unravel) {
        if (method === 'guided')
          for (const name of fm.graph.captures) acts.set(name, (await fwd.tensors.get(name)!.data()) as Float32Array);
        lap('forwardMs');
        for (const ci of wanted) unravelled.set(ci, await opts.unravel(fwd.tensors, ci, rules));
      } else {
        for (const name of fm.graph.captures) acts.set(name, (await fwd.tensors.get(name)!.data()) as Float32Array);
      }
    } finally {
      // The input placeholder is itself captured: disposed once, at the end (Grad-CAM by tf.grad still feeds it).
      disposeForward(fwd, [input]);
    }
    const gradLayer = method === 'gradcam' || classMap === 'gradcam' ? (opts.layer ?? gradCamLayer(fm)) : undefined;
    if (gradLayer && !acts.has(gradLayer)) {
      if (!fm.graph.byName.has(gradLayer))
        throw new Error(`Grad-CAM: layer '${gradLayer}' is not a node the logits '${fm.graph.logits}' depend on`);
      const a = fm.model.execute(input, gradLayer) as tf.Tensor;
      acts.set(gradLayer, (await a.data()) as Float32Array);
      a.dispose();
    }
    if (gradLayer && needsAutodiff(fm, gradLayer)) await loadGradients();
    if (!unravelled.size) lap('forwardMs'); // else lapped before the unravelling, which counts as unravelMs

    const { width, height } = opts.heatmapSize ?? { width: transform.srcWidth, height: transform.srcHeight };
    const sx = width / transform.srcWidth,
      sy = height / transform.srcHeight;
    const act = (n: string) => acts.get(n)!;
    const classes: ClassExplanation[] = [];
    for (const [i, ci] of wanted.entries()) {
      let layers: KeptLayer[] = [],
        inputFixations: InputFixation[] = [],
        fixations: Fixation[] = [],
        map: Float32Array;
      let layer: string | undefined;
      if (fixated) {
        ({ layers, inputFixations } = unravelled.get(ci) ?? unravelCpu(fm.graph, act, ci, rules));
        lap('unravelMs');
        fixations = toImagePoints(inputFixations, transform);
        if (post.outliers) fixations = removeOutliers(fixations, transform.srcWidth, transform.srcHeight);
        map = heatmap(
          fixations.map((p) => ({ x: p.x * sx, y: p.y * sy, w: p.w })),
          width,
          height,
          g ? g.sigma : post.sigma,
        );
        if (g)
          ({ heatmap: map, layer } = await guidedHeatmap(fm, act, ci, map, transform, width, height, g, {
            layer: gradLayer,
            input,
          }));
      } else {
        ({ heatmap: map, layer } = await baselineHeatmap(fm, act, ci, method, transform, width, height, {
          layer: gradLayer,
          input,
        }));
      }
      const [px, py] = peak(map, width);
      const cb = camBox(map, width, height);
      const camBoxImage: Box | null = cb && [cb[0] / sx, cb[1] / sy, cb[2] / sx, cb[3] / sy];
      lap('heatmapMs');
      classes.push({
        class: { index: ci, label: fm.info.labels[ci] ?? `class ${ci}`, prob: fwd.probs[ci] },
        color: CLASS_COLORS[i],
        layers: layers.map((l) => ({ name: l.name, count: l.indices.length })),
        kept: layers,
        inputFixations,
        fixations,
        ...chooseBox(boxSource, fixations, camBoxImage),
        camBox: camBoxImage,
        peak: [px / sx, py / sy],
        heatmap: { width, height, data: map },
        ...(layer ? { layer } : {}),
      });
    }
    t.totalMs = Object.values(t).reduce((a, b) => a + b, 0);
    return {
      ...classes[0],
      model: fm.info.id,
      method,
      top,
      rules,
      ...(g ? { guided: { ...g, classMap: classMap! } } : {}),
      classes,
      transform,
      timingsMs: t,
    };
  } finally {
    if (input !== image && !input.isDisposed) input.dispose();
  }
}

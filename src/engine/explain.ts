// explain(): preprocess -> forward with captures -> CPU unravelling -> image-space fixations, heatmap, box.
// The baselines (CAM, Grad-CAM, centre prior) share everything but the unravelling. Several classes share the
// forward pass; each gets its own fixations, heatmap and colour (CLASS_COLORS).
import * as tf from '@tensorflow/tfjs-core';
import { baselineHeatmap, gradCamLayer, loadGradients, needsAutodiff } from './baselines.ts';
import { disposeForward, type Fit, type FixationModel } from './model.ts';
import { camBox, CLASS_COLORS, DEFAULT_POST, heatmap, peak, removeOutliers, tightBox, toImagePoints, type Box, type PostOptions } from './post.ts';
import { unravelCpu, type UnravelResult } from './unravel.ts';
import { resolveRules, type Fixation, type InputFixation, type KeptLayer, type PixelTransform, type PresetName, type Rules, type TopClass } from './types.ts';

/** 'fixations' (this project) or a baseline to compare with. */
export type ExplainMethod = 'fixations' | 'cam' | 'gradcam' | 'center';
const METHODS: ExplainMethod[] = ['fixations', 'cam', 'gradcam', 'center'];

export interface ExplainOptions {
  /** Default 'fixations'. The baselines leave fixations/inputFixations/kept empty and set box = camBox. */
  method?: ExplainMethod;
  /**
   * 'top' (default) explains the top-1 class; a number explains that class index; a list explains each of them
   * (at most CLASS_COLORS.length), each with its own heatmap and colour in `classes`.
   */
  classIndex?: 'top' | number | number[];
  /** 'default' (the model's own default rules where the catalog gives them), 'reference', or a Rules object. */
  rules?: PresetName | Rules;
  /** Override single rules of the preset. */
  override?: Partial<Rules>;
  fit?: Fit;
  post?: Partial<PostOptions>;
  /** Heatmap size; default the image size (for a preprocessed tensor, the network input size). */
  heatmapSize?: { width: number; height: number };
  /** Grad-CAM only: the layer to differentiate at (a node name); default the last spatial layer (gradCamLayer). */
  layer?: string;
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
  /** Tight box around the fixations (the baselines: camBox), and the CAM-protocol box of the heatmap. */
  box: Box | null;
  camBox: Box | null;
  peak: [number, number];
  heatmap: { width: number; height: number; data: Float32Array };
  /** CAM / Grad-CAM: the layer of the map. */
  layer?: string;
}

/** The first explained class's fields at the top level (the single-class API), every class in `classes`. */
export interface Explanation extends ClassExplanation {
  model: string;
  method: ExplainMethod;
  top: TopClass[];
  rules: Rules;
  classes: ClassExplanation[];
  transform: PixelTransform;
  timingsMs: Record<string, number>;
}

/** Explain an image (H,W,3|4 values 0..255), or an already preprocessed network input [1,h,w,c]. */
export async function explain(
  fm: FixationModel, image: tf.Tensor3D | tf.Tensor4D, opts: ExplainOptions = {},
): Promise<Explanation> {
  const method = opts.method ?? 'fixations';
  if (!METHODS.includes(method)) throw new Error(`unknown method '${String(method)}' (known: ${METHODS.join(', ')})`);
  if (opts.layer !== undefined && method !== 'gradcam') throw new Error(`option 'layer' applies to method 'gradcam', not '${method}'`);
  if (Array.isArray(opts.classIndex) && (opts.classIndex.length < 1 || opts.classIndex.length > CLASS_COLORS.length)) {
    throw new Error(`classIndex: give 1 to ${CLASS_COLORS.length} classes, got ${opts.classIndex.length}`);
  }
  const rules = resolveRules(opts.rules ?? 'default', opts.override, fm.info.rules);
  const post = { ...DEFAULT_POST, ...opts.post };
  const t: Record<string, number> = {};
  let t0 = performance.now();
  const lap = (k: string) => { const n = performance.now(); t[k] = (t[k] ?? 0) + n - t0; t0 = n; };

  const { height: h, width: w, channels } = fm.input;
  let input: tf.Tensor4D, transform: PixelTransform;
  if (image.rank === 4) {
    if (image.shape[0] !== 1 || image.shape[1] !== h || image.shape[2] !== w || image.shape[3] !== channels) {
      throw new Error(`input tensor must be [1,${h},${w},${channels}] for model '${fm.info.id}', got [${image.shape}]`);
    }
    input = image as tf.Tensor4D;
    transform = { fit: 'crop', srcWidth: w, srcHeight: h, inputWidth: w, inputHeight: h, stepX: 1, stepY: 1, startX: 0, startY: 0 };
  } else {
    ({ input, transform } = fm.preprocess(image as tf.Tensor3D, opts.fit));
  }
  try {
    lap('preprocessMs');
    const fwd = await fm.forward(input);
    const top = fm.top(fwd.probs, 5);
    const wanted = opts.classIndex === undefined || opts.classIndex === 'top' ? [top[0].index] : [opts.classIndex].flat();
    const acts = new Map<string, Float32Array>();
    const unravelled = new Map<number, UnravelResult>();
    try {
      if (method === 'fixations' && opts.unravel) {
        lap('forwardMs');
        for (const ci of wanted) unravelled.set(ci, await opts.unravel(fwd.tensors, ci, rules));
      } else {
        for (const name of fm.graph.captures) acts.set(name, (await fwd.tensors.get(name)!.data()) as Float32Array);
      }
    } finally {
      // The input placeholder is itself captured: disposed once, at the end (Grad-CAM by tf.grad still feeds it).
      disposeForward(fwd, [input]);
    }
    const gradLayer = method === 'gradcam' ? (opts.layer ?? gradCamLayer(fm)) : undefined;
    if (gradLayer && !acts.has(gradLayer)) {
      if (!fm.graph.byName.has(gradLayer)) throw new Error(`Grad-CAM: layer '${gradLayer}' is not a node the logits '${fm.graph.logits}' depend on`);
      const a = fm.model.execute(input, gradLayer) as tf.Tensor;
      acts.set(gradLayer, (await a.data()) as Float32Array);
      a.dispose();
    }
    if (gradLayer && needsAutodiff(fm, gradLayer)) await loadGradients();
    if (!unravelled.size) lap('forwardMs'); // else lapped before the unravelling, which counts as unravelMs

    const { width, height } = opts.heatmapSize ?? { width: transform.srcWidth, height: transform.srcHeight };
    const sx = width / transform.srcWidth, sy = height / transform.srcHeight;
    const act = (n: string) => acts.get(n)!;
    const classes: ClassExplanation[] = [];
    for (const [i, ci] of wanted.entries()) {
      let layers: KeptLayer[] = [], inputFixations: InputFixation[] = [], fixations: Fixation[] = [], map: Float32Array;
      let layer: string | undefined;
      if (method === 'fixations') {
        ({ layers, inputFixations } = unravelled.get(ci) ?? unravelCpu(fm.graph, act, ci, rules));
        lap('unravelMs');
        fixations = toImagePoints(inputFixations, transform);
        if (post.outliers) fixations = removeOutliers(fixations, transform.srcWidth, transform.srcHeight);
        map = heatmap(fixations.map((p) => ({ x: p.x * sx, y: p.y * sy, w: p.w })), width, height, post.sigma);
      } else {
        ({ heatmap: map, layer } = await baselineHeatmap(fm, act, ci, method, transform, width, height, { layer: gradLayer, input }));
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
        box: method === 'fixations' ? tightBox(fixations) : camBoxImage,
        camBox: camBoxImage,
        peak: [px / sx, py / sy],
        heatmap: { width, height, data: map },
        ...(layer ? { layer } : {}),
      });
    }
    t.totalMs = Object.values(t).reduce((a, b) => a + b, 0);
    return { ...classes[0], model: fm.info.id, method, top, rules, classes, transform, timingsMs: t };
  } finally {
    if (input !== image && !input.isDisposed) input.dispose();
  }
}

// The explanation methods, their defaults and the guided method's knobs: one table of constants, read by the
// library (explain), the CLI, the worker (plan) and the element. Which box each method draws and the guided knobs
// are settings for the evaluation to choose (scripts/eval); a catalog model may name its own default method and
// guided knobs (its entry's "method" and "guided", chosen on its own tuning set), which win over these.
import type { PresetName } from './types.ts';

/**
 * 'fixations' (CNN Fixations), 'guided' (a class map times the fixations' density: src/engine/guided.ts), or a
 * baseline to compare with ('cam', 'gradcam', 'center').
 */
export type ExplainMethod = 'fixations' | 'guided' | 'cam' | 'gradcam' | 'center';
export const METHODS: readonly ExplainMethod[] = ['fixations', 'guided', 'cam', 'gradcam', 'center'];

/**
 * The method used when none is asked for and the model names none (its catalog entry's "method"; library, CLI,
 * worker, element, app). Each catalog model's own default is chosen by the evaluation (eval/results.md).
 */
export const DEFAULT_METHOD: ExplainMethod = 'fixations';

/** What a model may say of its explanation (catalog entry fields "method" and "guided"). */
export interface MethodFacts {
  /** Its default method; absent: DEFAULT_METHOD. */
  method?: ExplainMethod;
  /** Its guided knobs over GUIDED, chosen on its own tuning set. */
  guided?: Partial<GuidedOptions>;
}

/** The method of a request: the one asked for, else the model's own default, else DEFAULT_METHOD. */
export function methodFor(facts: MethodFacts, asked?: ExplainMethod): ExplainMethod {
  return asked ?? facts.method ?? DEFAULT_METHOD;
}

/**
 * Where a result's box comes from. 'fixations': the tight box of the whole fixation set after outlier removal (the
 * paper's box), none from fewer than MIN_BOX_POINTS points (src/engine/post.ts). 'map': the CAM protocol on the
 * method's own heatmap (threshold at 20% of the max, the largest connected component).
 */
export type BoxSource = 'fixations' | 'map';

/** Each method's box unless the caller asks for another (methods without fixations can only have 'map'). */
export const BOX_SOURCE: Record<ExplainMethod, BoxSource> = {
  fixations: 'fixations',
  guided: 'map',
  cam: 'map',
  gradcam: 'map',
  center: 'map',
};

/** The class map the guided method multiplies: 'auto' is CAM where the model's head allows it, else Grad-CAM. */
export type ClassMapKind = 'auto' | 'cam' | 'gradcam';

/** The guided method's knobs (see docs/guided.md). */
export interface GuidedOptions {
  /** heat = classMap x (epsilon + density), both normalised to max 1; 0 is the plain product. */
  epsilon: number;
  /**
   * The fixation rules feeding the density, unless the request gives `rules`: a preset name ('dense': the
   * authors' rules with every positive position of the global average pool).
   */
  rules: PresetName;
  /** Gaussian sigma of the fixations' density, a fraction of the image diagonal. */
  sigma: number;
  /** The class map; its layer (Grad-CAM only) is the request's `layer`, default gradCamLayer(). */
  classMap: ClassMapKind;
}

/**
 * Chosen on the synthetic tuning set only (never the test set or the photos): `npm run eval -- --explore-guided`,
 * SqueezeNet, 111 variants of class map x epsilon x rules x sigma, the winner by the mean rank over pointing, energy,
 * localization and deletion among those passing the sanity check (eval/results.md, "Guided family search"). The
 * first values (issue 18's lead, epsilon 0.1, sigma 0.02) fragmented the map: 2 of 21 tuning boxes by the CAM
 * protocol, against 7 of 21 here and for CAM alone.
 */
export const GUIDED: GuidedOptions = { epsilon: 0, rules: 'dense', sigma: 0.08, classMap: 'auto' };

/**
 * The guided options in effect: GUIDED, then the model's own knobs (`model`, its catalog "guided"), then a request's
 * overrides, checked; errors name the option and the value.
 */
export function resolveGuided(over: Partial<GuidedOptions> = {}, model: Partial<GuidedOptions> = {}): GuidedOptions {
  const set = (o: Partial<GuidedOptions>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const g = { ...GUIDED, ...set(model), ...set(over) } as GuidedOptions;
  if (!(typeof g.epsilon === 'number' && g.epsilon >= 0 && Number.isFinite(g.epsilon)))
    throw new Error(`guided.epsilon=${g.epsilon} must be a number >= 0`);
  if (!(typeof g.sigma === 'number' && g.sigma > 0 && g.sigma < 1))
    throw new Error(`guided.sigma=${g.sigma} must be a number in (0, 1)`);
  if (!['auto', 'cam', 'gradcam'].includes(g.classMap))
    throw new Error(`guided.classMap='${g.classMap}' is not one of auto, cam, gradcam`);
  return g;
}

/** A model's method facts, checked (at load, so that a bad catalog entry fails there and names the field). */
export function checkMethodFacts(facts: MethodFacts): void {
  if (facts.method !== undefined && !METHODS.includes(facts.method))
    throw new Error(`its default method: ${unknownMethod(facts.method).message}`);
  if (facts.guided !== undefined) {
    if (typeof facts.guided !== 'object' || facts.guided === null)
      throw new Error(`its guided knobs must be an object, got ${JSON.stringify(facts.guided)}`);
    const known = ['epsilon', 'rules', 'sigma', 'classMap'];
    const extra = Object.keys(facts.guided).find((k) => !known.includes(k));
    if (extra) throw new Error(`its guided knobs: '${extra}' is not one of ${known.join(', ')}`);
    try {
      resolveGuided({}, facts.guided);
    } catch (e) {
      throw new Error(`its guided knobs: ${(e as Error).message}`);
    }
  }
}

/** The error for a method name that is not one of `known`. */
export function unknownMethod(method: unknown, known: readonly string[] = METHODS): Error {
  return new Error(`unknown method '${String(method)}' (known: ${known.join(', ')})`);
}

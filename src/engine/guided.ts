// The guided method (the idea of Guided Grad-CAM, with fixations in place of guided backpropagation): a class map
// (CAM, or Grad-CAM where CAM does not apply) carries the class evidence and passes the sanity check; the density
// of the fixations carries the fine location. heat = classMap x (epsilon + density), normalised to max 1; the
// fixation points are still drawn. Knobs: GUIDED in src/engine/methods.ts; docs/guided.md.
import { baselineHeatmap, classHead, type GradCamOptions } from './baselines.ts';
import type { ClassMapKind, GuidedOptions } from './methods.ts';
import type { FixationModel } from './model.ts';
import type { PixelTransform } from './types.ts';
import type { Activations } from './unravel.ts';

/**
 * classMap x (epsilon + density) per pixel, normalised to max 1 (both maps width x height, each normalised to max 1;
 * negative values count as 0). The sum is rounded to f32 before the product, as its WGSL twin (GUIDED_WGSL) does.
 */
export function guidedMap(classMap: Float32Array, density: Float32Array, epsilon: number): Float32Array {
  if (classMap.length !== density.length)
    throw new Error(`guided: class map has ${classMap.length} values, density ${density.length}`);
  const e = Math.fround(epsilon);
  const out = new Float32Array(classMap.length);
  let max = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = Math.max(classMap[i], 0) * Math.fround(e + Math.max(density[i], 0));
    if (out[i] > max) max = out[i];
  }
  if (max > 0) for (let i = 0; i < out.length; i++) out[i] /= max;
  return out;
}

/**
 * The share of the guided map's maximum below which the map does not back a fixation: the CAM protocol's
 * threshold (camBox). The overlay draws such a point faint. Under the dense rules the fixations cover the whole
 * picture; the class map says which of them carry the class (on the six boxed photos, SqueezeNet: 55% of all
 * points inside the object's box, 74% of the backed ones).
 */
export const BACKED = 0.2;
/** The opacity of a fixation its guided map does not back, in the app's overlay and the CLI's picture. */
export const FAINT = 0.3;

/**
 * Per point (frame pixels of a frameW x frameH frame), whether the guided map (mapW x mapH over the same frame,
 * normalised to max 1) is at least BACKED there, at the map cell the point falls in.
 */
export function backedPoints(
  points: readonly { x: number; y: number }[],
  map: Float32Array,
  mapW: number,
  mapH: number,
  frameW: number,
  frameH: number,
): boolean[] {
  if (map.length !== mapW * mapH) throw new Error(`backedPoints: map has ${map.length} values, not ${mapW}x${mapH}`);
  return points.map(({ x, y }) => {
    const mx = Math.min(mapW - 1, Math.max(0, Math.floor(((x + 0.5) * mapW) / frameW)));
    const my = Math.min(mapH - 1, Math.max(0, Math.floor(((y + 0.5) * mapH) / frameH)));
    return map[my * mapW + mx] >= BACKED;
  });
}

/**
 * WGSL twin of guidedMap() for GpuHeatmap (src/gpu/heatmap.ts; needs HEATMAP_WGSL's bindings): after the density's
 * splat/blur and a reduce_max (its max in stats[0]), `guide` turns img into guide x (epsilon + img / max), then
 * `restart_max` clears the max and argmax so that reduce_max, argmax and normalise run again on the product.
 */
export const GUIDED_WGSL = /* wgsl */ `
@group(0) @binding(7) var<storage, read> guide: array<f32>;
@compute @workgroup_size(64)
fn guide_product(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) n: vec3u) {
  let i = gidx(id, n);
  if (i >= P.width * P.height) { return; }
  let m = bitcast<f32>(atomicLoad(&stats[0]));
  var d = 0.0;
  if (m > 0.0) { d = max(img[i], 0.0) / m; }
  img[i] = max(guide[i], 0.0) * (P.epsilon + d);
}
@compute @workgroup_size(1)
fn restart_max() {
  atomicStore(&stats[0], 0u);
  atomicStore(&stats[1], 0xffffffffu);
}
`;

/**
 * The class map the guided method uses for this model: CAM where the head allows it ('auto'), Grad-CAM otherwise or
 * when asked for (or when a layer is given). An error names the method and the model when CAM is asked for and
 * does not apply.
 */
export function guidedClassMap(fm: FixationModel, kind: ClassMapKind, layer?: string): 'cam' | 'gradcam' {
  if (layer !== undefined) {
    if (kind === 'cam')
      throw new Error(
        `method 'guided': option 'layer' applies to the Grad-CAM class map, not classMap 'cam' (model '${fm.info.id}')`,
      );
    return 'gradcam';
  }
  if (kind === 'gradcam') return 'gradcam';
  try {
    classHead(fm);
    return 'cam';
  } catch (e) {
    if (kind === 'cam')
      throw new Error(
        `method 'guided' with classMap 'cam' does not apply to model '${fm.info.id}': ${(e as Error).message}`,
      );
    return 'gradcam';
  }
}

/**
 * The guided heatmap of class `c`: the class map (guidedClassMap) upsampled to width x height, times
 * (epsilon + density), density a width x height map normalised to max 1 (heatmap() of the fixations at g.sigma).
 */
export async function guidedHeatmap(
  fm: FixationModel,
  act: Activations,
  c: number,
  density: Float32Array,
  t: PixelTransform,
  width: number,
  height: number,
  g: GuidedOptions,
  gradcam: GradCamOptions = {},
): Promise<{ heatmap: Float32Array; layer?: string; classMap: 'cam' | 'gradcam' }> {
  const classMap = guidedClassMap(fm, g.classMap, gradcam.layer);
  const cm = await baselineHeatmap(fm, act, c, classMap, t, width, height, gradcam);
  return { heatmap: guidedMap(cm.heatmap, density, g.epsilon), layer: cm.layer, classMap };
}

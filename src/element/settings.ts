// What the user (or the page's URL) chose: the explain request and the camera, in one place.
import type { Colormap, ExplainRequest, Method, OverlayOptions } from '../worker/api.ts';
import type { PresetName } from '../engine/types.ts';
import { DEFAULT_METHOD } from '../engine/methods.ts';
import type { Resolution } from '../camera/camera.ts';

/** A method, or 'auto': the model's own default (InitInfo.method: its catalog "method", else DEFAULT_METHOD). */
export type MethodChoice = Method | 'auto';

/** The method a choice runs on a model whose default is `modelMethod` (unknown yet: DEFAULT_METHOD). */
export const effectiveMethod = (choice: MethodChoice, modelMethod?: Method): Method =>
  choice === 'auto' ? (modelMethod ?? (DEFAULT_METHOD as Method)) : choice;

export interface Settings {
  /** Empty: explain the top-1 class, whatever it is. Otherwise these classes, one colour each. */
  classes: number[];
  rules: PresetName;
  method: MethodChoice;
  fit: 'crop' | 'letterbox';
  points: boolean;
  heatmap: boolean;
  box: boolean;
  colormap: Colormap;
  opacity: number;
  smooth: boolean;
  /** Layer view: a layer name, or undefined for the pixels (the fixations). */
  layer?: string;
  resolution: Resolution;
  facingMode: 'environment' | 'user';
  deviceId?: string;
  /** Halve the camera's frame-rate target. */
  savePower: boolean;
}

/** EMA factor when smoothing is on: half the previous heatmap, half the new one. */
export const SMOOTHING = 0.5;

export const DEFAULTS: Settings = {
  classes: [],
  rules: 'default',
  method: 'auto',
  fit: 'crop',
  points: true,
  heatmap: true,
  box: true,
  colormap: 'turbo',
  opacity: 0.6,
  smooth: true,
  resolution: '720p',
  facingMode: 'environment',
  savePower: false,
};

/** The request for these settings; `modelMethod` is the loaded model's default (InitInfo.method), for 'auto'. */
export function explainRequest(s: Settings, still: boolean, modelMethod?: Method): ExplainRequest {
  const method = effectiveMethod(s.method, modelMethod);
  const overlay: OverlayOptions = {
    points: s.points,
    heatmap: s.heatmap,
    box: s.box,
    colormap: s.colormap,
    opacity: s.opacity,
    // A still picture is explained once: nothing to smooth over, and the previous picture must not bleed in.
    smoothing: s.smooth && !still ? SMOOTHING : 0,
    // The layer view shows kept neurons, which only the fixations method has.
    layer: method === 'fixations' ? s.layer : undefined,
  };
  return {
    classes: s.classes.length === 0 ? 'top' : s.classes.length === 1 ? s.classes[0] : s.classes,
    // The rules apply to the fixations method; 'guided' feeds its density with its own (GUIDED.rules).
    rules: method === 'fixations' ? s.rules : undefined,
    method,
    fit: s.fit,
    overlay,
    withLayers: overlay.layer !== undefined,
  };
}

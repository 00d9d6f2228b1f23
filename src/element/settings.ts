// What the user (or the page's URL) chose: the explain request and the camera, in one place.
import type { Colormap, ExplainRequest, Method, OverlayOptions } from '../worker/api.ts';
import type { PresetName } from '../engine/types.ts';
import { DEFAULT_METHOD } from '../engine/methods.ts';
import type { Resolution } from '../camera/camera.ts';

export interface Settings {
  /** Empty: explain the top-1 class, whatever it is. Otherwise these classes, one colour each. */
  classes: number[];
  rules: PresetName;
  method: Method;
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
}

/** EMA factor when smoothing is on: half the previous heatmap, half the new one. */
export const SMOOTHING = 0.5;

export const DEFAULTS: Settings = {
  classes: [], rules: 'default', method: DEFAULT_METHOD as Method, fit: 'crop',
  points: true, heatmap: true, box: true, colormap: 'turbo', opacity: 0.6, smooth: true,
  resolution: '720p', facingMode: 'environment',
};

export function explainRequest(s: Settings, still: boolean): ExplainRequest {
  const overlay: OverlayOptions = {
    points: s.points, heatmap: s.heatmap, box: s.box, colormap: s.colormap, opacity: s.opacity,
    // A still picture is explained once: nothing to smooth over, and the previous picture must not bleed in.
    smoothing: s.smooth && !still ? SMOOTHING : 0,
    // The layer view shows kept neurons, which only the fixations method has.
    layer: s.method === 'fixations' ? s.layer : undefined,
  };
  return {
    classes: s.classes.length === 0 ? 'top' : s.classes.length === 1 ? s.classes[0] : s.classes,
    // The rules apply to the fixations method; 'guided' feeds its density with its own (GUIDED.rules).
    rules: s.method === 'fixations' ? s.rules : undefined,
    method: s.method,
    fit: s.fit,
    overlay,
    withLayers: overlay.layer !== undefined,
  };
}

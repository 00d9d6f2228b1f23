// How <cnn-fixations> reads its attributes: pure functions, shared by the element and its unit tests.
import { BINARY_CLASSES, type BinaryClass } from '../engine/types.ts';
import type { EngineOptions } from './worker-client.ts';

/**
 * "top" (or nothing): the top-1 class; "335" or "879, 335": these classes; "present" / "absent": the two classes of
 * a one-logit sigmoid head (0 and 1). Anything else is named in the error.
 */
export function parseClasses(v: string | null): number[] {
  if (!v || v.trim() === '' || v.trim() === 'top') return [];
  const parts = v.split(/[\s,]+/).filter(Boolean);
  const out = parts.map((p) => BINARY_CLASSES[p.toLowerCase() as BinaryClass] ?? Number(p));
  const bad = parts.find((p, i) => !Number.isInteger(out[i]) || out[i] < 0);
  if (bad !== undefined)
    throw new Error(
      `classes '${v}': '${bad}' is not a class index (use "top", indices such as "879,335", or "present" / "absent")`,
    );
  return out;
}

/** Overlay switches default to on: only "false", "off" or "0" turns one off. */
export const parseFlag = (v: string | null) => !(v !== null && /^(false|off|0)$/i.test(v.trim()));

/** A catalog id is a plain name; anything with a slash, a colon or ending in .json / .onnx is a model URL (relative to `base`). */
export function modelSource(model: string | undefined, base: string): Pick<EngineOptions, 'modelId' | 'modelUrl'> {
  const m = model?.trim();
  if (!m) return {};
  return /[/:]|\.(json|onnx)$/.test(m) ? { modelUrl: new URL(m, base).href } : { modelId: m };
}

/** Values the element accepts for its enumerated properties; anything else is named and the default used. */
export const CHOICES = {
  method: ['auto', 'fixations', 'guided', 'cam', 'gradcam'],
  rules: ['default', 'reference', 'dense'],
  fit: ['crop', 'letterbox'],
  backend: ['auto', 'webgpu', 'fallback'],
} as const;

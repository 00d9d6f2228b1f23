// From fixations to what is drawn: outlier removal, Gaussian heatmap, and the box (tight, or the CAM protocol).
import type { Fixation, InputFixation, PixelTransform } from './types.ts';

export interface PostOptions {
  /** Drop isolated points (the authors' rule). */
  outliers: boolean;
  /** Gaussian sigma as a fraction of the image diagonal. */
  sigma: number;
}
export const DEFAULT_POST: PostOptions = { outliers: true, sigma: 0.03 };

/** Network-input fixations -> one point per pixel (weights summed over channels) in image coordinates. */
export function toImagePoints(fix: InputFixation[], t: PixelTransform): Fixation[] {
  const byPixel = new Map<number, Fixation>();
  for (const f of fix) {
    const key = f.y * t.size + f.x;
    const p = byPixel.get(key);
    if (p) p.w += f.w;
    else byPixel.set(key, { x: f.x * t.stepX + t.startX, y: f.y * t.stepY + t.startY, w: f.w });
  }
  return [...byPixel.values()];
}

/** Keep a point if more than 5% of all points lie within 10% of the diagonal of it; if none would, keep all. */
export function removeOutliers(points: Fixation[], width: number, height: number): Fixation[] {
  const r2 = (0.1 * Math.hypot(width, height)) ** 2;
  const need = 0.05 * points.length;
  const kept = points.filter((p) => {
    let n = 0;
    for (const q of points) if ((p.x - q.x) ** 2 + (p.y - q.y) ** 2 <= r2 && ++n > need) return true;
    return false;
  });
  return kept.length ? kept : points;
}

/** Splat each point's weight, blur with a separable Gaussian, normalise to max 1. Row-major width x height. */
export function heatmap(points: Fixation[], width: number, height: number, sigmaFrac = DEFAULT_POST.sigma): Float32Array {
  const img = new Float32Array(width * height);
  for (const p of points) {
    const x = Math.round(p.x), y = Math.round(p.y);
    if (x >= 0 && x < width && y >= 0 && y < height) img[y * width + x] += p.w;
  }
  const sigma = Math.max(sigmaFrac * Math.hypot(width, height), 0.5);
  const k = gaussianKernel(sigma);
  if (points.length * k.length < 2 * width * height) {
    // Few points: adding each point's kernel gives the same sums as blurring the whole image, far cheaper.
    const r = (k.length - 1) / 2;
    const out = new Float32Array(width * height);
    for (const p of points) {
      const x = Math.round(p.x), y = Math.round(p.y);
      if (x < 0 || x >= width || y < 0 || y >= height) continue;
      for (let v = Math.max(0, y - r); v <= Math.min(height - 1, y + r); v++) {
        const wy = p.w * k[v - y + r];
        for (let u = Math.max(0, x - r); u <= Math.min(width - 1, x + r); u++) out[v * width + u] += wy * k[u - x + r];
      }
    }
    img.set(out);
  } else {
    const tmp = new Float32Array(width * height);
    blur1d(img, tmp, width, height, k, 1, width); // rows
    blur1d(tmp, img, height, width, k, width, 1); // columns
  }
  let max = 0;
  for (const v of img) if (v > max) max = v;
  if (max > 0) for (let i = 0; i < img.length; i++) img[i] /= max;
  return img;
}

export function gaussianKernel(sigma: number): Float32Array {
  const r = Math.ceil(3 * sigma);
  const k = Float32Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const s = k.reduce((a, b) => a + b, 0);
  return k.map((v) => v / s);
}

/** 1-D convolution along one axis (zero outside); `step` walks along the line, `stride` between lines. */
function blur1d(src: Float32Array, dst: Float32Array, len: number, lines: number, k: Float32Array, step: number, stride: number) {
  const r = (k.length - 1) / 2;
  for (let l = 0; l < lines; l++) {
    const o = l * stride;
    for (let i = 0; i < len; i++) {
      let s = 0;
      for (let j = Math.max(0, i - r); j <= Math.min(len - 1, i + r); j++) s += src[o + j * step] * k[j - i + r];
      dst[o + i * step] = s;
    }
  }
}

export type Box = [number, number, number, number];

/** Tight box around the points. */
export function tightBox(points: Fixation[]): Box | null {
  if (!points.length) return null;
  const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

/** CAM protocol: threshold at `thr` of the max, box the largest 8-connected component. */
export function camBox(map: Float32Array, width: number, height: number, thrFrac = 0.2): Box | null {
  let max = 0;
  for (const v of map) if (v > max) max = v;
  const thr = thrFrac * max;
  const label = new Int32Array(map.length).fill(-1);
  let best: Box | null = null;
  let bestSize = 0;
  const stack: number[] = [];
  for (let s = 0; s < map.length; s++) {
    if (label[s] >= 0 || map[s] < thr || map[s] <= 0) continue;
    let size = 0, x1 = width, y1 = height, x2 = -1, y2 = -1;
    label[s] = s;
    stack.push(s);
    while (stack.length) {
      const i = stack.pop()!;
      const x = i % width, y = (i - x) / width;
      size++;
      if (x < x1) x1 = x; if (x > x2) x2 = x; if (y < y1) y1 = y; if (y > y2) y2 = y;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
        const nx = x + dx, ny = y + dy;
        if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
        const j = ny * width + nx;
        if (label[j] < 0 && map[j] >= thr && map[j] > 0) { label[j] = s; stack.push(j); }
      }
    }
    if (size > bestSize) { bestSize = size; best = [x1, y1, x2, y2]; }
  }
  return best;
}

/** Position of the maximum. */
export function peak(map: Float32Array, width: number): [number, number] {
  let b = 0;
  for (let i = 1; i < map.length; i++) if (map[i] > map[b]) b = i;
  return [b % width, Math.floor(b / width)];
}

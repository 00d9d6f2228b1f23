// Localization and faithfulness metrics on heatmaps (row-major width x height, image pixels).
// Boxes are inclusive pixel boxes [x1, y1, x2, y2], like camBox and eval/boxes.json.
import type { Box } from '../../src/engine/post.ts';

/** Distance in pixels from (x, y) to the box (0 inside). */
export function distanceToBox(x: number, y: number, b: Box): number {
  const dx = Math.max(b[0] - x, 0, x - b[2]);
  const dy = Math.max(b[1] - y, 0, y - b[3]);
  return Math.hypot(dx, dy);
}

/** Position of the first maximum. */
export function argmax2d(map: Float32Array, width: number): [number, number] {
  let b = 0;
  for (let i = 1; i < map.length; i++) if (map[i] > map[b]) b = i;
  return [b % width, Math.floor(b / width)];
}

/** Pointing game (Zhang et al. 2016): hit if the heatmap maximum lies within `tol` pixels of the box. */
export function pointingHit(map: Float32Array, width: number, box: Box, tol = 15): boolean {
  const [x, y] = argmax2d(map, width);
  return distanceToBox(x, y, box) <= tol;
}

/** Energy-based pointing game (Wang et al., Score-CAM): share of the heatmap mass inside the box. */
export function energyShare(map: Float32Array, width: number, box: Box): number {
  let inside = 0,
    total = 0;
  const height = map.length / width;
  for (let y = 0; y < height; y++) {
    const inY = y >= box[1] && y <= box[3];
    for (let x = 0; x < width; x++) {
      const v = map[y * width + x];
      total += v;
      if (inY && x >= box[0] && x <= box[2]) inside += v;
    }
  }
  return total > 0 ? inside / total : 0;
}

/** Intersection over union of two inclusive pixel boxes. */
export function iou(a: Box, b: Box): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]) + 1;
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]) + 1;
  const inter = w > 0 && h > 0 ? w * h : 0;
  const area = (r: Box) => (r[2] - r[0] + 1) * (r[3] - r[1] + 1);
  return inter / (area(a) + area(b) - inter);
}

/** Area under a curve sampled at n+1 equally spaced points of [0, 1] (trapezoids). */
export function auc(ys: ArrayLike<number>): number {
  const n = ys.length - 1;
  if (n < 1) throw new Error('auc needs at least two points');
  let s = 0;
  for (let i = 0; i < n; i++) s += (ys[i] + ys[i + 1]) / 2;
  return s / n;
}

/** Ranks 1..n, ties get their average rank. */
export function ranks(v: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[a] - v[b]);
  const r = new Float64Array(v.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && v[idx[j + 1]] === v[idx[i]]) j++;
    for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

/** Spearman rank correlation; NaN when either input is constant. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`spearman: lengths differ (${a.length} vs ${b.length})`);
  const ra = ranks(a),
    rb = ranks(b);
  const n = ra.length,
    m = (n + 1) / 2;
  let sab = 0,
    saa = 0,
    sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = ra[i] - m,
      db = rb[i] - m;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : NaN;
}

/** Every 4th pixel in both directions (enough for a rank correlation of smooth maps, 16x cheaper). */
export function every4(map: Float32Array, width: number): Float32Array {
  const height = map.length / width;
  const out: number[] = [];
  for (let y = 0; y < height; y += 4) for (let x = 0; x < width; x += 4) out.push(map[y * width + x]);
  return Float32Array.from(out);
}

export function mean(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  return v.length ? s / v.length : NaN;
}

/** Wilson score interval (95%) of a proportion of k successes in n. */
export function wilson(k: number, n: number, z = 1.96): [number, number] {
  if (!n) return [NaN, NaN];
  const p = k / n,
    z2 = z * z;
  const c = (p + z2 / (2 * n)) / (1 + z2 / n);
  const h = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return [Math.max(0, c - h), Math.min(1, c + h)];
}

/** Bootstrap resamples over images: the same index draws for every method (paired), seeded. */
export function bootstrapIndices(n: number, resamples = 2000, seed = 12345): Int32Array[] {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: resamples }, () => Int32Array.from({ length: n }, () => Math.floor(rand() * n)));
}

/** 95% percentile bootstrap interval of the mean of `v` (or of the paired difference v - w) over the resamples. */
export function bootstrapMean(
  v: ArrayLike<number>,
  draws: Int32Array[],
  w?: ArrayLike<number>,
): { mean: number; lo: number; hi: number } {
  const n = v.length;
  if (!n) return { mean: NaN, lo: NaN, hi: NaN };
  const d = Float64Array.from({ length: n }, (_, i) => v[i] - (w ? w[i] : 0));
  const means = Float64Array.from(draws, (idx) => {
    if (idx.length !== n) throw new Error(`bootstrapMean: ${n} values, resamples of ${idx.length}`);
    let s = 0;
    for (let i = 0; i < n; i++) s += d[idx[i]];
    return s / n;
  }).sort();
  const q = (p: number) => means[Math.min(means.length - 1, Math.max(0, Math.round(p * (means.length - 1))))];
  return { mean: mean(d), lo: q(0.025), hi: q(0.975) };
}

// From fixations to what is drawn: outlier removal, Gaussian heatmap, and the box (tight, or the CAM protocol).
import { overlayAlpha } from './colormap.ts';
import type { Fixation, InputFixation, PixelTransform } from './types.ts';

export interface PostOptions {
  /** Drop isolated points (the authors' rule). */
  outliers: boolean;
  /** Gaussian sigma as a fraction of the image diagonal. */
  sigma: number;
}
export const DEFAULT_POST: PostOptions = { outliers: true, sigma: 0.02 };

/**
 * Network-input fixations -> one point per pixel (weights summed over channels) in image coordinates. Input pixels
 * that sample outside the photo (letterbox bars: cropAndResize extrapolates there) have no photo pixel and are dropped.
 */
export function toImagePoints(fix: InputFixation[], t: PixelTransform): Fixation[] {
  const byPixel = new Map<number, Fixation>();
  for (const f of fix) {
    const key = f.y * t.inputWidth + f.x;
    const p = byPixel.get(key);
    if (p) {
      p.w += f.w;
      continue;
    }
    const x = f.x * t.stepX + t.startX,
      y = f.y * t.stepY + t.startY;
    if (x >= 0 && x <= t.srcWidth - 1 && y >= 0 && y <= t.srcHeight - 1) byPixel.set(key, { x, y, w: f.w });
  }
  return [...byPixel.values()];
}

/**
 * WGSL twin of toImagePoints() (entry image_points of src/gpu/post.ts's POST_WGSL; bindings there): list entry i
 * (the unraveller's compact list: flat index, weight) becomes a point when it is the lowest index of its input pixel
 * (it then sums the weights of that pixel's entries) and its frame position lies in the photo; else invalid.
 */
export const TO_IMAGE_POINTS_WGSL = /* wgsl */ `
@compute @workgroup_size(64)
fn image_points(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i >= P.max_count) { return; }
  var pt = Point(vec2f(0.0), 0.0, 0u, 0u);
  let count = list_count();
  if (i < count) {
    let idx = list[2u + 2u * i];
    let pix = idx / P.channels;
    var owner = true;
    var w = 0.0;
    for (var j = 0u; j < count; j++) {
      let q = list[2u + 2u * j];
      if (q / P.channels != pix) { continue; }
      if (q < idx) { owner = false; break; }
      w += bitcast<f32>(list[3u + 2u * j]);
    }
    let p = vec2f(f32(pix % P.input_w), f32(pix / P.input_w)) * P.step + P.start;
    if (owner && all(p >= vec2f(0.0)) && all(p <= P.src - 1.0)) {
      pt = Point(p, w, 1u, 0u);
      atomicAdd(&stats[0], 1u);
      atomicMax(&stats[7], bitcast<u32>(w)); // weights are > 0: their bits order as the floats do
    }
  }
  points[i] = pt;
}
`;

/**
 * Keep a point if more than 5% of all points lie within 10% of the diagonal of it (inclusive); the point itself counts,
 * as in the authors' code, so below 20 points nothing is removed. If none would survive, keep all (the reference
 * divides by zero there). Pinned by tests/unit/post.test.ts.
 */
export function removeOutliers(points: Fixation[], width: number, height: number): Fixation[] {
  const r2 = outlierRadius2(width, height);
  const need = 0.05 * points.length;
  const kept = points.filter((p) => {
    let n = 0;
    for (const q of points) if ((p.x - q.x) ** 2 + (p.y - q.y) ** 2 <= r2 && ++n > need) return true;
    return false;
  });
  return kept.length ? kept : points;
}

/** removeOutliers()'s neighbourhood: within 10% of the image diagonal, squared. */
export function outlierRadius2(width: number, height: number): number {
  return (0.1 * Math.hypot(width, height)) ** 2;
}

/**
 * WGSL twin of removeOutliers() (src/gpu/post.ts runs it after image_points): each valid point counts the valid
 * points within the radius (inclusive, itself too) and is kept when 20 * count > points, i.e. count > 5% of the
 * points, in integers (the CPU's 0.05 * n rounds to the same threshold). "If none survive keep all" is kept_point()
 * (and final_count()).
 */
export const REMOVE_OUTLIERS_WGSL = /* wgsl */ `
@compute @workgroup_size(64)
fn remove_outliers(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i >= P.max_count || points[i].valid == 0u) { return; }
  let n = atomicLoad(&stats[0]);
  let count = list_count();
  var near = 0u;
  for (var j = 0u; j < count; j++) {
    if (points[j].valid == 0u) { continue; }
    let d = points[j].p - points[i].p;
    if (dot(d, d) <= P.radius2) { near++; }
  }
  if (20u * near > n) { points[i].kept = 1u; atomicAdd(&stats[1], 1u); }
}
fn kept_point(i: u32) -> bool { return points[i].valid == 1u && (points[i].kept == 1u || atomicLoad(&stats[1]) == 0u); }
fn final_count() -> u32 { let kept = atomicLoad(&stats[1]); return select(atomicLoad(&stats[0]), kept, kept > 0u); }
`;

/** Splat each point's weight, blur with a separable Gaussian, normalise to max 1. Row-major width x height. */
export function heatmap(
  points: Fixation[],
  width: number,
  height: number,
  sigmaFrac = DEFAULT_POST.sigma,
): Float32Array {
  const img = new Float32Array(width * height);
  for (const p of points) {
    const x = Math.round(p.x),
      y = Math.round(p.y);
    if (x >= 0 && x < width && y >= 0 && y < height) img[y * width + x] += p.w;
  }
  const sigma = Math.max(sigmaFrac * Math.hypot(width, height), 0.5);
  const k = gaussianKernel(sigma);
  if (points.length * k.length < 2 * width * height) {
    // Few points: adding each point's kernel gives the same sums as blurring the whole image, far cheaper.
    const r = (k.length - 1) / 2;
    const out = new Float32Array(width * height);
    for (const p of points) {
      const x = Math.round(p.x),
        y = Math.round(p.y);
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

/**
 * Live overlay: the heatmap is computed on a working grid with the longest side at most HEAT_GRID_MAX cells, then
 * bilinearly upsampled to the overlay. The map is a Gaussian blur with sigma = DEFAULT_POST.sigma (2%) of the
 * diagonal, about 5 cells on this grid: a cell of ~1/5 sigma loses nothing visible, and a 640x480 map costs ~10x less.
 */
export const HEAT_GRID_MAX = 200;

export interface Size {
  width: number;
  height: number;
}

/** The working grid of a width x height overlay (the same size when it is already small enough). */
export function heatGrid(width: number, height: number, max = HEAT_GRID_MAX): Size {
  const s = Math.min(1, max / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)) };
}

/** Points in `from` pixels -> `to` pixels, pixel centres onto pixel centres (as upsample() below aligns them). */
export function rescalePoints(points: Fixation[], from: Size, to: Size): Fixation[] {
  const kx = to.width / from.width,
    ky = to.height / from.height;
  return points.map((p) => ({ x: (p.x + 0.5) * kx - 0.5, y: (p.y + 0.5) * ky - 0.5, w: p.w }));
}

/**
 * Bilinear upsample of a gw x gh map to width x height: output pixel centre -> grid coordinate, clamped at the edges.
 * CPU twin of UPSAMPLE_WGSL (the overlay's fragment shader); the identity when the sizes are equal.
 */
export function upsample(map: Float32Array, gw: number, gh: number, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const v = Math.min(Math.max((y + 0.5) * (gh / height) - 0.5, 0), gh - 1);
    const y0 = Math.floor(v),
      y1 = Math.min(y0 + 1, gh - 1),
      fy = v - y0;
    for (let x = 0; x < width; x++) {
      const u = Math.min(Math.max((x + 0.5) * (gw / width) - 0.5, 0), gw - 1);
      const x0 = Math.floor(u),
        x1 = Math.min(x0 + 1, gw - 1),
        fx = u - x0;
      const top = map[y0 * gw + x0] * (1 - fx) + map[y0 * gw + x1] * fx;
      const bottom = map[y1 * gw + x0] * (1 - fx) + map[y1 * gw + x1] * fx;
      out[y * width + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** WGSL twin of upsample(): the four grid cells and weights for an output pixel centre `pos` of an overlay `size`. */
export const UPSAMPLE_WGSL = /* wgsl */ `
struct Taps { i: vec4u, f: vec2f }
fn upsample_taps(pos: vec2f, size: vec2f, grid: vec2u) -> Taps {
  let g = vec2f(grid);
  let uv = clamp(pos * (g / size) - 0.5, vec2f(0.0), g - 1.0);
  let p0 = vec2u(floor(uv));
  let p1 = min(p0 + 1u, grid - 1u);
  return Taps(vec4u(p0.y * grid.x + p0.x, p0.y * grid.x + p1.x, p1.y * grid.x + p0.x, p1.y * grid.x + p1.x), uv - floor(uv));
}
`;

export function gaussianKernel(sigma: number): Float32Array {
  const r = Math.ceil(3 * sigma);
  const k = Float32Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const s = k.reduce((a, b) => a + b, 0);
  return k.map((v) => v / s);
}

/** 1-D convolution along one axis (zero outside); `step` walks along the line, `stride` between lines. */
function blur1d(
  src: Float32Array,
  dst: Float32Array,
  len: number,
  lines: number,
  k: Float32Array,
  step: number,
  stride: number,
) {
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

/**
 * The splat step of heatmap() as data for the GPU: points rounded to pixels (Math.round, as above), in range,
 * weights merged per pixel so that the WGSL scatter below needs no atomics.
 */
export function splatPixels(
  points: Fixation[],
  width: number,
  height: number,
): { index: Uint32Array; weight: Float32Array } {
  const acc = new Map<number, number>();
  for (const p of points) {
    const x = Math.round(p.x),
      y = Math.round(p.y);
    if (x >= 0 && x < width && y >= 0 && y < height) acc.set(y * width + x, (acc.get(y * width + x) ?? 0) + p.w);
  }
  return { index: Uint32Array.from(acc.keys()), weight: Float32Array.from(acc.values()) };
}

/**
 * WGSL twin of rescalePoints() (frame -> heat grid) + the splat of heatmap() for the GPU post (src/gpu/post.ts):
 * heat_pixel() rounds a frame point onto the grid as Math.round does (-1 outside). Then, as encodePoints
 * chooses, with few points (fewer than the blur's 2 (2r + 1) taps per pixel) splat_kernels sums each point's kernel
 * per pixel (heatmap()'s per-point branch); otherwise splat_point() adds its weight to its pixel (points on one pixel
 * sum, as splatPixels merges them) for the blur passes, in fixed point so that the sum does not depend on the order
 * of the adds: units of 2^-s with 2^s = splat_scale(), chosen so that the largest possible pixel sum (kept points x
 * the largest weight) stays below 2^31; splat_finish() turns the sums back into floats. The choice is made on the
 * GPU (the point count is there): box_rects writes the indirect dispatch sizes of both.
 */
export const SPLAT_POINT_WGSL = /* wgsl */ `
fn heat_pixel(p: vec2f) -> vec2i {
  let q = floor((p + 0.5) * P.heat_scale - 0.5 + 0.5);
  if (any(q < vec2f(0.0)) || q.x >= f32(P.heat_w) || q.y >= f32(P.heat_h)) { return vec2i(-1); }
  return vec2i(q);
}
fn gather_kernels() -> bool { return final_count() < 2u * (2u * P.radius + 1u); }
fn splat_scale() -> f32 {
  let bound = f32(final_count()) * bitcast<f32>(atomicLoad(&stats[7]));
  return ldexp(1.0, 31 - frexp(max(bound, 1e-30)).exp); // bound < 2^exp: sums < 2^31
}
fn splat_point(p: vec2f, w: f32) {
  let q = heat_pixel(p);
  if (q.x < 0) { return; }
  atomicAdd(&img[u32(q.y) * P.heat_w + u32(q.x)], u32(round(w * splat_scale())));
}
@compute @workgroup_size(64)
fn splat_finish(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) n: vec3u) {
  let i = id.y * n.x * 64u + id.x;
  if (i >= P.heat_w * P.heat_h) { return; }
  atomicStore(&img[i], bitcast<u32>(f32(atomicLoad(&img[i])) / splat_scale()));
}
@compute @workgroup_size(64)
fn splat_kernels(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) n: vec3u) {
  let i = id.y * n.x * 64u + id.x;
  if (i >= P.heat_w * P.heat_h) { return; }
  let x = i32(i % P.heat_w);
  let y = i32(i / P.heat_w);
  let r = i32(P.radius);
  var s = 0.0;
  let count = list_count();
  for (var j = 0u; j < count; j++) {
    if (!kept_point(j)) { continue; }
    let q = heat_pixel(points[j].p);
    let d = vec2i(x, y) - q;
    if (q.x >= 0 && abs(d.x) <= r && abs(d.y) <= r) { s += points[j].w * kern[u32(d.y + r)] * kern[u32(d.x + r)]; }
  }
  atomicStore(&img[i], bitcast<u32>(s));
}
`;

/**
 * WGSL twin of heatmap() + peak(), run by src/gpu/heatmap.ts, one entry point per step, all on one bind group:
 * splat (scatter splatPixels) -> blur_rows, blur_cols (the separable gaussianKernel, zero outside), or, for few
 * points, splat_kernels (each pixel sums the points' kernels, as heatmap()'s per-point branch) -> reduce_max
 * (max as ordered u32 bits: heat is >= 0) -> argmax (first index holding the max, as peak()) -> normalise
 * (divide by the max, then the EMA over frames: heat = s * heat + (1 - s) * new; reset copies).
 * A CPU-made map (CAM, Grad-CAM) is written into `img` and enters at reduce_max. The guided method's product with a
 * class map (GUIDED_WGSL, src/engine/guided.ts; `epsilon` is its knob) runs between a first reduce_max and the rest.
 */
export const HEATMAP_WGSL = /* wgsl */ `
struct Params { width: u32, height: u32, radius: u32, count: u32, smoothing: f32, reset: u32, epsilon: f32, pad1: u32 }
struct Splat { pix: u32, w: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> points: array<Splat>;
@group(0) @binding(2) var<storage, read> kern: array<f32>;
@group(0) @binding(3) var<storage, read_write> img: array<f32>;
@group(0) @binding(4) var<storage, read_write> tmp: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<atomic<u32>, 2>;
@group(0) @binding(6) var<storage, read_write> heat: array<f32>;

// Flat invocation index over a 2-D dispatch of 64-wide workgroups (large images exceed 65535 workgroups in x).
fn gidx(id: vec3u, n: vec3u) -> u32 { return id.y * n.x * 64u + id.x; }

@compute @workgroup_size(64)
fn splat(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) n: vec3u) {
  let i = gidx(id, n);
  if (i < P.count) { img[points[i].pix] = points[i].w; }
}

// Few points: each pixel adds w * k[dy] * k[dx] of the points within the kernel radius (no blur passes).
@compute @workgroup_size(64)
fn splat_kernels(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) n: vec3u) {
  let i = gidx(id, n);
  if (i >= P.width * P.height) { return; }
  let x = i32(i % P.width);
  let y = i32(i / P.width);
  let r = i32(P.radius);
  var s = 0.0;
  for (var j = 0u; j < P.count; j++) {
    let q = points[j].pix;
    let dx = x - i32(q % P.width);
    let dy = y - i32(q / P.width);
    if (abs(dx) <= r && abs(dy) <= r) { s += points[j].w * kern[u32(dy + r)] * kern[u32(dx + r)]; }
  }
  img[i] = s;
}

@compute @workgroup_size(64)
fn blur_rows(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) n: vec3u) {
  let i = gidx(id, n);
  if (i >= P.width * P.height) { return; }
  let x = i32(i % P.width);
  let row = i - u32(x);
  let r = i32(P.radius);
  var s = 0.0;
  for (var j = max(0, x - r); j <= min(i32(P.width) - 1, x + r); j++) { s += img[row + u32(j)] * kern[u32(j - x + r)]; }
  tmp[i] = s;
}

@compute @workgroup_size(64)
fn blur_cols(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) n: vec3u) {
  let i = gidx(id, n);
  if (i >= P.width * P.height) { return; }
  let y = i32(i / P.width);
  let col = i % P.width;
  let r = i32(P.radius);
  var s = 0.0;
  for (var j = max(0, y - r); j <= min(i32(P.height) - 1, y + r); j++) { s += tmp[u32(j) * P.width + col] * kern[u32(j - y + r)]; }
  img[i] = s;
}

var<workgroup> part: array<f32, 64>;
@compute @workgroup_size(64)
fn reduce_max(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) n: vec3u,
              @builtin(local_invocation_index) li: u32) {
  let i = gidx(id, n);
  var v = 0.0;
  if (i < P.width * P.height) { v = max(img[i], 0.0); }
  part[li] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (li < s) { part[li] = max(part[li], part[li + s]); }
    workgroupBarrier();
  }
  if (li == 0u) { atomicMax(&stats[0], bitcast<u32>(part[0])); }
}

@compute @workgroup_size(64)
fn argmax(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) n: vec3u) {
  let i = gidx(id, n);
  if (i < P.width * P.height && bitcast<u32>(max(img[i], 0.0)) == atomicLoad(&stats[0])) { atomicMin(&stats[1], i); }
}

@compute @workgroup_size(64)
fn normalise(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) n: vec3u) {
  let i = gidx(id, n);
  if (i >= P.width * P.height) { return; }
  let m = bitcast<f32>(atomicLoad(&stats[0]));
  var h = 0.0;
  if (m > 0.0) { h = max(img[i], 0.0) / m; }
  if (P.reset == 1u) { heat[i] = h; } else { heat[i] = P.smoothing * heat[i] + (1.0 - P.smoothing) * h; }
}
`;

export type Box = [number, number, number, number];

/** Tight box around the points. */
export function tightBox(points: Fixation[]): Box | null {
  if (!points.length) return null;
  const xs = points.map((p) => p.x),
    ys = points.map((p) => p.y);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

/**
 * The fewest points (distinct pixels, after outlier removal) a fixation box is drawn from. Below 20 points
 * removeOutliers() cannot drop any point (a point needs more than 5% of the points near it, itself included), so a
 * box would be stretched by any stray point, and on 1-3 points it is a sliver that spans no object.
 */
export const MIN_BOX_POINTS = Math.ceil(1 / 0.05);

/** The paper's box: tightBox() of the fixations after outlier removal; null below MIN_BOX_POINTS points. */
export function fixationBox(points: Fixation[]): Box | null {
  return points.length >= MIN_BOX_POINTS ? tightBox(points) : null;
}

/**
 * A result's box and which it is: 'fixations' (fixationBox of the points), 'map' (the CAM-protocol box of the
 * method's heatmap, given), or null when the chosen source gives none (too few points, an empty map).
 */
export function chooseBox(
  source: 'fixations' | 'map',
  fixations: Fixation[],
  mapBox: Box | null,
): { box: Box | null; boxSource: 'fixations' | 'map' | null } {
  const box = source === 'fixations' ? fixationBox(fixations) : mapBox;
  return { box, boxSource: box ? source : null };
}

/**
 * WGSL twin of tightBox() (src/gpu/post.ts): box_add() folds a point into stats[3..6] (min x, min y, max x, max y as
 * u32 bits: points in the photo are >= 0, whose bits order as the floats do; -0 is made +0), box_of() reads it.
 */
export const TIGHT_BOX_WGSL = /* wgsl */ `
fn box_add(p: vec2f) {
  let b = bitcast<vec2u>(p) & vec2u(0x7fffffffu);
  atomicMin(&stats[3], b.x); atomicMin(&stats[4], b.y);
  atomicMax(&stats[5], b.x); atomicMax(&stats[6], b.y);
}
fn box_of() -> vec4f {
  return bitcast<vec4f>(vec4u(atomicLoad(&stats[3]), atomicLoad(&stats[4]), atomicLoad(&stats[5]), atomicLoad(&stats[6])));
}
`;

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
    let size = 0,
      x1 = width,
      y1 = height,
      x2 = -1,
      y2 = -1;
    label[s] = s;
    stack.push(s);
    while (stack.length) {
      const i = stack.pop()!;
      const x = i % width,
        y = (i - x) / width;
      size++;
      if (x < x1) x1 = x;
      if (x > x2) x2 = x;
      if (y < y1) y1 = y;
      if (y > y2) y2 = y;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx,
            ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const j = ny * width + nx;
          if (label[j] < 0 && map[j] >= thr && map[j] > 0) {
            label[j] = s;
            stack.push(j);
          }
        }
    }
    if (size > bestSize) {
      bestSize = size;
      best = [x1, y1, x2, y2];
    }
  }
  return best;
}

/** The heat peak the live overlay reports: peak(heatmap()) of points already on the heat grid (CPU, a few points). */
export function heatPeak(points: Fixation[], heat: Size): [number, number] {
  return peak(heatmap(points, heat.width, heat.height, DEFAULT_POST.sigma), heat.width);
}

/** Position of the maximum. */
export function peak(map: Float32Array, width: number): [number, number] {
  let b = 0;
  for (let i = 1; i < map.length; i++) if (map[i] > map[b]) b = i;
  return [b % width, Math.floor(b / width)];
}

/**
 * One colour per explained class ('#rrggbb'), in request order: each class's points, box and, with several classes,
 * its hue in the per-class overlay (classOverlay). Distinct hues, readable on photos.
 */
export const CLASS_COLORS = ['#ff3b30', '#30d158', '#0a84ff', '#ffd60a', '#bf5af2', '#ff9f0a'] as const;

/** '#rrggbb' -> [r, g, b] in 0..255. */
export function hexRgb(hex: string): [number, number, number] {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new Error(`colour '${hex}' is not #rrggbb`);
  return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
}

/**
 * Per-class hue overlay of several heatmaps (each max 1, same size): every pixel takes the colour of the class whose
 * map is strongest there (the first on ties), with the alpha of that value (overlayAlpha: the low end transparent),
 * so the classes stay apart where they overlap instead of adding up. Straight alpha for ImageData (2D canvas, CLI);
 * premultiplied to compare with the WebGPU overlay (CLASS_OVERLAY_WGSL, its twin).
 */
export function classOverlay(
  maps: Float32Array[],
  colors: readonly string[],
  opacity: number,
  premultiplied = false,
): Uint8ClampedArray<ArrayBuffer> {
  if (maps.length > colors.length) throw new Error(`classOverlay: ${maps.length} maps but ${colors.length} colours`);
  const n = maps[0]?.length ?? 0;
  for (const m of maps) if (m.length !== n) throw new Error(`classOverlay: maps differ in size (${m.length} vs ${n})`);
  const rgb = maps.map((_, i) => hexRgb(colors[i]));
  const out = new Uint8ClampedArray(n * 4);
  for (let p = 0; p < n; p++) {
    let best = 0;
    for (let i = 1; i < maps.length; i++) if (maps[i][p] > maps[best][p]) best = i;
    const v = maps[best]?.[p] ?? 0;
    const a = overlayAlpha(v, opacity);
    const m = premultiplied ? a : 1;
    out[4 * p] = Math.round(rgb[best][0] * m);
    out[4 * p + 1] = Math.round(rgb[best][1] * m);
    out[4 * p + 2] = Math.round(rgb[best][2] * m);
    out[4 * p + 3] = Math.round(a * 255);
  }
  return out;
}

/**
 * WGSL twin of classOverlay() for one pixel (needs COLORMAP_WGSL's overlay_alpha): `values[k]` the k-th class's heat,
 * `colors[k]` its colour (0..1); the strongest class (first on ties) in its colour, premultiplied.
 */
export const CLASS_OVERLAY_WGSL = /* wgsl */ `
fn class_overlay(values: array<f32, ${CLASS_COLORS.length}>, colors: array<vec4f, ${CLASS_COLORS.length}>, count: u32, opacity: f32) -> vec4f {
  var v = values; // dynamic indexing through references
  var c = colors;
  var best = 0u;
  for (var k = 1u; k < count; k++) { if (v[k] > v[best]) { best = k; } }
  let a = overlay_alpha(v[best], opacity);
  return vec4f(c[best].rgb * a, a);
}
`;

// Post-processing (src/engine/post.ts) on hand-made points and maps; every expected value is worked out here by hand.
// The GPU heatmap reuses gaussianKernel(), so these hand values are what catches a wrong sigma or radius.
import { describe, expect, it } from 'vitest';
import {
  camBox,
  classOverlay,
  gaussianKernel,
  heatmap,
  peak,
  removeOutliers,
  tightBox,
} from '../../src/engine/post.ts';
import type { Fixation } from '../../src/engine/types.ts';

const pt = (x: number, y: number, w = 1): Fixation => ({ x, y, w });
/** 18 points in a 3x6 block around (26, 32): each has many neighbours within 5 px. */
const cluster = Array.from({ length: 18 }, (_, i) => pt(25 + (i % 3), 30 + Math.floor(i / 3)));

describe('REMOVE_OUTLIERS_WGSL integer threshold', () => {
  it('20 * near > n keeps exactly the points removeOutliers keeps (near > 0.05 * n in float64) for every list size', () => {
    // The GPU twin compares integers; the CPU rule multiplies by 0.05 (not exact in binary). For every list size up to
    // the fixation list's 2000 entries, both thresholds agree on every neighbour count.
    for (let n = 1; n <= 2000; n++)
      for (let near = 1; near <= n; near++)
        if (20 * near > n !== near > 0.05 * n) expect(`${near}/${n}`).toBe('agreeing');
  });
  it('on points: of 20, a point with one neighbour besides itself is kept (2 > 1), a point alone is not', () => {
    // 30x40: radius 5. 18 cluster points and two more far from it: 20 points, a point needs more than 1 (itself included).
    const pair = [...cluster, pt(2, 2), pt(2, 5)];
    expect(removeOutliers(pair, 30, 40)).toEqual(pair);
    const lone = [...cluster, pt(2, 2), pt(2, 25)];
    expect(removeOutliers(lone, 30, 40)).toEqual(cluster);
  });
});

describe("removeOutliers (the authors' rule: keep a point if more than 5% of all points lie within 10% of the diagonal)", () => {
  // A 30x40 image: diagonal 50, radius 5. The point itself counts as one of the points within the radius (as in the
  // authors' code), the radius is inclusive, and if no point survives all are kept (the reference divides by zero).
  it('counts the point itself: below 20 points nothing is removed', () => {
    // 19 points: 5% is 0.95, so the isolated (0,0) passes on itself alone. Without the self count it would go.
    const pts = [...cluster, pt(0, 0)];
    expect(removeOutliers(pts, 30, 40)).toEqual(pts);
  });

  it('from 20 points on, an isolated point is removed', () => {
    // 20 points: 5% is 1, so a point needs itself and one more within 5 px.
    const pts = [...cluster, pt(0, 0), pt(29, 0)];
    expect(removeOutliers(pts, 30, 40)).toEqual(cluster);
  });

  it('the radius is inclusive: a pair exactly 5 px apart stays, 5.01 px apart goes', () => {
    // (10,10)-(13,14): 3-4-5. 20 points: each of the pair has itself + the other = 2 > 1.
    expect(removeOutliers([...cluster, pt(10, 10), pt(13, 14)], 30, 40)).toEqual([...cluster, pt(10, 10), pt(13, 14)]);
    expect(removeOutliers([...cluster, pt(10, 10), pt(13, 14.01)], 30, 40)).toEqual(cluster);
  });

  it('"more than" 5%: 40 points need 3 within the radius (2 = 5% is not enough)', () => {
    const far = Array.from({ length: 18 }, (_, i) => pt(i, 39)); // a row of 18 at the bottom, 1 px apart
    const pair = [pt(5, 10), pt(8, 14)]; // 5 px apart: 2 each, not > 2
    const trio = [pt(20, 10), pt(20, 12)]; // 2 px apart, + (22,10) below: 3 each
    const pts = [...cluster.slice(0, 17), ...far, ...pair, ...trio, pt(22, 10)];
    expect(pts).toHaveLength(40);
    const kept = removeOutliers(pts, 30, 40);
    expect(kept).not.toContainEqual(pair[0]);
    expect(kept).not.toContainEqual(pair[1]);
    expect(kept).toContainEqual(trio[0]);
    expect(kept).toHaveLength(38);
  });

  it('keeps all points when none would survive', () => {
    // 20 points on a 6 px grid: no two within 5 px, so each has only itself (1, not > 1).
    const spread = Array.from({ length: 20 }, (_, i) => pt(6 * (i % 5), 6 * Math.floor(i / 5)));
    expect(removeOutliers(spread, 30, 40)).toEqual(spread);
    expect(removeOutliers([], 30, 40)).toEqual([]);
  });
});

describe('gaussianKernel', () => {
  it('sigma 1: radius 3 (ceil 3 sigma), exp(-i^2/2) normalised to sum 1', () => {
    const k = gaussianKernel(1);
    expect(k).toHaveLength(7);
    const raw = [4.5, 2, 0.5, 0, 0.5, 2, 4.5].map((e) => Math.exp(-e));
    const sum = 1 + 2 * (0.6065306597 + 0.1353352832 + 0.0111089965); // 2.5059498788
    raw.forEach((v, i) => expect(k[i]).toBeCloseTo(v / sum, 7));
    expect(k[3]).toBeCloseTo(0.3990502, 6);
  });

  it('sigma 1.1: radius ceil(3.3) = 4; the ratio of neighbours is exp(-1/(2 sigma^2))', () => {
    const k = gaussianKernel(1.1);
    expect(k).toHaveLength(9);
    expect(k.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(k[5] / k[4]).toBeCloseTo(Math.exp(-1 / 2.42), 6);
    expect(k[8] / k[4]).toBeCloseTo(Math.exp(-16 / 2.42), 6);
  });
});

describe('heatmap', () => {
  it('one point is exp(-d^2 / 2 sigma^2), sigma a fraction of the diagonal, cut at 3 sigma', () => {
    // 30x40: diagonal 50; sigmaFrac 0.04 -> sigma 2, radius 6. Point (9.6, 20.4) rounds to pixel (10, 20).
    const h = heatmap([pt(9.6, 20.4, 3)], 30, 40, 0.04);
    const at = (x: number, y: number) => h[y * 30 + x];
    expect(at(10, 20)).toBe(1);
    expect(at(11, 20)).toBeCloseTo(Math.exp(-1 / 8), 6);
    expect(at(13, 24)).toBeCloseTo(Math.exp(-25 / 8), 6);
    expect(at(16, 26)).toBeCloseTo(Math.exp(-72 / 8), 6); // dx = dy = 6: the kernel's last tap
    expect(at(17, 20)).toBe(0); // dx = 7 > radius
    expect(at(10, 13)).toBe(0);
  });

  it('the separable blur (many points per pixel) gives the same values as the per-point kernels', () => {
    // 2x2 with sigmaFrac 0.5: sigma = 0.5 * sqrt(8) = sqrt(2), radius 5, 11 taps >= 2 * 4 pixels: the blur branch.
    const h = heatmap([pt(0, 0)], 2, 2, 0.5);
    expect([...h].map((v) => +v.toFixed(6))).toEqual(
      [1, Math.exp(-1 / 4), Math.exp(-1 / 4), Math.exp(-2 / 4)].map((v) => +v.toFixed(6)),
    );
  });

  it('weights add, points outside are ignored, an empty map stays 0', () => {
    // Two points 10 px apart (beyond each other's radius 6), weights 1 and 3: normalised 1/3 and 1.
    const h = heatmap([pt(5, 5, 1), pt(15, 5, 3), pt(-1, 5, 100), pt(5, 40, 100)], 30, 40, 0.04);
    expect(h[5 * 30 + 5]).toBeCloseTo(1 / 3, 6);
    expect(h[5 * 30 + 15]).toBe(1);
    expect(Math.max(...heatmap([], 30, 40))).toBe(0);
  });
});

describe('boxes and peak', () => {
  it('tightBox: min and max of the points; none -> null', () => {
    expect(tightBox([pt(3, 9), pt(7.5, 2), pt(5, 4)])).toEqual([3, 2, 7.5, 9]);
    expect(tightBox([])).toBeNull();
  });

  // 6x4 map, max 10: threshold 2 (>= 2 is in). (0,0), (1,1), (2,2) touch only at corners: one 8-connected component
  // of 3, not three of 1. (3,2) = 1.99 is below. (5,0)-(5,1): a component of 2.
  const map = Float32Array.from([10, 0, 0, 0, 0, 3, 0, 2, 0, 0, 0, 3, 0, 0, 3, 1.99, 0, 0, 0, 0, 0, 0, 0, 0]);
  it('camBox: 20% of the max, 8-connected, the largest component', () => {
    expect(camBox(map, 6, 4)).toEqual([0, 0, 2, 2]);
    // At 30% the corner chain breaks (2 < 3): the 2-cell column is the largest.
    expect(camBox(map, 6, 4, 0.3)).toEqual([5, 0, 5, 1]);
    expect(camBox(new Float32Array(24), 6, 4)).toBeNull();
  });

  it('peak: the first pixel holding the max, as [x, y]', () => {
    expect(peak(map, 6)).toEqual([0, 0]);
    expect(peak(Float32Array.from([0, 1, 5, 2, 5, 0]), 3)).toEqual([2, 0]);
    expect(peak(Float32Array.from([0, 1, 2, 3, 9, 0]), 3)).toEqual([1, 1]);
  });
});

describe('classOverlay (several classes, one hue each)', () => {
  it('the strongest class (the first on ties) in its colour; alpha from its value; premultiplied on request', () => {
    // Heat 1 -> alpha = opacity 0.5; 0.175 -> alpha 0.5 * (0.175 - 0.05) / 0.25 = 0.25; 0.05 and below -> 0.
    const A = Float32Array.from([1, 0.175, 0, 0.3]),
      B = Float32Array.from([0.5, 0.1, 0.04, 0.3]);
    const colors = ['#ff0000', '#0080ff'];
    expect([...classOverlay([A, B], colors, 0.5)]).toEqual([
      255, 0, 0, 128, 255, 0, 0, 64, 0, 128, 255, 0, 255, 0, 0, 128,
    ]);
    expect([...classOverlay([A, B], colors, 0.5, true)]).toEqual([
      128, 0, 0, 128, 64, 0, 0, 64, 0, 0, 0, 0, 128, 0, 0, 128,
    ]);
    expect(() => classOverlay([A, B], ['#ff0000'], 0.5)).toThrow(/2 maps but 1 colours/);
    expect(() => classOverlay([A, Float32Array.from([1])], colors, 0.5)).toThrow(/maps differ in size/);
  });
});

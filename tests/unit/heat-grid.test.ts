// The live heatmap's working grid and its bilinear upsample (CPU twin of the overlay shader), worked out by hand.
import { describe, expect, it } from 'vitest';
import { heatGrid, HEAT_GRID_MAX, rescalePoints, upsample } from '../../src/engine/post.ts';

describe('heat grid', () => {
  it('caps the longest side, keeps the aspect, leaves small overlays alone', () => {
    expect(HEAT_GRID_MAX).toBe(200);
    expect(heatGrid(640, 480)).toEqual({ width: 200, height: 150 });
    expect(heatGrid(480, 640)).toEqual({ width: 150, height: 200 });
    expect(heatGrid(1920, 1080)).toEqual({ width: 200, height: 113 }); // 112.5 rounds up
    expect(heatGrid(64, 48)).toEqual({ width: 64, height: 48 });
    expect(heatGrid(4000, 10)).toEqual({ width: 200, height: 1 }); // never 0
  });

  it('maps pixel centres onto pixel centres and back', () => {
    const [p] = rescalePoints([{ x: 0, y: 9, w: 2 }], { width: 4, height: 10 }, { width: 2, height: 5 });
    expect(p).toEqual({ x: -0.25, y: 4.25, w: 2 }); // (0+0.5)/2-0.5, (9+0.5)/2-0.5
    const [q] = rescalePoints([{ x: 1, y: 4, w: 0 }], { width: 2, height: 5 }, { width: 4, height: 10 });
    expect(q).toEqual({ x: 2.5, y: 8.5, w: 0 }); // cell 1's centre spans frame pixels 2..3
  });

  it('upsamples bilinearly, clamped at the edges; same size is the identity', () => {
    // 2x1 -> 4x1: grid coordinates -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
    expect(Array.from(upsample(Float32Array.from([0, 1]), 2, 1, 4, 1))).toEqual([0, 0.25, 0.75, 1]);
    // 2x2 -> 3x3: the centre pixel is at grid (0.5, 0.5), the mean of the four cells.
    const m = upsample(Float32Array.from([0, 1, 2, 3]), 2, 2, 3, 3);
    expect(m[4]).toBeCloseTo(1.5, 6);
    expect([m[0], m[2], m[6], m[8]]).toEqual([0, 1, 2, 3]);
    const id = Float32Array.from([0.1, 0.5, 0.9, 0.3, 0.7, 0.2]);
    expect(upsample(id, 3, 2, 3, 2)).toEqual(id);
  });
});

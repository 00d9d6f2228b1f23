// The CPU colormaps against published values (jet by its definition, turbo and viridis endpoints from their
// reference tables), the transparent low end, and premultiplication.
import { describe, expect, it } from 'vitest';
import { colorize, colormap, overlayAlpha, ALPHA_LOW, ALPHA_RAMP } from '../../src/engine/colormap.ts';

const near = (a: number[], b: number[], tol: number) =>
  a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThanOrEqual(tol));

describe('colormap', () => {
  it('jet: dark blue, cyan-ish, green, yellow-ish, dark red', () => {
    expect(colormap('jet', 0)).toEqual([0, 0, 0.5]);
    expect(colormap('jet', 0.25)).toEqual([0, 0.5, 1]);
    expect(colormap('jet', 0.5)).toEqual([0.5, 1, 0.5]);
    expect(colormap('jet', 0.75)).toEqual([1, 0.5, 0]);
    expect(colormap('jet', 1)).toEqual([0.5, 0, 0]);
  });
  it('turbo and viridis: endpoints and middle of the reference tables', () => {
    // turbo LUT: [0] = (0.18995, 0.07176, 0.23217), [255] = (0.47960, 0.01583, 0.01055); the degree-5 polynomial
    // is off by up to ~0.13 at the very ends; in the middle turbo is a bright green.
    near(colormap('turbo', 0), [0.19, 0.072, 0.232], 0.13);
    near(colormap('turbo', 1), [0.48, 0.016, 0.011], 0.1);
    const [r, g, b] = colormap('turbo', 0.5);
    expect(g).toBeGreaterThan(0.95);
    expect(Math.max(r, b)).toBeLessThan(g);
    // matplotlib viridis: [0] = (0.267, 0.005, 0.329), [128] = (0.128, 0.567, 0.551), [255] = (0.993, 0.906, 0.144)
    near(colormap('viridis', 0), [0.267, 0.005, 0.329], 0.02);
    near(colormap('viridis', 0.5), [0.128, 0.567, 0.551], 0.02);
    near(colormap('viridis', 1), [0.993, 0.906, 0.144], 0.02);
  });
  it('clamps the heat to 0..1 and names an unknown colormap', () => {
    expect(colormap('jet', -1)).toEqual(colormap('jet', 0));
    expect(colormap('jet', 2)).toEqual(colormap('jet', 1));
    expect(() => colormap('hot' as never, 0.5)).toThrow(/unknown colormap 'hot'/);
  });
  it('alpha: transparent up to the low end, the full opacity from LOW + RAMP on', () => {
    expect(overlayAlpha(0, 0.6)).toBe(0);
    expect(overlayAlpha(ALPHA_LOW, 0.6)).toBe(0);
    expect(overlayAlpha(ALPHA_LOW + ALPHA_RAMP / 2, 0.6)).toBeCloseTo(0.3, 12);
    expect(overlayAlpha(ALPHA_LOW + ALPHA_RAMP, 0.6)).toBeCloseTo(0.6, 12);
    expect(overlayAlpha(1, 0.6)).toBeCloseTo(0.6, 12);
  });
  it('colorize: straight or premultiplied RGBA8', () => {
    const map = Float32Array.of(0, 0.5, 1);
    const straight = colorize(map, 'jet', 1);
    const pre = colorize(map, 'jet', 0.5, true);
    expect(Array.from(straight)).toEqual([0, 0, 128, 0, 128, 255, 128, 255, 128, 0, 0, 255]);
    // Premultiplied by alpha 0.5: (0.5, 1, 0.5) * 0.5 -> 64, 128, 64.
    expect(Array.from(pre.slice(4, 8))).toEqual([64, 128, 64, 128]);
  });
});

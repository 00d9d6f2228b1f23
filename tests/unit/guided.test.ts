// The guided method's map (src/engine/guided.ts), its knobs (src/engine/methods.ts) and the box sources
// (src/engine/post.ts) on hand-worked small maps; every expected value is worked out here by hand.
import { describe, expect, it } from 'vitest';
import { BACKED, backedPoints, FAINT, guidedMap } from '../../src/engine/guided.ts';
import { sceneRects } from '../../src/worker/scene.ts';
import type { OverlayOptions } from '../../src/worker/api.ts';
import {
  BOX_SOURCE,
  checkMethodFacts,
  DEFAULT_METHOD,
  GUIDED,
  methodFor,
  METHODS,
  resolveGuided,
} from '../../src/engine/methods.ts';
import { chooseBox, fixationBox, MIN_BOX_POINTS } from '../../src/engine/post.ts';
import { PRESETS, resolveRules } from '../../src/engine/types.ts';
import type { Fixation } from '../../src/engine/types.ts';

const round = (a: Float32Array) => [...a].map((v) => +v.toFixed(6));

describe('guidedMap: classMap x (epsilon + density), normalised to max 1', () => {
  it('a 2x2 map by hand', () => {
    // class map [1, 0.5, 0.25, 0], density [0, 1, 0.5, 1], epsilon 0.1:
    // products 1 * 0.1 = 0.1, 0.5 * 1.1 = 0.55, 0.25 * 0.6 = 0.15, 0 * 1.1 = 0; max 0.55.
    const out = guidedMap(Float32Array.of(1, 0.5, 0.25, 0), Float32Array.of(0, 1, 0.5, 1), 0.1);
    expect(round(out)).toEqual([+(0.1 / 0.55).toFixed(6), 1, +(0.15 / 0.55).toFixed(6), 0]);
  });

  it('epsilon 0 is the plain product; a large epsilon tends to the class map', () => {
    // [0.5, 1] x [1, 0.25] = [0.5, 0.25] -> [1, 0.5].
    expect(round(guidedMap(Float32Array.of(0.5, 1), Float32Array.of(1, 0.25), 0))).toEqual([1, 0.5]);
    // epsilon 1e6: (1e6 + 1) * 0.5 against (1e6 + 0.25) * 1: the class map's [0.5, 1] to 6 digits.
    expect(round(guidedMap(Float32Array.of(0.5, 1), Float32Array.of(1, 0.25), 1e6))).toEqual([0.5, 1]);
  });

  it('no fixations (density all 0): the class map itself; no class evidence: all 0', () => {
    expect(round(guidedMap(Float32Array.of(0.2, 1, 0.6), new Float32Array(3), 0.1))).toEqual([0.2, 1, 0.6]);
    expect([...guidedMap(new Float32Array(3), Float32Array.of(1, 1, 1), 0.1)]).toEqual([0, 0, 0]);
  });

  it("negative values count as 0 (a Grad-CAM map is ReLU'd, a density is never negative)", () => {
    // [-1, 1] x (0.1 + [1, -5 -> 0]) = [0, 0.1] -> [0, 1].
    expect([...guidedMap(Float32Array.of(-1, 1), Float32Array.of(1, -5), 0.1)]).toEqual([0, 1]);
  });

  it('maps of different sizes are refused', () => {
    expect(() => guidedMap(new Float32Array(4), new Float32Array(3), 0.1)).toThrow(/class map has 4 values, density 3/);
  });
});

describe('guided knobs', () => {
  it("defaults: the tuning set's pick, CAM x dense fixation density (sigma 8% of the diagonal); dense = reference rules, every positive GAP position", () => {
    expect(GUIDED).toEqual({ epsilon: 0, rules: 'dense', sigma: 0.08, classMap: 'auto' });
    expect(resolveRules('dense')).toEqual({ ...PRESETS.reference, gap: 'positive' });
    expect(METHODS).toContain('guided');
    expect(BOX_SOURCE.guided).toBe('map');
    expect(BOX_SOURCE.fixations).toBe('fixations');
  });

  it('overrides are checked, naming the option and the value', () => {
    expect(resolveGuided({ epsilon: 0, sigma: 0.05 })).toEqual({ ...GUIDED, epsilon: 0, sigma: 0.05 });
    expect(resolveGuided({ epsilon: undefined })).toEqual(GUIDED);
    expect(() => resolveGuided({ epsilon: -0.1 })).toThrow(/guided.epsilon=-0.1 must be a number >= 0/);
    expect(() => resolveGuided({ sigma: 0 })).toThrow(/guided.sigma=0 must be/);
    expect(() => resolveGuided({ classMap: 'lrp' as never })).toThrow(
      /guided.classMap='lrp' is not one of auto, cam, gradcam/,
    );
  });

  it('a model\'s own knobs (catalog "guided") sit between GUIDED and the request\'s', () => {
    expect(resolveGuided({}, { epsilon: 1, sigma: 0.04 })).toEqual({ ...GUIDED, epsilon: 1, sigma: 0.04 });
    expect(resolveGuided({ sigma: 0.02 }, { epsilon: 1, sigma: 0.04 })).toEqual({ ...GUIDED, epsilon: 1, sigma: 0.02 });
    expect(() => resolveGuided({}, { sigma: 2 })).toThrow(/guided.sigma=2 must be/);
  });
});

describe('a model\'s default method (catalog "method")', () => {
  it("the request's method, else the model's, else DEFAULT_METHOD", () => {
    expect(methodFor({})).toBe(DEFAULT_METHOD);
    expect(methodFor({ method: 'guided' })).toBe('guided');
    expect(methodFor({ method: 'guided' }, 'cam')).toBe('cam');
  });
  it('a bad entry is refused at load, naming the field and the value', () => {
    expect(() => checkMethodFacts({ method: 'lrp' as never })).toThrow(/its default method: unknown method 'lrp'/);
    expect(() => checkMethodFacts({ guided: { sigma: -1 } })).toThrow(/its guided knobs: guided.sigma=-1/);
    expect(() => checkMethodFacts({ guided: { eps: 1 } as never })).toThrow(
      /its guided knobs: 'eps' is not one of epsilon, rules, sigma, classMap/,
    );
    expect(() => checkMethodFacts({ method: 'guided', guided: { epsilon: 0.3 } })).not.toThrow();
  });
});

describe("the box: the fixations' (none from too few points) or the map's, and which one", () => {
  const pts = (n: number): Fixation[] =>
    Array.from({ length: n }, (_, i) => ({ x: 10 + (i % 5), y: 20 + Math.floor(i / 5), w: 1 }));

  it('MIN_BOX_POINTS is 20: below it the outlier rule (more than 5% of the points near) can drop no point', () => {
    expect(MIN_BOX_POINTS).toBe(20);
    // 19 points: no box. 20 points in rows of 5 from (10, 20): x 10..14, y 20..23.
    expect(fixationBox(pts(19))).toBeNull();
    expect(fixationBox(pts(20))).toEqual([10, 20, 14, 23]);
  });

  it('chooseBox says which box it is, or null when the source gives none', () => {
    const mapBox: [number, number, number, number] = [0, 0, 50, 60];
    expect(chooseBox('fixations', pts(20), mapBox)).toEqual({ box: [10, 20, 14, 23], boxSource: 'fixations' });
    expect(chooseBox('fixations', pts(3), mapBox)).toEqual({ box: null, boxSource: null });
    expect(chooseBox('map', pts(3), mapBox)).toEqual({ box: mapBox, boxSource: 'map' });
    expect(chooseBox('map', [], null)).toEqual({ box: null, boxSource: null });
  });
});

describe('points the guided map does not back are drawn faint', () => {
  // A 4x2 map over an 8x4 frame: only its left half reaches BACKED.
  const map = new Float32Array([1, 0.5, 0.1, 0, 0.2, 0.3, 0.19, 0]);
  it('backedPoints: the map cell a frame point falls in, against BACKED (the CAM protocol threshold)', () => {
    expect(BACKED).toBe(0.2);
    const pts = [
      { x: 0, y: 0 },
      { x: 3, y: 1 },
      { x: 4, y: 0 },
      { x: 2, y: 3 },
      { x: 4.9, y: 2.5 },
      { x: 7, y: 3 },
    ];
    // cells: (0,0)=1, (1,0)=0.5, (2,0)=0.1, (1,1)=0.3, (2,1)=0.19, (3,1)=0
    expect(backedPoints(pts, map, 4, 2, 8, 4)).toEqual([true, true, false, true, false, false]);
    expect(() => backedPoints(pts, map, 3, 2, 8, 4)).toThrow(/map has 8 values, not 3x2/);
  });
  it("the worker's scene draws them at FAINT opacity, the others opaque; without `backed` every point is opaque", () => {
    const fixations = [
      { x: 0, y: 0, w: 1 },
      { x: 4, y: 0, w: 1 },
    ];
    const o = { points: true, box: false } as OverlayOptions;
    const alphas = (backed?: boolean[]) =>
      sceneRects(
        [{ color: [1, 0, 0], fixations, box: null, backed }],
        { width: 8, height: 4 },
        { width: 8, height: 4 },
        o,
      ).map((r) => r.color[3]);
    expect(alphas(backedPoints(fixations, map, 4, 2, 8, 4))).toEqual([1, FAINT]);
    expect(alphas()).toEqual([1, 1]);
  });
});

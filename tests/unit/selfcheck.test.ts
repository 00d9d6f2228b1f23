// CPU parts of the GPU robustness work: the compaction's cut (keepHeaviest, the CPU twin of the compact kernel's
// selection, hand-worked cases) and the self-check graph (a valid graph for every subset of kernel kinds a model
// has: the CPU reference walks it from every class to input fixations).
import { describe, expect, it } from 'vitest';
import { unravelCpu } from '../../src/engine/unravel.ts';
import { PRESETS, size } from '../../src/engine/types.ts';
import { selfCheckGraph } from '../../src/gpu/selfcheck.ts';
import { keepHeaviest } from '../../src/gpu/unravel.ts';

describe('keepHeaviest', () => {
  const items = [
    { index: 5, w: 0.5 },
    { index: 2, w: 0.5 },
    { index: 9, w: 0.9 },
    { index: 1, w: 0.1 },
    { index: 7, w: 0.5 },
  ];
  it('keeps the heaviest, ties to the lowest index, in index order', () => {
    // 0.9 (9), then the 0.5 tie among 2, 5, 7: 2 first, then 5.
    expect(keepHeaviest(items, 2).map((f) => f.index)).toEqual([2, 9]);
    expect(keepHeaviest(items, 3).map((f) => f.index)).toEqual([2, 5, 9]);
  });
  it('under the cap: everything, in index order', () => {
    expect(keepHeaviest(items, 5).map((f) => f.index)).toEqual([1, 2, 5, 7, 9]);
  });
  it('compares in f32: weights equal as f32 tie, and go by index', () => {
    // 0.1 + 0.2 and 0.3 differ in f64 but are the same f32.
    expect(
      keepHeaviest(
        [
          { index: 3, w: 0.1 + 0.2 },
          { index: 1, w: 0.3 },
        ],
        1,
      ).map((f) => f.index),
    ).toEqual([1]);
  });
});

describe('self-check graph', () => {
  const subsets = [
    undefined, // every kind
    new Set(['conv', 'pool', 'gap'] as const), // the tiny test CNN
    new Set(['conv', 'pool', 'concat', 'gap'] as const), // SqueezeNet
    new Set(['conv', 'pad', 'add', 'gap', 'matmul'] as const), // MobileNetV2-like (no pools)
    new Set(['conv', 'matmul'] as const), // a matmul on a flattened map
  ];
  for (const kinds of subsets) {
    it(`${kinds ? [...kinds].join(', ') : 'all kinds'}: the CPU reference walks it from every class`, () => {
      const g = selfCheckGraph(kinds as Set<never> | undefined);
      // Every node's shape follows from its input's (worked out here, not by the graph builder): a conv or pool
      // ((H + 2 pad - k) / stride + 1), a pad (H + before + after), an add or concat's inputs the same map. A wrong
      // shape makes the GPU read past a layer and disagree with the CPU, which tolerates it.
      for (const n of g.order) {
        const ins = n.inputs.map((i) => g.byName.get(i)!.shape);
        if (n.kind === 'conv' || n.kind === 'pool') {
          const [H, W] = ins[0];
          expect(n.shape.slice(0, 2), n.name).toEqual(
            [0, 1].map((a) => Math.floor(([H, W][a] + 2 * n.pad[a] - n.kernel[a]) / n.strides[a]) + 1),
          );
          if (n.kind === 'conv' && n.depthwise) expect(n.shape[2], n.name).toBe(ins[0][2]);
        }
        if (n.kind === 'pad')
          expect(n.shape.slice(0, 2), n.name).toEqual([ins[0][0] + 2 * n.before[0], ins[0][1] + 2 * n.before[1]]);
        if (n.kind === 'add' || n.kind === 'identity') for (const s of ins) expect(s, n.name).toEqual(n.shape);
        if (n.kind === 'concat') for (const s of ins) expect(s.slice(0, 2), n.name).toEqual(n.shape.slice(0, 2));
      }
      expect(new Set(g.order.map((n) => n.kind))).toEqual(
        new Set(['input', ...(kinds ?? ['pad', 'conv', 'identity', 'add', 'pool', 'concat', 'gap', 'matmul'])]),
      );
      const acts = new Map(
        g.order.map((n, i) => [n.name, Float32Array.from({ length: size(n.shape) }, (_, j) => Math.sin(7 * i + j))]),
      );
      for (let c = 0; c < size(g.byName.get(g.logits)!.shape); c++) {
        for (const rules of [PRESETS.default, PRESETS.reference]) {
          const r = unravelCpu(g, (n) => acts.get(n)!, c, rules);
          expect(r.inputFixations.length).toBeGreaterThan(0);
        }
      }
    });
  }
});

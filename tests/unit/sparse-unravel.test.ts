// The fallback's on-demand activation reads (workers/sparse-unravel.ts) against unravelCpu on every activation read
// whole, on the same forward pass: the same kept neurons with the same weights, bit for bit, at every layer — on
// SqueezeNet (the presets and the widest walk) and on every executable hand-built op graph under every rule
// combination (depthwise, dilated and strided convs, pools, FC, residual add, pad, concat). A value a step reads
// without readsOf() listing it is NaN, so any miss changes the result.
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disposeForward, FixationModel, type Forward } from '../../src/engine/model.ts';
import { resolveRules, type KeptLayer, type Rules } from '../../src/engine/types.ts';
import { unravelCpu } from '../../src/engine/unravel.ts';
import { initNodeBackend, loadModel, readImage } from '../../src/node/index.ts';
import { SparseActivations } from '../../workers/sparse-unravel.ts';
import { FIXTURES } from '../fixtures/graphs.ts';

const SQUIRREL = new URL('../../../shared/images/squirrel_cls.jpg', import.meta.url).pathname;

async function bothWays(fm: FixationModel, f: Forward, classIndex: number, rules: Rules) {
  const whole = new Map([...f.tensors].map(([n, t]) => [n, t.dataSync() as Float32Array]));
  const want = unravelCpu(fm.graph, (n) => whole.get(n)!, classIndex, rules);
  const sparse = new SparseActivations(fm.graph);
  const got = await sparse.unravel(f.tensors, classIndex, rules);
  const wholeBytes = [...fm.graph.captures].reduce((s, n) => s + whole.get(n)!.byteLength, 0);
  return { want, got, bytes: sparse.bytes, wholeBytes, sparse };
}

const plain = (ls: KeptLayer[]) => ls.map((l) => ({ name: l.name, indices: Array.from(l.indices), weights: Array.from(l.weights) }));

beforeAll(async () => {
  await initNodeBackend();
});

describe('SqueezeNet, squirrel_cls.jpg', () => {
  let fm: FixationModel;
  let f: Forward;
  let input: tf.Tensor4D;
  beforeAll(async () => {
    fm = await loadModel('squeezenet1_1');
    const img = await readImage(SQUIRREL);
    input = fm.preprocess(img, 'crop').input;
    img.dispose();
    f = await fm.forward(input);
  });
  afterAll(() => {
    disposeForward(f, [input]);
    input.dispose();
    fm.dispose();
  });

  const wide: Rules = { location: 'max', gap: 'positive', weights: 'contribution' };
  // The presets read at most 1 MB a frame; the widest walk (every positive class-map position) a quarter of it all.
  const cases = [['default', resolveRules('default'), 1 << 20], ['reference', resolveRules('reference'), 1 << 20], ['max/positive (widest)', wide, 12.3e6 / 4]] as const;
  for (const [name, rules, most] of cases) {
    it(`${name}: the same kept neurons and weights at every layer, at most ${most} bytes read`, async () => {
      const { want, got, bytes, wholeBytes } = await bothWays(fm, f, 335, rules);
      expect(want.inputFixations.length).toBeGreaterThan(0);
      expect(plain(got.layers)).toEqual(plain(want.layers));
      expect(got.inputFixations).toEqual(want.inputFixations);
      console.log(`sparse reads, ${name}: ${bytes} of ${wholeBytes} bytes`);
      expect(wholeBytes).toBeGreaterThan(12e6); // what the fallback read before: every captured activation
      expect(bytes).toBeGreaterThan(0);
      expect(bytes).toBeLessThanOrEqual(most);
    });
  }

  it('reused frame to frame: a second class on the same arrays gives its own reference result', async () => {
    const sparse = new SparseActivations(fm.graph);
    const whole = new Map([...f.tensors].map(([n, t]) => [n, t.dataSync() as Float32Array]));
    for (const c of [335, 1, 335]) {
      const want = unravelCpu(fm.graph, (n) => whole.get(n)!, c, resolveRules('default'));
      const got = await sparse.unravel(f.tensors, c, resolveRules('default'));
      expect(plain(got.layers)).toEqual(plain(want.layers));
    }
  });
});

describe('hand-built op graphs, every rule combination', () => {
  const combos: Rules[] = [];
  for (const location of ['center', 'max'] as const) for (const gap of ['argmax', 'positive'] as const) for (const weights of ['count', 'contribution'] as const) combos.push({ location, gap, weights });
  combos.push({ location: 'max', gap: 'positive', weights: 'contribution', gapThreshold: 0.5 });
  for (const [builder, make] of Object.entries(FIXTURES)) {
    const fx = make();
    if (fx.noExec) continue;
    it(builder, async () => {
      const gm = await loadGraphModel({ load: async () => fx.artifacts });
      const fm = FixationModel.create(gm, fx.info);
      const { height, width, channels } = fm.input;
      const input = tf.tensor4d(fx.input, [1, height, width, channels]);
      const f = await fm.forward(input);
      try {
        const classes = new Set(fx.expected.map((e) => e.classIndex));
        let visited = 0;
        for (const c of classes) {
          for (const rules of combos) {
            const { want, got } = await bothWays(fm, f, c, rules);
            expect(plain(got.layers), `${fx.name} class ${c} ${JSON.stringify(rules)}`).toEqual(plain(want.layers));
            visited += want.inputFixations.length;
          }
        }
        expect(visited).toBeGreaterThan(0);
      } finally {
        disposeForward(f, [input]);
        input.dispose();
        fm.dispose();
      }
    });
  }
});

// Per-rule tests of the CPU reference unravelling on hand-built graphs (tests/fixtures/graphs.ts): each fixture
// runs through tfjs (Node backend) for the activations, then unravelCpu; the expected fixations were worked out
// by hand in the fixture's comments. The logit values are checked too, so a fixture that does not compute what its
// comments say fails loudly instead of testing something else.
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGraph } from '../../src/engine/graph.ts';
import { disposeForward, FixationModel } from '../../src/engine/model.ts';
import { resolveRules, type Graph, type InputFixation, type Rules } from '../../src/engine/types.ts';
import { unravelCpu, type Activations } from '../../src/engine/unravel.ts';
import { initNodeBackend } from '../../src/node/index.ts';
import { ERROR_FIXTURES, FIXTURES, noExecSource, type Expected, type Fixture } from '../fixtures/graphs.ts';

beforeAll(async () => {
  await initNodeBackend();
});

interface Prepared {
  graph: Graph;
  act: Activations;
  logits: Float32Array | null;
  dispose(): void;
}

/** Graph and activations of a fixture: through tfjs, or (noExec) buildGraph with the hand-given shapes and activations. */
async function prepare(fx: Fixture): Promise<Prepared> {
  if (fx.noExec) {
    const acts = fx.noExec.activations;
    return {
      graph: buildGraph(noExecSource(fx)),
      act: (n) => acts[n] ?? fail(`fixture '${fx.name}' has no hand-made activation for '${n}'`),
      logits: null,
      dispose() {},
    };
  }
  const gm = await loadGraphModel({ load: async () => fx.artifacts });
  const fm = FixationModel.create(gm, fx.info);
  const { height, width, channels } = fm.input;
  const input = tf.tensor4d(fx.input, [1, height, width, channels]);
  const f = await fm.forward(input);
  const acts = new Map([...f.tensors].map(([n, t]) => [n, t.dataSync() as Float32Array]));
  return {
    graph: fm.graph,
    act: (n) => acts.get(n) ?? fail(`no activation captured for '${n}'`),
    logits: f.logits,
    dispose() {
      disposeForward(f, [input]);
      input.dispose();
      fm.dispose();
    },
  };
}
function fail(msg: string): never {
  throw new Error(msg);
}

const key = (f: InputFixation) => [f.y, f.x, f.c];
const byPos = (a: InputFixation, b: InputFixation) => a.y - b.y || a.x - b.x || a.c - b.c;
const ruleName = (r: Rules) =>
  `${r.location}/${r.gap}/${r.weights}` +
  (r.gapThreshold ? `/gap>=${r.gapThreshold}` : '') +
  (r.channelRatio ? `/ch>=${r.channelRatio}` : '') +
  (r.fcThreshold ? `/fc>=${r.fcThreshold}` : '');

function check(p: Prepared, e: Expected) {
  const res = unravelCpu(p.graph, p.act, e.classIndex, e.rules);
  const got = [...res.inputFixations].sort(byPos);
  const want = [...e.fixations].sort(byPos);
  expect(got.map(key)).toEqual(want.map(key));
  got.forEach((g, i) => expect(g.w).toBeCloseTo(want[i].w, 6));
  for (const [name, kept] of Object.entries(e.layers ?? {})) {
    const layer = res.layers.find((l) => l.name === name) ?? fail(`no kept layer '${name}'`);
    expect([...layer.indices]).toEqual(kept.map(([i]) => i));
    [...layer.weights].forEach((w, i) => expect(w).toBeCloseTo(kept[i][1], 6));
  }
}

for (const [builder, make] of Object.entries(FIXTURES)) {
  const fx = make();
  describe(`${builder}: ${fx.checks}`, () => {
    let p: Prepared;
    beforeAll(async () => {
      p = await prepare(fx);
    });
    afterAll(() => p?.dispose());

    if (!fx.noExec) {
      it('computes the hand-worked logits', () => {
        for (const [i, v] of Object.entries(fx.logitValues))
          expect(p.logits![Number(i)], `logit ${i}`).toBeCloseTo(v, 4);
      });
    }
    it.each(fx.expected.map((e) => [`class ${e.classIndex}, ${ruleName(e.rules)}`, e] as const))('%s', (_t, e) =>
      check(p, e),
    );
  });
}

describe('refused graphs', () => {
  for (const [name, make] of Object.entries(ERROR_FIXTURES)) {
    it(name, async () => {
      const fx = make();
      const gm = await loadGraphModel({ load: async () => fx.artifacts });
      if (fx.createError) expect(() => FixationModel.create(gm, fx.info)).toThrow(fx.createError);
      else expect(FixationModel.create(gm, fx.info).graph.order.map((n) => n.name)).not.toContain('odd');
      gm.dispose();
    });
  }

  it('class index out of range, negative or fractional: a clear error naming the logits node', async () => {
    const fx = FIXTURES.convSame3x3();
    const p = await prepare(fx);
    const r = fx.expected[0].rules;
    // conv output 4x4x2 = 32 neurons: valid indices 0..31.
    expect(() => unravelCpu(p.graph, p.act, 32, r)).toThrow(/class index 32 is out of range 0\.\.31 of 'conv'/);
    expect(() => unravelCpu(p.graph, p.act, -1, r)).toThrow(/class index -1 is out of range/);
    expect(() => unravelCpu(p.graph, p.act, 1.5, r)).toThrow(/class index 1.5 is out of range/);
    p.dispose();
  });
});

describe('rule options channelRatio and fcThreshold', () => {
  it('are taken over by resolveRules, and a value outside [0, 1) is an error naming the option', () => {
    expect(resolveRules('reference', { channelRatio: 0.9, fcThreshold: 0.5 })).toEqual({
      location: 'center',
      gap: 'argmax',
      weights: 'count',
      channelRatio: 0.9,
      fcThreshold: 0.5,
    });
    expect(() => resolveRules('default', { channelRatio: 1 })).toThrow(
      /rule channelRatio=1 must be a number in \[0, 1\)/,
    );
    expect(() => resolveRules('default', { fcThreshold: -0.1 })).toThrow(
      /rule fcThreshold=-0.1 must be a number in \[0, 1\)/,
    );
    expect(() => resolveRules('default', { channelRatio: '0.5' as unknown as number })).toThrow(
      /rule channelRatio=0.5 must be a number/,
    );
  });
});

// Baselines (CAM, Grad-CAM, centre prior) on the real SqueezeNet, and the evaluation metrics on hand-made maps.
// Expected values are computed here from the captured activations and the raw weights, or worked out by hand.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  camMap,
  classHead,
  gradCamGradient,
  gradCamLayer,
  gradCamMap,
  loadGradients,
  receptiveField,
} from '../../src/engine/baselines.ts';
import { explain } from '../../src/engine/explain.ts';
import { disposeForward, FixationModel, type ModelInfo } from '../../src/engine/model.ts';
import { resolveRules } from '../../src/engine/types.ts';
import { unravelCpu } from '../../src/engine/unravel.ts';
import { loadModel, readImage, ROOT } from '../../src/node/index.ts';
import { auc, distanceToBox, energyShare, iou, pointingHit, spearman } from '../../scripts/eval/metrics.ts';
import { GraphBuilder, matrix, planes } from '../fixtures/graphs.ts';
import { offCentreSquirrel } from '../fixtures/off-centre.ts';
import { SQUIRREL as SQUIRREL_JPG } from '../fixtures/data.ts';

const SQUIRREL = 335;
let fm: FixationModel;
let input: tf.Tensor4D;
const acts = new Map<string, Float32Array>();
let logits: Float32Array;

beforeAll(async () => {
  fm = await loadModel('squeezenet1_1');
  const img = await readImage(SQUIRREL_JPG);
  input = fm.preprocess(img).input;
  img.dispose();
  const fwd = await fm.forward(input);
  for (const n of fm.graph.captures) acts.set(n, (await fwd.tensors.get(n)!.data()) as Float32Array);
  logits = fwd.logits;
  disposeForward(fwd, [input]);
});
afterAll(() => {
  input?.dispose();
  fm?.dispose();
});

describe('CAM on SqueezeNet', () => {
  it('finds the GAP head: pool10 over conv10/Relu, no FC, ReLU class map', () => {
    const h = classHead(fm);
    expect(h.gap.name).toBe('pool10');
    expect(h.gap.inputs[0]).toBe('conv10/Relu');
    expect(h.fc).toBeUndefined();
    expect(h.classConv?.name).toBe('conv10/Relu');
    expect(h.activation).toBe('relu');
  });

  it('puts the 13x13 cell centres at 15 + 16 i network pixels (conv1 and three 3x3/2 max pools)', () => {
    // conv1 3x3/2 VALID: x_in = 2x + 1; pool1, pool3, pool5 3x3/2 VALID: the same; 1x1 convs and the SAME 3x3
    // convs of the fire modules keep the centre. 2(2(2(2i+1)+1)+1)+1 = 16i + 15.
    expect(receptiveField(fm.graph, 'conv10/Relu')).toEqual({ scale: [16, 16], offset: [15, 15] });
  });

  it('is the class channel of conv10/Relu, upsampled bilinearly from the cell centres', async () => {
    const a = acts.get('conv10/Relu')!;
    const ch = Array.from({ length: 169 }, (_, p) => a[p * 1000 + SQUIRREL]);
    const min = Math.min(...ch),
      max = Math.max(...ch);
    expect(max).toBeGreaterThan(0);
    const map = camMap(fm, (n) => acts.get(n)!, SQUIRREL);
    expect(map.layer).toBe('conv10/Relu');
    expect(map.data[6 * 13 + 6]).toBeCloseTo(ch[6 * 13 + 6] - min, 5);

    // A preprocessed input: the heatmap is in network pixels. Cell (6,6) sits at pixel (111,111); pixel (119,111)
    // is half way to cell (6,7).
    const e = await explain(fm, input, { method: 'cam', classIndex: SQUIRREL });
    expect(e.method).toBe('cam');
    expect(e.fixations).toEqual([]);
    expect(e.inputFixations).toEqual([]);
    expect(e.box).toEqual(e.camBox);
    const hm = e.heatmap.data,
      at = (x: number, y: number) => hm[y * 224 + x];
    const norm = (v: number) => (v - min) / (max - min);
    expect(at(111, 111)).toBeCloseTo(norm(ch[6 * 13 + 6]), 5);
    expect(at(119, 111)).toBeCloseTo((norm(ch[6 * 13 + 6]) + norm(ch[6 * 13 + 7])) / 2, 5);
    // Beyond the outer cell centres the map is constant (clamped).
    expect(at(0, 0)).toBeCloseTo(norm(ch[0]), 5);
    expect(Math.max(...hm)).toBeCloseTo(1, 6);
  });
});

describe('Grad-CAM on SqueezeNet', () => {
  // The head on the CPU in double precision, from fire9/concat: mean over positions of relu(A W10[:,c] + b10[c]).
  async function head() {
    const W = (await fm.model.weights['conv10/weights'][0].data()) as Float32Array; // [1,1,512,1000]
    const b = (await fm.model.weights['conv10/bias'][0].data()) as Float32Array;
    return (A: ArrayLike<number>, c: number) => {
      let s = 0;
      for (let p = 0; p < 169; p++) {
        let z = b[c];
        for (let k = 0; k < 512; k++) z += A[p * 512 + k] * W[k * 1000 + c];
        s += Math.max(z, 0);
      }
      return s / 169;
    };
  }

  it('takes the gradient at fire9/concat and matches a finite difference of the class logit', async () => {
    const score = await head();
    const A = Float64Array.from(acts.get('fire9/concat')!);
    // The CPU head reproduces the model's logit, so the finite difference differentiates the real score.
    expect(score(A, SQUIRREL)).toBeCloseTo(logits[SQUIRREL], 3);
    const { layer, shape, gradient } = await gradCamGradient(fm, (n) => acts.get(n)!, SQUIRREL);
    expect(layer).toBe('fire9/concat');
    expect(shape).toEqual([13, 13, 512]);
    const out = acts.get('conv10/Relu')!;
    // One position where the class unit is active (strongest), one where it is not.
    let on = 0,
      off = -1;
    for (let p = 0; p < 169; p++) {
      if (out[p * 1000 + SQUIRREL] > out[on * 1000 + SQUIRREL]) on = p;
      if (off < 0 && out[p * 1000 + SQUIRREL] === 0) off = p;
    }
    const W = (await fm.model.weights['conv10/weights'][0].data()) as Float32Array;
    let k = 0;
    for (let j = 0; j < 512; j++) if (Math.abs(W[j * 1000 + SQUIRREL]) > Math.abs(W[k * 1000 + SQUIRREL])) k = j;
    const eps = 1e-2;
    const fd = (p: number) => {
      const plus = Float64Array.from(A),
        minus = Float64Array.from(A);
      plus[p * 512 + k] += eps;
      minus[p * 512 + k] -= eps;
      return (score(plus, SQUIRREL) - score(minus, SQUIRREL)) / (2 * eps);
    };
    const gOn = gradient[on * 512 + k];
    expect(gOn).not.toBe(0);
    expect(Math.abs(gOn - fd(on)) / Math.abs(fd(on))).toBeLessThan(1e-3);
    if (off >= 0) {
      expect(gradient[off * 512 + k]).toBe(0);
      expect(Math.abs(fd(off))).toBeLessThan(1e-9);
    }
  });

  it("equals CAM up to conv10's bias on SqueezeNet: ReLU(z - b) against ReLU(z), compared cell by cell", async () => {
    // The head is linear in fire9/concat: z = A W10[:,c] + b. Grad-CAM's weights are W10[:,c] n/HW^2 (n: active
    // cells), so its map is n/HW^2 ReLU(z - b); CAM's is ReLU(z) minus its minimum. Worked here in double precision.
    const A = acts.get('fire9/concat')!;
    const W = (await fm.model.weights['conv10/weights'][0].data()) as Float32Array;
    const b = ((await fm.model.weights['conv10/bias'][0].data()) as Float32Array)[SQUIRREL];
    const z = Array.from({ length: 169 }, (_, p) => {
      let s = b;
      for (let k = 0; k < 512; k++) s += A[p * 512 + k] * W[k * 1000 + SQUIRREL];
      return s;
    });
    const n = z.filter((v) => v > 0).length;
    const grad = (await gradCamMap(fm, (name) => acts.get(name)!, SQUIRREL)).data;
    const cam = camMap(fm, (name) => acts.get(name)!, SQUIRREL).data;
    const camMin = Math.min(...z.map((v) => Math.max(v, 0)));
    const scale = Math.max(...z.map(Math.abs));
    z.forEach((v, p) => {
      expect(
        Math.abs(grad[p] - (n / 169 ** 2) * Math.max(v - b, 0)) * (169 ** 2 / n),
        `grad-cam cell ${p}`,
      ).toBeLessThan(1e-4 * scale);
      expect(Math.abs(cam[p] - (Math.max(v, 0) - camMin)), `cam cell ${p}`).toBeLessThan(1e-4 * scale);
    });
    // So the two maps differ exactly where 0 < z < b (b > 0) or by the shift b (b < 0): here by little.
    console.log(`conv10 bias of class ${SQUIRREL}: ${b.toFixed(4)}, class-map scale ${scale.toFixed(2)}`);
  });

  it('off-centre object: fixations, CAM and Grad-CAM put the peak and most of the mass on it, the centre prior does not', async () => {
    // The squirrel in a corner of a grey square (tests/fixtures/off-centre.ts), its box 42 px from the middle, so that
    // a centred blob cannot pass. Energy share = heatmap mass inside the box.
    const c = await offCentreSquirrel();
    const img = tf.tensor3d(c.image.data, [c.image.height, c.image.width, 3], 'int32');
    const share: Record<string, number> = {};
    for (const method of ['fixations', 'cam', 'gradcam', 'center'] as const) {
      const e = await explain(fm, img, { method });
      expect(e.class.index).toBe(SQUIRREL); // still the top-1
      share[method] = energyShare(e.heatmap.data, e.heatmap.width, c.box);
      const inside = distanceToBox(e.peak[0], e.peak[1], c.box) === 0;
      expect(inside, `${method}: peak ${e.peak} vs box ${c.box}`).toBe(method !== 'center');
    }
    img.dispose();
    console.log(
      `off-centre squirrel, box ${c.box}: energy share ${JSON.stringify(share, (_k, v) => (typeof v === 'number' ? +v.toFixed(3) : v))}`,
    );
    expect(share.fixations).toBeGreaterThan(0.9);
    expect(share.cam).toBeGreaterThan(0.6);
    expect(share.gradcam).toBeGreaterThan(0.6);
    expect(share.center).toBeLessThan(0.2);
  });

  it('rejects a class index out of range with a clear error', async () => {
    await expect(gradCamGradient(fm, (n) => acts.get(n)!, 1000)).rejects.toThrow(
      /class index 1000 is out of range 0..999/,
    );
  });
});

describe('Grad-CAM by tf.grad agrees with the closed form (SqueezeNet, fire9/concat)', () => {
  it('the same gradient to float precision, and the same map', async () => {
    await loadGradients();
    const act = (n: string) => acts.get(n)!;
    expect(gradCamLayer(fm)).toBe('fire9/concat');
    const exact = await gradCamGradient(fm, act, SQUIRREL);
    const auto = await gradCamGradient(fm, act, SQUIRREL, { autodiff: true, input });
    expect(exact.exact).toBe(true);
    expect(auto.exact).toBe(false);
    expect(auto.layer).toBe(exact.layer);
    let max = 0,
      err = 0;
    for (let i = 0; i < exact.gradient.length; i++) {
      max = Math.max(max, Math.abs(exact.gradient[i]));
      err = Math.max(err, Math.abs(exact.gradient[i] - auto.gradient[i]));
    }
    expect(max).toBeGreaterThan(0);
    expect(err).toBeLessThan(1e-4 * max);
    const a = await gradCamMap(fm, act, SQUIRREL),
      b = await gradCamMap(fm, act, SQUIRREL, { autodiff: true, input });
    const top = Math.max(...a.data);
    for (let p = 0; p < a.data.length; p++) expect(Math.abs(a.data[p] - b.data[p])).toBeLessThan(1e-4 * top);
  });
});

describe('CAM and Grad-CAM with an FC head (GAP -> MatMul), by hand', () => {
  // Input 2x2x3, A_k planes below; logits = mean over positions of A W, W = [[1,-1],[2,0],[0,3]] (rows = k).
  // Class 0 per position: A0 + 2 A1 = [1, 2; 2, 0] (logit 5/4); class 1: -A0 + 3 A2 = [-1, 0; 1, 6] (logit 6/4).
  const A = planes([
    [
      [1, 0],
      [2, 0],
    ],
    [
      [0, 1],
      [0, 0],
    ],
    [
      [0, 0],
      [1, 2],
    ],
  ]);
  const info = (id: string): ModelInfo => ({
    id,
    inputSize: 2,
    preprocessing: { range: [0, 1], mean: [0, 0, 0], std: [1, 1, 1] },
    logits: 'fc',
    labels: [],
  });
  async function run(g: GraphBuilder, id: string) {
    const m = FixationModel.create(await loadGraphModel({ load: async () => g.artifacts() }), info(id));
    const x = tf.tensor4d(A, [1, 2, 2, 3]);
    const fwd = await m.forward(x);
    const a = new Map<string, Float32Array>();
    for (const n of m.graph.captures) a.set(n, (await fwd.tensors.get(n)!.data()) as Float32Array);
    disposeForward(fwd, [x]);
    x.dispose();
    return { m, a, logits: fwd.logits };
  }
  it('weights the GAP input by the class column of the FC, shifted to min 0; Grad-CAM = ReLU(CAM)/HW', async () => {
    const g = new GraphBuilder(2);
    g.op('gap', 'Mean', ['input', g.ints('gap/axes', [1, 2])], {
      T: { type: 'DT_FLOAT' },
      Tidx: { type: 'DT_INT32' },
      keep_dims: { b: false },
    });
    g.matmul(
      'fc',
      'gap',
      matrix([
        [1, -1],
        [2, 0],
        [0, 3],
      ]),
    );
    const { m, a, logits } = await run(g, 'fcHead');
    expect([...logits].map((v) => +v.toFixed(6))).toEqual([1.25, 1.5]);
    const head = classHead(m);
    expect(head.fc?.name).toBe('fc');
    expect([...camMap(m, (n) => a.get(n)!, 0).data]).toEqual([1, 2, 2, 0]);
    expect([...camMap(m, (n) => a.get(n)!, 1).data]).toEqual([0, 1, 2, 7]); // [-1, 0, 1, 6] - (-1)
    const grad = await gradCamGradient(m, (n) => a.get(n)!, 1);
    expect(grad.layer).toBe('input');
    expect(grad.gradient[3 * 3 + 2]).toBeCloseTo(3 / 4, 7); // position (1,1), k2: W[2][1] / HW
    expect([...(await gradCamMap(m, (n) => a.get(n)!, 1)).data].map((v) => +v.toFixed(6))).toEqual([0, 0, 0.25, 1.5]);
    m.dispose();
  });
  it('refuses a head without a global average pool, naming the node', async () => {
    const g = new GraphBuilder(2);
    g.reshape('flat', 'input', [-1, 12]);
    g.matmul('fc', 'flat', matrix(Array.from({ length: 12 }, (_, i) => [i % 3, 1])));
    const { m } = await run(g, 'flatHead');
    expect(() => classHead(m)).toThrow(/CAM needs a global average pool .* stopped at node 'fc' \(matmul\)/);
    m.dispose();
  });
});

describe('centre prior', () => {
  it('peaks in the middle of the image whatever the model sees', async () => {
    const e = await explain(fm, input, { method: 'center' });
    // 224 pixels: the centre 111.5 falls between pixels 111 and 112.
    expect([111, 112]).toContain(e.peak[0]);
    expect([111, 112]).toContain(e.peak[1]);
  });
});

describe("the thresholded GAP rule (gapThreshold, the rule search's winner)", () => {
  it('keeps the class-map positions with a >= t * max, each with its share of their sum', () => {
    const a = acts.get('conv10/Relu')!;
    const ch = Array.from({ length: 169 }, (_, p) => a[p * 1000 + SQUIRREL]);
    const max = Math.max(...ch);
    const strong = ch
      .map((v, p) => [v, p])
      .filter(([v]) => v > 0 && v >= 0.75 * max)
      .map(([, p]) => p);
    expect(strong.length).toBeGreaterThan(0);
    const sum = strong.reduce((s, p) => s + ch[p], 0);
    const r = unravelCpu(fm.graph, (n) => acts.get(n)!, SQUIRREL, {
      location: 'center',
      gap: 'positive',
      weights: 'contribution',
      gapThreshold: 0.75,
    });
    const kept = r.layers.find((l) => l.name === 'conv10/Relu')!;
    expect([...kept.indices]).toEqual(strong.map((p) => p * 1000 + SQUIRREL));
    strong.forEach((p, i) => expect(kept.weights[i]).toBeCloseTo(ch[p] / sum, 6));
    // Without the threshold every positive position is kept.
    const all = unravelCpu(fm.graph, (n) => acts.get(n)!, SQUIRREL, {
      location: 'center',
      gap: 'positive',
      weights: 'contribution',
    });
    expect(all.layers.find((l) => l.name === 'conv10/Relu')!.indices.length).toBe(ch.filter((v) => v > 0).length);
  });
  it('rejects a threshold outside [0, 1) naming it', () => {
    expect(() => resolveRules('default', { gapThreshold: 1 })).toThrow(/gapThreshold=1 must be a number in \[0, 1\)/);
    expect(() => resolveRules('default', { gapThreshold: -0.1 })).toThrow(/gapThreshold=-0.1/);
  });
});

describe('metrics on hand-made maps', () => {
  const one = (w: number, h: number, x: number, y: number) => {
    const m = new Float32Array(w * h);
    m[y * w + x] = 1;
    return m;
  };
  it('pointing game: a hit at exactly 15 px from the box, a miss at 16', () => {
    const m = one(40, 10, 20, 5);
    expect(pointingHit(m, 40, [0, 0, 5, 9])).toBe(true); // 20 - 5 = 15
    expect(pointingHit(m, 40, [0, 0, 4, 9])).toBe(false); // 16
    expect(pointingHit(m, 40, [18, 4, 22, 6])).toBe(true); // inside
    // Diagonal: 9 and 12 px away on the axes = 15 px.
    expect(distanceToBox(20, 5, [0, -20, 11, -7])).toBeCloseTo(15, 10);
  });
  it('energy share: mass inside the (inclusive) box over all mass', () => {
    const m = new Float32Array(16); // 4x4
    m[0] = 1;
    m[1] = 1;
    m[4] = 1;
    m[5] = 1; // the 2x2 box [0,0,1,1]
    m[15] = 2;
    m[10] = 2;
    expect(energyShare(m, 4, [0, 0, 1, 1])).toBeCloseTo(0.5, 12);
    expect(energyShare(new Float32Array(16), 4, [0, 0, 1, 1])).toBe(0);
  });
  it('IoU of inclusive pixel boxes', () => {
    expect(iou([0, 0, 9, 9], [5, 0, 14, 9])).toBeCloseTo(50 / 150, 12);
    expect(iou([0, 0, 9, 9], [0, 0, 9, 9])).toBe(1);
    expect(iou([0, 0, 9, 9], [10, 0, 19, 9])).toBe(0);
  });
  it('AUC of known curves', () => {
    expect(auc([1, 0.75, 0.5, 0.25, 0])).toBeCloseTo(0.5, 12);
    expect(auc([1, 1, 1])).toBe(1);
    expect(auc([0, 1, 0])).toBeCloseTo(0.5, 12);
  });
  it('Spearman rank correlation, with ties', () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    expect(spearman([1, 2, 3, 4], [1, 3, 2, 4])).toBeCloseTo(0.8, 12); // 1 - 6*2/(4*15)
    // Ties: ranks [1.5,1.5,3,4] vs [1,2,3,4]: Pearson of the ranks = 0.9486832981
    expect(spearman([5, 5, 6, 7], [1, 2, 3, 4])).toBeCloseTo(0.9486832981, 9);
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNaN();
  });
});

describe('npm run eval -- --model squeezenet1_1 --quick', () => {
  it('runs end to end and writes a report with every method', async () => {
    // The eval's own data in the repository (eval/data: photos, boxes, cut objects), not a shared folder.
    const env = { ...process.env };
    delete env.CNNFIX_SHARED;
    delete env.SHARED_DIR;
    await promisify(execFile)('npx', ['tsx', 'scripts/eval.ts', '--model', 'squeezenet1_1', '--quick'], {
      cwd: ROOT,
      maxBuffer: 1 << 26,
      env,
    });
    const r = JSON.parse(await readFile(join(ROOT, 'out/eval-squeezenet1_1-quick.json'), 'utf8'));
    expect(r.model).toBe('squeezenet1_1');
    // Every object kind the photos give (at least 10), none kept more often than asked.
    expect(r.kinds.length).toBeGreaterThanOrEqual(10);
    for (const k of r.kinds) expect(k.kept).toBeLessThanOrEqual(r.config.perObject);
    // SqueezeNet's top-1 on the labelled photos (the squirrel, the butterfly... are well known to it).
    expect(r.photoTop1.find((p: { id: string }) => p.id === 'squirrel_cls.jpg').top1).toBe(true);
    for (const set of ['photos', 'synthetic']) {
      for (const m of ['fixations', 'guided', 'cam', 'gradcam', 'center']) {
        const s = r.summary[set][m];
        for (const k of ['pointing', 'energy', 'loc', 'locBox', 'deletion']) {
          expect(s[k].mean).toBeGreaterThanOrEqual(0);
          expect(s[k].mean).toBeLessThanOrEqual(1);
          expect(s[k].lo).toBeLessThanOrEqual(s[k].mean);
          expect(s[k].hi).toBeGreaterThanOrEqual(s[k].mean);
        }
      }
    }
    // The off-centre synthetic boxes: the centre prior (almost) never points inside (its peak pixel is 0.7 px
    // off the middle that the boxes keep 15 px away from).
    expect(r.summary.synthetic.center.pointing.mean).toBeLessThan(0.2);
    // The sanity check can fail: the model-independent centre prior never changes.
    for (const d of r.sanity.center) expect(d.rho).toBeCloseTo(1, 6);
    // ... and randomising conv10 changes CAM's map.
    expect(r.sanity.cam[0].rho).toBeLessThan(0.5);
  }, 600_000);
});

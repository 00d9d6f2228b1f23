// CAM and Grad-CAM beyond SqueezeNet's head: the TF Hub MobileNet v1 (GAP -> 1x1 conv -> squeeze), MobileNetV2
// (GAP -> MatMul -> BiasAdd) and a Flatten + Dense model (no pool: Grad-CAM by tf.grad only). Expected values are
// computed here from the raw weights and activations that tfjs gives, or by hand.
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
} from '../../src/engine/baselines.ts';
import { explain } from '../../src/engine/explain.ts';
import { FixationModel, type ModelInfo } from '../../src/engine/model.ts';
import { initNodeBackend, loadModel, readImage } from '../../src/node/index.ts';
import { distanceToBox } from '../../scripts/eval/metrics.ts';
import { GraphBuilder, kernel, matrix, planes } from '../fixtures/graphs.ts';
import { installed, lacks, photo, SQUIRREL } from '../fixtures/data.ts';

const SQUIRREL_BOX: [number, number, number, number] = [125, 100, 360, 370];
const data = async (t: tf.Tensor) => {
  const d = (await t.data()) as Float32Array;
  t.dispose();
  return d;
};

async function activations(fm: FixationModel, input: tf.Tensor4D, names: string[]): Promise<Map<string, Float32Array>> {
  const out = fm.model.execute(input, names);
  const list = Array.isArray(out) ? out : [out];
  const m = new Map<string, Float32Array>();
  for (const [i, n] of names.entries()) m.set(n, await data(list[i]));
  return m;
}

describe.skipIf(
  lacks('baselines-heads.test.ts (MobileNet v1 0.25)', installed('mobilenet_v1_025_224_tfhub/model.json')),
)('TF Hub MobileNet v1 0.25: CAM through a 1x1 conv on the pooled map', () => {
  let fm: FixationModel, input: tf.Tensor4D;
  const P = 'module_apply_default/MobilenetV1/';
  beforeAll(async () => {
    fm = await loadModel('mobilenet_v1_025_224_tfhub');
    const img = await readImage(photo('fruits.jpg'));
    input = fm.preprocess(img).input;
    img.dispose();
  });
  afterAll(() => {
    input?.dispose();
    fm?.dispose();
  });

  it('finds GAP -> Conv2d_1c_1x1 -> BiasAdd -> SpatialSqueeze', () => {
    const h = classHead(fm);
    expect(h.gap.name).toBe(`${P}Logits/global_pool`);
    expect(h.linear.map((l) => l.name)).toEqual([`${P}Logits/Conv2d_1c_1x1/Conv2D`]);
    expect(gradCamLayer(fm)).toBe(`${P}MobilenetV1/Conv2d_13_pointwise/Relu6`);
  });

  it('equals sum_k w[k,c] A_k (shifted to min 0), w read from the conv weights, A from tfjs', async () => {
    const c = 951; // orange (index 0 = background)
    const layer = `${P}MobilenetV1/Conv2d_13_pointwise/Relu6`;
    const a = (await activations(fm, input, [layer])).get(layer)!; // [7,7,256]
    const w = (await fm.model.weights['module/MobilenetV1/Logits/Conv2d_1c_1x1/weights'][0].data()) as Float32Array; // [1,1,256,1001]
    const expected = Array.from({ length: 49 }, (_, p) => {
      let s = 0;
      for (let k = 0; k < 256; k++) s += a[p * 256 + k] * w[k * 1001 + c];
      return s;
    });
    const min = Math.min(...expected);
    const cam = camMap(fm, () => a, c);
    expect(cam.layer).toBe(layer);
    expect([cam.height, cam.width]).toEqual([7, 7]);
    const scale = Math.max(...expected) - min;
    for (let p = 0; p < 49; p++) expect(Math.abs(cam.data[p] - (expected[p] - min))).toBeLessThan(1e-5 * scale);
    // Sum over positions / 49 + bias is the logit: the map is the score's own per-cell split.
    const logits = await data(fm.model.execute(input, fm.info.logits) as tf.Tensor);
    const b = (await fm.model.weights['module/MobilenetV1/Logits/Conv2d_1c_1x1/biases'][0].data()) as Float32Array;
    expect(expected.reduce((s, v) => s + v, 0) / 49 + b[c]).toBeCloseTo(logits[c], 3);
  });

  it('explain() runs CAM and Grad-CAM (closed form at the GAP input) on the 7x7 grid of the GAP input', async () => {
    for (const method of ['cam', 'gradcam'] as const) {
      const e = await explain(fm, input, { method, classIndex: 951 });
      expect(e.layer).toBe(`${P}MobilenetV1/Conv2d_13_pointwise/Relu6`);
      expect(Math.max(...e.heatmap.data)).toBeCloseTo(1, 6);
    }
  });
});

describe.skipIf(lacks('baselines-heads.test.ts (MobileNetV2)', installed('mobilenet_v2/model.json')))(
  'MobileNetV2: Grad-CAM by tf.grad at any layer',
  () => {
    let fm: FixationModel, input: tf.Tensor4D;
    const c = 335; // fox squirrel
    beforeAll(async () => {
      fm = await loadModel('mobilenet_v2');
      await loadGradients();
      const img = await readImage(SQUIRREL);
      input = fm.preprocess(img).input;
      img.dispose();
    });
    afterAll(() => {
      input?.dispose();
      fm?.dispose();
    });

    it('at Conv_1/Relu6 (the default) tf.grad gives the FC column / 49, the closed form', async () => {
      expect(gradCamLayer(fm)).toBe('Conv_1/Relu6');
      const a = await activations(fm, input, ['Conv_1/Relu6']);
      const g = await gradCamGradient(fm, (n) => a.get(n)!, c, { autodiff: true, input });
      const W = (await fm.model.weights['predictions/kernel'][0].data()) as Float32Array; // [1280, 1000]
      let max = 0;
      for (let k = 0; k < 1280; k++) max = Math.max(max, Math.abs(W[k * 1000 + c]));
      for (const p of [0, 24, 48])
        for (let k = 0; k < 1280; k += 37) {
          expect(Math.abs(g.gradient[p * 1280 + k] - W[k * 1000 + c] / 49)).toBeLessThan(1e-5 * max);
        }
    });

    it('at block_16_project (below Conv_1 and its ReLU6) the gradient matches a finite difference of the logit', async () => {
      const layer = 'block_16_project/BiasAdd';
      const a = (await activations(fm, input, [layer])).get(layer)!; // [7,7,320]
      const g = await gradCamGradient(fm, () => a, c, { layer, input });
      expect(g.exact).toBe(false);
      expect(g.shape).toEqual([7, 7, 320]);
      // The largest gradient entry; the logit of the model fed a perturbed activation, both ways.
      let j = 0;
      for (let i = 0; i < g.gradient.length; i++) if (Math.abs(g.gradient[i]) > Math.abs(g.gradient[j])) j = i;
      const logitAt = async (delta: number) => {
        const v = Float32Array.from(a);
        v[j] += delta;
        const x = tf.tensor4d(v, [1, 7, 7, 320]);
        const out = await data(fm.model.execute({ [layer]: x }, 'logits') as tf.Tensor);
        x.dispose();
        return out[c];
      };
      const eps = 1e-2;
      const fd = ((await logitAt(eps)) - (await logitAt(-eps))) / (2 * eps);
      expect(Math.abs(g.gradient[j] - fd)).toBeLessThan(0.02 * Math.abs(fd));
      // Through explain() with the layer option: a map on the 7x7 grid that peaks on the squirrel.
      const img = await readImage(SQUIRREL);
      const e = await explain(fm, img, { method: 'gradcam', layer });
      img.dispose();
      expect(e.class.index).toBe(c);
      expect(e.layer).toBe(layer);
      expect(distanceToBox(e.peak[0], e.peak[1], SQUIRREL_BOX)).toBe(0);
    });

    it('a layer that is not in the graph, or not spatial, is refused by name', async () => {
      const img = await readImage(SQUIRREL);
      await expect(explain(fm, img, { method: 'gradcam', layer: 'nope' })).rejects.toThrow(
        /layer 'nope' is not a node the logits 'logits' depend on/,
      );
      await expect(explain(fm, img, { method: 'gradcam', layer: 'global_average_pooling2d' })).rejects.toThrow(
        /'global_average_pooling2d' is not a spatial map/,
      );
      await expect(explain(fm, img, { method: 'cam', layer: 'Conv_1/Relu6' })).rejects.toThrow(
        /'layer' applies to method 'gradcam'/,
      );
      img.dispose();
    });
  },
);

describe('Flatten + Dense (no pool): CAM refuses, Grad-CAM by tf.grad, by hand', () => {
  // input 2x2x3 -> 1x1 conv (weights 2 x identity, so A = 2 x input) -> Reshape [-1, 12] -> MatMul W [12, 2].
  // dS_c/dA[p,k] = W[3p+k, c]; alpha_k = mean over p; map = ReLU(sum_k alpha_k A[p,k]).
  const X = planes([
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
  const Wrows = Array.from({ length: 12 }, (_, j) => [(j % 3) - 1, j < 6 ? 1 : -1]); // k0: -1, k1: 0, k2: 1 | p0,p1: 1, p2,p3: -1
  const info: ModelInfo = {
    id: 'flatDense',
    inputSize: 2,
    preprocessing: { range: [0, 1], mean: [0, 0, 0], std: [1, 1, 1] },
    logits: 'fc',
    labels: [],
  };
  let fm: FixationModel;
  beforeAll(async () => {
    await initNodeBackend(); // also where the describes above, which load a model, were skipped
    await loadGradients();
    const g = new GraphBuilder(2);
    g.conv(
      'conv',
      'input',
      kernel([1, 1, 3, 3], (_u, _v, k, c) => (k === c ? 2 : 0)),
    );
    g.reshape('flat', 'conv', [-1, 12]);
    g.matmul('fc', 'flat', matrix(Wrows));
    fm = FixationModel.create(await loadGraphModel({ load: async () => g.artifacts() }), info);
  });
  afterAll(() => fm?.dispose());

  it('CAM refuses naming the dense layer; Grad-CAM defaults to the conv and gives the hand-worked map', async () => {
    expect(() => classHead(fm)).toThrow(/stopped at node 'fc' \(matmul\).*Grad-CAM works on any model/);
    expect(gradCamLayer(fm)).toBe('conv');
    const A = X.map((v) => 2 * v);
    // Class 0: alpha = mean_p W[3p+k, 0] = [-1, 0, 1] -> map = ReLU(A2 - A0) per position.
    // Positions (y,x): (0,0): A0=2, A2=0 -> 0; (0,1): A1=2 -> 0; (1,0): A0=4, A2=2 -> 0; (1,1): A2=4 -> 4.
    const m0 = await gradCamMap(fm, () => A, 0);
    expect(m0.layer).toBe('conv');
    expect([...m0.data].map((v) => +v.toFixed(5))).toEqual([0, 0, 0, 4]);
    // Class 1: dS/dA[p,k] = +1 for p = 0, 1 and -1 for p = 2, 3: alpha = 0 for every k, the map is all zeros.
    const g1 = await gradCamGradient(fm, () => A, 1);
    expect([...g1.gradient].map((v) => +v.toFixed(5))).toEqual([1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1]);
    expect([...(await gradCamMap(fm, () => A, 1)).data]).toEqual([0, 0, 0, 0]);
    // End to end through explain() on the preprocessed input.
    const x = tf.tensor4d(X, [1, 2, 2, 3]);
    const e = await explain(fm, x, { method: 'gradcam', classIndex: 0 });
    x.dispose();
    expect(e.layer).toBe('conv');
    expect(e.peak).toEqual([1, 1]);
    await expect(explain(fm, tf.tensor4d(X, [1, 2, 2, 3]), { method: 'cam' })).rejects.toThrow(
      /CAM needs a global average pool/,
    );
  });
});

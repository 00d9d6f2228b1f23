// Every catalog model is checked against something computed outside this project: the mirror's test vectors, or a
// known top-1 on a shared photo (plus tfjs's own execute on an independently preprocessed input).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain } from '../../src/engine/explain.ts';
import { disposeForward, FixationModel } from '../../src/engine/model.ts';
import { PRESETS } from '../../src/engine/types.ts';
import { loadModel, readImage, ROOT } from '../../src/node/index.ts';
import { lacks, mirror, photo as photoPath } from '../fixtures/data.ts';

const CATALOG = JSON.parse(readFileSync(join(ROOT, 'models/catalog.json'), 'utf8'));
const f32 = (path: string) => {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
};
const photo = (name: string) => readImage(photoPath(name));

/** Top-1 of tfjs's own execute on a centre crop resized with tf.image.resizeBilinear (not the engine's preprocess). */
async function independentTop1(m: FixationModel, img: tf.Tensor3D): Promise<{ index: number; logits: Float32Array }> {
  const {
    range: [lo, hi],
    mean,
    std,
  } = m.info.preprocessing;
  const out = tf.tidy(() => {
    const [H, W] = img.shape;
    const s = Math.min(H, W);
    const crop = tf.slice(tf.cast(img, 'float32'), [(H - s) / 2, (W - s) / 2, 0], [s, s, 3]);
    const S = m.input.height; // the catalog models are square
    const x = tf.image.resizeBilinear(tf.expandDims(crop, 0) as tf.Tensor4D, [S, S], true);
    const n = tf.div(tf.sub(tf.add(tf.mul(x, (hi - lo) / 255), lo), mean), std);
    return m.model.execute(n, m.info.logits) as tf.Tensor;
  });
  const logits = (await out.data()) as Float32Array;
  out.dispose();
  return { index: logits.indexOf(Math.max(...logits)), logits };
}

describe('catalog', () => {
  it('lists the default and the models of the mirror, each committed (urls only for models that are not)', () => {
    const ids = CATALOG.models.map((m: { id: string }) => m.id);
    expect(ids).toContain(CATALOG.default);
    expect(ids).toEqual(expect.arrayContaining(['squeezenet1_1', 'mobilenet_v2', 'mobilenet_v1_025_224_tfhub']));
    // The TF Hub MobileNetV2 could never be downloaded here and no copy exists: it left the catalog.
    expect(ids).not.toContain('mobilenet_v2_100_224');
    for (const m of CATALOG.models) {
      // The committed files replace the upstream ones (quantized): a URL serving the upstream file would fail its hash.
      expect(m.urls, m.id).toEqual([]);
      expect(m.upstream, m.id).toMatch(/^https:\/\//);
    }
  });
});

describe('mobilenet_v2 (MobileNetV2 from ST int8 weights, committed as uint8)', () => {
  let m: FixationModel;
  beforeAll(async () => {
    m = await loadModel('mobilenet_v2');
  });
  afterAll(() => m?.dispose());

  const vectors = mirror('mobilenet_v2/testvectors');
  for (const i of [0, 1, 2]) {
    it.skipIf(lacks(`catalog.test.ts (mobilenet_v2 test vector ${i})`, join(vectors, `input_${i}.f32`)))(
      `test vector ${i}: the logits node reproduces logits_${i}`,
      async () => {
        const dir = vectors;
        const expected = f32(join(dir, `logits_${i}.f32`));
        const input = tf.tensor4d(f32(join(dir, `input_${i}.f32`)), [1, 224, 224, 3]);
        const fwd = await m.forward(input);
        disposeForward(fwd, [input]);
        input.dispose();
        expect(fwd.logits.length).toBe(1000);
        let err = 0;
        for (let k = 0; k < 1000; k++) err = Math.max(err, Math.abs(fwd.logits[k] - expected[k]));
        expect(err).toBeLessThanOrEqual(1e-3 * Math.max(...expected.map(Math.abs)));
      },
    );
  }

  it('squirrel_cls.jpg: top-1 is 335 fox squirrel (mirror README), explained with fixations', async () => {
    const img = await photo('squirrel_cls.jpg');
    const ex = await explain(m, img, { method: 'fixations', rules: 'default' });
    img.dispose();
    expect(ex.class.index).toBe(335);
    expect(ex.class.label).toMatch(/fox squirrel/);
    expect(ex.fixations.length).toBeGreaterThan(0);
  });
});

describe('mobilenet_v1_025_224_tfhub (TF Hub MobileNet v1 0.25, 1001 outputs)', () => {
  let m: FixationModel;
  beforeAll(async () => {
    m = await loadModel('mobilenet_v1_025_224_tfhub');
  });
  afterAll(() => m?.dispose());

  it("fruits.jpg: top-1 is 951 'orange' (index 0 is background), the same as tfjs's own execute", async () => {
    const img = await photo('fruits.jpg');
    const ex = await explain(m, img, { rules: 'default' });
    const ref = await independentTop1(m, img);
    img.dispose();
    expect(m.info.labels.length).toBe(1001);
    expect(ex.class.index).toBe(951);
    expect(ex.class.label).toBe('orange');
    expect(ref.index).toBe(951);
  });
});

describe('each model\'s default rules (catalog "rules")', () => {
  it("'default' means the model's rules, 'reference' the authors'; bad rules are refused naming the model", async () => {
    const m = await loadModel('mobilenet_v1_025_224_tfhub');
    const entry = CATALOG.models.find((e: { id: string }) => e.id === 'mobilenet_v1_025_224_tfhub');
    const img = await photo('fruits.jpg');
    expect((await explain(m, img, { rules: 'default' })).rules).toEqual(entry.rules);
    expect((await explain(m, img)).rules).toEqual(entry.rules);
    expect((await explain(m, img, { rules: 'reference' })).rules).toEqual(PRESETS.reference);
    expect((await explain(m, img, { override: { gapThreshold: 0.5 } })).rules).toEqual({
      ...entry.rules,
      gapThreshold: 0.5,
    });
    img.dispose();
    expect(() =>
      FixationModel.create(m.model, { ...m.info, id: 'bad', rules: { ...entry.rules, location: 'left' } }),
    ).toThrow(/model 'bad': its default rules: rule location='left' is not one of center, max/);
    m.dispose();
  });
});

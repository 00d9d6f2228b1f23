// The catalog models committed in the repository (quantized by `npm run models:quantize`, scripts/quantize-models.ts)
// against the float32 models of the mirror they were made from: always, every committed file matches its pinned
// sha256; with the mirror, the weights (MobileNetV2: bit for bit), the test vectors' logits, the top-1 on every
// shared photo and the fixations. Prints the measured differences (docs/models-catalog.md quotes them).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain } from '../../src/engine/explain.ts';
import { disposeForward, type FixationModel } from '../../src/engine/model.ts';
import { loadModel, readImage, ROOT } from '../../src/node/index.ts';
import { describe as recipeName, QUANTIZE, readWeights } from '../../scripts/quantize-models.ts';

const MIRROR = join(ROOT, '../shared/models');
const IMAGES = join(ROOT, 'eval/data/images'); // the repository's copy of the shared photos
const CATALOG = JSON.parse(readFileSync(join(ROOT, 'models/catalog.json'), 'utf8'));
const sha256 = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const f32 = (path: string) => {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
};
const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const argmax = (a: ArrayLike<number>) => Array.from(a).reduce((best, v, i, all) => (v > all[best] ? i : best), 0);

/**
 * Largest |logit - float32 model's logit| allowed, relative to the float model's max |logit|, on the test vectors
 * and the photos. float16 keeps 11 significant bits (relative rounding up to 2^-11 per weight). MobileNetV2's
 * weights are bit-equal to the mirror's, so its logits must be equal too.
 */
const TOLERANCE: Record<string, number> = { mobilenet_v2: 0, mobilenet_v1_025_224_tfhub: 5e-3, squeezenet1_1: 2e-3 };
/** The test vectors' expected logits were computed outside TF.js (numpy, onnxruntime): as tests/node/testvectors.test.ts. */
const VECTOR_TOLERANCE = 1e-3;

describe('committed catalog models', () => {
  it('every catalog model is committed: every file of its entry and every shard of its model.json, with the pinned sha256', () => {
    for (const m of CATALOG.models) {
      const dir = join(ROOT, 'models', m.id);
      const shards = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).weightsManifest.flatMap(
        (g: { paths: string[] }) => g.paths,
      );
      for (const s of shards)
        expect(m.files, `${m.id}: shard ${s} of model.json is not pinned in the catalog`).toHaveProperty([s]);
      for (const [file, sha] of Object.entries(m.files)) {
        expect(sha, `${m.id}/${file}: no pinned hash`).toMatch(/^[0-9a-f]{64}$/);
        expect(sha256(join(dir, file)), `models/${m.id}/${file}`).toBe(sha);
      }
    }
  });

  it('every catalog model has a quantization recipe, and the recipes name only catalog models', () => {
    expect(Object.keys(QUANTIZE).sort()).toEqual(CATALOG.models.map((m: { id: string }) => m.id).sort());
  });
});

const missing = [MIRROR, IMAGES].filter((p) => !existsSync(p));
if (missing.length)
  console.log(`quantized-models: comparison with the float models skipped: ${missing.join(' and ')} not found`);

describe.skipIf(missing.length > 0)('committed models against the float32 models of the mirror', () => {
  const photos = existsSync(IMAGES)
    ? readdirSync(IMAGES)
        .filter((f) => /\.(jpe?g|png)$/i.test(f))
        .sort()
    : [];

  for (const id of Object.keys(QUANTIZE)) {
    describe(id, () => {
      let committed: FixationModel, float: FixationModel;
      const lines: string[] = [];
      beforeAll(async () => {
        committed = await loadModel(id);
        float = await loadModel(id, join(MIRROR, id));
      });
      afterAll(() => {
        committed?.dispose();
        float?.dispose();
        console.log(`${id} (${recipeName(QUANTIZE[id])}):\n  ${lines.join('\n  ')}`);
      });
      const logits = async (m: FixationModel, input: tf.Tensor4D) => {
        const fwd = await m.forward(input);
        disposeForward(fwd, [input]);
        return fwd.logits;
      };

      if (QUANTIZE[id].mode === 'grid') {
        it('every weight equals the mirror float32 weight bit for bit', () => {
          const a = readWeights(join(MIRROR, id)).tensors,
            b = readWeights(join(ROOT, 'models', id)).tensors;
          expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
          for (const name of Object.keys(a)) {
            const x = a[name].dataSync(),
              y = b[name].dataSync();
            expect(Buffer.from(new Float32Array(y).buffer).equals(Buffer.from(new Float32Array(x).buffer)), name).toBe(
              true,
            );
          }
          lines.push(`weights: ${Object.keys(a).length} tensors, max |w - mirror| 0 (bit-equal)`);
        });
      }

      const vectors = join(MIRROR, id, 'testvectors');
      it.skipIf(!existsSync(vectors))(
        `test vectors (${vectors}): within ${VECTOR_TOLERANCE} of the expected logits, within ${TOLERANCE[id]} of the float model's`,
        async () => {
          for (const i of [0, 1, 2]) {
            const expected = f32(join(vectors, `logits_${i}.f32`));
            const input = tf.tensor4d(f32(join(vectors, `input_${i}.f32`)), [1, 224, 224, 3]);
            const got = await logits(committed, input);
            const ref = await logits(float, input);
            input.dispose();
            const err = maxDiff(got, expected),
              scale = maxAbs(expected),
              fromFloat = maxDiff(got, ref) / maxAbs(ref);
            lines.push(
              `test vector ${i}: max |logit - expected| ${err.toExponential(2)} (${(err / scale).toExponential(2)} of max |logit| ${scale.toFixed(2)}; ` +
                `the float32 model: ${maxDiff(ref, expected).toExponential(2)}); from the float32 model ${fromFloat.toExponential(2)} of max |logit|; ` +
                `top-1 ${argmax(got) === argmax(expected) ? 'same' : 'DIFFERENT'}`,
            );
            expect(err).toBeLessThanOrEqual(VECTOR_TOLERANCE * scale);
            expect(fromFloat).toBeLessThanOrEqual(TOLERANCE[id]);
            expect(argmax(got)).toBe(argmax(expected));
          }
        },
      );

      it(`top-1 unchanged on every shared photo (${photos.length}); logits within ${TOLERANCE[id]} of max |logit|`, async () => {
        let same = 0,
          worst = 0;
        for (const name of photos) {
          const image = await readImage(join(IMAGES, name));
          const { input } = float.preprocess(image);
          image.dispose();
          const ref = await logits(float, input);
          const got = await logits(committed, input);
          input.dispose();
          const rel = maxDiff(got, ref) / maxAbs(ref);
          worst = Math.max(worst, rel);
          if (argmax(got) === argmax(ref)) same++;
          else lines.push(`${name}: top-1 ${argmax(got)} against the float model's ${argmax(ref)}`);
        }
        lines.push(
          `photos: top-1 the same on ${same}/${photos.length}; max |logit - float logit| up to ${worst.toExponential(2)} of max |logit|`,
        );
        expect(same).toBe(photos.length);
        expect(worst).toBeLessThanOrEqual(TOLERANCE[id]);
      });

      // Bit-equal weights give equal explanations; float16 ones may move a fixation where two inputs nearly tie.
      it.skipIf(QUANTIZE[id].mode === 'grid')(
        'the explanations (default rules) keep their fixations: mean Jaccard >= 0.95 over the photos',
        async () => {
          let identical = 0,
            jaccard = 0;
          const key = (f: { x: number; y: number }) => `${f.x},${f.y}`;
          for (const name of photos) {
            const image = await readImage(join(IMAGES, name));
            const a = new Set(
              (await explain(committed, image, { method: 'fixations', rules: 'default' })).fixations.map(key),
            );
            const b = new Set(
              (await explain(float, image, { method: 'fixations', rules: 'default' })).fixations.map(key),
            );
            image.dispose();
            const both = [...a].filter((k) => b.has(k)).length;
            const j = both / (a.size + b.size - both || 1);
            jaccard += j / photos.length;
            if (j === 1) identical++;
          }
          lines.push(
            `fixations (default rules): identical on ${identical}/${photos.length} photos, mean Jaccard ${jaccard.toFixed(3)}`,
          );
          expect(jaccard).toBeGreaterThanOrEqual(0.95);
        },
      );
    });
  }
});

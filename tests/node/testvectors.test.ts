// The installed SqueezeNet reproduces the shared test vectors: raw NHWC inputs -> the expected pool10 logits
// (computed outside this project, the mirror's squeezenet1_1/testvectors; skipped without the mirror).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disposeForward, type FixationModel } from '../../src/engine/model.ts';
import { loadModel } from '../../src/node/index.ts';
import { lacks, mirror } from '../fixtures/data.ts';

const VECTORS = mirror('squeezenet1_1/testvectors');
const f32 = (name: string) => {
  const b = readFileSync(join(VECTORS, name));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
};

let model: FixationModel;
beforeAll(async () => {
  model = await loadModel('squeezenet1_1');
});
afterAll(() => model?.dispose());

describe.skipIf(lacks('testvectors.test.ts', VECTORS))('SqueezeNet test vectors', () => {
  for (const i of [0, 1, 2]) {
    it(`input_${i} gives logits_${i}`, async () => {
      const expected = f32(`logits_${i}.f32`);
      const input = tf.tensor4d(f32(`input_${i}.f32`), [1, 224, 224, 3]);
      const fwd = await model.forward(input);
      disposeForward(fwd, [input]);
      input.dispose();
      expect(fwd.logits.length).toBe(1000);
      const scale = Math.max(...expected.map(Math.abs));
      let err = 0;
      for (let k = 0; k < 1000; k++) err = Math.max(err, Math.abs(fwd.logits[k] - expected[k]));
      expect(err).toBeLessThanOrEqual(1e-3 * scale);
    });
  }
});

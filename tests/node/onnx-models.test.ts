// The mirror's ONNX models (onnx/ in the model mirror; every test here skips without it) through the importer: their own test vectors (computed outside this
// project), the same logits and fixations as the TF.js conversions of the same weights, the int8 QDQ model's top-1
// against the float model, and clear errors for what is not supported.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain } from '../../src/engine/explain.ts';
import { disposeForward, FixationModel } from '../../src/engine/model.ts';
import { PRESETS } from '../../src/engine/types.ts';
import { fileHandler, initNodeBackend, loadModel, readImage } from '../../src/node/index.ts';
import { lacks, mirror, photo, PHOTOS, SQUIRREL } from '../fixtures/data.ts';

const ONNX = mirror('onnx');
const IMAGES = PHOTOS;
const NO_MIRROR = lacks(
  'onnx-models.test.ts',
  ...['squeezenet1_1.onnx', 'mobilenet_v2_float.onnx', 'mobilenet_v2_int8_qdq.onnx'].map((f) => join(ONNX, f)),
  mirror('mobilenet_v2/model.json'),
);
const NODE_TESTS = '/usr/share/libonnx-testdata/data/node';

function f32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}
/** An NCHW test vector as the NHWC network input. */
function nchwInput(path: string): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor4d(f32(path), [1, 3, 224, 224]), [0, 2, 3, 1]));
}
async function logitsOf(m: FixationModel, input: tf.Tensor4D): Promise<Float32Array> {
  const fwd = await m.forward(input);
  disposeForward(fwd, [input]);
  return fwd.logits;
}
/** max |a - b| / max |b|. */
function relErr(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let err = 0,
    scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / scale;
}
async function timed<T>(what: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const r = await f();
  console.log(`${what}: loaded in ${Math.round(performance.now() - t0)} ms`);
  return r;
}

const ms: Record<string, FixationModel> = {};
beforeAll(async () => {
  if (NO_MIRROR) return;
  await initNodeBackend();
  const labels = JSON.parse(readFileSync(mirror('mobilenet_v2/labels.json'), 'utf8'));
  ms.squeezeOnnx = await timed('ONNX squeezenet1_1.onnx', () => loadModel(undefined, join(ONNX, 'squeezenet1_1.onnx')));
  // The mirror's float32 conversion (the catalog's committed copy has float16 kernels: its twin within their rounding).
  ms.squeezeTfjs = await timed('TF.js squeezenet1_1 (float32, the mirror)', () =>
    loadModel('squeezenet1_1', mirror('squeezenet1_1')),
  );
  ms.mobileOnnx = await timed('ONNX mobilenet_v2_float.onnx', () =>
    loadModel({
      path: join(ONNX, 'mobilenet_v2_float.onnx'),
      info: { preprocessing: { range: [-1, 1], mean: [0, 0, 0], std: [1, 1, 1] } },
      labels,
    }),
  );
  ms.mobileInt8 = await timed(
    'ONNX mobilenet_v2_int8_qdq.onnx',
    () => loadModel(join(ONNX, 'mobilenet_v2_int8_qdq.onnx')) /* an .onnx path as the model */,
  );
  ms.mobileTfjs = await timed('TF.js mobilenet_v2', async () =>
    FixationModel.create(await loadGraphModel(fileHandler(mirror('mobilenet_v2'))), {
      id: 'mobilenet_v2',
      inputSize: 224,
      preprocessing: { range: [-1, 1], mean: [0, 0, 0], std: [1, 1, 1] },
      logits: 'logits',
      probs: 'probs',
      labels,
    }),
  );
}, 240_000);
afterAll(() => Object.values(ms).forEach((m) => m.dispose()));

describe.skipIf(NO_MIRROR)('ONNX SqueezeNet 1.1', () => {
  it('reads its facts off the graph: NCHW input 224, logits = the graph output, ImageNet preprocessing, labels beside', () => {
    const { info, graph } = ms.squeezeOnnx;
    expect(info.inputSize).toBe(224);
    expect(info.logits).toBe('squeezenet0_flatten0_reshape0');
    expect(info.preprocessing).toEqual({ range: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    expect(info.labels).toEqual(
      readFileSync(join(ONNX, 'labels_imagenet_2012.txt'), 'utf8').split('\n').filter(Boolean),
    );
    expect(graph.input.shape).toEqual([224, 224, 3]);
  });

  testVectors('squeezenet1_1', 'squeezeOnnx', 'squeezeTfjs');

  it('gives the same class and fixations as the TF.js SqueezeNet on every shared photo (both presets)', async () => {
    for (const file of IMAGES) {
      const img = await readImage(photo(file));
      // The presets' rules themselves: 'default' would mean the catalog's SqueezeNet rules for one model only.
      for (const preset of ['default', 'reference'] as const) {
        const rules = PRESETS[preset];
        const a = await explain(ms.squeezeOnnx, img, { method: 'fixations', rules });
        const b = await explain(ms.squeezeTfjs, img, { method: 'fixations', rules });
        expect(a.class.index, `${file} ${preset}`).toBe(b.class.index);
        expect(
          a.inputFixations.map(({ x, y, c }) => [x, y, c]),
          `${file} ${preset}`,
        ).toEqual(b.inputFixations.map(({ x, y, c }) => [x, y, c]));
        for (let i = 0; i < a.inputFixations.length; i++)
          expect(a.inputFixations[i].w).toBeCloseTo(b.inputFixations[i].w, 4);
        expect(a.box).toEqual(b.box);
      }
      img.dispose();
    }
  }, 240_000);
});

describe.skipIf(NO_MIRROR)('ONNX MobileNetV2 (float)', () => {
  testVectors('mobilenet_v2_float', 'mobileOnnx', 'mobileTfjs');

  it('gives the same class and fixations as the TF.js MobileNetV2 on every shared photo', async () => {
    for (const file of IMAGES) {
      const img = await readImage(photo(file));
      const opts = { method: 'fixations' as const, override: { location: 'max' as const } };
      const a = await explain(ms.mobileOnnx, img, opts);
      const b = await explain(ms.mobileTfjs, img, opts);
      expect(a.class.index, file).toBe(b.class.index);
      expect(
        a.inputFixations.map(({ x, y, c }) => [x, y, c]),
        file,
      ).toEqual(b.inputFixations.map(({ x, y, c }) => [x, y, c]));
      img.dispose();
    }
  }, 240_000);
});

describe.skipIf(NO_MIRROR)('ONNX MobileNetV2 int8 QDQ', () => {
  it("takes raw uint8 NHWC pixels and has the float model's top-1 on every shared photo", async () => {
    const { info, graph } = ms.mobileInt8;
    expect(info.preprocessing).toEqual({ range: [0, 255], mean: [0, 0, 0], std: [1, 1, 1] });
    expect(graph.input.shape).toEqual([224, 224, 3]);
    expect(info.probs).toBeDefined(); // the output is a Softmax: logits = its input
    const lines: string[] = [];
    for (const file of IMAGES) {
      const img = await readImage(photo(file));
      const a = await explain(ms.mobileInt8, img, { method: 'fixations', override: { location: 'max' } });
      const b = await explain(ms.mobileOnnx, img, { method: 'fixations', override: { location: 'max' } });
      img.dispose();
      lines.push(
        `${file}: int8 ${a.class.index} ${a.class.label} (${a.class.prob.toFixed(3)}), float ${b.class.index} (${b.class.prob.toFixed(3)})`,
      );
      expect(a.class.index, file).toBe(b.class.index);
      expect(a.inputFixations.length).toBeGreaterThan(0);
    }
    console.log(lines.join('\n'));
  }, 240_000);
});

describe.skipIf(NO_MIRROR)('ONNX in the CLI', () => {
  it('classify takes an .onnx file (--model-dir or --model) and the preprocessing flags', async () => {
    const { main } = await import('../../src/cli/main.ts');
    const out: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => {
      out.push(a.join(' '));
    };
    try {
      expect(
        await main(['classify', SQUIRREL, '--model-dir', join(ONNX, 'mobilenet_v2_float.onnx'), '--range=-1,1']),
      ).toBe(0);
      expect(await main(['classify', SQUIRREL, '--model', join(ONNX, 'squeezenet1_1.onnx')])).toBe(0);
    } finally {
      console.log = log;
    }
    const tops = out.flatMap((l) => l.split('\n')).filter((l) => /^\s+0\.\d+\s+\d+/.test(l));
    expect(tops[0]).toMatch(/335\s+fox squirrel/); // MobileNetV2 in [-1,1]
    expect(tops[5]).toMatch(/335\s+fox squirrel/); // SqueezeNet, ImageNet mean/std
  }, 120_000);
});

describe.skipIf(NO_MIRROR)('ONNX errors', () => {
  it.skipIf(lacks('onnx-models.test.ts (unsupported ops)', NODE_TESTS) && !process.env.CI)(
    'an unsupported op names the op and the node',
    async () => {
      await expect(loadModel(undefined, join(NODE_TESTS, 'test_lstm_defaults/model.onnx'))).rejects.toThrow(
        /test_lstm_defaults\/model\.onnx: node '\w+' \(op LSTM\): op 'LSTM' is not supported/,
      );
      await expect(loadModel(undefined, join(NODE_TESTS, 'test_qlinearconv/model.onnx'))).rejects.toThrow(
        /\(op QLinearConv\): op 'QLinearConv' is not supported/,
      );
    },
  );
  it('a file that is not ONNX, or missing, is a clear error naming the file', async () => {
    const notOnnx = join(ONNX, 'LICENSE');
    await expect(loadModel(undefined, SQUIRREL.replace(/jpg$/, 'onnx'))).rejects.toThrow(
      /cannot read .*squirrel_cls\.onnx/,
    );
    const { loadOnnx } = await import('../../src/formats/onnx/index.ts');
    await expect(loadOnnx(readFileSync(notOnnx), notOnnx)).rejects.toThrow(/LICENSE: not an ONNX model/);
  });
});

/** The mirror's three test vectors (NCHW inputs): the ONNX model gives the expected logits, and its TF.js twin's. */
function testVectors(dir: string, onnx: keyof typeof ms, tfjs: keyof typeof ms) {
  for (const k of [0, 1, 2]) {
    it(`test vector ${k}: the expected logits, and the TF.js twin's`, async () => {
      const input = nchwInput(join(ONNX, `testvectors/${dir}/input_${k}.f32`));
      const got = await logitsOf(ms[onnx], input);
      const twin = await logitsOf(ms[tfjs], input);
      input.dispose();
      const vsExpected = relErr(got, f32(join(ONNX, `testvectors/${dir}/logits_${k}.f32`)));
      const vsTfjs = relErr(got, twin);
      console.log(
        `${dir} vector ${k}: max rel. error vs expected ${vsExpected.toExponential(2)}, vs TF.js ${vsTfjs.toExponential(2)}`,
      );
      expect(vsExpected).toBeLessThan(1e-4);
      expect(vsTfjs).toBeLessThan(1e-4);
    });
  }
}

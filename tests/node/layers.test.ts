// TF.js layers models (Keras topology) through the converter, checked against tfjs-layers' own predict (an
// independent implementation) on the cpu backend: the shared layers MobileNet on the shared photos, a zoo of small
// models covering every mapped layer and option, a Teachable-Machine-shaped model trained here, the CLI, and the
// errors for what is not mapped.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, FixationModel, graphFacts } from '../../src/index.ts';
import { initNodeBackend, loadModel, readImage } from '../../src/node/index.ts';
import { convertLayersModel, isLayersModel } from '../../src/formats/layers/convert.ts';
import {
  buildTeachableModel,
  LAYERS_MOBILENET,
  loadLayers,
  photo,
  readLayersArtifacts,
  TM_LABELS,
} from '../fixtures/teachable.ts';
import { lacks, photo as photoPath, SQUIRREL } from '../fixtures/data.ts';

// The layers MobileNet is the mirror's: the tests built on it skip without the mirror (the zoo and the errors run).
const NO_MOBILENET = lacks('layers.test.ts (the layers MobileNet)', `${LAYERS_MOBILENET}/model.json`);

const ROOT = join(import.meta.dirname, '../..');
const PHOTOS = ['squirrel_cls.jpg', 'orange.jpg', 'butterfly.jpg', 'messi5.jpg'];
const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  return Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
};

let tmp: string;
beforeAll(async () => {
  await initNodeBackend('cpu');
  tmp = mkdtempSync(join(tmpdir(), 'cnnfix-layers-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(NO_MOBILENET)(
  'the shared layers MobileNet v1 0.25 (tfjs-models layout: model.json + shards + metadata.json)',
  () => {
    let model: FixationModel;
    let reference: tfl.LayersModel;
    let referenceLogits: tfl.LayersModel;
    beforeAll(async () => {
      model = await loadModel({ path: LAYERS_MOBILENET });
      reference = await loadLayers(LAYERS_MOBILENET);
      referenceLogits = tfl.model({
        inputs: reference.inputs,
        outputs: reference.getLayer('conv_preds').output as tfl.SymbolicTensor,
      });
    });
    afterAll(() => model?.dispose());

    it('is read as a layers model; its facts come from the graph and metadata.json', () => {
      expect(isLayersModel(JSON.parse(readFileSync(join(LAYERS_MOBILENET, 'model.json'), 'utf8')))).toBe(true);
      expect(model.info.logits).toBe('conv_preds'); // the input of the final softmax, seen through reshape_2
      expect(model.info.inputSize).toBe(224);
      expect(model.info.preprocessing.range).toEqual([-1, 1]);
      expect(model.info.labels.length).toBe(1000);
      expect(model.info.labels[335]).toMatch(/^fox squirrel/);
    });

    it.each(PHOTOS)(
      '%s: logits and probabilities equal tfjs-layers predict (within 1e-4 of max |logit|)',
      async (name) => {
        const image = await readImage(photoPath(name));
        const { input } = model.preprocess(image);
        const fwd = await model.forward(input);
        const logits = (referenceLogits.predict(input) as tf.Tensor).dataSync();
        const probs = (reference.predict(input) as tf.Tensor).dataSync();
        const scale = maxAbs(logits);
        expect(maxDiff(fwd.logits, logits)).toBeLessThan(1e-4 * scale);
        expect(maxDiff(fwd.probs, probs)).toBeLessThan(1e-5);
        expect(model.top(fwd.probs, 1)[0].index).toBe(tf.argMax(probs).dataSync()[0]);
        tf.dispose([image, input, ...fwd.tensors.values()]);
      },
    );

    it('squirrel_cls.jpg: top-1 fox squirrel; the CPU unravelling walks every layer down to pixels on the squirrel', async () => {
      const image = await readImage(SQUIRREL);
      // MobileNet has no pooling: 'max' location (README, Evaluation).
      const ex = await explain(model, image, { rules: 'default', override: { location: 'max' } });
      image.dispose();
      expect(ex.class.index).toBe(335);
      expect(ex.layers[0].name).toBe('conv_preds');
      expect(ex.layers.at(-1)!.name).toBe('input_1');
      expect(ex.layers.map((l) => l.name)).toEqual(
        expect.arrayContaining(['conv1', 'conv_dw_1', 'conv_pw_13', 'global_average_pooling2d_1']),
      );
      expect(ex.layers.every((l) => l.count > 0)).toBe(true);
      expect(ex.fixations.length).toBeGreaterThan(0);
      // The hand-drawn squirrel box of eval/data/boxes.json, 15 px slack (pointing game).
      const [x1, y1, x2, y2] = [125, 100, 360, 370];
      expect(ex.peak![0]).toBeGreaterThanOrEqual(x1 - 15);
      expect(ex.peak![0]).toBeLessThanOrEqual(x2 + 15);
      expect(ex.peak![1]).toBeGreaterThanOrEqual(y1 - 15);
      expect(ex.peak![1]).toBeLessThanOrEqual(y2 + 15);
    });
  },
);

/** Save a tfjs-layers model in memory and convert it; the graph model and tfjs-layers run the same input. */
async function roundTrip(m: tfl.LayersModel, inputShape: number[]) {
  let artifacts!: tf.io.ModelArtifacts;
  await m.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const gm = await loadGraphModel(tf.io.fromMemory(convertLayersModel(artifacts, m.name)));
  const x = tf.randomUniform([2, ...inputShape], -1, 1, 'float32', 7);
  const want = (m.predict(x) as tf.Tensor).dataSync();
  const got = (gm.execute(x, gm.outputNodes[0]) as tf.Tensor).dataSync();
  return { want, got, gm, artifacts };
}

/** Random weights everywhere (BN variances positive), so that no mapping hides behind an initializer's zeros/ones. */
function randomize(m: tfl.LayersModel) {
  m.setWeights(
    m.weights.map((w, i) =>
      tf.randomUniform(w.shape as number[], w.name.includes('variance') ? 0.5 : -1, 1.5, 'float32', 100 + i),
    ),
  );
}

describe('a zoo of small models: every mapped layer and option equals tfjs-layers predict', () => {
  it('functional: padding, strides, dilation, depthwise multiplier, separable, BN without centre, pools, add of three, concat, dense on a map, reshape, activations', async () => {
    const inp = tfl.input({ shape: [16, 16, 3] });
    const pad = tfl.layers
      .zeroPadding2d({
        padding: [
          [1, 2],
          [0, 1],
        ],
      })
      .apply(inp) as tfl.SymbolicTensor;
    const c1 = tfl.layers
      .conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' })
      .apply(pad) as tfl.SymbolicTensor;
    const b1 = tfl.layers.batchNormalization({ center: false, epsilon: 0.01 }).apply(c1) as tfl.SymbolicTensor;
    const d1 = tfl.layers
      .depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu6' })
      .apply(b1) as tfl.SymbolicTensor;
    const s1 = tfl.layers
      .separableConv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'swish' })
      .apply(d1) as tfl.SymbolicTensor;
    const c2 = tfl.layers
      .conv2d({ filters: 8, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'tanh' })
      .apply(b1) as tfl.SymbolicTensor;
    const c3 = tfl.layers
      .conv2d({ filters: 8, kernelSize: 1, useBias: false, activation: 'elu' })
      .apply(b1) as tfl.SymbolicTensor;
    const sum = tfl.layers.add().apply([s1, c2, c3]) as tfl.SymbolicTensor;
    const r = tfl.layers.reLU({ maxValue: 4 }).apply(sum) as tfl.SymbolicTensor;
    const lr = tfl.layers.leakyReLU({ alpha: 0.1 }).apply(sum) as tfl.SymbolicTensor;
    const cat = tfl.layers.concatenate().apply([r, lr]) as tfl.SymbolicTensor; // [10, 9, 16]
    const mp = tfl.layers.maxPooling2d({ poolSize: 3, strides: 2 }).apply(cat) as tfl.SymbolicTensor; // valid: [4, 4, 16]
    const ap = tfl.layers.averagePooling2d({ poolSize: 2, padding: 'same' }).apply(cat) as tfl.SymbolicTensor; // [5, 5, 16]
    const g1 = tfl.layers.globalAveragePooling2d({}).apply(mp) as tfl.SymbolicTensor;
    const fl = tfl.layers.flatten().apply(ap) as tfl.SymbolicTensor;
    const dn = tfl.layers.dense({ units: 10, activation: 'sigmoid' }).apply(fl) as tfl.SymbolicTensor;
    const dm = tfl.layers.dense({ units: 6, activation: 'softplus' }).apply(cat) as tfl.SymbolicTensor; // on a map
    const g2 = tfl.layers.globalAveragePooling2d({}).apply(tfl.layers.elu().apply(dm)) as tfl.SymbolicTensor;
    const cat2 = tfl.layers.concatenate({ axis: 1 }).apply([g1, dn, g2]) as tfl.SymbolicTensor; // [32]
    const drop = tfl.layers.dropout({ rate: 0.5 }).apply(cat2) as tfl.SymbolicTensor;
    const rs = tfl.layers.reshape({ targetShape: [4, 8] }).apply(drop) as tfl.SymbolicTensor;
    const fl2 = tfl.layers
      .flatten()
      .apply(tfl.layers.activation({ activation: 'selu' }).apply(rs)) as tfl.SymbolicTensor;
    const out = tfl.layers.softmax().apply(tfl.layers.dense({ units: 5 }).apply(fl2)) as tfl.SymbolicTensor;
    const m = tfl.model({ inputs: inp, outputs: out, name: 'zoo' });
    randomize(m);
    const { want, got, gm } = await roundTrip(m, [16, 16, 3]);
    // The signature's output is the model's (the Softmax layer); the logits are the dense below it.
    expect(maxDiff(got, want)).toBeLessThan(1e-5);
    const facts = graphFacts(gm, 'zoo');
    expect(facts.logits).toMatch(/^dense/);
    // And it unravels: tanh, selu, softplus, sigmoid, elu are elementwise, so followed one to one down to the input.
    const fm = FixationModel.create(gm, {
      id: 'zoo',
      inputSize: 16,
      preprocessing: { range: [0, 1], mean: [0, 0, 0], std: [1, 1, 1] },
      ...facts,
      labels: [],
    });
    const x = tf.randomUniform([1, 16, 16, 3], -1, 1, 'float32', 8) as tf.Tensor4D;
    const ex = await explain(fm, x, { rules: 'reference', override: { location: 'max' } });
    x.dispose();
    expect(ex.layers.at(-1)!.name).toBe(fm.graph.input.name);
    expect(ex.inputFixations.length).toBeGreaterThan(0);
  });

  it('pools with same padding at stride 2 on odd sizes, and a linear Sequential with an implicit input', async () => {
    const m = tfl.sequential({
      name: 'seq',
      layers: [
        tfl.layers.conv2d({ inputShape: [15, 15, 2], filters: 4, kernelSize: 4, strides: 2, padding: 'same' }),
        tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
        tfl.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'valid' }),
        tfl.layers.depthwiseConv2d({ kernelSize: 2, strides: 2, padding: 'valid', useBias: false }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 3, activation: 'linear' }),
      ],
    });
    randomize(m);
    const { want, got } = await roundTrip(m, [15, 15, 2]);
    expect(maxDiff(got, want)).toBeLessThan(1e-4 * maxAbs(want));
  });
});

describe('heads and the errors a user sees', () => {
  /** A layers model saved to a folder as tfjs-layers (and Teachable Machine) write it: model.json + weights.bin. */
  async function saveLayers(m: tfl.LayersModel, name: string, edit?: (topology: any) => void): Promise<string> {
    let a!: tf.io.ModelArtifacts;
    await m.save(
      tf.io.withSaveHandler(async (x) => {
        a = x;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const dir = join(tmp, name);
    mkdirSync(dir, { recursive: true });
    const topology = structuredClone(a.modelTopology);
    edit?.(topology);
    writeFileSync(
      join(dir, 'model.json'),
      JSON.stringify({
        modelTopology: topology,
        format: 'layers-model',
        weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
      }),
    );
    writeFileSync(join(dir, 'weights.bin'), new Uint8Array(a.weightData as ArrayBuffer));
    return dir;
  }
  const binary = () => {
    const m = tfl.sequential({
      name: 'cat_or_not',
      layers: [
        tfl.layers.conv2d({ inputShape: [24, 24, 3], filters: 6, kernelSize: 3, strides: 2, activation: 'relu' }),
        tfl.layers.globalAveragePooling2d({}),
        tfl.layers.dense({ name: 'out', units: 1, activation: 'sigmoid' }),
      ],
    });
    randomize(m);
    return m;
  };

  it("Dense(1, sigmoid): present with tfjs-layers' probability, absent with 1 - p, labels [cat, not cat]", async () => {
    const m = binary();
    const fm = await loadModel({
      path: await saveLayers(m, 'binary'),
      labels: ['cat'],
      info: { preprocessing: { range: [-1, 1], mean: [0], std: [1] } },
    });
    expect(fm.head).toBe('binary');
    expect(fm.info.labels).toEqual(['cat', 'not cat']);
    const { input } = fm.preprocess(photo('orange.jpg'));
    const want = (m.predict(input) as tf.Tensor).dataSync()[0];
    const f = await fm.forward(input);
    expect(Math.abs(f.probs[0] - want)).toBeLessThan(1e-5);
    expect(Math.abs(f.probs[1] - (1 - want))).toBeLessThan(1e-5);
    const ex = await explain(fm, input, { classIndex: [0, 1] });
    expect(ex.classes.map((c) => c.inputFixations.length > 0)).toEqual([true, true]);
    input.dispose();
    fm.dispose();
  });

  it('an output layer that does not exist, a logits node not in the graph, a wrong input size: named, with what to pass', async () => {
    // A Functional model names its outputs (output_layers): one that names no layer.
    const m = binary();
    const inp = tfl.input({ shape: [24, 24, 3], name: 'image' });
    const fn = tfl.model({ name: 'fn', inputs: inp, outputs: m.apply(inp) as tfl.SymbolicTensor });
    const dir = await saveLayers(fn, 'bad-output-fn', (t) => {
      t.config.output_layers = [['nope', 0, 0]];
    });
    await expect(loadModel({ path: dir })).rejects.toThrow(
      `model: ${join(dir, 'model.json')}: layer 'fn' (Model): output 'nope' (node 0, tensor 0) is not computed; name an existing layer in output_layers, or give the logits node (CLI --logits NODE`,
    );
    const ok = await saveLayers(binary(), 'ok');
    await expect(loadModel({ path: ok, info: { logits: 'dense/BiasAdd' } })).rejects.toThrow(
      `model ${ok}: logits node 'dense/BiasAdd' is not in the graph; nodes that could be the logits: `,
    );
    await expect(loadModel({ path: ok, info: { inputSize: 32 } })).rejects.toThrow(
      `model ${ok}: the model's input is [-1,24,24,3], the model info says [1,32,32,3]: give input size 24 or leave it out`,
    );
  });
});

describe('what is not mapped is a clear error', () => {
  async function convertError(m: tfl.LayersModel, edit?: (a: tf.io.ModelArtifacts) => void): Promise<Error> {
    let artifacts!: tf.io.ModelArtifacts;
    await m.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    edit?.(artifacts);
    try {
      convertLayersModel(artifacts, 'my/model.json');
    } catch (e) {
      return e as Error;
    }
    throw new Error('no error');
  }

  it('an unsupported layer names the file, the layer and its class', async () => {
    const m = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ name: 'ok_conv', inputShape: [8, 8, 3], filters: 2, kernelSize: 3 }),
        tfl.layers.conv2dTranspose({ name: 'up', filters: 2, kernelSize: 3 }),
      ],
    });
    const e = await convertError(m);
    expect(e.message).toContain("my/model.json: layer 'up' (Conv2DTranspose): layer class not supported");
  });

  it('an unsupported activation, and a weight missing from the manifest, are named', async () => {
    const m = tfl.sequential({
      layers: [tfl.layers.dense({ name: 'd', inputShape: [4], units: 2, activation: 'hardSigmoid' })],
    });
    expect((await convertError(m)).message).toContain("layer 'd' (Dense): activation 'hard_sigmoid' is not supported");
    const n = tfl.sequential({ layers: [tfl.layers.dense({ name: 'e', inputShape: [4], units: 2 })] });
    const e = await convertError(n, (a) => {
      const specs = a.weightSpecs!;
      const k = specs.findIndex((s) => s.name === 'e/bias');
      a.weightData = (a.weightData as ArrayBuffer).slice(0, 4 * 4 * 2); // kernel only
      specs.splice(k, 1);
    });
    expect(e.message).toContain("layer 'e' (Dense): weight 'e/bias' is not in the weights manifest");
  });
});

describe.skipIf(NO_MOBILENET)(
  'a Teachable-Machine-shaped model (truncated MobileNet + dense head, trained here on orange vs squirrel crops)',
  () => {
    let dir: string;
    let reference: tfl.LayersModel;
    let model: FixationModel;
    beforeAll(async () => {
      dir = join(tmp, 'tm');
      await buildTeachableModel(dir);
      reference = await tfl.loadLayersModel(tf.io.fromMemory(readLayersArtifacts(dir)));
      model = await loadModel({ path: join(dir, 'model.json') }); // a model.json path in place of a catalog id
    });
    afterAll(() => model?.dispose());

    it('is exported in the Teachable Machine layout: nested Sequential > Sequential > Model, metadata.json labels', () => {
      const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
      expect(json.modelTopology.class_name).toBe('Sequential');
      expect(json.modelTopology.config.layers.map((l: { class_name: string }) => l.class_name)).toEqual([
        'Sequential',
        'Sequential',
      ]);
      expect(json.modelTopology.config.layers[0].config.layers[0].class_name).toBe('Model');
      expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
      expect(model.info.labels).toEqual(TM_LABELS);
      expect(model.info.preprocessing.range).toEqual([-1, 1]); // from metadata.json (Teachable Machine)
      expect(model.info.logits).toBe('dense_Dense2/BiasAdd');
    });

    it.each([
      ['orange.jpg', 0],
      ['squirrel_cls.jpg', 1],
    ])('%s: same probabilities as tfjs-layers, right label, fixations drawn', async (name, label) => {
      const image = photo(name);
      const { input } = model.preprocess(image);
      const fwd = await model.forward(input);
      const want = (reference.predict(input) as tf.Tensor).dataSync();
      expect(maxDiff(fwd.probs, want)).toBeLessThan(1e-5);
      expect(model.top(fwd.probs, 1)[0]).toMatchObject({ index: label, label: TM_LABELS[label] });
      tf.dispose([input, ...fwd.tensors.values()]);
      const ex = await explain(model, image, { rules: 'default', override: { location: 'max' } });
      image.dispose();
      expect(ex.class.label).toBe(TM_LABELS[label]);
      expect(ex.layers.map((l) => l.name)).toEqual(
        expect.arrayContaining(['dense_Dense2/BiasAdd', 'dense_Dense1', 'conv_pw_11', 'conv1']),
      );
      expect(ex.fixations.length).toBeGreaterThan(0);
    });
  },
);

describe.skipIf(NO_MOBILENET)(
  'facts files beside the model: cnnfix.json (catalog-entry fields) wins over metadata.json',
  () => {
    let dir: string;
    beforeAll(() => {
      dir = join(tmp, 'facts');
      cpSync(LAYERS_MOBILENET, dir, { recursive: true });
    });

    it('preprocessing, logits and a labels file from cnnfix.json', async () => {
      const names = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8')).labels.map((l: string) =>
        l.toUpperCase(),
      );
      writeFileSync(join(dir, 'names.json'), JSON.stringify(names));
      writeFileSync(
        join(dir, 'cnnfix.json'),
        JSON.stringify({
          id: 'mine',
          preprocessing: { range: [0, 1], mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
          logits: 'conv_preds',
          labels: 'names.json',
        }),
      );
      const m = await loadModel({ path: dir });
      // (x/255 - 0.5)/0.5 is the same [-1,1] input: the squirrel stays the top-1, under the new labels.
      expect(m.info).toMatchObject({
        id: 'mine',
        logits: 'conv_preds',
        preprocessing: { range: [0, 1], mean: [0.5, 0.5, 0.5] },
      });
      const ex = await explain(m, await readImage(SQUIRREL), { override: { location: 'max' } });
      expect(ex.class.label).toMatch(/^FOX SQUIRREL/);
      m.dispose();
    });

    it.each([
      [{ preprocessing: { range: [1, 0] } }, 'cnnfix.json: preprocessing.range must have low < high, got [1,0]'],
      [{ preprocessing: { range: [0, 1], std: [1, 0, 1] } }, 'cnnfix.json: preprocessing.std must be positive'],
      [{ logits: 'no/such/node' }, "node 'no/such/node' is not in the graph"],
      [{ labels: 7 }, 'cnnfix.json: labels must be a JSON array of strings'],
    ])('a bad cnnfix.json is an error naming the file and field: %j', async (facts, message) => {
      writeFileSync(join(dir, 'cnnfix.json'), JSON.stringify(facts));
      await expect(loadModel({ path: dir })).rejects.toThrow(message);
    });
  },
);

describe.skipIf(NO_MOBILENET)('CLI', () => {
  it('--model-dir with a layers model explains the squirrel with its own labels', async () => {
    const out = join(tmp, 'cli');
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
      execFile(
        process.execPath,
        [
          join(ROOT, 'bin/cnnfix.js'),
          'explain',
          SQUIRREL,
          '--model-dir',
          LAYERS_MOBILENET,
          '--location',
          'max',
          '--out',
          out,
        ],
        { cwd: ROOT },
        (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
      ),
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/squirrel_cls\.jpg: 335 fox squirrel/);
    const json = JSON.parse(readFileSync(join(out, 'squirrel_cls.json'), 'utf8'));
    expect(json.model).toBe('mobilenet_v1_025_224_layers');
    expect(json.layers[0].name).toBe('conv_preds');
    expect(json.fixations.length).toBeGreaterThan(0);
  });
});

// Models as users bring them (issue 19): Keras models converted by tfjs-converter (a signature keyed by Keras layer
// names, `Identity:0` values), sigmoid heads (one logit: present / absent; several: multi-label), an ONNX model with a
// quantized uint8 output, and the errors a user sees when the signature, the logits or the input facts are wrong.
// Built here with real seeded weights (tests/fixtures/graphs.ts); references are the graphs' own heads run by tfjs.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ABSENT, disposeForward, explain, type FixationModel } from '../../src/index.ts';
import { loadModel, readImage } from '../../src/node/index.ts';
import { main } from '../../src/cli/main.ts';
import { kerasSigmoid128, kerasSoftmax32, type ConvertedModel } from '../fixtures/graphs.ts';
import { qdqUint8Output, qlinearConv } from '../fixtures/onnx.ts';
import { photo } from '../fixtures/data.ts';

const IMAGES = ['squirrel_cls.jpg', 'orange.jpg', 'butterfly.jpg'].map(photo);
let tmp: string;
const M32 = kerasSoftmax32(),
  M128 = kerasSigmoid128();

function save(m: ConvertedModel, name: string, edit?: (json: ConvertedModel['json']) => void): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const json = structuredClone(m.json);
  edit?.(json);
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  writeFileSync(join(dir, 'group1-shard1of1.bin'), m.bin);
  return dir;
}

/** The graph's own output (its Identity, after its own Softmax / Sigmoid), by tfjs alone, on the model's network input. */
async function ownOutput(m: ConvertedModel, fm: FixationModel, image: string): Promise<Float32Array> {
  const gm = await loadGraphModel(tf.io.fromMemory(m.artifacts));
  const img = await readImage(image);
  const { input } = fm.preprocess(img);
  const out = gm.execute(input, m.output) as tf.Tensor;
  const v = out.dataSync() as Float32Array;
  tf.dispose([img, input, out]);
  gm.dispose();
  return v;
}

async function probsOf(fm: FixationModel, image: string): Promise<Float32Array> {
  const img = await readImage(image);
  const { input } = fm.preprocess(img);
  const f = await fm.forward(input);
  disposeForward(f);
  tf.dispose([img, input]);
  return f.probs;
}

/** The CLI in this process: exit code and what it printed. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [],
    err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => {
    out.push(a.join(' '));
  };
  console.error = (...a: unknown[]) => {
    err.push(a.join(' '));
  };
  try {
    return { code: await main(args), out: out.join('\n'), err: err.join('\n') };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'cnnfix-converted-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('a Keras model converted by tfjs-converter (signature keyed by layer names)', () => {
  it('32x32 softmax classifier: logits are the dense, probabilities its own softmax output', async () => {
    expect(M32.json.signature.outputs.activation_6.name).toBe('Identity:0');
    const fm = await loadModel({ path: save(M32, 'keras32') });
    expect(fm.info).toMatchObject({ logits: M32.logits, probs: M32.head, inputSize: 32 });
    expect(fm.head).toBe('softmax');
    for (const image of IMAGES) {
      const want = await ownOutput(M32, fm, image);
      const got = await probsOf(fm, image);
      expect(Math.max(...got.map((p, i) => Math.abs(p - want[i])))).toBeLessThan(1e-6);
    }
    const ex = await explain(fm, await readImage(IMAGES[0]));
    expect(ex.inputFixations.length).toBeGreaterThan(0);
    expect(ex.layers.at(-1)!.name).toBe('input_1');
    fm.dispose();
  });

  it("128x128 float16 one-logit sigmoid: present with the model's own probability, absent with 1 - p, each explained", async () => {
    const fm = await loadModel({ path: save(M128, 'keras128') });
    expect(fm.info).toMatchObject({
      logits: M128.logits,
      probs: M128.head,
      inputSize: 128,
      labels: ['present', 'absent'],
    });
    expect(fm.head).toBe('binary');
    const seen: number[] = [];
    for (const image of IMAGES) {
      const [p] = await ownOutput(M128, fm, image);
      const got = await probsOf(fm, image);
      seen.push(p);
      expect(got.length).toBe(2);
      expect(Math.abs(got[0] - p)).toBeLessThan(1e-6);
      expect(Math.abs(got[1] - (1 - p))).toBeLessThan(1e-6);
    }
    // Not a saturated head: the probabilities are the model's, not a softmax over one value (which is always 1).
    expect(Math.min(...seen)).toBeLessThan(0.99);
    const img = await readImage(IMAGES[0]);
    const ex = await explain(fm, img, { classIndex: [0, ABSENT] });
    img.dispose();
    const [present, absent] = ex.classes;
    expect(present.class).toMatchObject({ index: 0, label: 'present' });
    expect(absent.class).toMatchObject({ index: 1, label: 'absent' });
    expect(present.class.prob + absent.class.prob).toBeCloseTo(1, 6);
    // At the dense layer present keeps the pooled channels with a positive contribution w·a, absent those with -w·a.
    const [kp, ka] = [present, absent].map(
      (c) => new Set(c.kept.find((l) => l.name.endsWith('global_average_pooling2d/Mean'))!.indices),
    );
    expect(kp.size + ka.size).toBeGreaterThan(0);
    expect([...kp].some((i) => ka.has(i))).toBe(false);
    expect(absent.inputFixations.length).toBeGreaterThan(0);
    for (const method of ['gradcam', 'cam'] as const) {
      const b = await explain(fm, await readImage(IMAGES[0]), { method, classIndex: ABSENT });
      expect(b.heatmap.data.some((v) => v > 0)).toBe(true);
    }
    fm.dispose();
  });

  it('a multi-label sigmoid head: per-class sigmoids, ranked by them', async () => {
    const dir = save(M32, 'keras32-sigmoid', (json) => {
      const head = (json.modelTopology as { node: { name: string; op: string }[] }).node.find(
        (n) => n.name === M32.head,
      )!;
      head.op = 'Sigmoid';
    });
    const fm = await loadModel({ path: dir });
    expect(fm.head).toBe('sigmoid');
    const probs = await probsOf(fm, IMAGES[0]);
    const img = await readImage(IMAGES[0]);
    const { input } = fm.preprocess(img);
    const f = await fm.forward(input);
    const sig = Array.from(f.logits, (z) => 1 / (1 + Math.exp(-z)));
    disposeForward(f);
    tf.dispose([img, input]);
    expect(Math.max(...sig.map((p, i) => Math.abs(p - probs[i])))).toBeLessThan(1e-6);
    expect(probs.reduce((a, b) => a + b, 0)).not.toBeCloseTo(1, 2);
    const top = fm.top(probs, 3);
    const want = [...sig].sort((a, b) => b - a).slice(0, 3);
    top.forEach((t, i) => expect(t.prob).toBeCloseTo(want[i], 6));
    fm.dispose();
  });

  it("the CLI, given only the folder: class, the model's own probability, fixations, Grad-CAM and CAM; --class absent", async () => {
    const dir = save(M128, 'keras128-cli');
    const out = join(tmp, 'cli-out');
    const fm = await loadModel({ path: dir });
    const [p] = await ownOutput(M128, fm, IMAGES[0]);
    fm.dispose();
    const want = p >= 0.5 ? `0 present (p=${p.toFixed(3)})` : `1 absent (p=${(1 - p).toFixed(3)})`;
    let r = await cli('explain', IMAGES[0], '--model-dir', dir, '--out', out);
    expect(r.err).toBe('');
    expect(r.out).toContain(`squirrel_cls.jpg: ${want}, `);
    const json = JSON.parse(readFileSync(join(out, 'squirrel_cls.json'), 'utf8'));
    expect(json.top.map((t: { prob: number }) => t.prob.toFixed(3))).toEqual(
      [p, 1 - p].sort((a, b) => b - a).map((v) => v.toFixed(3)),
    );
    expect(json.fixations.length).toBeGreaterThan(0);
    r = await cli('explain', IMAGES[0], '--model-dir', dir, '--class', 'absent', '--out', out);
    expect(r.out).toContain(`1 absent (p=${(1 - p).toFixed(3)})`);
    for (const method of ['gradcam', 'cam']) {
      r = await cli('explain', IMAGES[0], '--model-dir', dir, '--method', method, '--out', join(out, method));
      expect(r.err).toBe('');
      expect(JSON.parse(readFileSync(join(out, method, 'squirrel_cls.json'), 'utf8')).box).not.toBeNull();
    }
    r = await cli('classify', IMAGES[0], '--model-dir', save(M32, 'keras32-cli'), '--class', 'absent');
    expect(r.code).toBe(2);
    r = await cli('explain', IMAGES[0], '--model-dir', save(M32, 'keras32-cli'), '--class', 'absent', '--out', out);
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      "--class present/absent applies to a one-logit sigmoid head; model 'keras32-cli' has a softmax head",
    );
  }, 60_000);
});

describe('ONNX with a quantized integer output', () => {
  it('runs on the float value before the final QuantizeLinear: the same ranking as the uint8 output', async () => {
    const q = qdqUint8Output();
    const file = join(tmp, 'qdq-uint8-out.onnx');
    writeFileSync(file, q.bytes);
    const fm = await loadModel({ path: file });
    expect(fm.info.preprocessing.range).toEqual([0, 255]); // uint8 input: raw pixels
    for (const image of IMAGES) {
      const img = await readImage(image);
      const { input } = fm.preprocess(img);
      const f = await fm.forward(input);
      const want = q.reference(input.dataSync() as Float32Array);
      disposeForward(f);
      tf.dispose([img, input]);
      expect(Math.max(...f.probs.map((v, i) => Math.abs(v - want.probs[i])))).toBeLessThan(1e-5);
      // The uint8 output ranks as the float one (ties aside).
      const top = fm.top(f.probs, 1)[0].index;
      expect(want.uint8[top]).toBe(Math.max(...want.uint8));
    }
    const ex = await explain(fm, await readImage(IMAGES[0]));
    expect(ex.inputFixations.length).toBeGreaterThan(0);
    fm.dispose();
    const r = await cli('explain', IMAGES[0], '--model-dir', file, '--out', join(tmp, 'qdq-out'));
    expect(r.err).toBe('');
    expect(r.out).toMatch(/squirrel_cls\.jpg: \d+ class \d+ \(p=0\.\d{3}\), \d+ fixations/);
  });
});

describe('errors name the file, the node or layer, and what to pass', () => {
  it('graph model: a signature output naming no node, an unknown logits node, a wrong input size', async () => {
    const dir = save(M32, 'bad-signature', (json) => {
      json.signature.outputs.activation_6.name = 'Identity_9:0';
    });
    await expect(loadModel({ path: dir })).rejects.toThrow(
      `model ${dir}: its signature output 'activation_6' names node 'Identity_9', which is not in the graph; give the logits node (CLI --logits NODE`,
    );
    // With the logits given, the same model loads.
    const fm = await loadModel({ path: dir, info: { logits: M32.logits } });
    expect(fm.info.probs).toBe(M32.head);
    fm.dispose();
    const ok = save(M32, 'ok32');
    await expect(loadModel({ path: ok, info: { logits: 'dense/BiasAdd' } })).rejects.toThrow(
      `model ${ok}: logits node 'dense/BiasAdd' is not in the graph; nodes that could be the logits: ${M32.logits}`,
    );
    await expect(loadModel({ path: ok, info: { inputSize: 64 } })).rejects.toThrow(
      `model ${ok}: the model's input is [-1,32,32,3], the model info says [1,64,64,3]: give input size 32 or leave it out`,
    );
    const r = await cli('classify', IMAGES[0], '--model-dir', ok, '--logits', 'nope');
    expect(r.err).toBe(
      `cnnfix: cannot load the model from ${ok}: model ${ok}: logits node 'nope' is not in the graph; nodes that could be the logits: ${M32.logits}`,
    );
  });

  it('ONNX: an unknown logits value, unreadable preprocessing metadata', async () => {
    const file = join(tmp, 'qdq-errors.onnx');
    writeFileSync(file, qdqUint8Output().bytes);
    await expect(loadModel({ path: file, info: { logits: 'dense' } })).rejects.toThrow(
      `${file}: logits 'dense' is neither an ONNX value nor a node of the converted graph; give an ONNX value name, e.g. 'logits'`,
    );
    // Named by hand, the logits keep the graph's own Softmax as the probabilities.
    const fm = await loadModel({ path: file, info: { logits: 'logits' } });
    expect(fm.info.probs).toBeDefined();
    fm.dispose();
    // QLinear int8 models (QLinearConv etc.) are refused naming the op and the node.
    const q = join(tmp, 'qlinear.onnx');
    writeFileSync(q, qlinearConv());
    await expect(loadModel({ path: q })).rejects.toThrow(
      `${q}: node 'qconv1' (op QLinearConv): op 'QLinearConv' is not supported by the ONNX importer`,
    );
    const bad = join(tmp, 'bad-metadata.onnx');
    writeFileSync(bad, qdqUint8Output({ preprocessing: 'zero-to-one' }).bytes);
    await expect(loadModel({ path: bad })).rejects.toThrow(
      `${bad}: metadata 'preprocessing' is neither a preset (imagenet, [0,1], [-1,1], [0,255]) nor JSON: 'zero-to-one'`,
    );
  });
});

// ONNX conformance: the ONNX backend node tests (Debian's libonnx-testdata, written by the ONNX project) through the
// importer and tfjs. Every case whose ops the importer supports must match the expected outputs within 1e-4
// relative, except the explicit skips below (each with its reason). Cases that also use an unsupported op are listed
// as skipped. Prints one table per op.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertOnnx, onnxGraphModel } from '../../src/formats/onnx/index.ts';
import { OPS } from '../../src/formats/onnx/ops.ts';
import { decodeModel, decodeTensor, tensorValues } from '../../src/formats/onnx/proto.ts';

const DATA = '/usr/share/libonnx-testdata/data/node';
// CI installs the suite (.ci/run) and must run it; elsewhere, without the Debian package, the file skips naming it.
const MISSING = !existsSync(DATA) && !process.env.CI;
if (MISSING) console.log(`skipped: onnx-conformance.test.ts needs ${DATA} (apt-get install libonnx-testdata)`);
const SUPPORTED = new Set(Object.keys(OPS));

/** Cases of supported ops the importer does not handle, and why. */
const SKIP: Record<string, string> = {
  test_averagepool_1d_default: '1-D pool (only 2-D windows on NCHW maps)',
  test_averagepool_3d_default: '3-D pool (only 2-D windows on NCHW maps)',
  test_maxpool_1d_default: '1-D pool (only 2-D windows on NCHW maps)',
  test_maxpool_3d_default: '3-D pool (only 2-D windows on NCHW maps)',
  test_maxpool_2d_dilations: 'dilations on a pool (TF pools have none)',
  test_maxpool_with_argmax_2d_precomputed_pads: 'the Indices output of MaxPool',
  test_maxpool_with_argmax_2d_precomputed_strides: 'the Indices output of MaxPool',
  test_batchnorm_epsilon_training_mode: 'training-mode BatchNormalization (running statistics outputs)',
  test_batchnorm_example_training_mode: 'training-mode BatchNormalization (running statistics outputs)',
  test_dropout_default_mask: 'the mask output of Dropout',
  test_dropout_default_mask_ratio: 'the mask output of Dropout',
  test_training_dropout: 'training-mode Dropout (random)',
  test_training_dropout_default: 'training-mode Dropout (random)',
  test_training_dropout_default_mask: 'training-mode Dropout (random)',
  test_training_dropout_mask: 'training-mode Dropout (random)',
  test_training_dropout_zero_ratio_mask: 'training-mode Dropout (random)',
  test_training_dropout_zero_ratio: 'training-mode Dropout (refused even with ratio 0)',
  test_reshape_allowzero_reordered: 'a zero-size tensor (input dimension 0)',
  test_identity_opt: 'optional-typed input (only tensors)',
  test_identity_sequence: 'sequence-typed input (only tensors)',
  test_max_uint32: 'uint32 tensors (the importer computes in float32)',
  test_max_uint64: 'uint64 tensors (the importer computes in float32)',
  test_min_uint32: 'uint32 tensors (the importer computes in float32)',
  test_min_uint64: 'uint64 tensors (the importer computes in float32)',
  test_div_uint8: 'integer division (the importer computes in float32)',
  test_quantizelinear:
    'the expected output is the integer tensor itself (a final QuantizeLinear is read as its float input)',
  test_quantizelinear_axis:
    'the expected output is the integer tensor itself (a final QuantizeLinear is read as its float input)',
  test_edge_pad: "Pad mode 'edge' (TF has constant and reflect/symmetric only)",
};

interface Case {
  name: string;
  ops: string[];
  skip?: string;
}

function cases(): Case[] {
  if (!existsSync(DATA)) return [];
  return readdirSync(DATA)
    .sort()
    .flatMap((name): Case[] => {
      const file = join(DATA, name, 'model.onnx');
      if (!existsSync(file)) return [];
      const ops = [...new Set(decodeModel(readFileSync(file), file).graph!.node!.map((n) => n.opType!))];
      if (!ops.some((o) => SUPPORTED.has(o))) return [];
      const missing = ops.filter((o) => !SUPPORTED.has(o));
      if (missing.length) return [{ name, ops, skip: `also uses ${missing.join(', ')}` }];
      return [{ name, ops, skip: SKIP[name] }];
    });
}

const ALL = cases();
const results = new Map<string, 'passed' | 'passed, inputs 1.. as constants' | 'failed'>();
const CONST_INPUT = /must be a constant/;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

afterAll(() => {
  // One table per op: every case that uses it.
  const lines: string[] = [];
  for (const op of [...SUPPORTED].sort()) {
    const mine = ALL.filter((c) => c.ops.includes(op));
    if (!mine.length) {
      lines.push(`\n${op}: no case in the suite`);
      continue;
    }
    const ran = mine.filter((c) => !c.skip);
    lines.push(
      `\n${op}: ${ran.filter((c) => results.get(c.name)?.startsWith('passed')).length}/${ran.length} ran and passed, ${mine.length - ran.length} skipped`,
    );
    for (const c of mine)
      lines.push(`  ${c.name.padEnd(52)} ${c.skip ? `skipped: ${c.skip}` : (results.get(c.name) ?? 'not run')}`);
  }
  console.log(`ONNX backend node tests (${DATA}):${lines.join('\n')}`);
});

describe.skipIf(MISSING)('ONNX backend node tests', () => {
  it('the suite is installed (apt-get install libonnx-testdata)', () => {
    expect(existsSync(DATA), `${DATA} is missing`).toBe(true);
    expect(ALL.filter((c) => !c.skip).length).toBeGreaterThan(100);
  });

  for (const c of ALL.filter((k) => !k.skip)) {
    it(c.name, async () => {
      results.set(c.name, 'failed');
      const dir = join(DATA, c.name);
      const set = join(dir, 'test_data_set_0');
      const bytes = readFileSync(join(dir, 'model.onnx'));
      const read = (kind: string, i: number) =>
        tensorValues(decodeTensor(readFileSync(join(set, `${kind}_${i}.pb`)), c.name), `${c.name} ${kind} ${i}`);
      // The suite passes weights, shapes and bounds as graph inputs; the importer needs them constant (the
      // unravelling reads weights), so such cases run again with every input but the first bound to its test data.
      let conv,
        bound = false;
      try {
        conv = convertOnnx(bytes, c.name);
      } catch (e) {
        if (!CONST_INPUT.test((e as Error).message)) throw e;
        const names = decodeModel(bytes, c.name).graph!.input!.map((i) => i.name!);
        conv = convertOnnx(bytes, c.name, {
          constants: new Map(names.slice(1).map((name, k) => [name, read('input', k + 1)])),
        });
        bound = true;
      }
      const gm = await onnxGraphModel(conv);
      const feed: Record<string, tf.Tensor> = {};
      conv.inputs.forEach((p, i) => {
        const t = read('input', i);
        const x = tf.tensor(Float32Array.from(t.data), t.shape, 'float32');
        feed[p.tf] = p.nhwc ? tf.transpose(x, [0, 2, 3, 1]) : x;
      });
      const outs = gm.execute(
        feed,
        conv.outputs.map((o) => o.tf),
      );
      const list = Array.isArray(outs) ? outs : [outs];
      conv.outputs.forEach((o, i) => {
        const want = read('output', i);
        const got = o.nhwc ? tf.transpose(list[i], [0, 3, 1, 2]) : list[i];
        expect(got.shape, `output ${o.onnx} shape`).toEqual(want.shape);
        const g = got.dataSync();
        let worst = 0,
          at = -1;
        want.data.forEach((w, k) => {
          const err = Math.abs(g[k] - w) / (Math.abs(w) + 1e-2);
          if (!(err <= worst)) {
            worst = err;
            at = k;
          }
        });
        expect(worst, `output ${o.onnx}[${at}]: got ${g[at]}, expected ${want.data[at]}`).toBeLessThanOrEqual(1e-4);
      });
      tf.dispose([...Object.values(feed), ...list]);
      gm.dispose();
      results.set(c.name, bound ? 'passed, inputs 1.. as constants' : 'passed');
    });
  }
});

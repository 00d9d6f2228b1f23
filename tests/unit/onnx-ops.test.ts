// A small ONNX model built here with the ops the backend node tests do not cover together: an asymmetric strided
// conv with a BatchNorm folded into it, a BatchNorm that is not, a grouped conv (2 groups), a dilated depthwise conv,
// HardSwish, LeakyRelu, a Sigmoid gate, ceil-mode MaxPool, AveragePool with pads, Clip, a residual Add, Concat,
// Flatten of a 3x3 map into Gemm, Softmax. Its forward must equal a direct NCHW implementation written below
// (independent of the importer), and the engine must unravel the converted graph down to the pixels.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { explain } from '../../src/engine/explain.ts';
import { FixationModel } from '../../src/engine/model.ts';
import { convertOnnx, onnxGraphModel, onnxInfo } from '../../src/formats/onnx/index.ts';
import { onnx } from '../../src/formats/onnx/onnx.pb.js';

// Deterministic pseudo-random weights.
let seed = 7;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
const randn = (n: number, scale = 0.5) => Float32Array.from({ length: n }, () => rnd() * scale);

interface T {
  data: Float32Array;
  shape: number[];
}
const W: Record<string, T> = {};
const param = (name: string, shape: number[], scale = 0.5, offset = 0): string => {
  W[name] = {
    data: randn(
      shape.reduce((a, b) => a * b, 1),
      scale,
    ).map((v) => v + offset),
    shape,
  };
  return name;
};

const nodes: onnx.INodeProto[] = [];
const attr = (name: string, v: number | number[] | string): onnx.IAttributeProto =>
  typeof v === 'string'
    ? { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(v) }
    : Array.isArray(v)
      ? { name, type: onnx.AttributeProto.AttributeType.INTS, ints: v }
      : Number.isInteger(v) && !['alpha', 'epsilon'].includes(name)
        ? { name, type: onnx.AttributeProto.AttributeType.INT, i: v }
        : { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v };
const node = (
  opType: string,
  input: string[],
  output: string,
  attrs: Record<string, number | number[] | string> = {},
) => {
  nodes.push({
    opType,
    input,
    output: [output],
    name: `${opType}_${output}`,
    attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)),
  });
  return output;
};

function buildModel(): Uint8Array {
  let x = node('Conv', ['x', param('w1', [8, 3, 3, 3]), param('b1', [8])], 'c1', {
    strides: [2, 2],
    pads: [0, 0, 1, 1],
    kernel_shape: [3, 3],
  });
  x = node(
    'BatchNormalization',
    [x, param('g1', [8], 0.3, 1), param('be1', [8]), param('m1', [8]), param('v1', [8], 0.2, 1)],
    'bn1',
    { epsilon: 1e-3 },
  );
  x = node('LeakyRelu', [x], 'lrelu', { alpha: 0.1 });
  x = node(
    'BatchNormalization',
    [x, param('g2', [8], 0.3, 1), param('be2', [8]), param('m2', [8]), param('v2', [8], 0.2, 1)],
    'bn2',
  );
  x = node('Conv', [x, param('w2', [8, 4, 3, 3]), param('b2', [8])], 'c2', { group: 2, pads: [1, 1, 1, 1] });
  x = node('HardSwish', [x], 'hswish');
  x = node('Conv', [x, param('w3', [8, 1, 3, 3])], 'c3', { group: 8, dilations: [2, 2], pads: [2, 2, 2, 2] });
  const gate = node('Sigmoid', [x], 'sig');
  x = node('Mul', [x, gate], 'swish');
  x = node('MaxPool', [x], 'mp', { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 });
  const clipped = node('Clip', [x, param('lo', [], 0, 0), param('hi', [], 0, 0.5)], 'clip');
  const avg = node('AveragePool', [x], 'ap', { kernel_shape: [2, 2], pads: [1, 1, 0, 0] });
  x = node('Add', [clipped, avg], 'res');
  const side = node('Conv', [x, param('w4', [4, 8, 1, 1])], 'c4', { kernel_shape: [1, 1] });
  x = node('Concat', [x, side], 'cat', { axis: 1 });
  x = node('Flatten', [x], 'flat');
  x = node('Gemm', [x, param('fc', [10, 108]), param('fcb', [10])], 'logits', { transB: 1 });
  node('Softmax', [x], 'probs', { axis: 1 });
  const vi = (name: string, shape: number[]): onnx.IValueInfoProto => ({
    name,
    type: {
      tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: shape.map((d) => ({ dimValue: d })) } },
    },
  });
  const model: onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'cnnfix test',
    metadataProps: [{ key: 'preprocessing', value: '[-1,1]' }],
    graph: {
      name: 'tiny',
      node: nodes,
      input: [vi('x', [1, 3, 12, 12])],
      output: [vi('probs', [1, 10])],
      initializer: Object.entries(W).map(([name, t]) => ({
        name,
        dims: t.shape,
        dataType: onnx.TensorProto.DataType.FLOAT,
        rawData: new Uint8Array(t.data.buffer),
      })),
    },
  };
  return onnx.ModelProto.encode(model).finish();
}

// ---- Direct NCHW reference (batch 1), straight from the ONNX operator definitions. ----
type Map3 = { c: number; h: number; w: number; d: Float32Array };
const at = (m: Map3, c: number, y: number, x: number) => m.d[(c * m.h + y) * m.w + x];
function conv(
  m: Map3,
  w: T,
  b: T | undefined,
  group: number,
  s: number,
  dil: number,
  [pt, pl, pb, pr]: number[],
): Map3 {
  const [co, cig, kh, kw] = w.shape;
  const h = Math.floor((m.h + pt + pb - ((kh - 1) * dil + 1)) / s) + 1,
    wd = Math.floor((m.w + pl + pr - ((kw - 1) * dil + 1)) / s) + 1;
  const out = new Float32Array(co * h * wd);
  for (let o = 0; o < co; o++) {
    const g = Math.floor(o / (co / group));
    for (let y = 0; y < h; y++)
      for (let x = 0; x < wd; x++) {
        let acc = b ? b.data[o] : 0;
        for (let i = 0; i < cig; i++)
          for (let ky = 0; ky < kh; ky++)
            for (let kx = 0; kx < kw; kx++) {
              const iy = y * s - pt + ky * dil,
                ix = x * s - pl + kx * dil;
              if (iy < 0 || ix < 0 || iy >= m.h || ix >= m.w) continue;
              acc += at(m, g * cig + i, iy, ix) * w.data[((o * cig + i) * kh + ky) * kw + kx];
            }
        out[(o * h + y) * wd + x] = acc;
      }
  }
  return { c: co, h, w: wd, d: out };
}
const map = (m: Map3, f: (v: number, c: number, i: number) => number): Map3 => ({
  ...m,
  d: m.d.map((v, i) => f(v, Math.floor(i / (m.h * m.w)), i)),
});
const bn = (m: Map3, k: string, eps: number) =>
  map(
    m,
    (v, c) =>
      ((v - W[`m${k}`].data[c]) / Math.sqrt(W[`v${k}`].data[c] + eps)) * W[`g${k}`].data[c] + W[`be${k}`].data[c],
  );
function conv2Relu(x: Map3): Map3 {
  return map(conv(x, W.wv, W.bv, 1, 1, 1, [1, 1, 1, 1]), (v) => Math.max(0, v));
}
function reference(x: Map3): Float32Array {
  let m = conv(x, W.w1, W.b1, 1, 2, 1, [0, 0, 1, 1]);
  m = bn(m, '1', 1e-3);
  m = map(m, (v) => (v < 0 ? 0.1 * v : v));
  m = bn(m, '2', 1e-5);
  m = conv(m, W.w2, W.b2, 2, 1, 1, [1, 1, 1, 1]);
  m = map(m, (v) => v * Math.max(0, Math.min(1, v / 6 + 0.5)));
  m = conv(m, W.w3, undefined, 8, 1, 2, [2, 2, 2, 2]);
  m = map(m, (v) => v / (1 + Math.exp(-v)));
  // MaxPool 3x3 s2, ceil: windows clipped to the map.
  const oh = Math.ceil((m.h - 3) / 2) + 1,
    ow = Math.ceil((m.w - 3) / 2) + 1;
  const mp: Map3 = { c: m.c, h: oh, w: ow, d: new Float32Array(m.c * oh * ow) };
  for (let c = 0; c < m.c; c++)
    for (let y = 0; y < oh; y++)
      for (let x = 0; x < ow; x++) {
        let best = -Infinity;
        for (let ky = 0; ky < 3; ky++)
          for (let kx = 0; kx < 3; kx++)
            if (y * 2 + ky < m.h && x * 2 + kx < m.w) best = Math.max(best, at(m, c, y * 2 + ky, x * 2 + kx));
        mp.d[(c * oh + y) * ow + x] = best;
      }
  const clipped = map(mp, (v) => Math.min(0.5, Math.max(0, v)));
  // AveragePool 2x2 s1, pads top/left 1, padding not counted.
  const avg = map(mp, (_, c, i) => {
    const y = Math.floor(i / mp.w) % mp.h,
      x = i % mp.w;
    let s = 0,
      n = 0;
    for (let ky = -1; ky < 1; ky++)
      for (let kx = -1; kx < 1; kx++)
        if (y + ky >= 0 && x + kx >= 0) {
          s += at(mp, c, y + ky, x + kx);
          n++;
        }
    return s / n;
  });
  const res = map(clipped, (v, _, i) => v + avg.d[i]);
  const side = conv(res, W.w4, undefined, 1, 1, 1, [0, 0, 0, 0]);
  const flat = Float32Array.from([...res.d, ...side.d]); // NCHW flatten of the concat
  const logits = Float32Array.from(
    { length: 10 },
    (_, o) => W.fcb.data[o] + flat.reduce((a, v, k) => a + v * W.fc.data[o * 108 + k], 0),
  );
  const e = logits.map((v) => Math.exp(v - Math.max(...logits)));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

let bytes: Uint8Array;
beforeAll(async () => {
  await tf.setBackend('cpu');
  bytes = buildModel();
});

describe('ONNX importer on a hand-built model', () => {
  it('forward equals a direct NCHW implementation (grouped, dilated depthwise, BN, ceil pool, pads, flatten->Gemm)', async () => {
    const conv = convertOnnx(bytes, 'tiny.onnx');
    const gm = await onnxGraphModel(conv);
    const x = randn(3 * 12 * 12, 1);
    const want = reference({ c: 3, h: 12, w: 12, d: x });
    const input = tf.transpose(tf.tensor4d(x, [1, 3, 12, 12]), [0, 2, 3, 1]);
    const got = (gm.execute(input, conv.outputs[0].tf) as tf.Tensor).dataSync();
    for (let k = 0; k < 10; k++) expect(got[k]).toBeCloseTo(want[k], 5);
    // The BatchNorm after a conv is folded (no Mul/Add for it); the one after LeakyRelu is computed.
    const ops = (conv.artifacts.modelTopology as { node: { op: string }[] }).node.map((n) => n.op);
    expect(ops.filter((o) => o === 'Transpose')).toEqual([]); // flatten -> Gemm reads the NHWC map, weights permuted
    gm.dispose();
    input.dispose();
  });

  it('x.view(x.size(0), -1) as exported with dynamic shapes (Shape, Gather, Unsqueeze, Concat, Reshape) folds to a head the engine unravels', async () => {
    nodes.length = 0;
    const y = node('Conv', ['x', param('wv', [4, 3, 3, 3]), param('bv', [4])], 'cv', { pads: [1, 1, 1, 1] });
    const r = node('Relu', [y], 'rv');
    const shp = node('Shape', [r], 'shp');
    const n0 = node('Gather', [shp, 'zero'], 'n0', { axis: 0 });
    const n0u = node('Unsqueeze', [n0, 'ax0'], 'n0u');
    const target = node('Concat', [n0u, 'minus1'], 'target', { axis: 0 });
    const flat = node('Reshape', [r, target], 'view');
    node('Gemm', [flat, param('fcv', [5, 4 * 12 * 12]), param('fcvb', [5])], 'out', { transB: 1 });
    const ints = (name: string, v: number[], dims: number[]) => ({
      name,
      dims,
      dataType: onnx.TensorProto.DataType.INT64,
      int64Data: v,
    });
    const vi = (name: string, shape: (number | string)[]) => ({
      name,
      type: {
        tensorType: {
          elemType: onnx.TensorProto.DataType.FLOAT,
          shape: { dim: shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
        },
      },
    });
    const bytes2 = onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'view',
        node: nodes,
        input: [vi('x', ['N', 3, 12, 12])],
        output: [vi('out', ['N', 5])],
        initializer: [
          ...['wv', 'bv', 'fcv', 'fcvb'].map((name) => ({
            name,
            dims: W[name].shape,
            dataType: onnx.TensorProto.DataType.FLOAT,
            rawData: new Uint8Array(W[name].data.buffer),
          })),
          ints('zero', [0], []),
          ints('ax0', [0], [1]),
          ints('minus1', [-1], [1]),
        ],
      },
    }).finish();
    const conv = convertOnnx(bytes2, 'view.onnx');
    const ops = (conv.artifacts.modelTopology as { node: { op: string }[] }).node.map((k) => k.op);
    expect(ops).not.toContain('Transpose');
    expect(ops).not.toContain('GatherV2');
    const gm = await onnxGraphModel(conv);
    const x = randn(3 * 12 * 12, 1);
    const m = conv2Relu({ c: 3, h: 12, w: 12, d: x });
    const want = Float32Array.from(
      { length: 5 },
      (_, o) => W.fcvb.data[o] + m.d.reduce((s, v, k) => s + v * W.fcv.data[o * m.d.length + k], 0),
    );
    const input = tf.transpose(tf.tensor4d(x, [1, 3, 12, 12]), [0, 2, 3, 1]);
    const got = (gm.execute(input, conv.outputs[0].tf) as tf.Tensor).dataSync();
    for (let k = 0; k < 5; k++) expect(got[k]).toBeCloseTo(want[k], 4);
    input.dispose();
    const fm = FixationModel.create(gm, onnxInfo(conv, 'view.onnx'));
    const mm = fm.graph.order.find((k) => k.kind === 'matmul');
    expect(mm && mm.kind === 'matmul' && mm.fromSpatial).toBe(true);
    fm.dispose();
  });

  it('the engine unravels the converted graph down to the pixels; facts from metadata_props', async () => {
    const conv = convertOnnx(bytes, 'tiny.onnx');
    const info = onnxInfo(conv, 'tiny.onnx');
    expect(info.preprocessing).toEqual({ range: [-1, 1], mean: [0, 0, 0], std: [1, 1, 1] });
    expect(info.logits).toBe('logits');
    expect(info.probs).toBe('probs');
    const fm = FixationModel.create(await onnxGraphModel(conv), info);
    const kinds = fm.graph.order.map((n) => n.kind);
    expect(kinds.filter((k) => k === 'conv')).toHaveLength(4);
    expect(kinds).toEqual(expect.arrayContaining(['pool', 'add', 'concat', 'matmul', 'pad', 'input']));
    const mm = fm.graph.order.find((n) => n.kind === 'matmul');
    expect(mm && mm.kind === 'matmul' && mm.fromSpatial).toBe(true);
    const img = tf.tidy(() => tf.randomUniform([40, 40, 3], 0, 255, 'int32', 3)) as tf.Tensor3D;
    for (const rules of ['default', 'reference'] as const) {
      const ex = await explain(fm, img, { rules, override: { location: 'max' } });
      expect(ex.inputFixations.length).toBeGreaterThan(0);
      expect(ex.layers.at(-1)!.count).toBeGreaterThan(0);
    }
    img.dispose();
    fm.dispose();
  });
});

// The ONNX ops the importer understands, one rule each: ONNX node -> TF nodes (see convert.ts for the layout rule:
// 4-D activations are stored NHWC). Everything else is an error naming the op and the node.
import { Attrs, type NodeProto, type Tensor } from './proto.ts';
import type { Converter, Val } from './convert.ts';
import { NCHW_TO_NHWC, permute } from './layout.ts';

type Rule = (n: NodeProto, cv: Converter) => void;

/** Most negative float32: MaxPool's padding value (-Infinity is not safe in every backend's uniforms). */
const LOWEST = -3.4028234663852886e38;

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
const out = (n: NodeProto) => n.output[0];

function unary(op: string, attr: Record<string, unknown> = {}): Rule {
  return (n, cv) => {
    const x = cv.need(n, 0, 'X');
    cv.set(out(n), {
      shape: x.shape,
      nhwc: x.nhwc,
      flat: x.flat,
      tf: cv.emit(op, out(n), [cv.live(asFloat(x))], attr),
    });
  };
}

function asFloatT(t: Tensor): Tensor {
  return t.data instanceof Float32Array ? t : { data: Float32Array.from(t.data), shape: t.shape };
}

function asFloat(v: Val): Val {
  return v.c && v.int ? { ...v, int: false, tf: undefined } : v;
}

export function broadcast(n: NodeProto, cv: Converter, a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  const pa = [...Array(r - a.length).fill(1), ...a],
    pb = [...Array(r - b.length).fill(1), ...b];
  return pa.map((x, i) => {
    if (x !== pb[i] && x !== 1 && pb[i] !== 1) cv.fail(n, `shapes [${a}] and [${b}] do not broadcast`);
    return x === 1 ? pb[i] : x;
  });
}

/** An elementwise TF op on two values, in NHWC when the result is a 4-D map stored NHWC. */
function binaryOp(n: NodeProto, cv: Converter, op: string, a: Val, b: Val, name: string): Val {
  a = asFloat(a);
  b = asFloat(b);
  const shape = broadcast(n, cv, a.shape, b.shape);
  const nhwc = shape.length === 4 && (a.nhwc || b.nhwc);
  const ta = nhwc ? cv.storedBroadcast(a, n) : cv.plain(a);
  const tb = nhwc ? cv.storedBroadcast(b, n) : cv.plain(b);
  return { name, shape, nhwc, tf: cv.emit(op, name, [ta, tb]) };
}

function binary(op: string): Rule {
  return (n, cv) => cv.set(out(n), binaryOp(n, cv, op, cv.need(n, 0, 'A'), cv.need(n, 1, 'B'), out(n)));
}

/** Min/Max: variadic, folded pairwise. */
function variadic(op: string): Rule {
  return (n, cv) => {
    const ins = n.input.filter(Boolean).map((_, i) => cv.need(n, i, `input ${i}`));
    if (ins.length === 1) return cv.set(out(n), { ...ins[0], tf: cv.emit('Identity', out(n), [cv.live(ins[0])]) });
    let acc = ins[0];
    ins.slice(1).forEach((v, i) => {
      acc = binaryOp(n, cv, op, acc, v, i === ins.length - 2 ? out(n) : `${out(n)}/${i}`);
    });
    cv.set(out(n), acc);
  };
}

function constVal(name: string, t: Tensor): Val {
  return { name, shape: t.shape, nhwc: false, c: t };
}
function scalarVal(name: string, x: number): Val {
  return constVal(name, { data: Float32Array.of(x), shape: [] });
}

/** Pads [top, left] / [bottom, right] of a 2-D window op from pads / auto_pad. */
function windowPads(
  n: NodeProto,
  cv: Converter,
  a: Attrs,
  inHW: number[],
  k: number[],
  s: number[],
  d: number[],
  ceil: boolean,
) {
  const auto = a.string('auto_pad', 'NOTSET');
  let pads = a.ints('pads', [0, 0, 0, 0]);
  if (pads.length !== 4) cv.fail(n, `pads must have 4 entries for a 2-D window, got [${pads}]`);
  if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    pads = [0, 0, 0, 0];
    for (const i of [0, 1]) {
      const o = Math.ceil(inHW[i] / s[i]);
      const total = Math.max((o - 1) * s[i] + (k[i] - 1) * d[i] + 1 - inHW[i], 0);
      const small = Math.floor(total / 2);
      pads[i] = auto === 'SAME_UPPER' ? small : total - small;
      pads[i + 2] = total - pads[i];
    }
  } else if (auto === 'VALID') pads = [0, 0, 0, 0];
  else if (auto !== 'NOTSET') cv.fail(n, `auto_pad '${auto}' is not supported`);
  if (pads.some((p) => p < 0)) cv.fail(n, `negative pads [${pads}] are not supported`);
  const outHW = [0, 1].map((i) => {
    const span = inHW[i] + pads[i] + pads[i + 2] - ((k[i] - 1) * d[i] + 1);
    let o = (ceil ? Math.ceil(span / s[i]) : Math.floor(span / s[i])) + 1;
    if (ceil && (o - 1) * s[i] >= inHW[i] + pads[i]) o--; // the last window must start inside the input or the left pad
    return o;
  });
  // The end padding the windows actually reach (ceil_mode can reach past pads).
  const end = [0, 1].map((i) => Math.max((outHW[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1 - inHW[i] - pads[i], 0));
  return { begin: [pads[0], pads[1]], end, given: [pads[2], pads[3]], outHW };
}

function hw2(a: Attrs, name: string, dflt: number): number[] {
  const v = a.ints(name, [dflt, dflt]);
  return v.length === 2 ? v : [NaN, NaN];
}

const conv: Rule = (n, cv) => {
  const a = new Attrs(n, cv.where(n));
  const x = cv.need(n, 0, 'X');
  if (x.shape.length !== 4)
    cv.fail(n, `only 2-D convolutions (4-D NCHW input) are supported, got input shape [${x.shape}]`);
  let w = cv.constOf(n, 1, 'weights W');
  let bias = cv.get(n, 2)?.c?.data;
  if (n.input[2] && !bias) cv.fail(n, `bias ('${n.input[2]}') must be a constant`);
  const [Co, Cig, kh, kw] = w.shape;
  const Ci = x.shape[1],
    g = a.int('group', 1);
  if (Cig * g !== Ci) cv.fail(n, `weights [${w.shape}] with group ${g} do not match ${Ci} input channels`);
  const k = [kh, kw],
    s = hw2(a, 'strides', 1),
    d = hw2(a, 'dilations', 1);
  if (s.some(isNaN) || d.some(isNaN)) cv.fail(n, 'strides and dilations must have 2 entries');
  const p = windowPads(n, cv, a, x.shape.slice(2), k, s, d, false);

  // A BatchNormalization that alone reads this conv is folded into its weights and bias.
  const users = cv.consumers.get(out(n)) ?? [];
  let name = out(n);
  if (
    users.length === 1 &&
    users[0].opType === 'BatchNormalization' &&
    users[0].input.slice(1).every((i) => cv.vals.get(i)?.c)
  ) {
    const bn = users[0];
    const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) => cv.constOf(bn, i, 'BatchNorm parameter').data);
    const eps = new Attrs(bn, cv.where(bn)).float('epsilon', 1e-5);
    const scale = Float32Array.from(gamma, (gm, c) => gm / Math.sqrt(variance[c] + eps));
    const per = w.data.length / Co;
    const folded = new Float32Array(w.data.length);
    for (let i = 0; i < folded.length; i++) folded[i] = w.data[i] * scale[Math.floor(i / per)];
    w = { data: folded, shape: w.shape };
    bias = Float32Array.from(scale, (sc, c) => ((bias?.[c] ?? 0) - mean[c]) * sc + beta[c]);
    cv.done.add(bn);
    name = bn.output[0];
  }

  const depthwise = g > 1 && g === Ci && Cig === 1;
  let filter: Tensor;
  if (g === 1)
    filter = permute(w, [2, 3, 1, 0]); // OIHW -> HWIO
  else if (depthwise) {
    const M = Co / Ci; // output channel c*M+m reads input channel c: TF's depthwise order
    filter = permute({ data: w.data, shape: [Ci, M, kh, kw] }, [2, 3, 0, 1]);
  } else {
    // A grouped conv becomes one conv with block-diagonal weights (exact; tfjs has no grouped conv).
    const full = new Float32Array(Co * Ci * kh * kw);
    const cog = Co / g;
    for (let o = 0; o < Co; o++) {
      const g0 = Math.floor(o / cog) * Cig;
      for (let i = 0; i < Cig; i++)
        for (let t = 0; t < kh * kw; t++) full[(o * Ci + g0 + i) * kh * kw + t] = w.data[(o * Cig + i) * kh * kw + t];
    }
    filter = permute({ data: full, shape: [Co, Ci, kh, kw] }, [2, 3, 1, 0]);
  }
  const padAttr = tfPadding(x.shape.slice(2), k, s, d, p.begin, p.given);
  const attrs = {
    strides: ints([1, s[0], s[1], 1]),
    dilations: ints([1, d[0], d[1], 1]),
    data_format: str('NHWC'),
    ...padAttr,
  };
  const shape = [x.shape[0], Co, ...p.outHW];
  const inputs = [cv.stored(x, n), cv.constant(`${name}/weights`, filter, false)];
  // Bias and a following activation are fused into the conv (one kernel, as in converted TF graphs).
  const act = fusableActivation(name, cv);
  if (!bias && !act)
    return cv.set(name, {
      shape,
      nhwc: true,
      tf: cv.emit(depthwise ? 'DepthwiseConv2dNative' : 'Conv2D', name, inputs, attrs),
    });
  if (act) {
    cv.done.add(act.node);
    name = act.node.output[0];
  }
  const b = cv.constant(`${name}/bias`, { data: bias ? Float32Array.from(bias) : new Float32Array(Co), shape: [Co] });
  const tf = cv.emit(depthwise ? 'FusedDepthwiseConv2dNative' : '_FusedConv2D', name, [...inputs, b], {
    ...attrs,
    num_args: { i: '1' },
    fused_ops: { list: { s: ['BiasAdd', ...(act ? [act.op] : [])].map(btoa) } },
    ...(act?.alpha !== undefined ? { leakyrelu_alpha: { f: act.alpha } } : {}),
  });
  cv.set(name, { shape, nhwc: true, tf });
};

/** The activation that alone reads a conv's output, if tfjs can fuse it: Relu, Clip(0, 6) as Relu6, LeakyRelu. */
function fusableActivation(value: string, cv: Converter): { node: NodeProto; op: string; alpha?: number } | undefined {
  const users = cv.consumers.get(value) ?? [];
  if (users.length !== 1 || users[0].input[0] !== value) return undefined;
  const u = users[0],
    a = new Attrs(u, cv.where(u));
  if (u.opType === 'Relu') return { node: u, op: 'Relu' };
  if (u.opType === 'LeakyRelu') return { node: u, op: 'LeakyRelu', alpha: a.float('alpha', 0.01) };
  if (u.opType === 'Clip') {
    const bound = (i: number, key: string) =>
      cv.opset < 11 ? (a.has(key) ? a.float(key, 0) : undefined) : cv.vals.get(u.input[i] ?? '')?.c?.data[0];
    if (bound(1, 'min') === 0 && bound(2, 'max') === 6) return { node: u, op: 'Relu6' };
  }
  return undefined;
}

/** VALID, SAME (TF's split: the smaller half before) or EXPLICIT padding attributes of a conv. */
function tfPadding(inHW: number[], k: number[], s: number[], d: number[], begin: number[], end: number[]) {
  if ([...begin, ...end].every((v) => v === 0)) return { padding: str('VALID') };
  const same = [0, 1].every((i) => {
    const o = Math.ceil(inHW[i] / s[i]);
    const total = Math.max((o - 1) * s[i] + (k[i] - 1) * d[i] + 1 - inHW[i], 0);
    const outHere = Math.floor((inHW[i] + begin[i] + end[i] - ((k[i] - 1) * d[i] + 1)) / s[i]) + 1;
    return outHere === o && begin[i] === Math.floor(total / 2) && end[i] === total - begin[i];
  });
  if (same) return { padding: str('SAME') };
  return { padding: str('EXPLICIT'), explicit_paddings: ints([0, 0, begin[0], end[0], begin[1], end[1], 0, 0]) };
}

function ints(v: number[]) {
  return { list: { i: v.map(String) } };
}
function str(s: string) {
  return { s: btoa(s) };
}

function pool(kind: 'max' | 'avg'): Rule {
  return (n, cv) => {
    const a = new Attrs(n, cv.where(n));
    const x = cv.need(n, 0, 'X');
    if (x.shape.length !== 4) cv.fail(n, `only 2-D pools (4-D NCHW input) are supported, got input shape [${x.shape}]`);
    if (n.output.length > 1 && n.output[1]) cv.fail(n, 'the Indices output of MaxPool is not supported');
    const k = a.ints('kernel_shape');
    if (k.length !== 2) cv.fail(n, `kernel_shape must have 2 entries, got [${k}]`);
    const s = hw2(a, 'strides', 1),
      d = hw2(a, 'dilations', 1);
    if (d.some((v) => v !== 1)) cv.fail(n, `dilations [${d}] are not supported on pools`);
    if (a.int('storage_order', 0) !== 0) cv.fail(n, 'storage_order 1 is not supported');
    const inHW = x.shape.slice(2);
    const p = windowPads(n, cv, a, inHW, k, s, d, a.int('ceil_mode', 0) === 1);
    const name = out(n);
    let input = cv.stored(x, n);
    const padded = [...p.begin, ...p.end].some((v) => v > 0);
    if (padded) {
      // Explicit padding, then a VALID pool: max pads with the lowest float, avg with 0 and rescales below.
      const paddings = cv.constant(
        `${name}/paddings`,
        { data: Int32Array.from([0, 0, p.begin[0], p.end[0], p.begin[1], p.end[1], 0, 0]), shape: [4, 2] },
        true,
      );
      input = cv.emit('PadV2', `${name}/pad`, [
        input,
        paddings,
        cv.scalar(`${name}/pad_value`, kind === 'max' ? LOWEST : 0),
      ]);
    }
    const attr = {
      ksize: ints([1, k[0], k[1], 1]),
      strides: ints([1, s[0], s[1], 1]),
      padding: str('VALID'),
      data_format: str('NHWC'),
    };
    const shape = [x.shape[0], x.shape[1], ...p.outHW];
    if (kind === 'max' || !padded) {
      cv.set(name, { shape, nhwc: true, tf: cv.emit(kind === 'max' ? 'MaxPool' : 'AvgPool', name, [input], attr) });
      return;
    }
    // Average over the counted cells only: inside the input (count_include_pad 0), or inside input + pads (1).
    const inclusive = a.int('count_include_pad', 0) === 1;
    const factor = new Float32Array(p.outHW[0] * p.outHW[1]);
    for (let oy = 0; oy < p.outHW[0]; oy++)
      for (let ox = 0; ox < p.outHW[1]; ox++) {
        const count = (i: number, o: number) => {
          const lo = inclusive ? -p.begin[i] : 0,
            hi = inHW[i] + (inclusive ? p.given[i] : 0);
          const start = o * s[i] - p.begin[i];
          return Math.max(0, Math.min(start + k[i], hi) - Math.max(start, lo));
        };
        factor[oy * p.outHW[1] + ox] = (k[0] * k[1]) / (count(0, oy) * count(1, ox));
      }
    const avg = cv.emit('AvgPool', `${name}/avg`, [input], attr);
    if (factor.every((f) => f === 1)) return cv.set(name, { shape, nhwc: true, tf: cv.emit('Identity', name, [avg]) });
    const f = cv.constant(`${name}/count`, { data: factor, shape: [1, p.outHW[0], p.outHW[1], 1] });
    cv.set(name, { shape, nhwc: true, tf: cv.emit('Mul', name, [avg, f]) });
  };
}

/** Mean over the given logical axes. */
function mean(n: NodeProto, cv: Converter, x: Val, axes: number[], keep: boolean) {
  const r = x.shape.length;
  axes = [...new Set(axes.map((v) => (v < 0 ? v + r : v)))].sort();
  const shape = keep ? x.shape.map((v, i) => (axes.includes(i) ? 1 : v)) : x.shape.filter((_, i) => !axes.includes(i));
  // On an NHWC-stored map the kept axes must stay in ONNX order (true for H,W): else reduce the NCHW tensor.
  const kept = [0, 1, 2, 3].filter((i) => !axes.includes(i));
  const direct =
    x.nhwc && (keep || kept.map((i) => NCHW_TO_NHWC.indexOf(i)).every((v, i, arr) => i === 0 || arr[i - 1] < v));
  const src = direct ? cv.live(x) : cv.plain(x);
  const tfAxes = direct ? axes.map((i) => NCHW_TO_NHWC.indexOf(i)) : axes;
  const tf = cv.emit('Mean', out(n), [src, cv.ints(`${out(n)}/axes`, tfAxes)], { keep_dims: { b: keep } });
  cv.set(out(n), { shape, nhwc: direct && keep, tf });
}

/** A reshape of a value to an ONNX shape (the result is in ONNX layout). */
function reshape(n: NodeProto, cv: Converter, x: Val, shape: number[]) {
  if (size(shape) !== size(x.shape)) cv.fail(n, `cannot reshape [${x.shape}] (${size(x.shape)} values) to [${shape}]`);
  if (x.c) return cv.set(out(n), { shape, nhwc: false, c: { data: x.c.data, shape }, int: x.int }); // folded
  if (x.nhwc && !cv.sameOrder(x) && shape.length === 2 && shape[0] === x.shape[0]) {
    // A map flattened for a classifier head (Flatten, or x.view(N, -1)): kept in NHWC order, see Val.flat.
    const tf = cv.emit('Reshape', out(n), [cv.live(x), cv.ints(`${out(n)}/shape`, shape)]);
    return cv.set(out(n), { shape, nhwc: false, tf, flat: [x.shape[1], x.shape[2], x.shape[3]] });
  }
  // Reshape the stored tensor directly when its order is ONNX's: no NCHW intermediate that would look like a map.
  const tf = cv.emit('Reshape', out(n), [
    cv.sameOrder(x) ? cv.live(x) : cv.plain(x),
    cv.ints(`${out(n)}/shape`, shape),
  ]);
  cv.set(out(n), { shape, nhwc: false, tf });
}

function axesOf(n: NodeProto, cv: Converter, a: Attrs, inputIndex: number): number[] | undefined {
  if (a.has('axes')) return a.ints('axes');
  const v = cv.get(n, inputIndex);
  if (!v) return undefined;
  return [...(v.c ?? cv.fail(n, 'axes must be a constant')).data];
}

function softmax(n: NodeProto, cv: Converter) {
  const x = cv.need(n, 0, 'input');
  const r = x.shape.length;
  const a = new Attrs(n, cv.where(n));
  let axis = a.int('axis', cv.opset >= 13 ? -1 : 1);
  if (axis < 0) axis += r;
  const name = out(n);
  if (x.nhwc && axis === 1) {
    // the channel axis is the stored last axis
    cv.set(name, { ...x, tf: cv.emit('Softmax', name, [cv.live(x)]) });
    return;
  }
  let tf: string;
  if (cv.opset < 13 && axis !== r - 1) {
    // Before opset 13, Softmax is over the flattened dimensions from axis on.
    const two = cv.emit('Reshape', `${name}/2d`, [
      cv.plain(x),
      cv.ints(`${name}/2d/shape`, [size(x.shape.slice(0, axis)), size(x.shape.slice(axis))]),
    ]);
    const sm = cv.emit('Softmax', `${name}/softmax`, [two]);
    tf = cv.emit('Reshape', name, [sm, cv.ints(`${name}/shape`, x.shape)]);
  } else if (axis === r - 1) tf = cv.emit('Softmax', name, [cv.plain(x)]);
  else {
    const perm = [...Array(r).keys()].filter((i) => i !== axis).concat(axis);
    const inv = perm.map((_, i) => perm.indexOf(i));
    const t = cv.emit('Transpose', `${name}/last`, [cv.plain(x), cv.ints(`${name}/last/perm`, perm)]);
    const sm = cv.emit('Softmax', `${name}/softmax`, [t]);
    tf = cv.emit('Transpose', name, [sm, cv.ints(`${name}/perm`, inv)]);
  }
  cv.set(name, { shape: x.shape, nhwc: false, tf });
}

/**
 * y = (x - zero_point) * scale, per tensor or per `axis`: folded into float constants for weights, computed for an
 * integer input (a uint8 image). After a QuantizeLinear it is the second half of simulated quantization: dropped.
 */
function dequantize(n: NodeProto, cv: Converter) {
  const x = cv.need(n, 0, 'x');
  if (cv.quantized.has(n.input[0])) return cv.set(out(n), { ...x });
  const scale = cv.constOf(n, 1, 'x_scale');
  const zp = cv.get(n, 2)?.c ?? (n.input[2] ? cv.fail(n, 'x_zero_point must be a constant') : undefined);
  const a = new Attrs(n, cv.where(n));
  const r = x.shape.length;
  let axis = a.int('axis', 1);
  if (axis < 0) axis += r;
  const perAxis = scale.data.length > 1;
  if (x.c) {
    const inner = perAxis ? size(x.shape.slice(axis + 1)) : 1;
    const n0 = perAxis ? x.shape[axis] : 1;
    const data = new Float32Array(x.c.data.length);
    for (let i = 0; i < data.length; i++) {
      const c = perAxis ? Math.floor(i / inner) % n0 : 0;
      data[i] = (x.c.data[i] - (zp?.data[c] ?? 0)) * scale.data[c];
    }
    cv.set(out(n), { shape: x.shape, nhwc: false, c: { data, shape: x.shape } });
    return;
  }
  const shapeFor = (t: Tensor) => (perAxis ? x.shape.map((v, i) => (i === axis ? v : 1)) : t.shape);
  let v: Val = x;
  if (zp && zp.data.some((z) => z !== 0))
    v = binaryOp(
      n,
      cv,
      'Sub',
      v,
      constVal(`${out(n)}/zero_point`, { data: Float32Array.from(zp.data), shape: shapeFor(zp) }),
      `${out(n)}/shifted`,
    );
  v = binaryOp(
    n,
    cv,
    'Mul',
    v,
    constVal(`${out(n)}/scale`, { data: Float32Array.from(scale.data), shape: shapeFor(scale) }),
    out(n),
  );
  cv.set(out(n), v);
}

/**
 * QuantizeLinear on an activation: simulated quantization (QDQ) is run in float, so the value passes unchanged and
 * is marked quantized until its DequantizeLinear; a quantized graph output is read as the float value before its
 * QuantizeLinear (convert.ts).
 */
function quantize(n: NodeProto, cv: Converter) {
  const x = cv.need(n, 0, 'x');
  cv.set(out(n), { ...x });
  cv.quantized.add(out(n));
}

/** Ops that move a quantized tensor without computing on it (tf2onnx puts them between Q and DQ). */
export const MOVES_QUANTIZED = new Set([
  'Transpose',
  'Squeeze',
  'Unsqueeze',
  'Reshape',
  'Flatten',
  'Identity',
  'MaxPool',
  'Concat',
  'Pad',
]);

function pad(n: NodeProto, cv: Converter) {
  const a = new Attrs(n, cv.where(n));
  const x = cv.need(n, 0, 'data');
  const r = x.shape.length;
  const mode = a.string('mode', 'constant');
  const pads = cv.opset < 11 ? a.ints('pads') : [...cv.constOf(n, 1, 'pads').data];
  if (cv.opset >= 11 && n.input[3]) cv.fail(n, 'the axes input of Pad is not supported');
  if (pads.length !== 2 * r) cv.fail(n, `pads [${pads}] must have 2 entries per dimension of [${x.shape}]`);
  if (pads.some((p) => p < 0)) cv.fail(n, `negative pads [${pads}] are not supported`);
  const value = cv.opset < 11 ? a.float('value', 0) : (cv.get(n, 2)?.c?.data[0] ?? 0);
  const order = x.nhwc ? NCHW_TO_NHWC : [...Array(r).keys()];
  const flat = order.flatMap((d) => [pads[d], pads[d + r]]);
  const paddings = cv.constant(`${out(n)}/paddings`, { data: Int32Array.from(flat), shape: [r, 2] }, true);
  const shape = x.shape.map((v, i) => v + pads[i] + pads[i + r]);
  let tf: string;
  const src = x.flat ? cv.plain(x) : cv.live(x);
  if (mode === 'constant') tf = cv.emit('PadV2', out(n), [src, paddings, cv.scalar(`${out(n)}/value`, value)]);
  else if (mode === 'reflect') tf = cv.emit('MirrorPad', out(n), [src, paddings], { mode: str('REFLECT') });
  else cv.fail(n, `Pad mode '${mode}' is not supported (constant and reflect are)`);
  cv.set(out(n), { shape, nhwc: x.nhwc, tf });
}

function gemm(n: NodeProto, cv: Converter) {
  const at = new Attrs(n, cv.where(n));
  const A = cv.need(n, 0, 'A'),
    B = cv.need(n, 1, 'B'),
    C = cv.get(n, 2);
  const alpha = at.float('alpha', 1),
    beta = at.float('beta', 1);
  const tA = at.int('transA', 0) === 1,
    tB = at.int('transB', 0) === 1;
  if (A.shape.length !== 2 || B.shape.length !== 2)
    cv.fail(n, `Gemm needs 2-D A and B, got [${A.shape}] and [${B.shape}]`);
  const M = tA ? A.shape[1] : A.shape[0],
    N = tB ? B.shape[0] : B.shape[1];
  const name = out(n);
  let b: string,
    transB = false;
  const flatA = A.flat && B.c && !tA ? A.flat : undefined;
  if (B.c) {
    // constant weights: transposed to [K, N] and scaled by alpha here
    let w = tB ? permute(B.c, [1, 0]) : B.c;
    if (flatA) w = nhwcRows(w, flatA);
    b = cv.constant(`${name}/weights`, {
      data: alpha === 1 ? asFloatT(w).data : asFloatT(w).data.map((v) => v * alpha),
      shape: w.shape,
    });
  } else {
    b = cv.plain(B);
    transB = tB;
  }
  const a = flatA ? cv.live(A) : cv.plain(asFloat(A));
  let y = cv.emit('MatMul', C || (!B.c && alpha !== 1) ? `${name}/matmul` : name, [a, b], {
    transpose_a: { b: tA },
    transpose_b: { b: transB },
  });
  if (!B.c && alpha !== 1) y = cv.emit('Mul', C ? `${name}/alpha` : name, [y, cv.scalar(`${name}/alpha_value`, alpha)]);
  let v: Val = { name, shape: [M, N], nhwc: false, tf: y };
  if (C) {
    const c: Val = C.c
      ? constVal(C.name, { data: Float32Array.from(C.c.data, (x) => x * beta), shape: C.shape })
      : beta === 1
        ? C
        : binaryOp(n, cv, 'Mul', C, scalarVal(`${name}/beta`, beta), `${name}/c`);
    v =
      c.c && c.shape.length === 1 && c.shape[0] === N
        ? {
            name,
            shape: [M, N],
            nhwc: false,
            tf: cv.emit('BiasAdd', name, [y, cv.live(c)], { data_format: str('NHWC') }),
          }
        : binaryOp(n, cv, 'AddV2', v, c, name);
  }
  cv.set(name, v);
}

/** Weight rows [K, N] from ONNX's flatten order (c, h, w) to NHWC's (h, w, c). */
function nhwcRows(w: Tensor, [C, H, W]: [number, number, number]): Tensor {
  return { data: permute({ data: w.data, shape: [C, H, W, w.shape[1]] }, [1, 2, 0, 3]).data, shape: w.shape };
}

function matmul(n: NodeProto, cv: Converter) {
  const A = cv.need(n, 0, 'A'),
    B = cv.need(n, 1, 'B');
  if (A.shape.length < 2 || B.shape.length < 2)
    cv.fail(n, `1-D MatMul operands are not supported ([${A.shape}] x [${B.shape}])`);
  if (A.flat && B.c && B.shape.length === 2) {
    const tf = cv.emit('MatMul', out(n), [
      cv.live(A),
      cv.constant(`${out(n)}/weights`, nhwcRows(asFloatT(B.c), A.flat)),
    ]);
    return cv.set(out(n), { shape: [A.shape[0], B.shape[1]], nhwc: false, tf });
  }
  const batch = broadcast(n, cv, A.shape.slice(0, -2), B.shape.slice(0, -2));
  const shape = [...batch, A.shape.at(-2)!, B.shape.at(-1)!];
  const op = A.shape.length === 2 && B.shape.length === 2 ? 'MatMul' : 'BatchMatMulV2';
  cv.set(out(n), { shape, nhwc: false, tf: cv.emit(op, out(n), [cv.plain(asFloat(A)), cv.plain(asFloat(B))]) });
}

function concat(n: NodeProto, cv: Converter) {
  const raw = n.input.map((_, i) => cv.need(n, i, `input ${i}`));
  const ins = raw.map(asFloat);
  const r = ins[0].shape.length;
  let axis = new Attrs(n, cv.where(n)).int('axis', 1);
  if (axis < 0) axis += r;
  const shape = ins[0].shape.slice();
  shape[axis] = ins.reduce((s, v) => s + v.shape[axis], 0);
  if (raw.every((v) => v.c)) {
    // folded (shape computations)
    const outer = size(shape.slice(0, axis));
    const data: number[] = [];
    for (let i = 0; i < outer; i++)
      for (const v of raw) {
        const len = size(v.shape.slice(axis));
        data.push(...v.c!.data.subarray(i * len, (i + 1) * len));
      }
    const int = raw.every((v) => v.int);
    return cv.set(out(n), {
      shape,
      nhwc: false,
      c: { data: int ? Int32Array.from(data) : Float32Array.from(data), shape },
      int,
    });
  }
  const nhwc = r === 4 && ins.some((v) => v.nhwc);
  const parts = ins.map((v) => (nhwc ? cv.stored(v, n) : cv.plain(v)));
  const tfAxis = nhwc ? NCHW_TO_NHWC.indexOf(axis) : axis;
  const tf = cv.emit('ConcatV2', out(n), [...parts, cv.ints(`${out(n)}/axis`, [tfAxis])], {
    N: { i: String(parts.length) },
    Tidx: { type: 'DT_INT32' },
  });
  cv.set(out(n), { shape, nhwc, tf });
}

function clip(n: NodeProto, cv: Converter) {
  const a = new Attrs(n, cv.where(n));
  const x = cv.need(n, 0, 'input');
  const bound = (i: number, attr: string): number | undefined => {
    if (cv.opset < 11) return a.has(attr) ? a.float(attr, 0) : undefined;
    const v = cv.get(n, i);
    return v ? (v.c ?? cv.fail(n, `${attr} must be a constant`)).data[0] : undefined;
  };
  const lo = bound(1, 'min'),
    hi = bound(2, 'max');
  const name = out(n);
  if (lo === 0 && hi === 6) return cv.set(name, { ...x, tf: cv.emit('Relu6', name, [cv.live(x)]) });
  let v: Val = x;
  if (lo !== undefined)
    v = binaryOp(n, cv, 'Maximum', v, scalarVal(`${name}/min`, lo), hi !== undefined ? `${name}/lower` : name);
  if (hi !== undefined) v = binaryOp(n, cv, 'Minimum', v, scalarVal(`${name}/max`, hi), name);
  if (v === x) v = { ...x, tf: cv.emit('Identity', name, [cv.live(x)]) };
  cv.set(name, v);
}

function hardSigmoid(n: NodeProto, cv: Converter, x: Val, alpha: number, beta: number, name: string): Val {
  let v = binaryOp(n, cv, 'Mul', x, scalarVal(`${name}/alpha`, alpha), `${name}/scaled`);
  v = binaryOp(n, cv, 'AddV2', v, scalarVal(`${name}/beta`, beta), `${name}/shifted`);
  v = binaryOp(n, cv, 'Maximum', v, scalarVal(`${name}/zero`, 0), `${name}/lower`);
  return binaryOp(n, cv, 'Minimum', v, scalarVal(`${name}/one`, 1), name);
}

function batchNorm(n: NodeProto, cv: Converter) {
  // Reached only when not folded into the conv before it: y = x * s + (beta - mean * s), per channel (axis 1).
  const x = cv.need(n, 0, 'X');
  if (n.output.filter(Boolean).length > 1)
    cv.fail(n, 'training-mode BatchNormalization (running mean/var outputs) is not supported');
  const [gamma, beta, mu, variance] = [1, 2, 3, 4].map((i) => cv.constOf(n, i, 'BatchNorm parameter').data);
  const eps = new Attrs(n, cv.where(n)).float('epsilon', 1e-5);
  const s = Float32Array.from(gamma, (g, c) => g / Math.sqrt(variance[c] + eps));
  const b = Float32Array.from(s, (sc, c) => beta[c] - mu[c] * sc);
  const chShape = x.shape.map((v, i) => (i === 1 ? v : 1)).slice(1);
  const scaled = binaryOp(
    n,
    cv,
    'Mul',
    x,
    constVal(`${out(n)}/scale`, { data: s, shape: chShape }),
    `${out(n)}/scaled`,
  );
  cv.set(out(n), binaryOp(n, cv, 'AddV2', scaled, constVal(`${out(n)}/offset`, { data: b, shape: chShape }), out(n)));
}

function transpose(n: NodeProto, cv: Converter) {
  const x = cv.need(n, 0, 'data');
  const r = x.shape.length;
  const perm = new Attrs(n, cv.where(n)).ints('perm', [...Array(r).keys()].reverse());
  const shape = perm.map((p) => x.shape[p]);
  // NHWC <-> NCHW transposes only change how the importer labels the stored tensor.
  if (r === 4 && !x.nhwc && perm.join() === '0,3,1,2')
    return cv.set(out(n), { shape, nhwc: true, tf: x.tf, c: x.c && permute(x.c, perm), int: x.int });
  if (r === 4 && x.nhwc && perm.join() === '0,2,3,1') return cv.set(out(n), { shape, nhwc: false, tf: x.tf });
  if (x.c) return cv.set(out(n), { shape, nhwc: false, c: permute(x.c, perm), int: x.int });
  cv.set(out(n), {
    shape,
    nhwc: false,
    tf: cv.emit('Transpose', out(n), [cv.plain(x), cv.ints(`${out(n)}/perm`, perm)]),
  });
}

/** Shape: shapes are static here, so it is a constant (and so is the shape arithmetic of `x.view(x.size(0), -1)`). */
function shapeOp(n: NodeProto, cv: Converter) {
  const x = cv.need(n, 0, 'data');
  const a = new Attrs(n, cv.where(n));
  const r = x.shape.length;
  const clamp = (v: number) => Math.min(r, Math.max(0, v < 0 ? v + r : v));
  const dims = x.shape.slice(clamp(a.int('start', 0)), clamp(a.int('end', r)));
  cv.set(out(n), {
    shape: [dims.length],
    nhwc: false,
    c: { data: Int32Array.from(dims), shape: [dims.length] },
    int: true,
  });
}

/** Gather with constant indices: folded on constants, GatherV2 on a computed tensor. */
function gather(n: NodeProto, cv: Converter) {
  const x = cv.need(n, 0, 'data');
  const ind = cv.constOf(n, 1, 'indices');
  const r = x.shape.length;
  let axis = new Attrs(n, cv.where(n)).int('axis', 0);
  if (axis < 0) axis += r;
  const dim = x.shape[axis];
  const idx = Int32Array.from(ind.data, (v) => (v < 0 ? v + dim : v));
  if (idx.some((v) => v < 0 || v >= dim))
    cv.fail(n, `indices [${[...ind.data]}] out of range for axis ${axis} of size ${dim}`);
  const shape = [...x.shape.slice(0, axis), ...ind.shape, ...x.shape.slice(axis + 1)];
  if (x.c) {
    const outer = size(x.shape.slice(0, axis)),
      inner = size(x.shape.slice(axis + 1));
    const data = new (x.c.data.constructor as Float32ArrayConstructor | Int32ArrayConstructor)(size(shape));
    let k = 0;
    for (let o = 0; o < outer; o++)
      for (const j of idx) for (let i = 0; i < inner; i++) data[k++] = x.c.data[(o * dim + j) * inner + i];
    return cv.set(out(n), { shape, nhwc: false, c: { data, shape }, int: x.int });
  }
  const tf = cv.emit(
    'GatherV2',
    out(n),
    [
      cv.plain(x),
      cv.constant(`${out(n)}/indices`, { data: idx, shape: ind.shape }, true),
      cv.ints(`${out(n)}/axis`, [axis]),
    ],
    { batch_dims: { i: '0' } },
  );
  cv.set(out(n), { shape, nhwc: false, tf });
}

export const OPS: Record<string, Rule> = {
  Conv: conv,
  BatchNormalization: batchNorm,
  Relu: unary('Relu'),
  Sigmoid: unary('Sigmoid'),
  LeakyRelu: (n, cv) => unary('LeakyRelu', { alpha: { f: new Attrs(n, cv.where(n)).float('alpha', 0.01) } })(n, cv),
  HardSigmoid: (n, cv) => {
    const a = new Attrs(n, cv.where(n));
    cv.set(out(n), hardSigmoid(n, cv, cv.need(n, 0, 'X'), a.float('alpha', 0.2), a.float('beta', 0.5), out(n)));
  },
  // x * HardSigmoid(x; 1/6, 1/2); the product's first input is x, the path the unravelling follows.
  HardSwish: (n, cv) => {
    const x = cv.need(n, 0, 'X');
    cv.set(out(n), binaryOp(n, cv, 'Mul', x, hardSigmoid(n, cv, x, 1 / 6, 0.5, `${out(n)}/gate`), out(n)));
  },
  Clip: clip,
  Min: variadic('Minimum'),
  Max: variadic('Maximum'),
  Identity: unary('Identity'),
  Dropout: (n, cv) => {
    if (n.output[1]) cv.fail(n, 'the mask output of Dropout is not supported');
    const training = cv.get(n, 2);
    if (training && (!training.c || training.c.data[0]))
      cv.fail(n, 'training-mode Dropout (random) is not supported; training_mode must be a constant false');
    unary('Identity')(n, cv);
  },
  Add: binary('AddV2'),
  Sub: binary('Sub'),
  Mul: binary('Mul'),
  Div: binary('RealDiv'),
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  GlobalAveragePool: (n, cv) => {
    const x = cv.need(n, 0, 'X');
    mean(n, cv, x, [...Array(x.shape.length).keys()].slice(2), true);
  },
  ReduceMean: (n, cv) => {
    const a = new Attrs(n, cv.where(n));
    const x = cv.need(n, 0, 'data');
    const axes = axesOf(n, cv, a, 1) ?? [...Array(x.shape.length).keys()];
    mean(n, cv, x, axes, a.int('keepdims', 1) === 1);
  },
  Gemm: gemm,
  MatMul: matmul,
  Concat: concat,
  Flatten: (n, cv) => {
    const x = cv.need(n, 0, 'input');
    let axis = new Attrs(n, cv.where(n)).int('axis', 1);
    if (axis < 0) axis += x.shape.length;
    reshape(n, cv, x, [size(x.shape.slice(0, axis)), size(x.shape.slice(axis))]);
  },
  Reshape: (n, cv) => {
    const x = cv.need(n, 0, 'data');
    const a = new Attrs(n, cv.where(n));
    const want = cv.opset < 5 ? a.ints('shape') : [...cv.constOf(n, 1, 'shape').data];
    const allowZero = a.int('allowzero', 0) === 1;
    const shape = want.map((v, i) => (v === 0 && !allowZero ? x.shape[i] : v));
    const minus = shape.indexOf(-1);
    if (minus >= 0) shape[minus] = size(x.shape) / -size(shape);
    reshape(n, cv, x, shape);
  },
  Squeeze: (n, cv) => {
    const x = cv.need(n, 0, 'data');
    const r = x.shape.length;
    const axes = (axesOf(n, cv, new Attrs(n, cv.where(n)), 1) ?? x.shape.flatMap((v, i) => (v === 1 ? [i] : []))).map(
      (v) => (v < 0 ? v + r : v),
    );
    if (axes.some((i) => x.shape[i] !== 1)) cv.fail(n, `cannot squeeze axes [${axes}] of shape [${x.shape}]`);
    reshape(
      n,
      cv,
      x,
      x.shape.filter((_, i) => !axes.includes(i)),
    );
  },
  Unsqueeze: (n, cv) => {
    const x = cv.need(n, 0, 'data');
    const axes = axesOf(n, cv, new Attrs(n, cv.where(n)), 1) ?? cv.fail(n, 'axes are required');
    const r = x.shape.length + axes.length;
    const at = axes.map((v) => (v < 0 ? v + r : v));
    const shape: number[] = [];
    for (let i = 0, j = 0; i < r; i++) shape.push(at.includes(i) ? 1 : x.shape[j++]);
    reshape(n, cv, x, shape);
  },
  Softmax: softmax,
  Shape: shapeOp,
  Gather: gather,
  Pad: pad,
  Transpose: transpose,
  Constant: (n, cv) => {
    const a = new Attrs(n, cv.where(n));
    const t =
      a.tensor('value') ??
      (a.has('value_float') ? { data: Float32Array.of(a.float('value_float', 0)), shape: [] } : undefined) ??
      (a.has('value_floats')
        ? { data: Float32Array.from(a.floats('value_floats')!), shape: [a.floats('value_floats')!.length] }
        : undefined) ??
      (a.has('value_int') ? { data: Int32Array.of(a.int('value_int', 0)), shape: [] } : undefined) ??
      (a.has('value_ints')
        ? { data: Int32Array.from(a.ints('value_ints')), shape: [a.ints('value_ints').length] }
        : undefined) ??
      cv.fail(n, 'Constant without a supported value attribute');
    cv.set(out(n), { shape: t.shape, nhwc: false, c: t, int: t.data instanceof Int32Array });
  },
  DequantizeLinear: dequantize,
  QuantizeLinear: quantize,
};

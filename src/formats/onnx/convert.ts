// ONNX model -> in-memory TF.js graph-model artifacts (a GraphDef-JSON node list with TF ops, weight specs and
// weight bytes), so that tfjs-converter runs it and the engine graph (src/engine/graph.ts) unravels it like any
// TF.js graph model. NCHW becomes NHWC here: a 4-D activation is *stored* NHWC while its ONNX (logical) shape stays
// NCHW; weights are transposed to TF layouts (conv HWIO, depthwise HW·C·M). Each op's rule is in ops.ts.
import type { io } from '@tensorflow/tfjs-core';
import type { TfNode } from '../../engine/graph.ts';
import {
  Attrs,
  decodeModel,
  isFloatType,
  num,
  tensorValues,
  type GraphProto,
  type NodeProto,
  type TensorProto,
  type Tensor,
  type ValueInfoProto,
} from './proto.ts';
import { NCHW_TO_NHWC, permute } from './layout.ts';
import { MOVES_QUANTIZED, OPS } from './ops.ts';

/** An ONNX value during conversion. `tf` names the TF node holding it; a constant has `c` and maybe no node yet. */
export interface Val {
  name: string;
  /** ONNX (logical) shape, batch included; symbolic dims are taken as 1. */
  shape: number[];
  /** A 4-D value stored NHWC (the logical shape stays NCHW). */
  nhwc: boolean;
  tf?: string;
  c?: Tensor;
  int?: boolean;
  /**
   * A [N, C*H*W] vector flattened from an NHWC-stored map, held in NHWC order (H, W, C): [C, H, W]. A Gemm/MatMul
   * with constant weights reads it directly (its weight rows permuted), so the engine sees Reshape -> MatMul of a
   * map as in TF graphs; anything else gets it in ONNX order.
   */
  flat?: [number, number, number];
}

export interface OnnxPort {
  /** ONNX name and the TF node name it became. */
  onnx: string;
  tf: string;
  /** Logical (ONNX) shape, batch included. */
  shape: number[];
  /** true: the TF tensor is NHWC while the ONNX tensor is NCHW. */
  nhwc: boolean;
  /** ONNX element type name, e.g. FLOAT, UINT8. */
  type: string;
  /** A quantized integer output: the float value before its final QuantizeLinear, which `tf` holds instead. */
  dequantized?: string;
}

export interface OnnxConversion {
  artifacts: io.ModelArtifacts;
  inputs: OnnxPort[];
  outputs: OnnxPort[];
  /** For each output: the TF name of the input of a final Softmax, when the output is one. */
  beforeSoftmax: Map<string, string>;
  /** ONNX output value name -> TF node name, for every converted value (lets callers pick a logits node). */
  tfName: Map<string, string>;
  metadata: Record<string, string>;
  opset: number;
}

const ELEM = [
  'UNDEFINED',
  'FLOAT',
  'UINT8',
  'INT8',
  'UINT16',
  'INT16',
  'INT32',
  'INT64',
  'STRING',
  'BOOL',
  'FLOAT16',
  'DOUBLE',
];

export class Converter {
  readonly nodes: TfNode[] = [];
  private readonly specs: io.WeightsManifestEntry[] = [];
  private readonly chunks: Uint8Array[] = [];
  private readonly used = new Set<string>();
  readonly vals = new Map<string, Val>();
  /** ONNX nodes already handled by an earlier node's rule (a folded BatchNorm, a dropped Q->DQ pair). */
  readonly done = new Set<NodeProto>();
  consumers = new Map<string, NodeProto[]>();
  /** Values that are QuantizeLinear outputs (kept as the float they quantize) until a DequantizeLinear. */
  readonly quantized = new Set<string>();
  opset = 1;

  constructor(readonly file: string) {}

  where(n: NodeProto): string {
    return `${this.file}: node '${n.name || n.output.find(Boolean) || '(unnamed)'}' (op ${n.opType})`;
  }
  fail(n: NodeProto, why: string): never {
    throw new Error(`${this.where(n)}: ${why}`);
  }

  /** A fresh TF node name: TF names may not hold ':' (it separates the output index) and must be unique. */
  fresh(base: string): string {
    let name = base.replace(/[^A-Za-z0-9_.\-/]/g, '_').replace(/^[^A-Za-z0-9.]+/, '') || 'v';
    if (this.used.has(name)) {
      let k = 1;
      while (this.used.has(`${name}_${k}`)) k++;
      name = `${name}_${k}`;
    }
    this.used.add(name);
    return name;
  }

  emit(op: string, name: string, inputs: string[], attr: Record<string, unknown> = {}): string {
    const n = this.fresh(name);
    this.nodes.push({
      name: n,
      op,
      input: inputs,
      attr: { ...(op === 'Placeholder' || op === 'Const' ? {} : { T: { type: 'DT_FLOAT' } }), ...attr },
    });
    return n;
  }

  constant(name: string, t: Tensor, int = t.data instanceof Int32Array): string {
    const n = this.fresh(name);
    const dtype = int ? 'int32' : 'float32';
    const data = int
      ? t.data instanceof Int32Array
        ? t.data
        : new Int32Array(t.data)
      : t.data instanceof Float32Array
        ? t.data
        : new Float32Array(t.data);
    this.nodes.push({
      name: n,
      op: 'Const',
      input: [],
      attr: {
        dtype: { type: int ? 'DT_INT32' : 'DT_FLOAT' },
        value: {
          tensor: {
            dtype: int ? 'DT_INT32' : 'DT_FLOAT',
            tensorShape: { dim: t.shape.map((s) => ({ size: String(s) })) },
          },
        },
      },
    });
    this.specs.push({ name: n, shape: t.shape, dtype });
    this.chunks.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return n;
  }

  ints(name: string, v: number[]): string {
    return this.constant(name, { data: Int32Array.from(v), shape: [v.length] }, true);
  }
  scalar(name: string, v: number): string {
    return this.constant(name, { data: Float32Array.of(v), shape: [] }, false);
  }

  get(n: NodeProto, i: number): Val | undefined {
    const name = n.input[i];
    if (!name) return undefined;
    const v = this.vals.get(name);
    if (!v) this.fail(n, `input '${name}' is not produced by any earlier node, initializer or graph input`);
    return v;
  }
  need(n: NodeProto, i: number, what: string): Val {
    return this.get(n, i) ?? this.fail(n, `missing input ${i} (${what})`);
  }
  constOf(n: NodeProto, i: number, what: string): Tensor {
    const v = this.need(n, i, what);
    return (
      v.c ?? this.fail(n, `${what} ('${n.input[i]}') must be a constant (an initializer or Constant), it is computed`)
    );
  }
  set(name: string, v: Omit<Val, 'name'>) {
    this.vals.set(name, { name, ...v });
  }

  /** The value as a TF tensor in its stored layout (a constant gets its Const node on first use). */
  live(v: Val): string {
    if (v.tf) return v.tf;
    v.tf = this.constant(v.name, v.c!, v.int);
    return v.tf;
  }

  /** Whether the stored NHWC order of a value is also its NCHW order (one channel, or a 1x1 map). */
  sameOrder(v: Val): boolean {
    if (v.flat) return false;
    return !v.nhwc || v.shape[1] === 1 || v.shape[2] * v.shape[3] === 1;
  }

  /** The value as a TF tensor in ONNX's own layout (an NHWC-stored 4-D value is transposed back, unless trivial). */
  plain(v: Val): string {
    if (v.flat) {
      const [C, H, W] = v.flat,
        N = v.shape[0];
      const map = this.emit('Reshape', `${v.name}/map`, [this.live(v), this.ints(`${v.name}/map/shape`, [N, H, W, C])]);
      const nchw = this.emit('Transpose', `${v.name}/nchw`, [map, this.ints(`${v.name}/nchw/perm`, [0, 3, 1, 2])]);
      return this.emit('Reshape', `${v.name}/flat`, [nchw, this.ints(`${v.name}/flat/shape`, v.shape)]);
    }
    if (!v.nhwc) return this.live(v);
    const [N, C, H, W] = v.shape;
    if (C === 1 || H * W === 1)
      return this.emit('Reshape', `${v.name}/nchw`, [this.live(v), this.ints(`${v.name}/nchw/shape`, [N, C, H, W])]);
    return this.emit('Transpose', `${v.name}/nchw`, [this.live(v), this.ints(`${v.name}/nchw/perm`, [0, 3, 1, 2])]);
  }

  /** A 4-D value as an NHWC TF tensor (what convolutions and pools read). */
  stored(v: Val, n: NodeProto): string {
    if (v.shape.length !== 4) this.fail(n, `input '${v.name}' must be 4-D NCHW, got shape [${v.shape}]`);
    if (v.nhwc) return this.live(v);
    if (v.c) return this.constant(v.name, permute(v.c, [0, 2, 3, 1]));
    return this.emit('Transpose', `${v.name}/nhwc`, [this.live(v), this.ints(`${v.name}/nhwc/perm`, [0, 2, 3, 1])]);
  }

  /** An operand broadcast against a 4-D NCHW value stored NHWC: right-aligned to rank 4, then NHWC. */
  storedBroadcast(v: Val, n: NodeProto): string {
    if (v.nhwc) return this.live(v);
    const shape4 = [...Array(4 - v.shape.length).fill(1), ...v.shape];
    if (v.c) return this.constant(v.name, permute({ data: v.c.data, shape: shape4 }, [0, 2, 3, 1]), v.int);
    const r =
      v.shape.length === 4
        ? this.live(v)
        : this.emit('Reshape', `${v.name}/r4`, [this.live(v), this.ints(`${v.name}/r4/shape`, shape4)]);
    return this.stored({ ...v, shape: shape4, tf: r }, n);
  }

  artifacts(): io.ModelArtifacts {
    const total = this.chunks.reduce((s, b) => s + b.byteLength, 0);
    const data = new Uint8Array(total);
    let off = 0;
    for (const b of this.chunks) {
      data.set(b, off);
      off += b.byteLength;
    }
    return {
      modelTopology: { node: this.nodes, library: {}, versions: {} },
      weightSpecs: this.specs,
      weightData: data.buffer,
      format: 'graph-model',
      generatedBy: 'cnnfix ONNX importer',
      convertedBy: null,
    };
  }
}

export interface ConvertOptions {
  /** Graph inputs to bind to constant values (e.g. weights given as inputs, as in the ONNX backend tests). */
  constants?: Map<string, Tensor>;
}

export function convertOnnx(bytes: Uint8Array, file = 'model.onnx', opts: ConvertOptions = {}): OnnxConversion {
  const model = decodeModel(bytes, file);
  // Decoded sub-messages are class instances with defaults; the generated typings only promise $Properties.
  const g = model.graph as GraphProto;
  const nodes = g.node as NodeProto[],
    initializers = g.initializer as TensorProto[];
  const graphInputs = g.input as ValueInfoProto[],
    graphOutputs = g.output as ValueInfoProto[];
  const cv = new Converter(file);
  cv.opset = Math.max(
    1,
    ...model.opsetImport.filter((o) => !o.domain || o.domain === 'ai.onnx').map((o) => num(o.version)),
  );

  for (const t of initializers) {
    const c = tensorValues(t, `${file}: initializer`);
    cv.set(t.name, { shape: c.shape, nhwc: false, c, int: !isFloatType(t.dataType) });
  }
  for (const n of nodes) for (const i of n.input) if (i) cv.consumers.set(i, [...(cv.consumers.get(i) ?? []), n]);

  const inputs: OnnxPort[] = [];
  for (const [name, t] of opts.constants ?? [])
    cv.set(name, { shape: t.shape, nhwc: false, c: t, int: t.data instanceof Int32Array });
  for (const inp of graphInputs) {
    if (cv.vals.has(inp.name)) continue; // an initializer also listed as an input (IR < 4), or a bound input
    const tt = inp.type?.tensorType;
    if (!tt) throw new Error(`${file}: graph input '${inp.name}' is not a tensor`);
    const shape = (tt.shape?.dim ?? []).map((d) => (d.dimValue != null && num(d.dimValue) > 0 ? num(d.dimValue) : 1));
    // A 4-D input is an NCHW image, stored NHWC; unless its consumers transpose it to NCHW (an NHWC input, as in
    // tf2onnx graphs), then it stays as given and the transposes become no-ops.
    const nhwcGiven = shape.length === 4 && reachesNchwTranspose(inp.name, cv);
    const nhwc = shape.length === 4 && !nhwcGiven;
    const tfShape = nhwc ? NCHW_TO_NHWC.map((a) => shape[a]) : shape;
    const tf = cv.emit('Placeholder', inp.name, [], {
      dtype: { type: 'DT_FLOAT' },
      shape: { shape: { dim: tfShape.map((s, i) => ({ size: String(i === 0 && shape.length === 4 ? -1 : s) })) } },
    });
    cv.set(inp.name, { shape, nhwc, tf });
    inputs.push({ onnx: inp.name, tf, shape, nhwc, type: ELEM[tt.elemType ?? 0] ?? String(tt.elemType) });
  }

  for (const n of nodes) {
    if (cv.done.has(n)) continue;
    if (n.domain && n.domain !== 'ai.onnx')
      cv.fail(n, `operator domain '${n.domain}' is not supported (only the default ONNX domain)`);
    const rule = OPS[n.opType];
    if (!rule) {
      cv.fail(
        n,
        `op '${n.opType}' is not supported by the ONNX importer (supported: ${Object.keys(OPS).sort().join(', ')})`,
      );
    }
    rule(n, cv);
    // A quantized tensor stays quantized through data movement until its DequantizeLinear (see ops.ts).
    if (MOVES_QUANTIZED.has(n.opType) && cv.quantized.has(n.input[0])) cv.quantized.add(n.output[0]);
  }

  const tfName = new Map<string, string>();
  for (const [name, v] of cv.vals) if (v.tf) tfName.set(name, v.tf);
  const beforeSoftmax = new Map<string, string>();
  const producerOf = (v: string) => nodes.find((n) => n.output.includes(v));
  const outputs: OnnxPort[] = graphOutputs.map((o) => {
    let name = o.name;
    // A quantized integer output (a final QuantizeLinear, as ST's and tf2onnx's uint8 models end): the float value
    // it quantizes has the same ranking, so that is the output (through the data movement after the quantize).
    if (cv.quantized.has(name)) {
      let q = producerOf(name);
      while (q && q.opType !== 'QuantizeLinear' && MOVES_QUANTIZED.has(q.opType)) q = producerOf(q.input[0]);
      if (q?.opType !== 'QuantizeLinear')
        throw new Error(
          `${file}: graph output '${o.name}' is a quantized integer tensor whose QuantizeLinear was not found; give the logits (--logits VALUE, the float value before it)`,
        );
      name = q.input[0];
    }
    const v = cv.vals.get(name);
    if (!v) throw new Error(`${file}: graph output '${o.name}' is not produced by any node`);
    // A graph output must be a TF node of its own (an aliased or constant one gets an Identity).
    const tf = v.tf && !v.flat && !inputs.some((i) => i.tf === v.tf) ? v.tf : cv.emit('Identity', name, [cv.plain(v)]);
    // Through the pass-throughs after it (tf2onnx quantizes the probabilities), is the output a Softmax or Sigmoid?
    let producer = producerOf(name);
    while (producer && ['QuantizeLinear', 'DequantizeLinear', 'Identity', 'Dropout'].includes(producer.opType))
      producer = producerOf(producer.input[0]);
    if (producer?.opType === 'Softmax' || producer?.opType === 'Sigmoid') {
      const before = cv.vals.get(producer.input[0]);
      if (before?.tf && !before.flat) beforeSoftmax.set(o.name, before.tf);
    }
    return {
      onnx: o.name,
      tf,
      shape: v.shape,
      nhwc: v.nhwc,
      type: ELEM[o.type?.tensorType?.elemType ?? 0] ?? '?',
      ...(name !== o.name ? { dequantized: name } : {}),
    };
  });
  const metadata: Record<string, string> = Object.fromEntries(
    (model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']),
  );
  return { artifacts: cv.artifacts(), inputs, outputs, beforeSoftmax, tfName, metadata, opset: cv.opset };
}

function isToNchw(n: NodeProto): boolean {
  return n.opType === 'Transpose' && new Attrs(n, '').ints('perm').join() === '0,3,1,2';
}
/** Ops on the way from an NHWC image input to its transpose to NCHW (tf2onnx: dequantize, quantize, scale). */
const BEFORE_TRANSPOSE = new Set(['DequantizeLinear', 'QuantizeLinear', 'Sub', 'Mul', 'Div', 'Add', 'Identity']);

/** Whether every path from this value reaches a Transpose to NCHW through elementwise ops only. */
function reachesNchwTranspose(value: string, cv: Converter, depth = 0): boolean {
  const users = cv.consumers.get(value) ?? [];
  return (
    depth < 6 &&
    users.length > 0 &&
    users.every(
      (u) =>
        isToNchw(u) ||
        (BEFORE_TRANSPOSE.has(u.opType) && u.input[0] === value && reachesNchwTranspose(u.output[0], cv, depth + 1)),
    )
  );
}

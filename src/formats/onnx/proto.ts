// Reading ONNX protobuf files with protobufjs and the official onnx.proto (vendored beside this file).
// onnx.pb.js is protobufjs *static* code (no reflection): reflection compiles decoders with `Function`, which the
// app's Content-Security-Policy (no 'unsafe-eval') forbids. Regenerate with `npm run onnx:proto`.
import { onnx } from './onnx.pb.js';

export type ModelProto = onnx.ModelProto;
export type GraphProto = onnx.GraphProto;
export type NodeProto = onnx.NodeProto;
export type TensorProto = onnx.TensorProto;
export type AttributeProto = onnx.AttributeProto;
export type ValueInfoProto = onnx.ValueInfoProto;

/** Values of a tensor as the importer computes them: float32 for floats, int32 for integers (int64 narrowed). */
export interface Tensor {
  data: Float32Array | Int32Array;
  shape: number[];
}

const DT = onnx.TensorProto.DataType;

/** int64 fields arrive as numbers or Long objects. */
export function num(v: number | { toNumber(): number } | null | undefined): number {
  return v == null ? 0 : typeof v === 'number' ? v : v.toNumber();
}

export function decodeModel(bytes: Uint8Array, file: string): ModelProto {
  let m: ModelProto;
  try {
    m = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new Error(`${file}: not an ONNX model (protobuf: ${(e as Error).message})`);
  }
  if (!m.graph || !m.graph.node?.length) throw new Error(`${file}: not an ONNX model (no graph nodes)`);
  return m;
}

export function decodeTensor(bytes: Uint8Array, file: string): TensorProto {
  try {
    return onnx.TensorProto.decode(bytes);
  } catch (e) {
    throw new Error(`${file}: not an ONNX TensorProto (${(e as Error).message})`);
  }
}

/** Float types are read as float32, integer and bool types as int32 (the importer's two working types). */
export function isFloatType(dataType: number): boolean {
  return dataType === DT.FLOAT || dataType === DT.DOUBLE || dataType === DT.FLOAT16;
}

export function tensorValues(t: TensorProto, where: string): Tensor {
  const shape = (t.dims ?? []).map(num);
  const n = shape.reduce((a, b) => a * b, 1);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new Error(`${where}: tensor '${t.name}' keeps its data in an external file, which is not supported`);
  }
  const raw = t.rawData && t.rawData.length ? t.rawData : undefined;
  // Copy raw bytes to a buffer of their own (aligned, little-endian hosts): a protobuf sub-array (a Node Buffer
  // view) starts anywhere in the file.
  const bytes = raw ? new Uint8Array(raw) : undefined;
  const view = bytes ? new DataView(bytes.buffer) : undefined;
  let data: Float32Array | Int32Array;
  const dt = t.dataType;
  const ints = (get: (i: number) => number) => {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = get(i);
    return a;
  };
  const floats = (get: (i: number) => number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = get(i);
    return a;
  };
  switch (dt) {
    case DT.FLOAT:
      data = bytes ? new Float32Array(bytes.buffer, 0, n) : Float32Array.from(t.floatData);
      break;
    case DT.DOUBLE:
      data = bytes ? new Float32Array(new Float64Array(bytes.buffer, 0, n)) : Float32Array.from(t.doubleData);
      break;
    case DT.FLOAT16:
      data = view ? floats((i) => half(view.getUint16(2 * i, true))) : floats((i) => half(t.int32Data[i]));
      break;
    case DT.UINT8:
    case DT.BOOL:
      data = bytes ? new Int32Array(bytes.subarray(0, n)) : Int32Array.from(t.int32Data);
      break;
    case DT.INT8:
      data = bytes ? new Int32Array(new Int8Array(bytes.buffer, 0, n)) : Int32Array.from(t.int32Data);
      break;
    case DT.UINT16:
      data = bytes ? new Int32Array(new Uint16Array(bytes.buffer, 0, n)) : Int32Array.from(t.int32Data);
      break;
    case DT.INT16:
      data = bytes ? new Int32Array(new Int16Array(bytes.buffer, 0, n)) : Int32Array.from(t.int32Data);
      break;
    case DT.INT32:
      data = bytes ? new Int32Array(bytes.buffer, 0, n) : Int32Array.from(t.int32Data);
      break;
    case DT.INT64:
      data = view ? ints((i) => int64(view, i)) : ints((i) => num(t.int64Data[i]));
      break;
    default:
      throw new Error(`${where}: tensor '${t.name}' has data type ${DT[dt] ?? dt}, which is not supported`);
  }
  if (data.length !== n) throw new Error(`${where}: tensor '${t.name}' has ${data.length} values for shape [${shape}]`);
  return { data, shape };
}

/** int64 -> number, clamped to int32 (shapes, axes and pads; INT64_MAX/MIN mean "to the end"). */
function int64(view: DataView, i: number): number {
  const v = view.getBigInt64(8 * i, true);
  return v > 2147483647n ? 2147483647 : v < -2147483648n ? -2147483648 : Number(v);
}

function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1,
    e = (h >> 10) & 0x1f,
    f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Typed access to a node's attributes; unknown names give the default. */
export class Attrs {
  private readonly map: Map<string, AttributeProto>;
  constructor(
    node: NodeProto,
    private readonly where: string,
  ) {
    this.map = new Map((node.attribute as AttributeProto[]).map((a) => [a.name, a]));
  }
  has(name: string): boolean {
    return this.map.has(name);
  }
  int(name: string, dflt: number): number {
    const a = this.map.get(name);
    return a ? num(a.i) : dflt;
  }
  float(name: string, dflt: number): number {
    const a = this.map.get(name);
    return a ? a.f : dflt;
  }
  ints(name: string, dflt: number[] = []): number[] {
    const a = this.map.get(name);
    return a ? a.ints.map(num) : dflt;
  }
  floats(name: string): number[] | undefined {
    return this.map.get(name)?.floats;
  }
  string(name: string, dflt: string): string {
    const a = this.map.get(name);
    return a ? new TextDecoder().decode(a.s) : dflt;
  }
  tensor(name: string): Tensor | undefined {
    const t = this.map.get(name)?.t as TensorProto | undefined;
    return t ? tensorValues(t, this.where) : undefined;
  }
}

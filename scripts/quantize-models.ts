// npm run models:quantize [-- --from MIRROR] [--model ID]...: writes the committed catalog models (models/<id>/) from
// the float32 TF.js graph models of the mirror, smaller, with tfjs-converter's own weight quantization (decoded by
// tfjs on load: no code of ours on the loading path), then pins the new files' sha256 in models/catalog.json.
//   * 'grid' (MobileNetV2 from STMicroelectronics' int8 weights): a tensor whose float32 values are all
//     fround(k * s) for one float32 scale s and integers k spanning at most 256 (or 65536) values is stored as uint8
//     (uint16) with scale = s and min = kmin * s. tfjs decodes u * scale + min in float64, which is k * s exactly
//     (s has 24 significant bits, k at most 17), then stores it in a Float32Array: fround(k * s), the mirror's value
//     bit for bit. A tensor on no such grid stays float32.
//   * 'float16': tensors of rank >= 2 (the kernels: nearly all the bytes) as float16, rounded to nearest even;
//     biases, offsets and scalars stay float32 (a few kB).
// Each written model is decoded again and compared with the mirror weight by weight; the numbers are printed.
// Its outputs are checked by tests/node/quantized-models.test.ts (test vectors, top-1 on the shared photos).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { io, type NamedTensorMap } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

const ROOT = resolve(import.meta.dirname, '..');

/**
 * How each committed catalog model is stored (docs/models-catalog.md gives the measured differences). MobileNet v1
 * 0.25 keeps its small kernels (the first conv, the depthwise ones: 5% of its values) in float32: with them in float16
 * too, the top-1 of one shared photo changed.
 */
export const QUANTIZE: Record<string, Recipe> = {
  mobilenet_v2: { mode: 'grid' },
  mobilenet_v1_025_224_tfhub: { mode: 'float16', minElements: 16384 },
  squeezenet1_1: { mode: 'float16' },
};
/** 'grid' or 'float16'; minElements: only kernels with at least this many values become float16 (the rest stay float32). */
export interface Recipe {
  mode: 'grid' | 'float16';
  minElements?: number;
}

type Spec = io.WeightsManifestEntry;
interface Encoded {
  spec: Spec;
  bytes: Uint8Array;
  how: string;
}

const fround = Math.fround;

/**
 * The int grid of a float32 tensor: a float32 scale s and integers k with fround(k * s) === v for every value, the
 * k spanning at most `levels` values; undefined when there is none.
 */
export function findGrid(v: Float32Array, levels: number): { scale: number; k: Int32Array } | undefined {
  let lo = Infinity,
    hi = -Infinity;
  for (const x of v) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const k = new Int32Array(v.length);
  if (lo === hi) {
    // A constant tensor: one level, k = 1 with s = the value (or k = 0 for zeros).
    if (lo === 0) return { scale: 1, k };
    k.fill(1);
    return { scale: lo, k };
  }
  // The smallest gap between distinct values is one step of the grid (or a small multiple of it: tried below).
  const sorted = Float32Array.from(new Set(v)).sort();
  let gap = Infinity;
  for (let i = 1; i < sorted.length; i++) gap = Math.min(gap, sorted[i] - sorted[i - 1]);
  for (let div = 1; div <= 4; div++) {
    const rough = gap / div;
    const kLo = Math.round(lo / rough),
      kHi = Math.round(hi / rough);
    if (kHi - kLo + 1 > levels) continue;
    // Refined on the widest span, then searched a few float32 ulps either side.
    const span = Math.max(Math.abs(kLo), Math.abs(kHi));
    const est = fround(span === Math.abs(kHi) ? hi / kHi : lo / kLo);
    for (const s of neighbours(est, 64)) {
      if (exactOn(v, s, k) && spanOf(k) <= levels) return { scale: s, k };
    }
  }
  return undefined;
}

function spanOf(k: Int32Array): number {
  let a = Infinity,
    b = -Infinity;
  for (const x of k) {
    if (x < a) a = x;
    if (x > b) b = x;
  }
  return b - a + 1;
}

function exactOn(v: Float32Array, s: number, k: Int32Array): boolean {
  if (!(s > 0) && !(s < 0)) return false;
  for (let i = 0; i < v.length; i++) {
    const q = Math.round(v[i] / s);
    if (fround(q * s) !== v[i]) return false;
    k[i] = q;
  }
  return true;
}

/** x and its float32 neighbours out to n ulps, nearest first. */
function* neighbours(x: number, n: number): Generator<number> {
  const f = new Float32Array(1),
    u = new Uint32Array(f.buffer);
  f[0] = x;
  const bits = u[0];
  yield x;
  for (let d = 1; d <= n; d++) {
    for (const b of [bits + d, bits - d]) {
      u[0] = b >>> 0;
      yield f[0];
    }
  }
}

/** float32 -> IEEE half, round to nearest even; a value beyond the half range is an error naming the tensor. */
export function toFloat16(v: Float32Array, name: string): Uint16Array {
  const out = new Uint16Array(v.length);
  const u = new Uint32Array(v.buffer, v.byteOffset, v.length);
  for (let i = 0; i < v.length; i++) {
    const bits = u[i];
    const sign = (bits >>> 16) & 0x8000;
    const exp = (bits >>> 23) & 0xff;
    let mant = bits & 0x7fffff;
    if (exp === 0xff) throw new Error(`${name}[${i}]: ${v[i]} is not finite`);
    const e = exp - 127 + 15;
    let h: number;
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      h = mant >>> shift;
      const rem = mant & ((1 << shift) - 1),
        half = 1 << (shift - 1);
      if (rem > half || (rem === half && h & 1)) h++;
    } else {
      h = (e << 10) | (mant >>> 13);
      const rem = mant & 0x1fff;
      if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
    }
    if ((h & 0x7fff) >= 0x7c00) throw new Error(`${name}[${i}]: ${v[i]} is beyond float16's range`);
    out[i] = sign | h;
  }
  return out;
}

function encode(spec: Spec, values: Float32Array | Int32Array, { mode, minElements = 0 }: Recipe): Encoded {
  const plain = (): Encoded => ({
    spec: { name: spec.name, shape: spec.shape, dtype: spec.dtype },
    bytes: bytesOf(values),
    how: spec.dtype,
  });
  if (spec.dtype !== 'float32' || !(values instanceof Float32Array)) return plain();
  if (mode === 'float16') {
    if (spec.shape.length < 2 || values.length < minElements) return plain();
    return {
      spec: { ...base(spec), quantization: { dtype: 'float16' } },
      bytes: bytesOf(toFloat16(values, spec.name)),
      how: 'float16',
    };
  }
  for (const [dtype, levels] of [
    ['uint8', 256],
    ['uint16', 65536],
  ] as const) {
    const g = findGrid(values, levels);
    if (!g) continue;
    let kMin = Infinity;
    for (const x of g.k) kMin = Math.min(kMin, x);
    const q = dtype === 'uint8' ? new Uint8Array(values.length) : new Uint16Array(values.length);
    for (let i = 0; i < q.length; i++) q[i] = g.k[i] - kMin;
    return {
      spec: { ...base(spec), quantization: { dtype, scale: g.scale, min: kMin * g.scale } },
      bytes: bytesOf(q),
      how: dtype,
    };
  }
  return plain();
}

const base = (s: Spec): Spec => ({ name: s.name, shape: s.shape, dtype: s.dtype });
const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The weights of a TF.js graph model folder, decoded by tfjs. */
export function readWeights(dir: string): { json: io.ModelJSON; specs: Spec[]; tensors: NamedTensorMap } {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as io.ModelJSON;
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const data = Buffer.concat(json.weightsManifest.flatMap((g) => g.paths).map((p) => readFileSync(join(dir, p))));
  const tensors = io.decodeWeights(data.buffer.slice(data.byteOffset, data.byteOffset + data.length), specs);
  return { json, specs, tensors };
}

export function quantizeModel(
  id: string,
  mirror: string,
  log: (l: string) => void = console.log,
): Record<string, string> {
  const recipe = QUANTIZE[id];
  if (!recipe)
    throw new Error(`models:quantize: no quantization for '${id}' (known: ${Object.keys(QUANTIZE).join(', ')})`);
  const src = join(mirror, id);
  const { json, specs, tensors } = readWeights(src);
  const paths = json.weightsManifest.flatMap((g) => g.paths);
  const shard = paths.length === 1 ? paths[0] : 'group1-shard1of1.bin';
  const enc = specs.map((s) => encode(s, tensors[s.name].dataSync() as Float32Array | Int32Array, recipe));
  const out = { ...json, weightsManifest: [{ paths: [shard], weights: enc.map((e) => e.spec) }] };
  const weights = Buffer.concat(enc.map((e) => e.bytes));
  const modelJson = Buffer.from(JSON.stringify(out));

  const dir = join(ROOT, 'models', id);
  mkdirSync(dir, { recursive: true });
  // Never written in place: a file here may be a hard link to the mirror's.
  for (const [name, data] of [
    ['model.json', modelJson],
    [shard, weights],
  ] as const) {
    rmSync(join(dir, name), { force: true });
    writeFileSync(join(dir, name), data);
  }

  // Read back through tfjs and compare with the mirror, weight by weight.
  const back = readWeights(dir).tensors;
  const count: Record<string, number> = {};
  let worst = 0,
    worstName = '',
    worstRel = 0;
  for (const [i, s] of specs.entries()) {
    count[enc[i].how] = (count[enc[i].how] ?? 0) + 1;
    const a = tensors[s.name].dataSync(),
      b = back[s.name].dataSync();
    let d = 0,
      m = 0;
    for (let j = 0; j < a.length; j++) {
      d = Math.max(d, Math.abs(a[j] - b[j]));
      m = Math.max(m, Math.abs(a[j]));
    }
    if (d > worst) {
      worst = d;
      worstName = s.name;
    }
    if (m > 0) worstRel = Math.max(worstRel, d / m);
  }
  const srcBytes = paths.reduce((n, p) => n + readFileSync(join(src, p)).length, 0);
  log(
    `${id} (${describe(recipe)}): ${Object.entries(count)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ')} tensors; weights ${srcBytes} -> ${weights.length} bytes; ` +
      `max |w - mirror| ${worst}${worst ? ` (${worstName}), max relative to the tensor's max |w| ${worstRel.toExponential(2)}` : ' (every weight exact)'}`,
  );
  return { 'model.json': sha256(modelJson), [shard]: sha256(weights) };
}

export const describe = (r: Recipe) => r.mode + (r.minElements ? ` (kernels of >= ${r.minElements} values)` : '');

/** Pin the new hashes in models/catalog.json, editing only the hash strings of that model's entry (the file stays hand-formatted). */
function pin(id: string, hashes: Record<string, string>) {
  const path = join(ROOT, 'models/catalog.json');
  let text = readFileSync(path, 'utf8');
  const entry = JSON.parse(text).models.find((m: { id: string }) => m.id === id);
  const start = text.indexOf(`"id": "${id}"`);
  const end = text.indexOf('"id": "', start + 1) === -1 ? text.length : text.indexOf('"id": "', start + 1);
  let part = text.slice(start, end);
  for (const [file, sha] of Object.entries(hashes)) {
    if (!(file in entry.files)) throw new Error(`models/catalog.json: model '${id}' lists no file '${file}'`);
    const old = `"${file}": ${JSON.stringify(entry.files[file])}`;
    if (!part.includes(old)) throw new Error(`models/catalog.json: cannot find ${old} in model '${id}'`);
    part = part.replace(old, `"${file}": "${sha}"`);
  }
  text = text.slice(0, start) + part + text.slice(end);
  writeFileSync(path, text);
}

// Run as a script (the test imports its functions).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = parseArgs({ options: { from: { type: 'string' }, model: { type: 'string', multiple: true } } }).values;
  const mirror = resolve(args.from ?? process.env.MODELS_MIRROR ?? join(ROOT, '../shared/models'));
  for (const id of args.model ?? Object.keys(QUANTIZE)) pin(id, quantizeModel(id, mirror));
}

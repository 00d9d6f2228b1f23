// Node side of the library (the package's "./node"): tfjs backend, loading a model from disk (a catalog model or a
// user's own TF.js graph model), decoding images. Also re-exports the browser-safe API.
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createRequire, register } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { io } from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { FixationModel, type ModelInfo } from '../engine/model.ts';
import { convertLayersModel, isLayersModel } from '../formats/layers/convert.ts';
import { FACTS_FILE, METADATA_FILE, readFacts, userModelInfo } from '../engine/facts.ts';
import { loadOnnx, type OnnxOptions } from '../formats/onnx/index.ts';

export * from '../index.ts';
export { drawExplanation, encodePng, grayPng, type Rgba, type DrawOptions } from './draw.ts';

// A module resolution hook: tfjs-core's ES module build imports its own files without the '.js' extension, which
// Node's ESM loader refuses. Only the op gradients come from that build (tfjs-core's Node bundle registers none), loaded
// on the first Grad-CAM by tf.grad (loadGradients in src/engine/baselines.ts). Inline, so that the compiled package needs no extra file.
const TFJS_ESM_RESOLVE = `export async function resolve(specifier, context, next) {
  if (context.parentURL?.includes('/@tensorflow/tfjs-core/dist/') && specifier.startsWith('.') && !specifier.endsWith('.js')) {
    try { return await next(specifier + '.js', context); } catch { /* not a file: as given */ }
  }
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(TFJS_ESM_RESOLVE)}`);

let backendReady: Promise<string> | undefined;
/**
 * wasm if it starts (fast), else the pure-JS cpu backend; 'webgpu' (asked for by name, no fallback) is tfjs-webgpu
 * through the optional `webgpu` package (src/node/webgpu.ts). The first call decides. Returns the backend in use.
 */
export function initNodeBackend(prefer: 'wasm' | 'cpu' | 'webgpu' = 'wasm'): Promise<string> {
  backendReady ??= (async () => {
    if (prefer === 'webgpu') {
      await (await import('./webgpu.ts')).initNodeWebGpu();
      return 'webgpu';
    }
    if (prefer === 'wasm') {
      const before = processHandlers();
      try {
        const require = createRequire(import.meta.url);
        setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');
        if (await tf.setBackend('wasm')) {
          await tf.ready();
          return 'wasm';
        }
      } catch {
        /* fall through to cpu */
      } finally {
        // The wasm module (Emscripten) installs uncaughtException/unhandledRejection handlers that rethrow, so that
        // any later uncaught error of the program makes Node print the module's whole minified source (~30 kB).
        // Remove them: errors then print as Node prints them, message and stack.
        for (const [ev, old] of before)
          for (const l of process.listeners(ev as 'uncaughtException')) if (!old.has(l)) process.removeListener(ev, l);
      }
    }
    await tf.setBackend('cpu');
    await tf.ready();
    return 'cpu';
  })();
  return backendReady;
}
function processHandlers() {
  return (['uncaughtException', 'unhandledRejection'] as const).map(
    (ev) => [ev, new Set<unknown>(process.listeners(ev as 'uncaughtException'))] as const,
  );
}

/**
 * The package root (where models/ lives): the nearest folder above this module with cnnfix's package.json. The same
 * from the sources (src/node/) and from the compiled package (dist/lib/node/, also inside node_modules).
 */
export const ROOT = packageRoot(dirname(fileURLToPath(import.meta.url)));
function packageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'cnnfix') return dir;
    if (dirname(dir) === dir) throw new Error(`cnnfix: no package.json of cnnfix above ${from}`);
  }
}

export interface CatalogEntry extends Omit<ModelInfo, 'labels'> {
  name: string;
  licence: string;
  urls: string[];
  files: Record<string, string | null>;
  layout: 'NHWC';
  labels: string;
  labelOffset?: number;
}
export interface Catalog {
  default: string;
  models: CatalogEntry[];
}

export async function readCatalog(): Promise<Catalog> {
  return JSON.parse(await readFile(join(ROOT, 'models/catalog.json'), 'utf8'));
}
export async function catalogEntry(id?: string): Promise<CatalogEntry> {
  const cat = await readCatalog();
  const want = id ?? cat.default;
  const e = cat.models.find((m) => m.id === want);
  if (!e) throw new Error(`unknown model '${want}' (catalog has: ${cat.models.map((m) => m.id).join(', ')})`);
  return e;
}

async function readOrFail(path: string, what: string, hint = "; run 'npm run models'"): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new Error(`${what}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? e})${hint}`);
  }
}

/**
 * IOHandler over a TF.js graph model on disk: `path` is model.json or its folder. The weights are decoded by tfjs
 * itself (io.getModelArtifactsForJSON, then the GraphModel's decodeWeights), so quantized weights (uint8, uint16,
 * float16) load like float32 ones.
 */
export function fileHandler(path: string): io.IOHandler {
  const jsonPath = path.endsWith('.json') ? path : join(path, 'model.json');
  const dir = dirname(jsonPath);
  return {
    async load() {
      let json: io.ModelJSON;
      try {
        json = JSON.parse((await readOrFail(jsonPath, 'model')).toString('utf8'));
      } catch (e) {
        if ((e as Error).message.includes('cannot read')) throw e;
        throw new Error(`model: ${jsonPath} is not valid JSON (${(e as Error).message})`);
      }
      if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
        throw new Error(`model: ${jsonPath} is not a TF.js graph model (no modelTopology / weightsManifest)`);
      }
      const artifacts = await io.getModelArtifactsForJSON(json, async (manifest) => {
        const bufs: Buffer[] = [];
        for (const group of manifest)
          for (const p of group.paths) bufs.push(await readOrFail(join(dir, p), 'model weights'));
        const data = Buffer.concat(bufs);
        return [io.getWeightSpecs(manifest), data.buffer.slice(data.byteOffset, data.byteOffset + data.length)];
      });
      // A TF.js layers model (Keras topology, e.g. Teachable Machine) becomes graph-model artifacts here.
      if (!isLayersModel(artifacts)) return artifacts;
      // Its errors name the file and the layer already: no "cannot build" wrapping (see loadGraph).
      try {
        return convertLayersModel(artifacts, jsonPath);
      } catch (e) {
        throw new Error(`model: ${(e as Error).message}`);
      }
    },
  };
}

export interface LoadModelOptions {
  /** Catalog id (models/catalog.json). Default: the catalog's default model, unless `path` is given. */
  model?: string;
  /**
   * A model folder or its model.json. With `model`: that catalog model's files from this folder. Without: a user's
   * own model, its facts (logits, input size) read off the graph, the rest from `info` (default: ImageNet
   * preprocessing).
   */
  path?: string;
  /** What a graph cannot say (preprocessing, or an input size the graph leaves open), or overrides of the catalog. */
  info?: Partial<Omit<ModelInfo, 'labels'>>;
  /** Labels, or a labels file (a JSON array, or one label per line). Default: the catalog's, else labels.json beside model.json if there is one, else "class N". */
  labels?: string[] | string;
}

/**
 * Load a model: loadModel() is the catalog's default, loadModel(id) a catalog model installed under models/<id>/,
 * loadModel(id, dir) a catalog model's files from `dir`, loadModel({ path }) a user's own model; a path ending in
 * .onnx (as `path` or `model`) an ONNX model (src/formats/onnx).
 */
export async function loadModel(model?: string | LoadModelOptions, dir?: string): Promise<FixationModel> {
  const o: LoadModelOptions = typeof model === 'object' ? model : { model, path: dir };
  // An ONNX file (as `path`, or as `model`): converted in memory, facts from its graph and metadata.
  const onnxPath = [o.path, o.model].find((p) => p && /\.onnx$/i.test(p));
  if (onnxPath) {
    const labels = typeof o.labels === 'string' ? await readLabels(o.labels, false) : o.labels;
    return loadOnnxFile(onnxPath, {
      id: o.info?.id,
      preprocessing: o.info?.preprocessing,
      logits: o.info?.logits,
      labels,
    });
  }
  await initNodeBackend();
  if (o.path !== undefined && o.model === undefined) {
    const path = resolve(o.path);
    const folder = (await stat(path).catch(() => undefined))?.isDirectory() ? path : dirname(path);
    // Facts files beside model.json (metadata.json: Teachable Machine; cnnfix.json: catalog-entry fields) go under `info`.
    const {
      labelsFile,
      labels: factLabels,
      ...facts
    } = readFacts({
      metadata: await optionalJson(join(folder, METADATA_FILE)),
      facts: await optionalJson(join(folder, FACTS_FILE)),
    });
    const labels = Array.isArray(o.labels)
      ? o.labels
      : o.labels !== undefined || labelsFile
        ? await readLabels(o.labels ?? join(folder, labelsFile!), false)
        : (factLabels ?? (await readLabels(join(folder, 'labels.json'), true)));
    const gm = await loadGraph(path);
    return create(gm, () => userModelInfo(gm, path, { ...facts, ...o.info }, labels));
  }
  const entry = await catalogEntry(o.model);
  const folder = o.path ?? join(ROOT, 'models', entry.id);
  const labels = Array.isArray(o.labels)
    ? o.labels
    : await readLabels(o.labels ?? join(folder, entry.labels), false, `labels of '${entry.id}'`);
  const gm = await loadGraph(folder);
  return create(gm, () => ({ ...entry, ...o.info, labels: labels! }));
}

/** The one place a path (a model folder or a model.json) becomes a tfjs model. */
async function loadGraph(path: string): Promise<GraphModel> {
  try {
    return await loadGraphModel(fileHandler(path));
  } catch (e) {
    const msg = (e as Error).message;
    if (/^model( weights)?: /.test(msg)) throw e;
    throw new Error(
      `model ${path}: tfjs cannot build it from model.json and its weights (${msg})${await shardSizes(path)}`,
    );
  }
}

/** "; shards: a.bin 1000000 bytes, ..." for an error on weights that do not decode (a truncated or corrupt shard). */
async function shardSizes(path: string): Promise<string> {
  try {
    const jsonPath = path.endsWith('.json') ? path : join(path, 'model.json');
    const json = JSON.parse(await readFile(jsonPath, 'utf8')) as io.ModelJSON;
    const sizes = await Promise.all(
      json.weightsManifest
        .flatMap((g) => g.paths)
        .map(async (p) => `${p} ${(await stat(join(dirname(jsonPath), p))).size} bytes`),
    );
    return `; shards: ${sizes.join(', ')} (truncated or corrupt shard?)`;
  } catch {
    return '';
  }
}

function create(gm: GraphModel, info: () => ModelInfo): FixationModel {
  try {
    return FixationModel.create(gm, info());
  } catch (e) {
    gm.dispose();
    throw e;
  }
}

async function optionalJson(file: string): Promise<unknown> {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** A labels file: a JSON array of strings, or plain text with one label per line. */
async function readLabels(file: string, optional: boolean, what = 'labels'): Promise<string[] | undefined> {
  if (optional && !existsSync(file)) return undefined;
  const text = (await readOrFail(file, what, optional ? '' : undefined)).toString('utf8');
  if (/^\s*\[/.test(text)) {
    let list: unknown;
    try {
      list = JSON.parse(text);
    } catch (e) {
      throw new Error(`${what}: ${file} is not valid JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(list)) throw new Error(`${what}: ${file} is not a JSON array`);
    return list.map(String);
  }
  if (file.endsWith('.json')) throw new Error(`${what}: ${file} is not a JSON array of labels`);
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
}

/**
 * Load an ONNX file (converted to a TF.js graph in memory, see src/formats/onnx). Labels: options.labels, else a
 * labels.json (JSON array) or labels*.txt (one per line) beside the file, else "class N".
 */
export async function loadOnnxFile(path: string, options: OnnxOptions = {}): Promise<FixationModel> {
  await initNodeBackend();
  const bytes = await readOrFail(path, 'ONNX model');
  const labels = options.labels ?? (await labelsBeside(dirname(path)));
  return loadOnnx(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), path, { ...options, labels });
}

async function labelsBeside(dir: string): Promise<string[] | undefined> {
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  const file = names.find((n) => n === 'labels.json') ?? names.find((n) => /^labels.*\.txt$/i.test(n));
  return file ? readLabels(join(dir, file), false) : undefined;
}

/** Decode a JPEG or PNG file to an RGBA tensor [H,W,4]. */
export async function readImage(path: string): Promise<tf.Tensor3D> {
  const buf = await readOrFail(path, 'image');
  const { width, height, data } = decodeImage(buf, path);
  return tf.tensor3d(data, [height, width, 4], 'int32');
}

export function decodeImage(buf: Buffer, name = 'image'): { width: number; height: number; data: Uint8Array } {
  try {
    if (buf[0] === 0xff && buf[1] === 0xd8) {
      const j = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
      return { width: j.width, height: j.height, data: j.data };
    }
    if (buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
      const p = PNG.sync.read(buf);
      return {
        width: p.width,
        height: p.height,
        data: new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.length),
      };
    }
  } catch (e) {
    throw new Error(`${name}: corrupt image (${(e as Error).message})`);
  }
  throw new Error(`${name}: not a JPEG or PNG image`);
}

// Node side of the library: tfjs backend, loading a model folder from disk, decoding images.
import { readFile, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { io } from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { FixationModel, type ModelInfo } from '../engine/model.ts';

export * from '../index.ts';

let backendReady: Promise<string> | undefined;
/** wasm if it starts (fast), else the pure-JS cpu backend. Returns the backend in use. */
export function initNodeBackend(prefer: 'wasm' | 'cpu' = 'wasm'): Promise<string> {
  backendReady ??= (async () => {
    if (prefer === 'wasm') {
      try {
        const require = createRequire(import.meta.url);
        setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');
        if (await tf.setBackend('wasm')) { await tf.ready(); return 'wasm'; }
      } catch { /* fall through to cpu */ }
    }
    await tf.setBackend('cpu');
    await tf.ready();
    return 'cpu';
  })();
  return backendReady;
}

export const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '../..');

export interface CatalogEntry extends Omit<ModelInfo, 'labels'> {
  name: string;
  licence: string;
  urls: string[];
  files: Record<string, string | null>;
  layout: 'NHWC';
  labels: string;
  labelOffset?: number;
}
export interface Catalog { default: string; models: CatalogEntry[] }

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

async function readOrFail(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new Error(`${what}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? e}); run 'npm run models'`);
  }
}

/** IOHandler over a model folder on disk (model.json + its weight shards). */
export function fileHandler(dir: string): io.IOHandler {
  return {
    async load() {
      const jsonPath = join(dir, 'model.json');
      let json: any;
      try {
        json = JSON.parse((await readOrFail(jsonPath, 'model')).toString('utf8'));
      } catch (e) {
        if ((e as Error).message.includes('cannot read')) throw e;
        throw new Error(`model: ${jsonPath} is not valid JSON (${(e as Error).message})`);
      }
      if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
        throw new Error(`model: ${jsonPath} is not a TF.js graph model (no modelTopology / weightsManifest)`);
      }
      const specs: io.WeightsManifestEntry[] = [];
      const bufs: Buffer[] = [];
      for (const group of json.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) bufs.push(await readOrFail(join(dir, p), 'model weights'));
      }
      const data = Buffer.concat(bufs);
      const need = specs.reduce((s, w) => s + w.shape.reduce((a: number, b: number) => a * b, 1) * 4, 0);
      if (data.length !== need) {
        throw new Error(`model weights in ${dir}: ${data.length} bytes, model.json describes ${need} (truncated or corrupt shard)`);
      }
      return {
        modelTopology: json.modelTopology, weightSpecs: specs,
        weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.length),
        format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy,
      };
    },
  };
}

/** Load a catalog model installed under models/<id>/ (or any folder with the same files). */
export async function loadModel(id?: string, dir?: string): Promise<FixationModel> {
  await initNodeBackend();
  const entry = await catalogEntry(id);
  const folder = dir ?? join(ROOT, 'models', entry.id);
  const labelsRaw = (await readOrFail(join(folder, entry.labels), `labels of '${entry.id}'`)).toString('utf8');
  let labels: string[];
  try { labels = JSON.parse(labelsRaw); } catch { throw new Error(`labels of '${entry.id}': ${join(folder, entry.labels)} is not JSON`); }
  const gm = await loadGraphModel(fileHandler(folder));
  return FixationModel.create(gm, { ...entry, labels });
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
      return { width: p.width, height: p.height, data: new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.length) };
    }
  } catch (e) {
    throw new Error(`${name}: corrupt image (${(e as Error).message})`);
  }
  throw new Error(`${name}: not a JPEG or PNG image`);
}

export { readdir };

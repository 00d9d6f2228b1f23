// Loading a model in the worker: a catalog model (served at /models/<id>/ with its catalog entry and labels), or a
// user model by URL or by files. User models get their facts from the graph (logits, input size), ImageNet
// preprocessing unless told otherwise, and "class N" labels unless labels come along.
import { io } from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { FixationModel, type ModelInfo } from '../engine/model.ts';
import type { InitOptions } from './api.ts';
import { asGraphModel } from '../formats/layers/convert.ts';
import { FACTS_FILE, METADATA_FILE, readFacts, readLabels, userModelInfo, type ModelFacts } from '../engine/facts.ts';
import { loadOnnx } from '../formats/onnx/index.ts';

/** Where the installed models are served (vite: /models/, dist/models/). */
export function modelsBase(): URL {
  return new URL(`${import.meta.env.BASE_URL ?? '/'}models/`, self.location.href);
}

async function fetchJson(url: URL | string, what: string): Promise<any> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${what}: ${url} answered ${res.status} ${res.statusText}`);
  try {
    return await res.json();
  } catch (e) {
    throw new Error(`${what}: ${url} is not JSON (${(e as Error).message})`);
  }
}

/** Bytes of the model's files received so far, and the sizes of the files whose size is known so far. */
export type BytesProgress = (loaded: number, total: number) => void;

/** PROGRESS_MS: at most one progress report per this many ms (and the last one). */
const PROGRESS_MS = 100;

/** A fetch for tfjs's io.http that counts the bytes of every response body as they arrive. */
function countingFetch(onBytes: BytesProgress): typeof fetch {
  let loaded = 0,
    total = 0,
    last = 0;
  const tellSoon = (force = false) => {
    const now = performance.now();
    if (force || now - last >= PROGRESS_MS) {
      last = now;
      onBytes(loaded, Math.max(total, loaded));
    }
  };
  return async (input, init) => {
    const res = await fetch(input, init);
    total += Number(res.headers.get('content-length')) || 0;
    tellSoon(true);
    if (!res.ok || !res.body) return res;
    const body = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, c) {
          loaded += chunk.byteLength;
          tellSoon();
          c.enqueue(chunk);
        },
        flush() {
          tellSoon(true);
        },
      }),
    );
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

const http = (url: string, onBytes?: BytesProgress) =>
  io.http(url, onBytes ? { fetchFunc: countingFetch(onBytes) } : undefined);

export async function loadFixationModel(opts: InitOptions, onBytes?: BytesProgress): Promise<FixationModel> {
  const onnxFile = opts.modelFiles?.find((f) => /\.onnx$/i.test(f.name));
  if (onnxFile)
    return fromOnnx(
      new Uint8Array(await onnxFile.arrayBuffer()),
      onnxFile.name,
      opts,
      await labelsFromFiles(opts.modelFiles!, onnxFile),
    );
  if (opts.modelUrl && /\.onnx(\?.*)?$/i.test(opts.modelUrl)) return fromOnnxUrl(opts.modelUrl, opts);
  if (opts.modelFiles?.length) return fromFiles(opts.modelFiles, opts);
  if (opts.modelUrl) return fromUrl(opts.modelUrl, opts, onBytes);
  return fromCatalog(opts.modelId, onBytes);
}

async function fromCatalog(id?: string, onBytes?: BytesProgress): Promise<FixationModel> {
  const base = modelsBase();
  const catalog = await fetchJson(new URL('catalog.json', base), 'model catalog');
  const want = id ?? catalog.default;
  const entry = (catalog.models ?? []).find((m: { id: string }) => m.id === want);
  if (!entry)
    throw new Error(
      `unknown model '${want}' (catalog has: ${(catalog.models ?? []).map((m: { id: string }) => m.id).join(', ')})`,
    );
  const dir = new URL(`${entry.id}/`, base);
  const labels = await fetchJson(new URL(entry.labels, dir), `labels of '${entry.id}'`);
  if (!Array.isArray(labels)) throw new Error(`labels of '${entry.id}': expected a JSON array of strings`);
  const modelUrl = new URL('model.json', dir).href;
  const gm = await loadOrExplain(
    () => loadGraphModel(asGraphModel(http(modelUrl, onBytes), modelUrl)),
    `model '${entry.id}' at ${dir}`,
  );
  const {
    id: mid,
    inputSize,
    inputHeight,
    inputWidth,
    inputChannels,
    preprocessing,
    logits,
    probs,
    rules,
    method,
    guided,
  } = entry;
  return create(gm, {
    id: mid,
    inputSize,
    inputHeight,
    inputWidth,
    inputChannels,
    preprocessing,
    logits,
    probs,
    labels,
    rules,
    method,
    guided,
  });
}

async function fromUrl(url: string, opts: InitOptions, onBytes?: BytesProgress): Promise<FixationModel> {
  // Layers models (Teachable Machine) are converted to graph-model artifacts on load.
  const gm = await loadOrExplain(() => loadGraphModel(asGraphModel(http(url, onBytes), url)), `model ${url}`);
  // Facts files beside model.json are optional (metadata.json: Teachable Machine; cnnfix.json: catalog-style).
  const beside = async (file: string) => {
    const res = await fetch(new URL(file, new URL(url, self.location.href))).catch(() => undefined);
    // An HTML answer is a server's page-not-found fallback (Vite's dev server answers index.html), not the file.
    if (!res?.ok || /text\/html/.test(res.headers.get('content-type') ?? '')) return undefined;
    try {
      return await res.json();
    } catch (e) {
      throw new Error(`${file} beside ${url}: not JSON (${(e as Error).message})`);
    }
  };
  const facts = readFacts({ metadata: await beside(METADATA_FILE), facts: await beside(FACTS_FILE) });
  if (facts.labelsFile) {
    const json = await beside(facts.labelsFile);
    if (json === undefined) throw new Error(`${FACTS_FILE} beside ${url}: labels file '${facts.labelsFile}' not found`);
    facts.labels = readLabels(json, facts.labelsFile);
  }
  opts = withFacts(opts, facts);
  let labels = opts.labels;
  if (!labels) {
    // A labels.json beside model.json is optional.
    try {
      const res = await fetch(new URL('labels.json', new URL(url, self.location.href)));
      const j = res.ok ? await res.json() : undefined;
      if (Array.isArray(j)) labels = j;
    } catch {
      /* none */
    }
  }
  return create(gm, userModelInfo(gm, url, opts.info, labels));
}

async function fromFiles(files: File[], opts: InitOptions): Promise<FixationModel> {
  const factFiles = files.filter((f) => f.name === METADATA_FILE || f.name === FACTS_FILE);
  if (factFiles.length) {
    const parsed: Record<string, unknown> = {};
    for (const f of factFiles) {
      try {
        parsed[f.name] = JSON.parse(await f.text());
      } catch (e) {
        throw new Error(`${f.name}: not JSON (${(e as Error).message})`);
      }
    }
    const facts = readFacts({ metadata: parsed[METADATA_FILE], facts: parsed[FACTS_FILE] });
    if (facts.labelsFile) {
      const lf = files.find((f) => f.name === facts.labelsFile);
      if (!lf) throw new Error(`${FACTS_FILE}: labels file '${facts.labelsFile}' is not among the files picked`);
      let json: unknown;
      try {
        json = JSON.parse(await lf.text());
      } catch (e) {
        throw new Error(`${lf.name}: not JSON (${(e as Error).message})`);
      }
      facts.labels = readLabels(json, lf.name);
      factFiles.push(lf);
    }
    opts = withFacts(opts, facts);
    files = files.filter((f) => !factFiles.includes(f));
  }
  const jsons = files.filter((f) => f.name.endsWith('.json'));
  const model = jsons.find((f) => f.name === 'model.json') ?? jsons.find((f) => !/labels/i.test(f.name));
  if (!model) throw new Error(`model files: no model.json among ${files.map((f) => f.name).join(', ')}`);
  const shards = files.filter((f) => f !== model && !f.name.endsWith('.json'));
  let labels = opts.labels;
  const labelFile = jsons.find((f) => f !== model && /labels/i.test(f.name));
  if (!labels && labelFile) {
    try {
      labels = JSON.parse(await labelFile.text());
    } catch (e) {
      throw new Error(`labels file ${labelFile.name}: not JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(labels)) throw new Error(`labels file ${labelFile.name}: expected a JSON array of strings`);
  }
  const gm = await loadOrExplain(
    () => loadGraphModel(asGraphModel(io.browserFiles([model, ...shards]), model.name)),
    `model files (${model.name})`,
  );
  return create(gm, userModelInfo(gm, model.name, opts.info, labels));
}

/** Facts read from files beside a user model go under the user's own settings (opts.info, opts.labels win). */
function withFacts(opts: InitOptions, facts: ModelFacts): InitOptions {
  const { labelsFile: _file, labels, ...info } = facts;
  return { ...opts, info: { ...info, ...opts.info }, labels: opts.labels ?? labels };
}

/** An ONNX model: converted to a TF.js graph in memory (src/formats/onnx); facts from the graph and its metadata. */
function fromOnnx(bytes: Uint8Array, source: string, opts: InitOptions, labels?: string[]): Promise<FixationModel> {
  return loadOnnx(bytes, source, {
    id: opts.info?.id,
    labels: opts.labels ?? labels,
    preprocessing: opts.info?.preprocessing,
    logits: opts.info?.logits,
  });
}

async function fromOnnxUrl(url: string, opts: InitOptions): Promise<FixationModel> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`model ${url}: answered ${res.status} ${res.statusText}`);
  let labels: string[] | undefined;
  try {
    // a labels.json beside the file is optional
    const l = await fetch(new URL('labels.json', new URL(url, self.location.href)));
    const j = l.ok ? await l.json() : undefined;
    if (Array.isArray(j)) labels = j;
  } catch {
    /* none */
  }
  return fromOnnx(new Uint8Array(await res.arrayBuffer()), url, opts, labels);
}

/** Labels among a user's files: a JSON array (*labels*.json) or one label per line (*labels*.txt). */
async function labelsFromFiles(files: File[], model: File): Promise<string[] | undefined> {
  const f = files.find((x) => x !== model && /labels.*\.(json|txt)$/i.test(x.name));
  if (!f) return undefined;
  const text = await f.text();
  if (f.name.endsWith('.txt')) return text.split(/\r?\n/).filter((l) => l.trim() !== '');
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new Error(`labels file ${f.name}: not JSON (${(e as Error).message})`);
  }
  return readLabels(j, f.name);
}

async function loadOrExplain(load: () => Promise<GraphModel>, what: string): Promise<GraphModel> {
  try {
    return await load();
  } catch (e) {
    throw new Error(`${what}: could not load (${(e as Error).message})`);
  }
}

function create(gm: GraphModel, info: ModelInfo): FixationModel {
  try {
    return FixationModel.create(gm, info);
  } catch (e) {
    gm.dispose();
    throw e;
  }
}

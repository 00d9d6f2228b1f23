// Facts about a user model that its graph cannot tell (input range, labels, logits node, input size), read from the
// files that may come with it: Teachable Machine's metadata.json, or a catalog-style cnnfix.json (the fields of a
// models/catalog.json entry). One reader for the library, the CLI and the app's worker.
import type { ModelInfo, Preprocessing } from '../engine/model.ts';

/** The catalog-style facts file beside model.json. */
export const FACTS_FILE = 'cnnfix.json';
/** Teachable Machine's metadata file (and tfjs-models' layers MobileNet, in the same layout). */
export const METADATA_FILE = 'metadata.json';

export interface ModelFacts extends Partial<Omit<ModelInfo, 'labels'>> {
  labels?: string[];
  /** A catalog-style file may name its labels file instead of listing them; the caller reads it (a JSON array). */
  labelsFile?: string;
  /** Where each fact came from, for messages and the app ("metadata.json", "cnnfix.json"). */
  from: Partial<Record<'labels' | 'preprocessing' | 'inputSize' | 'logits', string>>;
}

export const PRESETS: Record<'unit' | 'signed' | 'imagenet' | 'bytes', Preprocessing> = {
  /** [0,1] (TF Hub image classifiers). */
  unit: { range: [0, 1], mean: [0, 0, 0], std: [1, 1, 1] },
  /** [-1,1] (Teachable Machine, Keras MobileNets). */
  signed: { range: [-1, 1], mean: [0, 0, 0], std: [1, 1, 1] },
  /** [0,1] then ImageNet mean/std (torchvision). */
  imagenet: { range: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  /** Raw 0..255. */
  bytes: { range: [0, 255], mean: [0, 0, 0], std: [1, 1, 1] },
};

/**
 * Facts from the parsed JSON files found beside a model (any may be absent); a catalog-style file wins over
 * metadata.json. A Teachable Machine layout metadata.json (a `labels` array) means [-1,1] input: Teachable Machine
 * image models and tfjs-models' MobileNet scale pixels with x/127.5 - 1. A malformed field is an error naming the
 * file and the field.
 */
export function readFacts(files: { metadata?: unknown; facts?: unknown }): ModelFacts {
  const out: ModelFacts = { from: {} };
  if (files.metadata !== undefined) {
    const m = object(files.metadata, METADATA_FILE);
    if (m.labels !== undefined) {
      out.labels = strings(m.labels, METADATA_FILE, 'labels');
      out.preprocessing = PRESETS.signed;
      out.from.labels = out.from.preprocessing = METADATA_FILE;
    }
    if (m.imageSize !== undefined) {
      out.inputSize = positiveInt(m.imageSize, METADATA_FILE, 'imageSize');
      out.from.inputSize = METADATA_FILE;
    }
  }
  if (files.facts !== undefined) {
    const f = object(files.facts, FACTS_FILE);
    if (f.id !== undefined) out.id = String(f.id);
    if (f.inputSize !== undefined) { out.inputSize = positiveInt(f.inputSize, FACTS_FILE, 'inputSize'); out.from.inputSize = FACTS_FILE; }
    if (f.preprocessing !== undefined) { out.preprocessing = preprocessing(f.preprocessing, FACTS_FILE); out.from.preprocessing = FACTS_FILE; }
    if (f.logits !== undefined) { out.logits = nonEmpty(f.logits, FACTS_FILE, 'logits'); out.from.logits = FACTS_FILE; }
    if (f.probs !== undefined) out.probs = nonEmpty(f.probs, FACTS_FILE, 'probs');
    if (typeof f.labels === 'string') { out.labelsFile = f.labels; delete out.labels; out.from.labels = FACTS_FILE; }
    else if (f.labels !== undefined) { out.labels = strings(f.labels, FACTS_FILE, 'labels'); out.from.labels = FACTS_FILE; }
  }
  return out;
}

/** A labels file: a JSON array of strings. */
export function readLabels(json: unknown, file: string): string[] {
  return strings(json, file, 'labels');
}

/** Checked preprocessing: range [lo, hi] with lo < hi, mean and std of 3 numbers, std > 0. */
export function preprocessing(v: unknown, file: string): Preprocessing {
  const p = object(v, `${file} preprocessing`);
  const nums = (x: unknown, n: number, field: string) => {
    if (!Array.isArray(x) || x.length !== n || !x.every((e) => typeof e === 'number' && Number.isFinite(e))) {
      throw new Error(`${file}: preprocessing.${field} must be ${n} numbers, got ${JSON.stringify(x)}`);
    }
    return x as number[];
  };
  const range = nums(p.range, 2, 'range') as [number, number];
  if (!(range[0] < range[1])) throw new Error(`${file}: preprocessing.range must have low < high, got [${range}]`);
  const mean = nums(p.mean ?? [0, 0, 0], 3, 'mean') as [number, number, number];
  const std = nums(p.std ?? [1, 1, 1], 3, 'std') as [number, number, number];
  if (std.some((s) => s <= 0)) throw new Error(`${file}: preprocessing.std must be positive, got [${std}]`);
  return { range, mean, std };
}

function object(v: unknown, file: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${file}: expected a JSON object`);
  return v as Record<string, unknown>;
}
function strings(v: unknown, file: string, field: string): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new Error(`${file}: ${field} must be a JSON array of strings`);
  return v;
}
function positiveInt(v: unknown, file: string, field: string): number {
  if (!Number.isInteger(v) || (v as number) <= 0) throw new Error(`${file}: ${field} must be a positive integer, got ${JSON.stringify(v)}`);
  return v as number;
}
function nonEmpty(v: unknown, file: string, field: string): string {
  if (typeof v !== 'string' || !v) throw new Error(`${file}: ${field} must be a node name, got ${JSON.stringify(v)}`);
  return v;
}

/** What the graph itself says: logits = the output node, or its input when the output is a Softmax; the input size. */
export interface GraphLike {
  outputNodes: string[];
  inputs: { shape?: number[] }[];
}
export function graphFacts(gm: GraphLike, nodes: { name: string; op: string; input?: string[] }[], source: string): { logits: string; probs?: string; inputSize?: number } {
  const out = gm.outputNodes[0]?.replace(/:\d+$/, '');
  const node = nodes.find((n) => n.name === out);
  if (!node) throw new Error(`model ${source}: cannot find its output node; give the logits node (${FACTS_FILE})`);
  const shape = gm.inputs[0]?.shape ?? [];
  const inputSize = shape[1] && shape[1] > 0 ? shape[1] : undefined;
  return node.op === 'Softmax' ? { logits: node.input![0].replace(/:\d+$/, ''), probs: node.name, inputSize } : { logits: node.name, inputSize };
}

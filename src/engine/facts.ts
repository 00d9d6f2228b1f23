// The facts of a model that has no catalog entry (a user's own TF.js graph model), read off its graph: the logits
// node, the probabilities node (when the graph ends in a Softmax) and the input size. What a graph cannot say
// (preprocessing, labels) comes from the caller, else ImageNet preprocessing and "class N" labels.
// One place for the app's worker (src/worker/load.ts), the library and the CLI (src/node/index.ts).
import type { GraphModel } from '@tensorflow/tfjs-converter';
import type { ModelInfo, Preprocessing } from './model.ts';
import type { TfNode } from './graph.ts';

/** The preprocessing most published ImageNet classifiers were trained with: [0,1], then ImageNet mean and std. */
export const IMAGENET: Preprocessing = { range: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** Input size assumed when the graph's input has no fixed spatial size. */
export const DEFAULT_INPUT_SIZE = 224;

export interface GraphFacts {
  /** Node whose output is the class scores before any softmax. */
  logits: string;
  /** The Softmax node the graph ends with, if it does. */
  probs?: string;
  /** Square input size, or undefined when the graph leaves it open (-1 / null) or the input is not square. */
  inputSize?: number;
}

const strip = (name: string) => name.replace(/:\d+$/, '');

/** Heads whose input is the logits: per-class probabilities over one class (Softmax) or per class (Sigmoid). */
export const HEAD_OPS = ['Softmax', 'Sigmoid'];
/** Ops a head is seen through, both ways (a Keras-converted graph ends in Identity; a layers model may reshape). */
const THROUGH = ['Identity', 'Reshape', 'Squeeze', 'StopGradient', 'Snapshot'];

/** What to pass when the logits cannot be found, in each place a user can pass it. */
export const GIVE_LOGITS = "give the logits node (CLI --logits NODE, loadModel's info.logits, the app's 'Logits node')";

type WithArtifacts = {
  artifacts?: { modelTopology?: { node?: TfNode[] }; signature?: { outputs?: Record<string, { name?: string }> } };
};
const nodesOf = (gm: GraphModel): TfNode[] => (gm as unknown as WithArtifacts).artifacts?.modelTopology?.node ?? [];

/**
 * Logits, probabilities and input size of a loaded graph model. `source` names the model in errors (a path or a URL).
 * The output is the signature's first output, read as tfjs-converter does (the value's `name` less `:0`; the key is
 * a Keras layer name, not a node), else the graph's first output node. A Softmax or Sigmoid there (seen through
 * Identity and reshapes) gives probs, and its input is the logits.
 */
export function graphFacts(gm: GraphModel, source: string): GraphFacts {
  const nodes = nodesOf(gm);
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const signature = (gm as unknown as WithArtifacts).artifacts?.signature?.outputs;
  const [key, value] = Object.entries(signature ?? {})[0] ?? [];
  const out = value?.name
    ? strip(value.name)
    : (gm.outputs[0]?.name ?? (gm.outputNodes[0] && strip(gm.outputNodes[0])));
  let outNode = out ? byName.get(out) : undefined;
  if (!outNode) {
    const what =
      key !== undefined
        ? `its signature output '${key}' names node '${out}', which`
        : `its output node${out ? ` '${out}'` : ''}`;
    throw new Error(`model ${source}: ${what} is not in the graph; ${GIVE_LOGITS}`);
  }
  while (THROUGH.includes(outNode.op) && outNode.input?.[0] && byName.has(strip(outNode.input[0])))
    outNode = byName.get(strip(outNode.input[0]))!;
  let facts: GraphFacts = { logits: out! };
  if (HEAD_OPS.includes(outNode.op) && outNode.input?.[0]) {
    // The logits seen through reshapes too (Keras MobileNet: conv_preds -> reshape -> softmax).
    let below = byName.get(strip(outNode.input[0]));
    while (below && THROUGH.includes(below.op) && below.input?.[0] && byName.has(strip(below.input[0])))
      below = byName.get(strip(below.input[0]))!;
    facts = { logits: below?.name ?? strip(outNode.input[0]), probs: outNode.name };
  }
  const inputSize = graphInputSize(gm);
  return inputSize ? { ...facts, inputSize } : facts;
}

/**
 * The head above a logits node the user named: the one Softmax or Sigmoid that reads it (seen through Identity and
 * reshapes), so that a sigmoid head keeps its per-class probabilities when the logits are given by hand.
 */
export function headAbove(gm: GraphModel, logits: string): string | undefined {
  const nodes = nodesOf(gm);
  let cur = logits;
  for (;;) {
    const readers = nodes.filter((n) => n.input?.some((i) => strip(i) === cur));
    if (readers.length !== 1) return undefined;
    if (HEAD_OPS.includes(readers[0].op)) return readers[0].name;
    if (!THROUGH.includes(readers[0].op)) return undefined;
    cur = readers[0].name;
  }
}

/** "; nodes that could be the logits: a, b" for an error on a logits node that is not in the graph. */
export function logitsCandidates(gm: GraphModel): string {
  const nodes = nodesOf(gm);
  let found: GraphFacts | undefined;
  try {
    found = graphFacts(gm, '');
  } catch {
    /* no usable output */
  }
  // The graph's own logits when its output tells, else the last few layers with weights.
  const names = found
    ? [found.logits]
    : nodes
        .filter((n) => /^(_Fused)?(MatMul|Conv2D)$|^BiasAdd$/.test(n.op))
        .map((n) => n.name)
        .slice(-3)
        .reverse();
  return names.length ? `; nodes that could be the logits: ${names.join(', ')}` : '';
}

/** The graph input's [height, width, channels] (NHWC); undefined where it is open (-1 / null). */
function graphInput(gm: GraphModel): (number | undefined)[] {
  const shape = gm.inputs[0]?.shape ?? [];
  return [1, 2, 3].map((i) => (shape.length === 4 && shape[i] && shape[i]! > 0 ? shape[i]! : undefined));
}

/** The graph input's side, when it is fixed and square. */
function graphInputSize(gm: GraphModel): number | undefined {
  const [h, w] = graphInput(gm);
  return h !== undefined && h === w ? h : undefined;
}

/** A 1-channel model's default preprocessing: the luminance in [0,1]. */
export const GRAY: Preprocessing = { range: [0, 1], mean: [0], std: [1] };

/**
 * The ModelInfo of a user model: `given` wins, then the graph's facts, then ImageNet preprocessing (the luminance in
 * [0,1] for a 1-channel input), input size 224 when the graph leaves it open, and an id from the source's folder
 * name. A non-square input's height and width are read off the graph by FixationModel.create.
 */
export function userModelInfo(
  gm: GraphModel,
  source: string,
  given: Partial<ModelInfo> = {},
  labels?: string[],
): ModelInfo {
  if (given.logits && !nodesOf(gm).some((n) => n.name === given.logits && n.op !== 'Const')) {
    throw new Error(`model ${source}: logits node '${given.logits}' is not in the graph${logitsCandidates(gm)}`);
  }
  const facts: GraphFacts = given.logits
    ? { logits: given.logits, probs: given.probs ?? headAbove(gm, given.logits), inputSize: graphInputSize(gm) }
    : graphFacts(gm, source);
  return {
    source,
    // The model's folder name (a path or URL to model.json, or to its folder).
    id:
      given.id ??
      source
        .replace(/[?#].*$/, '')
        .replace(/\/+$/, '')
        .replace(/\/[^/]*\.json$/, '')
        .replace(/^.*\//, ''),
    ...inputFields(gm, given, facts.inputSize),
    preprocessing: given.preprocessing ?? ((given.inputChannels ?? graphInput(gm)[2]) === 1 ? GRAY : IMAGENET),
    logits: facts.logits,
    probs: given.probs ?? facts.probs,
    labels: labels ?? given.labels ?? [],
  };
}

// ---- Facts files beside a user model: Teachable Machine's metadata.json, or a catalog-style cnnfix.json (the fields
// of a models/catalog.json entry). One reader for the library, the CLI and the app's worker; what it returns goes
// under the user's own settings and over the graph's facts (userModelInfo's `given`).

/** The catalog-style facts file beside model.json. */
export const FACTS_FILE = 'cnnfix.json';
/** Teachable Machine's metadata file (and tfjs-models' layers MobileNet, in the same layout). */
export const METADATA_FILE = 'metadata.json';

export interface ModelFacts extends Partial<Omit<ModelInfo, 'labels'>> {
  labels?: string[];
  /** A catalog-style file may name its labels file instead of listing them; the caller reads it (a JSON array). */
  labelsFile?: string;
}

/** The input range presets the app offers for a user model. */
export const RANGE_PRESETS: Record<'unit' | 'signed' | 'imagenet' | 'bytes', Preprocessing> = {
  /** [0,1] (TF Hub image classifiers). */
  unit: { range: [0, 1], mean: [0, 0, 0], std: [1, 1, 1] },
  /** [-1,1] (Teachable Machine, Keras MobileNets). */
  signed: { range: [-1, 1], mean: [0, 0, 0], std: [1, 1, 1] },
  /** [0,1] then ImageNet mean/std (torchvision). */
  imagenet: IMAGENET,
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
  const out: ModelFacts = {};
  if (files.metadata !== undefined) {
    const m = object(files.metadata, METADATA_FILE);
    if (m.labels !== undefined) {
      out.labels = strings(m.labels, METADATA_FILE, 'labels');
      out.preprocessing = RANGE_PRESETS.signed;
    }
    if (m.imageSize !== undefined) {
      out.inputSize = positiveInt(m.imageSize, METADATA_FILE, 'imageSize');
    }
  }
  if (files.facts !== undefined) {
    const f = object(files.facts, FACTS_FILE);
    if (f.id !== undefined) out.id = String(f.id);
    if (f.inputSize !== undefined) {
      out.inputSize = positiveInt(f.inputSize, FACTS_FILE, 'inputSize');
    }
    if (f.preprocessing !== undefined) {
      out.preprocessing = preprocessing(f.preprocessing, FACTS_FILE);
    }
    if (f.logits !== undefined) {
      out.logits = nonEmpty(f.logits, FACTS_FILE, 'logits');
    }
    if (f.probs !== undefined) out.probs = nonEmpty(f.probs, FACTS_FILE, 'probs');
    if (typeof f.labels === 'string') {
      out.labelsFile = f.labels;
      delete out.labels;
    } else if (f.labels !== undefined) {
      out.labels = strings(f.labels, FACTS_FILE, 'labels');
    }
  }
  return out;
}

/** A labels file: a JSON array of strings. */
export function readLabels(json: unknown, file: string): string[] {
  return strings(json, file, 'labels');
}

/** Checked preprocessing: range [lo, hi] with lo < hi, mean and std of 3 numbers (or 1 for every channel), std > 0. */
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
  const mean = nums(p.mean ?? [0, 0, 0], Array.isArray(p.mean) && p.mean.length === 1 ? 1 : 3, 'mean');
  const std = nums(p.std ?? [1, 1, 1], Array.isArray(p.std) && p.std.length === 1 ? 1 : 3, 'std');
  if (std.some((s) => s <= 0)) throw new Error(`${file}: preprocessing.std must be positive, got [${std}]`);
  return { range, mean, std };
}

function object(v: unknown, file: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${file}: expected a JSON object`);
  return v as Record<string, unknown>;
}
function strings(v: unknown, file: string, field: string): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string'))
    throw new Error(`${file}: ${field} must be a JSON array of strings`);
  return v;
}
function positiveInt(v: unknown, file: string, field: string): number {
  if (!Number.isInteger(v) || (v as number) <= 0)
    throw new Error(`${file}: ${field} must be a positive integer, got ${JSON.stringify(v)}`);
  return v as number;
}
function nonEmpty(v: unknown, file: string, field: string): string {
  if (typeof v !== 'string' || !v) throw new Error(`${file}: ${field} must be a node name, got ${JSON.stringify(v)}`);
  return v;
}

/** inputSize (square), or the given height/width/channels; 224 only where neither the caller nor the graph tells. */
function inputFields(gm: GraphModel, given: Partial<ModelInfo>, square?: number): Partial<ModelInfo> {
  const [h, w] = graphInput(gm);
  const { inputHeight, inputWidth, inputChannels } = given;
  const open = h === undefined && w === undefined && inputHeight === undefined && inputWidth === undefined;
  const inputSize = given.inputSize ?? square ?? (open ? DEFAULT_INPUT_SIZE : undefined);
  return Object.fromEntries(
    Object.entries({ inputSize, inputHeight, inputWidth, inputChannels }).filter(([, v]) => v !== undefined),
  );
}

// cnnfix: explain or classify images from the command line (Node, wasm backend). bin/cnnfix.js runs main().
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { explain, type ExplainMethod, type ExplainOptions } from '../engine/explain.ts';
import type { FixationModel } from '../engine/model.ts';
import { disposeForward } from '../engine/model.ts';
import type { GapRule, LocationRule, PresetName, WeightRule } from '../engine/types.ts';
import { drawExplanation, encodePng, grayPng, type Rgba } from '../node/draw.ts';
import { decodeImage, loadModel } from '../node/index.ts';

export const USAGE = `usage:
  cnnfix explain IMAGE... [options]   explain the top class (or --class K) of each image
  cnnfix classify IMAGE... [options]  print the top-5 classes of each image
  cnnfix --help

options:
  --model ID               catalog model (models/catalog.json; default: the catalog's default)
  --model-dir DIR          load the model files from DIR instead of models/<ID>/
  --class top|K            class to explain: the top-1 (default) or class index K
  --rules reference|default  rule preset (default: default)
  --location center|max    override: position kept inside a conv window
  --gap argmax|positive    override: positions kept by a global average pool
  --weights count|contribution  override: weight of each fixation
  --method fixations|cam|gradcam|center  explanation method (default: fixations)
  --fit crop|letterbox     how the image is fitted to the square input (default: crop)
  --tensor FILE.f32        also explain a raw float32 little-endian NHWC input, already preprocessed to the
                           model's input size (coordinates are then network-input pixels); may be repeated
  --out DIR                output folder (default: out)
  --save-heatmap           also write NAME.heatmap.png (8-bit grayscale heatmap, image size)

explain writes OUT/NAME.json and OUT/NAME.png (heatmap, fixation points and box over the image).`;

const CHOICES = {
  rules: ['reference', 'default'],
  location: ['center', 'max'],
  gap: ['argmax', 'positive'],
  weights: ['count', 'contribution'],
  method: ['fixations', 'cam', 'gradcam', 'center'],
  fit: ['crop', 'letterbox'],
} as const;

class UsageError extends Error {}

interface Input { name: string; file: string; kind: 'image' | 'tensor' }

export async function main(argv: string[]): Promise<number> {
  let opts: ReturnType<typeof parse>;
  try {
    opts = parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError) && !(e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) throw e;
    console.error(`cnnfix: ${(e as Error).message}\n(cnnfix --help for usage)`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }

  let model: FixationModel;
  const before = new Set<unknown>([...process.listeners('uncaughtException'), ...process.listeners('unhandledRejection')]);
  try {
    model = await loadModel(opts.model, opts.modelDir);
  } catch (e) {
    const which = `${opts.model ? ` '${opts.model}'` : ''}${opts.modelDir ? ` from ${opts.modelDir}` : ''}`;
    console.error(`cnnfix: cannot load the model${which}: ${message(e)}`);
    return 1;
  } finally {
    quietWasmHandlers(before);
  }
  if (typeof opts.classIndex === 'number' && opts.classIndex >= model.info.labels.length) {
    console.error(`cnnfix: --class ${opts.classIndex} is out of range: model '${model.info.id}' has ${model.info.labels.length} classes (0..${model.info.labels.length - 1})`);
    return 2;
  }

  if (opts.command === 'explain') await mkdir(opts.out, { recursive: true });
  let failed = 0;
  const used = new Map<string, number>();
  for (const input of opts.inputs) {
    // Two inputs with the same base name get -2, -3... rather than overwriting each other.
    const n = (used.get(input.name) ?? 0) + 1;
    used.set(input.name, n);
    const name = n > 1 ? `${input.name}-${n}` : input.name;
    try {
      if (opts.command === 'classify') await classifyOne(model, input, opts.fit);
      else await explainOne(model, input, name, opts);
    } catch (e) {
      failed++;
      console.error(`cnnfix: ${input.file}: ${message(e)}`);
    }
  }
  model.dispose();
  if (failed) console.error(`cnnfix: ${failed} of ${opts.inputs.length} inputs failed`);
  return failed ? 1 : 0;
}

function parse(argv: string[]) {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      model: { type: 'string' },
      'model-dir': { type: 'string' },
      class: { type: 'string' },
      rules: { type: 'string' },
      location: { type: 'string' },
      gap: { type: 'string' },
      weights: { type: 'string' },
      method: { type: 'string' },
      fit: { type: 'string' },
      tensor: { type: 'string', multiple: true },
      out: { type: 'string' },
      'save-heatmap': { type: 'boolean' },
    },
  });
  const [command, ...files] = positionals;
  if (v.help) return { help: true } as const;
  if (command !== 'explain' && command !== 'classify') {
    throw new UsageError(command ? `unknown command '${command}' (known: explain, classify)` : 'no command given (explain or classify)');
  }
  const pick = <K extends keyof typeof CHOICES>(key: K): (typeof CHOICES)[K][number] | undefined => {
    const val = v[key];
    if (val === undefined) return undefined;
    if (!(CHOICES[key] as readonly string[]).includes(val)) throw new UsageError(`--${key} '${val}' is not one of ${CHOICES[key].join(', ')}`);
    return val as (typeof CHOICES)[K][number];
  };
  let classIndex: 'top' | number = 'top';
  if (v.class !== undefined && v.class !== 'top') {
    if (!/^\d+$/.test(v.class)) throw new UsageError(`--class '${v.class}' is not 'top' or a class index (0, 1, ...)`);
    classIndex = Number(v.class);
  }
  const inputs: Input[] = [
    ...files.map((file) => ({ file, name: basename(file, extname(file)), kind: 'image' as const })),
    ...(v.tensor ?? []).map((file) => ({ file, name: basename(file, extname(file)), kind: 'tensor' as const })),
  ];
  if (!inputs.length) throw new UsageError(`${command}: no IMAGE (or --tensor FILE) given`);
  if (command === 'classify') {
    for (const k of ['class', 'rules', 'location', 'gap', 'weights', 'method', 'out', 'save-heatmap'] as const) {
      if (v[k] !== undefined) throw new UsageError(`--${k} applies to 'explain', not 'classify'`);
    }
  }
  return {
    help: false,
    command,
    inputs,
    model: v.model,
    modelDir: v['model-dir'],
    classIndex,
    rules: (pick('rules') ?? 'default') as PresetName,
    override: { location: pick('location') as LocationRule | undefined, gap: pick('gap') as GapRule | undefined, weights: pick('weights') as WeightRule | undefined },
    method: (pick('method') ?? 'fixations') as ExplainMethod,
    fit: pick('fit') ?? 'crop',
    out: v.out ?? 'out',
    saveHeatmap: !!v['save-heatmap'],
  } as const;
}
type Options = Extract<ReturnType<typeof parse>, { help: false }>;

/** The input as a tensor: an image [H,W,4] with its pixels for drawing, or a preprocessed [1,S,S,3] and its picture. */
async function readInput(model: FixationModel, input: Input): Promise<{ tensor: tf.Tensor3D | tf.Tensor4D; picture: Rgba }> {
  const buf = await readFile(input.file).catch((e: NodeJS.ErrnoException) => {
    throw new Error(`cannot read (${e.code ?? e.message})`);
  });
  if (input.kind === 'image') {
    const { width, height, data } = decodeImage(buf, 'image');
    return { tensor: tf.tensor3d(data, [height, width, 4], 'int32'), picture: { width, height, data } };
  }
  const S = model.info.inputSize;
  const need = S * S * 3 * 4;
  if (buf.length !== need) {
    throw new Error(`tensor file must hold ${need} bytes (float32 little-endian NHWC [1,${S},${S},3] for model '${model.info.id}'), it has ${buf.length}`);
  }
  const values = new Float32Array(S * S * 3);
  for (let i = 0; i < values.length; i++) values[i] = buf.readFloatLE(4 * i);
  return { tensor: tf.tensor4d(values, [1, S, S, 3]), picture: denormalise(model, values) };
}

/** The network input as a picture: undo (x - mean) / std and the range scaling. */
function denormalise(model: FixationModel, v: Float32Array): Rgba {
  const S = model.info.inputSize;
  const { range: [lo, hi], mean, std } = model.info.preprocessing;
  const data = new Uint8Array(S * S * 4);
  for (let i = 0; i < S * S; i++) {
    for (let c = 0; c < 3; c++) {
      const x = Math.round(((v[3 * i + c] * std[c] + mean[c] - lo) / (hi - lo)) * 255);
      data[4 * i + c] = x < 0 ? 0 : x > 255 ? 255 : x; // clamped (a Uint8Array would wrap)
    }
    data[4 * i + 3] = 255;
  }
  return { width: S, height: S, data };
}

async function explainOne(model: FixationModel, input: Input, name: string, o: Options) {
  const t0 = performance.now();
  const { tensor, picture } = await readInput(model, input);
  const decodeMs = performance.now() - t0;
  let ex;
  try {
    const eo: ExplainOptions = { method: o.method, classIndex: o.classIndex, rules: o.rules, override: o.override, fit: o.fit };
    ex = await explain(model, tensor, eo);
  } finally {
    tensor.dispose();
  }
  const t1 = performance.now();
  const png = encodePng(drawExplanation(picture, ex.heatmap.data, ex.fixations, ex.box));
  const base = join(o.out, name);
  await writeFile(`${base}.png`, png);
  if (o.saveHeatmap) await writeFile(`${base}.heatmap.png`, grayPng(ex.heatmap.data, ex.heatmap.width, ex.heatmap.height));
  const drawMs = performance.now() - t1;
  const imageMs = performance.now() - t0;
  const json = {
    file: input.file,
    image: { width: picture.width, height: picture.height, kind: input.kind },
    model: ex.model,
    method: ex.method,
    class: ex.class,
    top: ex.top,
    rules: ex.rules,
    fit: input.kind === 'image' ? o.fit : null,
    layers: ex.layers,
    inputFixations: ex.inputFixations,
    fixations: ex.fixations,
    box: ex.box,
    camBox: ex.camBox,
    peak: ex.peak,
    timingsMs: { decodeMs, ...ex.timingsMs, drawMs, imageMs },
  };
  await writeFile(`${base}.json`, JSON.stringify(json, null, 1) + '\n');
  const distinct = new Set(ex.inputFixations.map((p) => `${p.x},${p.y}`)).size;
  const fix = ex.method === 'fixations' ? `${distinct} fixation${distinct === 1 ? '' : 's'} (${ex.fixations.length} after outlier removal), ` : '';
  console.log(`${input.file}: ${ex.class.index} ${ex.class.label} (p=${ex.class.prob.toFixed(3)}), ${fix}${imageMs.toFixed(0)} ms -> ${base}.png`);
}

async function classifyOne(model: FixationModel, input: Input, fit: 'crop' | 'letterbox') {
  const t0 = performance.now();
  const { tensor } = await readInput(model, input);
  let top;
  try {
    const net = tensor.rank === 4 ? (tensor as tf.Tensor4D) : model.preprocess(tensor as tf.Tensor3D, fit).input;
    const fwd = await model.forward(net);
    disposeForward(fwd, [tensor]);
    if (!net.isDisposed) net.dispose();
    top = model.top(fwd.probs, 5);
  } finally {
    tensor.dispose();
  }
  console.log(`${input.file} (${(performance.now() - t0).toFixed(0)} ms)`);
  for (const c of top) console.log(`  ${c.prob.toFixed(4)}  ${String(c.index).padStart(4)}  ${c.label}`);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The wasm backend (Emscripten) installs process handlers that rethrow, which makes Node print the backend's whole
 * one-line source. Replace them by a handler that prints only the message.
 */
function quietWasmHandlers(before: Set<unknown>) {
  for (const ev of ['uncaughtException', 'unhandledRejection'] as const) {
    for (const l of process.listeners(ev as 'uncaughtException')) if (!before.has(l)) process.removeListener(ev, l);
  }
  if (!process.listenerCount('uncaughtException')) {
    process.on('uncaughtException', (e) => {
      console.error(`cnnfix: ${message(e)}`);
      process.exit(1);
    });
  }
  if (!process.listenerCount('unhandledRejection')) {
    process.on('unhandledRejection', (e) => {
      console.error(`cnnfix: ${message(e)}`);
      process.exit(1);
    });
  }
}

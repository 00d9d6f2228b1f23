// cnnfix: explain or classify images from the command line (Node, wasm backend). bin/cnnfix.js runs main().
import { appendFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { MultiBar, Presets } from 'cli-progress';
import { IMAGENET } from '../engine/facts.ts';
import { explain, type ExplainOptions } from '../engine/explain.ts';
import { backedPoints } from '../engine/guided.ts';
import {
  DEFAULT_METHOD,
  GUIDED,
  METHODS,
  type BoxSource,
  type ClassMapKind,
  type ExplainMethod,
} from '../engine/methods.ts';
import type { FixationModel, ModelInfo, Preprocessing } from '../engine/model.ts';
import { CLASS_COLORS } from '../engine/post.ts';
import { channelNorm, disposeForward } from '../engine/model.ts';
import {
  BINARY_CLASSES,
  type BinaryClass,
  type GapRule,
  type LocationRule,
  type PresetName,
  type WeightRule,
} from '../engine/types.ts';
import { drawExplanation, encodePng, grayPng, type Rgba } from '../node/draw.ts';
import { decodeImage, initNodeBackend, loadModel } from '../node/index.ts';
import { initNodeWebGpu, webGpuUnravel } from '../node/webgpu.ts';

/** Batches at least this long show a progress bar (on a terminal). */
export const PROGRESS_MIN = 5;
const IMAGE_EXT = /\.(jpe?g|png)$/i;

export const USAGE = `usage:
  cnnfix explain IMAGE|FOLDER... [options]   explain the top class (or --class K) of each image
  cnnfix classify IMAGE|FOLDER... [options]  print the top-5 classes of each image
  cnnfix --help

options:
  --model ID               catalog model (models/catalog.json; default: the catalog's default)
  --model-dir DIR|FILE     a TF.js graph or layers model folder (or its model.json; e.g. a Teachable Machine export).
                           Alone: your own model, its logits node and input size read off the graph, facts from
                           metadata.json / cnnfix.json and labels from labels.json beside it if there are. With
                           --model ID: that catalog model's files from DIR
                           An ONNX file (FILE.onnx) loads as your own model too: input size and logits from its
                           graph, preprocessing from its metadata_props (else raw pixels for a uint8 input, else
                           ImageNet's), labels from labels.json or labels*.txt beside it; the flags below override
  --input-size N           input size, when the graph leaves it open (default 224)
  --range LO,HI            pixels are scaled from 0..255 to LO..HI (default 0,1); write --range=-1,1 for a negative LO
  --mean M | M,M,M         then (x - mean) / std per channel (default: ImageNet's; with --range alone: 0)
  --std S | S,S,S          (default: ImageNet's; with --range alone: 1)
  --logits NODE            the node holding the class scores before softmax (default: the graph's output (its
                           signature's), or the input of a final Softmax or Sigmoid; a Sigmoid gives per-class
                           probabilities)
  --labels FILE            class names: a JSON array, or one per line (default: "class N")
  --class top|K[,K...]     class(es) to explain: the top-1 (default), class index K, or up to 6 indices
                           (each gets its own heatmap colour, points and box); a one-logit sigmoid head has two
                           classes, present (0) and absent (1): --class absent explains why the model says absent
  --rules reference|default|dense  rule preset (default: default; --method guided: ${GUIDED.rules}). dense: the
                           reference rules with every positive position of the global average pool
  --location center|max    override: position kept inside a conv window
  --gap argmax|positive    override: positions kept by a global average pool
  --weights count|contribution  override: weight of each fixation
  --method ${METHODS.join('|')}  explanation method (default: the model's own, its catalog "method"; none
                           there: ${DEFAULT_METHOD}; the result's "method" says which ran). guided: a class
                           map (CAM, else Grad-CAM) x (epsilon + the fixations' density), fixation points drawn
  --layer NODE             Grad-CAM (and guided's Grad-CAM class map): the layer to differentiate at (default: the
                           last spatial layer)
  --epsilon E              guided: heat = class map x (E + density) (default ${GUIDED.epsilon})
  --density-sigma S        guided: the density's Gaussian sigma, a fraction of the image diagonal (default ${GUIDED.sigma})
  --class-map auto|cam|gradcam  guided: the class map (default ${GUIDED.classMap}: CAM where the model allows it)
  --box fixations|map      the box: the fixations' (after outlier removal; none from too few points) or the CAM
                           protocol on the method's heatmap (default: fixations for --method fixations, else map)
  --fit crop|letterbox     how the image is fitted to the square input (default: crop)
  --tensor FILE.f32        also explain a raw float32 little-endian NHWC input, already preprocessed to the
                           model's input size (coordinates are then network-input pixels); may be repeated
  --out DIR                output folder (default: out)
  --save-heatmap           also write NAME.heatmap.png (8-bit grayscale heatmap, image size; several classes:
                           NAME.heatmap-K.png per class index K)
  --backend wasm|webgpu    tfjs backend (default wasm); webgpu: forward pass and WGSL unravelling on the GPU,
                           through the optional package 'webgpu' (Dawn; a Vulkan driver, or SwiftShader's)

A FOLDER stands for the JPEG and PNG images in it. explain writes OUT/NAME.json and OUT/NAME.png (heatmap, fixation
points and box over the image), and OUT/index.jsonl (one line per input: class, fixations, box, files, or the error).
On a terminal, batches of ${PROGRESS_MIN}+ inputs show a progress bar.`;

const CHOICES = {
  rules: ['reference', 'default', 'dense'],
  location: ['center', 'max'],
  gap: ['argmax', 'positive'],
  weights: ['count', 'contribution'],
  method: METHODS,
  'class-map': ['auto', 'cam', 'gradcam'],
  box: ['fixations', 'map'],
  fit: ['crop', 'letterbox'],
  backend: ['wasm', 'webgpu'],
} as const;

class UsageError extends Error {}

interface Input {
  name: string;
  file: string;
  kind: 'image' | 'tensor';
}

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
  let unravel: ExplainOptions['unravel'];
  try {
    if (opts.backend === 'webgpu') {
      try {
        await initNodeBackend('webgpu');
      } catch (e) {
        console.error(`cnnfix: --backend webgpu: ${message(e)}`);
        return 1;
      }
    }
    model = await loadModel({ model: opts.model, path: opts.modelDir, info: opts.info, labels: opts.labels });
    if (opts.backend === 'webgpu') unravel = await webGpuUnravel(await initNodeWebGpu(), model.graph, model.info.rules);
  } catch (e) {
    const which = `${opts.model ? ` '${opts.model}'` : ''}${opts.modelDir ? ` from ${opts.modelDir}` : ''}`;
    console.error(`cnnfix: cannot load the model${which}: ${message(e)}`);
    return 1;
  }
  try {
    return await run(model, opts, unravel);
  } finally {
    model.dispose();
  }
}

async function run(model: FixationModel, opts: Options, unravel?: ExplainOptions['unravel']): Promise<number> {
  if (opts.named && model.head !== 'binary') {
    console.error(
      `cnnfix: --class present/absent applies to a one-logit sigmoid head; model '${model.info.id}' has a ${model.head} head: give class indices`,
    );
    return 2;
  }
  const classes = model.info.labels.length || undefined;
  for (const k of opts.classIndex === 'top' ? [] : opts.classIndex) {
    if (classes && k >= classes) {
      console.error(
        `cnnfix: --class ${k} is out of range: model '${model.info.id}' has ${classes} classes (0..${classes - 1})`,
      );
      return 2;
    }
  }
  let failed = 0,
    unread = 0;
  const inputs: Input[] = [];
  for (const input of opts.inputs) {
    try {
      inputs.push(...(await expand(input)));
    } catch (e) {
      failed++;
      unread++;
      console.error(`cnnfix: ${input.file}: ${message(e)}`);
    }
  }

  const index = join(opts.out, 'index.jsonl');
  if (opts.command === 'explain') {
    await mkdir(opts.out, { recursive: true });
    await writeFile(index, '');
  }
  // On a terminal a long batch gets a progress bar (stderr); result lines are printed above it.
  const bar =
    process.stderr.isTTY && inputs.length >= PROGRESS_MIN
      ? new MultiBar(
          {
            format: 'cnnfix {bar} {value}/{total} images | {eta_formatted} left | {file}',
            hideCursor: true,
            clearOnComplete: true,
          },
          Presets.shades_classic,
        )
      : undefined;
  const progress = bar?.create(inputs.length, 0, { file: '' });
  const say = (line: string, err = false) => {
    if (bar && (err || process.stdout.isTTY)) bar.log(line + '\n');
    else if (err) console.error(line);
    else console.log(line);
  };

  const used = new Map<string, number>();
  for (const input of inputs) {
    // Two inputs with the same base name get -2, -3... rather than overwriting each other.
    const n = (used.get(input.name) ?? 0) + 1;
    used.set(input.name, n);
    const name = n > 1 ? `${input.name}-${n}` : input.name;
    progress?.update({ file: basename(input.file) });
    try {
      if (opts.command === 'classify') say(await classifyOne(model, input, opts.fit));
      else {
        const { line, summary } = await explainOne(model, input, name, opts, unravel);
        say(line);
        await appendFile(index, JSON.stringify(summary) + '\n');
      }
    } catch (e) {
      failed++;
      say(`cnnfix: ${input.file}: ${message(e)}`, true);
      if (opts.command === 'explain')
        await appendFile(index, JSON.stringify({ file: input.file, error: message(e) }) + '\n');
    }
    progress?.increment();
  }
  bar?.update(); // prints the lines logged since the last redraw (stop() would drop them)
  bar?.stop();
  if (failed) console.error(`cnnfix: ${failed} of ${inputs.length + unread} inputs failed`);
  return failed ? 1 : 0;
}

/** A folder stands for the images in it (sorted by name); a file for itself. */
async function expand(input: Input): Promise<Input[]> {
  const st = await stat(input.file).catch(() => undefined);
  if (!st?.isDirectory()) return [input];
  if (input.kind === 'tensor') throw new Error('--tensor takes a file, not a folder');
  const files = (await readdir(input.file)).filter((f) => IMAGE_EXT.test(f)).sort();
  if (!files.length) throw new Error('folder holds no JPEG or PNG image');
  return files.map((f) => ({ file: join(input.file, f), name: basename(f, extname(f)), kind: 'image' as const }));
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
      layer: { type: 'string' },
      epsilon: { type: 'string' },
      'density-sigma': { type: 'string' },
      'class-map': { type: 'string' },
      box: { type: 'string' },
      fit: { type: 'string' },
      tensor: { type: 'string', multiple: true },
      out: { type: 'string' },
      'save-heatmap': { type: 'boolean' },
      'input-size': { type: 'string' },
      range: { type: 'string' },
      mean: { type: 'string' },
      std: { type: 'string' },
      logits: { type: 'string' },
      labels: { type: 'string' },
      backend: { type: 'string' },
    },
  });
  const [command, ...files] = positionals;
  if (v.help) return { help: true } as const;
  if (command !== 'explain' && command !== 'classify') {
    throw new UsageError(
      command ? `unknown command '${command}' (known: explain, classify)` : 'no command given (explain or classify)',
    );
  }
  const pick = <K extends keyof typeof CHOICES>(key: K): (typeof CHOICES)[K][number] | undefined => {
    const val = v[key];
    if (val === undefined) return undefined;
    if (!(CHOICES[key] as readonly string[]).includes(val))
      throw new UsageError(`--${key} '${val}' is not one of ${CHOICES[key].join(', ')}`);
    return val as (typeof CHOICES)[K][number];
  };
  let classIndex: 'top' | number[] = 'top';
  let named = false;
  if (v.class !== undefined && v.class !== 'top') {
    if (!/^(\d+|present|absent)(,(\d+|present|absent))*$/.test(v.class)) {
      throw new UsageError(
        `--class '${v.class}' is not 'top', a class index (0, 1, ...), a list (3,17), or present / absent (a one-logit sigmoid head)`,
      );
    }
    named = /present|absent/.test(v.class);
    classIndex = [...new Set(v.class.split(',').map((k) => BINARY_CLASSES[k as BinaryClass] ?? Number(k)))];
    if (classIndex.length > CLASS_COLORS.length)
      throw new UsageError(`--class: at most ${CLASS_COLORS.length} classes at once, got ${classIndex.length}`);
  }
  const inputs: Input[] = [
    ...files.map((file) => ({ file, name: basename(file, extname(file)), kind: 'image' as const })),
    ...(v.tensor ?? []).map((file) => ({ file, name: basename(file, extname(file)), kind: 'tensor' as const })),
  ];
  if (!inputs.length) throw new UsageError(`${command}: no IMAGE (or --tensor FILE) given`);
  if (command === 'classify') {
    for (const k of [
      'class',
      'rules',
      'location',
      'gap',
      'weights',
      'method',
      'layer',
      'epsilon',
      'density-sigma',
      'class-map',
      'box',
      'out',
      'save-heatmap',
    ] as const) {
      if (v[k] !== undefined) throw new UsageError(`--${k} applies to 'explain', not 'classify'`);
    }
  }
  // No --method: the model's own default, known once it is loaded (explain() then checks these options against it).
  const method = pick('method') as ExplainMethod | undefined;
  if (method && v.layer !== undefined && method !== 'gradcam' && method !== 'guided')
    throw new UsageError(`--layer applies to --method gradcam or guided, not ${method}`);
  for (const k of ['epsilon', 'density-sigma', 'class-map'] as const) {
    if (method && v[k] !== undefined && method !== 'guided')
      throw new UsageError(`--${k} applies to --method guided, not ${method}`);
  }
  const guidedFlags = (['epsilon', 'density-sigma', 'class-map'] as const).some((k) => v[k] !== undefined);
  const num = (k: 'epsilon' | 'density-sigma') => (v[k] === undefined ? undefined : numbers(k, v[k], [1])[0]);
  return {
    help: false,
    command,
    inputs,
    model: v.model,
    modelDir: v['model-dir'],
    info: modelFlags(v),
    labels: v.labels,
    classIndex,
    /** --class said present or absent (the classes of a binary head). */
    named,
    rules: pick('rules') as PresetName | undefined,
    override: {
      location: pick('location') as LocationRule | undefined,
      gap: pick('gap') as GapRule | undefined,
      weights: pick('weights') as WeightRule | undefined,
    },
    method,
    layer: v.layer,
    guided:
      method === 'guided' || (!method && guidedFlags)
        ? {
            epsilon: num('epsilon'),
            sigma: num('density-sigma'),
            classMap: pick('class-map') as ClassMapKind | undefined,
          }
        : undefined,
    box: pick('box') as BoxSource | undefined,
    fit: pick('fit') ?? 'crop',
    out: v.out ?? 'out',
    saveHeatmap: !!v['save-heatmap'],
    backend: pick('backend') ?? 'wasm',
  } as const;
}
type Options = Extract<ReturnType<typeof parse>, { help: false }>;

/** What a graph cannot say, from the flags: input size, preprocessing, logits node. */
function modelFlags(v: {
  'input-size'?: string;
  range?: string;
  mean?: string;
  std?: string;
  logits?: string;
}): Partial<Omit<ModelInfo, 'labels'>> {
  const info: Partial<Omit<ModelInfo, 'labels'>> = {};
  if (v['input-size'] !== undefined) {
    if (!/^\d+$/.test(v['input-size']) || Number(v['input-size']) < 1)
      throw new UsageError(`--input-size '${v['input-size']}' is not a positive integer`);
    info.inputSize = Number(v['input-size']);
  }
  if (v.logits !== undefined) info.logits = v.logits;
  if (v.range !== undefined || v.mean !== undefined || v.std !== undefined) {
    const range = v.range === undefined ? IMAGENET.range : (numbers('range', v.range, [2]) as Preprocessing['range']);
    if (!(range[0] < range[1])) throw new UsageError(`--range '${v.range}': LO must be below HI`);
    // --range alone (e.g. -1,1 for MobileNet-style inputs) means no mean/std step.
    const plain = v.range !== undefined && v.mean === undefined && v.std === undefined;
    // One number stands for every channel (so it also fits a 1-channel model).
    const perChannel = (k: 'mean' | 'std', dflt: Preprocessing['mean']) =>
      v[k] === undefined ? dflt : numbers(k, v[k], [1, 3]);
    const std = perChannel('std', plain ? [1] : IMAGENET.std);
    if (std.some((x) => x === 0)) throw new UsageError(`--std '${v.std}': a standard deviation cannot be 0`);
    info.preprocessing = { range, mean: perChannel('mean', plain ? [0] : IMAGENET.mean), std };
  }
  return info;
}

function numbers(flag: string, text: string, counts: number[]): number[] {
  const n = text.split(',').map((t) => (t.trim() === '' ? NaN : Number(t)));
  if (!counts.includes(n.length) || n.some((x) => !Number.isFinite(x))) {
    throw new UsageError(
      `--${flag} '${text}' is not ${counts.map((c) => `${c} comma-separated number${c > 1 ? 's' : ''}`).join(' or ')}`,
    );
  }
  return n;
}

/** The input as a tensor: an image [H,W,4] with its pixels for drawing, or a preprocessed [1,h,w,c] and its picture. */
async function readInput(
  model: FixationModel,
  input: Input,
): Promise<{ tensor: tf.Tensor3D | tf.Tensor4D; picture: Rgba }> {
  const buf = await readFile(input.file).catch((e: NodeJS.ErrnoException) => {
    throw new Error(`cannot read (${e.code ?? e.message})`);
  });
  if (input.kind === 'image') {
    const { width, height, data } = decodeImage(buf, 'image');
    return { tensor: tf.tensor3d(data, [height, width, 4], 'int32'), picture: { width, height, data } };
  }
  const { height: h, width: w, channels: C } = model.input;
  const need = h * w * C * 4;
  if (buf.length !== need) {
    throw new Error(
      `tensor file must hold ${need} bytes (float32 little-endian NHWC [1,${h},${w},${C}] for model '${model.info.id}'), it has ${buf.length}`,
    );
  }
  const values = new Float32Array(h * w * C);
  for (let i = 0; i < values.length; i++) values[i] = buf.readFloatLE(4 * i);
  return { tensor: tf.tensor4d(values, [1, h, w, C]), picture: denormalise(model, values) };
}

/** The network input as a picture: undo (x - mean) / std and the range scaling (gray for a 1-channel input). */
function denormalise(model: FixationModel, v: Float32Array): Rgba {
  const { height: h, width: w, channels: C } = model.input;
  const [lo, hi] = model.info.preprocessing.range;
  const { mean, std } = channelNorm(model.info, C);
  const data = new Uint8Array(h * w * 4);
  for (let i = 0; i < h * w; i++) {
    for (let c = 0; c < 3; c++) {
      const k = C === 1 ? 0 : c;
      const x = Math.round(((v[C * i + k] * std[k] + mean[k] - lo) / (hi - lo)) * 255);
      data[4 * i + c] = x < 0 ? 0 : x > 255 ? 255 : x; // clamped (a Uint8Array would wrap)
    }
    data[4 * i + 3] = 255;
  }
  return { width: w, height: h, data };
}

async function explainOne(
  model: FixationModel,
  input: Input,
  name: string,
  o: Options,
  unravel?: ExplainOptions['unravel'],
) {
  const t0 = performance.now();
  const { tensor, picture } = await readInput(model, input);
  const decodeMs = performance.now() - t0;
  let ex;
  try {
    const eo: ExplainOptions = {
      method: o.method,
      classIndex: o.classIndex,
      rules: o.rules,
      override: o.override,
      fit: o.fit,
      unravel,
      layer: o.layer,
      guided: o.guided,
      box: o.box,
    };
    ex = await explain(model, tensor, eo);
  } finally {
    tensor.dispose();
  }
  const t1 = performance.now();
  const several = ex.classes.length > 1;
  const png = encodePng(
    drawExplanation(
      picture,
      ex.classes.map((c) => ({
        heatmap: c.heatmap.data,
        points: c.fixations,
        box: c.box,
        color: c.color,
        // guided: the points its map does not back are drawn faint (the heatmap is the guided map, image size).
        ...(ex.method === 'guided'
          ? {
              backed: backedPoints(
                c.fixations,
                c.heatmap.data,
                c.heatmap.width,
                c.heatmap.height,
                c.heatmap.width,
                c.heatmap.height,
              ),
            }
          : {}),
      })),
    ),
  );
  const base = join(o.out, name);
  await writeFile(`${base}.png`, png);
  if (o.saveHeatmap) {
    for (const c of ex.classes) {
      await writeFile(
        several ? `${base}.heatmap-${c.class.index}.png` : `${base}.heatmap.png`,
        grayPng(c.heatmap.data, c.heatmap.width, c.heatmap.height),
      );
    }
  }
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
    ...(ex.guided ? { guided: ex.guided } : {}),
    fit: input.kind === 'image' ? o.fit : null,
    layers: ex.layers,
    inputFixations: ex.inputFixations,
    fixations: ex.fixations,
    box: ex.box,
    boxSource: ex.boxSource,
    camBox: ex.camBox,
    peak: ex.peak,
    ...(ex.layer ? { layer: ex.layer } : {}),
    // Every explained class (the fields above are the first one's), each with its colour in the PNG.
    classes: ex.classes.map((c) => ({
      class: c.class,
      color: c.color,
      layers: c.layers,
      inputFixations: c.inputFixations,
      fixations: c.fixations,
      box: c.box,
      boxSource: c.boxSource,
      camBox: c.camBox,
      peak: c.peak,
      ...(c.layer ? { layer: c.layer } : {}),
    })),
    timingsMs: { decodeMs, ...ex.timingsMs, drawMs, imageMs },
  };
  await writeFile(`${base}.json`, JSON.stringify(json, null, 1) + '\n');
  const line = ex.classes
    .map((c) => {
      const distinct = new Set(c.inputFixations.map((p) => `${p.x},${p.y}`)).size;
      const fix =
        ex.method === 'fixations' || ex.method === 'guided'
          ? `, ${distinct} fixation${distinct === 1 ? '' : 's'} (${c.fixations.length} after outlier removal)`
          : '';
      return `${c.class.index} ${c.class.label} (p=${c.class.prob.toFixed(3)}${several ? `, ${c.color}` : ''})${fix}`;
    })
    .join('; ');
  return {
    line: `${input.file}: ${line}, ${imageMs.toFixed(0)} ms -> ${base}.png`,
    // One line of OUT/index.jsonl: enough to sort or filter a batch without opening every JSON.
    summary: {
      file: input.file,
      png: `${base}.png`,
      json: `${base}.json`,
      model: ex.model,
      method: ex.method,
      class: ex.class,
      fixations: ex.fixations.length,
      box: ex.box,
      boxSource: ex.boxSource,
      peak: ex.peak,
      ms: Math.round(imageMs),
    },
  };
}

async function classifyOne(model: FixationModel, input: Input, fit: 'crop' | 'letterbox'): Promise<string> {
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
  return [
    `${input.file} (${(performance.now() - t0).toFixed(0)} ms)`,
    ...top.map((c) => `  ${c.prob.toFixed(4)}  ${String(c.index).padStart(4)}  ${c.label}`),
  ].join('\n');
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ONNX models as FixationModels: convert (convert.ts), load the artifacts with tfjs-converter, read the facts.
import { io } from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { IMAGENET } from '../../engine/facts.ts';
import { FixationModel, type ModelInfo, type Preprocessing } from '../../engine/model.ts';
import { convertOnnx, type OnnxConversion } from './convert.ts';

export { convertOnnx, type OnnxConversion, type OnnxPort } from './convert.ts';

/** A uint8 input takes raw pixels; its dequantization is in the graph. */
export const RAW_PIXELS: Preprocessing = { range: [0, 255], mean: [0, 0, 0], std: [1, 1, 1] };

export interface OnnxOptions {
  id?: string;
  labels?: string[];
  /** Overrides what the model's metadata says (or the ImageNet default). */
  preprocessing?: Preprocessing;
  /** ONNX value name (or TF node name) to use as logits; default: the graph output, or the input of a final Softmax. */
  logits?: string;
}

export async function onnxGraphModel(conv: OnnxConversion): Promise<GraphModel> {
  return loadGraphModel(io.fromMemory(conv.artifacts));
}

/** The facts a FixationModel needs, read off the ONNX graph and its metadata_props. */
export function onnxInfo(conv: OnnxConversion, file: string, opts: OnnxOptions = {}): ModelInfo {
  if (conv.inputs.length !== 1) throw new Error(`${file}: the model must have one image input, it has ${conv.inputs.length} (${conv.inputs.map((i) => i.onnx).join(', ')})`);
  const inp = conv.inputs[0];
  if (inp.shape.length !== 4) throw new Error(`${file}: input '${inp.onnx}' must be a 4-D image (NCHW or NHWC), got [${inp.shape}]`);
  // NCHW stored NHWC, or an NHWC input as given: either way the TF placeholder is [N,H,W,C].
  const [, H, W, C] = inp.nhwc ? [inp.shape[0], inp.shape[2], inp.shape[3], inp.shape[1]] : inp.shape;
  if (C !== 3) throw new Error(`${file}: input '${inp.onnx}' must have 3 channels, got ${C} (shape [${inp.shape}])`);
  if (H !== W) throw new Error(`${file}: input '${inp.onnx}' must be square, got ${H}x${W}`);
  const out = conv.outputs[0];
  let logits: string, probs: string | undefined;
  if (opts.logits) {
    logits = conv.tfName.get(opts.logits) ?? (conv.artifacts.modelTopology as { node: { name: string }[] }).node.find((n) => n.name === opts.logits)?.name
      ?? failLogits(file, opts.logits);
  } else {
    const before = conv.beforeSoftmax.get(out.onnx);
    logits = before ?? out.tf;
    probs = before ? out.tf : undefined;
  }
  return {
    id: opts.id ?? file.replace(/^.*[/\\]/, '').replace(/\.onnx$/i, ''),
    inputSize: H,
    preprocessing: opts.preprocessing ?? metadataPreprocessing(conv, file) ?? (inp.type === 'UINT8' ? RAW_PIXELS : IMAGENET),
    logits,
    probs,
    labels: opts.labels ?? [],
  };
}

function failLogits(file: string, name: string): never {
  throw new Error(`${file}: logits '${name}' is neither an ONNX value nor a node of the converted graph`);
}

/**
 * metadata_props key "preprocessing": JSON {range?: [lo,hi], mean?: [r,g,b], std?: [r,g,b]} (pixels scaled to
 * range, then (x - mean) / std), or one of the names "imagenet", "[0,1]", "[-1,1]", "[0,255]".
 */
function metadataPreprocessing(conv: OnnxConversion, file: string): Preprocessing | undefined {
  const raw = conv.metadata.preprocessing;
  if (raw === undefined) return undefined;
  const named = parsePreprocessing(raw);
  if (named) return named;
  try {
    const j = JSON.parse(raw);
    const p: Preprocessing = { range: j.range ?? [0, 1], mean: j.mean ?? [0, 0, 0], std: j.std ?? [1, 1, 1] };
    if (p.range.length !== 2 || p.mean.length !== 3 || p.std.length !== 3 || [...p.range, ...p.mean, ...p.std].some((v) => typeof v !== 'number')) throw new Error('bad lengths');
    return p;
  } catch (e) {
    throw new Error(`${file}: metadata 'preprocessing' is not understood ('${raw}': ${(e as Error).message})`);
  }
}

/** Named input conventions: imagenet, [0,1], [-1,1], [0,255]. */
export function parsePreprocessing(name: string): Preprocessing | undefined {
  const k = name.replace(/\s/g, '').toLowerCase();
  if (k === 'imagenet') return IMAGENET;
  if (k === '[0,1]' || k === '0,1') return { range: [0, 1], mean: [0, 0, 0], std: [1, 1, 1] };
  if (k === '[-1,1]' || k === '-1,1') return { range: [-1, 1], mean: [0, 0, 0], std: [1, 1, 1] };
  if (k === '[0,255]' || k === '0,255') return RAW_PIXELS;
  return undefined;
}

/** ONNX bytes -> FixationModel (the same engine, worker paths and kernels as a TF.js graph model). */
export async function loadOnnx(bytes: Uint8Array, file: string, opts: OnnxOptions = {}): Promise<FixationModel> {
  const conv = convertOnnx(bytes, file);
  const info = onnxInfo(conv, file, opts);
  const gm = await onnxGraphModel(conv);
  try {
    return FixationModel.create(gm, info);
  } catch (e) {
    gm.dispose();
    throw e;
  }
}

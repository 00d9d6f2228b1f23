// ONNX models as FixationModels: convert (convert.ts), load the artifacts with tfjs-converter, read the facts.
import { io } from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { IMAGENET, preprocessing, RANGE_PRESETS } from '../../engine/facts.ts';
import { FixationModel, type ModelInfo, type Preprocessing } from '../../engine/model.ts';
import { convertOnnx, type OnnxConversion } from './convert.ts';

export { convertOnnx, type OnnxConversion, type OnnxPort } from './convert.ts';

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
  if (conv.inputs.length !== 1)
    throw new Error(
      `${file}: the model must have one image input, it has ${conv.inputs.length} (${conv.inputs.map((i) => i.onnx).join(', ')})`,
    );
  const inp = conv.inputs[0];
  if (inp.shape.length !== 4)
    throw new Error(`${file}: input '${inp.onnx}' must be a 4-D image (NCHW or NHWC), got [${inp.shape}]`);
  // NCHW stored NHWC, or an NHWC input as given: either way the TF placeholder is [N,H,W,C].
  const [, H, W, C] = inp.nhwc ? [inp.shape[0], inp.shape[2], inp.shape[3], inp.shape[1]] : inp.shape;
  if (C !== 3) throw new Error(`${file}: input '${inp.onnx}' must have 3 channels, got ${C} (shape [${inp.shape}])`);
  if (H !== W) throw new Error(`${file}: input '${inp.onnx}' must be square, got ${H}x${W}`);
  const out = conv.outputs[0];
  let logits: string, probs: string | undefined;
  if (opts.logits) {
    logits =
      conv.tfName.get(opts.logits) ??
      (conv.artifacts.modelTopology as { node: { name: string }[] }).node.find((n) => n.name === opts.logits)?.name ??
      failLogits(file, opts.logits, conv);
    // The graph's own head still gives the probabilities when the logits named are its input.
    if (logits === conv.beforeSoftmax.get(out.onnx)) probs = out.tf;
  } else {
    const before = conv.beforeSoftmax.get(out.onnx);
    logits = before ?? out.tf;
    probs = before ? out.tf : undefined;
  }
  return {
    id: opts.id ?? file.replace(/^.*[/\\]/, '').replace(/\.onnx$/i, ''),
    source: file,
    inputSize: H,
    preprocessing:
      opts.preprocessing ??
      metadataPreprocessing(conv, file) ??
      (inp.type === 'UINT8' ? RANGE_PRESETS.bytes : IMAGENET) /* uint8: raw pixels, dequantized in the graph */,
    logits,
    probs,
    labels: opts.labels ?? [],
  };
}

function failLogits(file: string, name: string, conv: OnnxConversion): never {
  const out = conv.outputs[0];
  // The value before the graph's Softmax / Sigmoid, else its output (the float one before a final QuantizeLinear).
  const before = conv.beforeSoftmax.get(out.onnx);
  const suggest = (before && [...conv.tfName].find(([, tf]) => tf === before)?.[0]) ?? out.dequantized ?? out.onnx;
  throw new Error(
    `${file}: logits '${name}' is neither an ONNX value nor a node of the converted graph; give an ONNX value name, e.g. '${suggest}'`,
  );
}

/**
 * metadata_props key "preprocessing": a preset name (imagenet, [0,1], [-1,1], [0,255], or facts.ts's unit, signed,
 * bytes) or JSON {range, mean?, std?} (pixels scaled to range, then (x - mean) / std), checked as cnnfix.json's.
 */
function metadataPreprocessing(conv: OnnxConversion, file: string): Preprocessing | undefined {
  const raw = conv.metadata.preprocessing;
  if (raw === undefined) return undefined;
  const key = raw.replace(/\s/g, '').toLowerCase();
  const named = NAMED[key] ?? (key in RANGE_PRESETS ? RANGE_PRESETS[key as keyof typeof RANGE_PRESETS] : undefined);
  if (named) return named;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error(
      `${file}: metadata 'preprocessing' is neither a preset (${Object.keys(NAMED).join(', ')}) nor JSON: '${raw}'`,
    );
  }
  return preprocessing(json, `${file} metadata`);
}
const NAMED: Record<string, Preprocessing> = {
  imagenet: RANGE_PRESETS.imagenet,
  '[0,1]': RANGE_PRESETS.unit,
  '[-1,1]': RANGE_PRESETS.signed,
  '[0,255]': RANGE_PRESETS.bytes,
};

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

// Shared types of the engine: the graph IR the unravelling walks, the rule options, and the results.
import type { InputNode } from './ops/input.ts';
import type { ConvNode } from './ops/conv.ts';
import type { MatMulNode } from './ops/matmul.ts';
import type { PoolNode, GapNode } from './ops/pool.ts';
import type { ConcatNode } from './ops/concat.ts';
import type { AddNode } from './ops/add.ts';
import type { PadNode } from './ops/pad.ts';
import type { IdentityNode } from './ops/identity.ts';

/** Where inside a conv window the kept input neuron sits. */
export type LocationRule = 'center' | 'max';
/** How a (global) average pool selects positions: the authors' argmax, or every positive position. */
export type GapRule = 'argmax' | 'positive';
/** 'count': every kept neuron weighs 1 (the authors' de-duplication); 'contribution': weights flow by share. */
export type WeightRule = 'count' | 'contribution';

export interface Rules {
  location: LocationRule;
  gap: GapRule;
  weights: WeightRule;
  /** With gap 'positive': keep only positions with a >= gapThreshold * (the window's max). 0 or absent: every positive one. */
  gapThreshold?: number;
  /**
   * Conv (not depthwise): also keep every input channel whose window contributes >= channelRatio * the best one's,
   * the weight split by contribution (ties of evidence are kept, not broken). 0 or absent: the best channel only.
   */
  channelRatio?: number;
  /** FC from a vector: keep only inputs contributing >= fcThreshold * the best one's. 0 or absent: every positive one. */
  fcThreshold?: number;
}

export const PRESETS = {
  /** The authors' rules (val-iisc/cnn-fixations), except the true window centre for unpadded convs. */
  reference: { location: 'center', gap: 'argmax', weights: 'count' },
  /** Project default, chosen by measurement on SqueezeNet (see README, "Evaluation"); a catalog model may have its own. */
  default: { location: 'center', gap: 'positive', gapThreshold: 0.75, weights: 'contribution' },
  /** The authors' rules with every positive position of a global average pool: many fixations (the guided method's). */
  dense: { location: 'center', gap: 'positive', weights: 'count' },
} as const satisfies Record<string, Rules>;
export type PresetName = keyof typeof PRESETS;

/**
 * The rules of a preset (or a Rules object) with single overrides. `modelDefault`: the model's own default rules
 * (models/catalog.json "rules", chosen per architecture by measurement), used for 'default' when given.
 */
export function resolveRules(
  preset: PresetName | Rules = 'default',
  over: Partial<Rules> = {},
  modelDefault?: Rules,
): Rules {
  const base =
    preset === 'default' && modelDefault ? modelDefault : typeof preset === 'string' ? PRESETS[preset] : preset;
  if (!base) throw new Error(`unknown rule preset '${String(preset)}' (known: ${Object.keys(PRESETS).join(', ')})`);
  const r = { ...base, ...stripUndefined(over) };
  check('location', r.location, ['center', 'max']);
  check('gap', r.gap, ['argmax', 'positive']);
  check('weights', r.weights, ['count', 'contribution']);
  for (const k of ['gapThreshold', 'channelRatio', 'fcThreshold'] as const) {
    const v = r[k];
    if (v !== undefined && !(typeof v === 'number' && v >= 0 && v < 1))
      throw new Error(`rule ${k}=${v} must be a number in [0, 1)`);
  }
  return r;
}
function check(name: string, v: string, ok: string[]) {
  if (!ok.includes(v)) throw new Error(`rule ${name}='${v}' is not one of ${ok.join(', ')}`);
}
function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Shapes are without the batch dimension: [H, W, C] for maps, [N] for vectors. */
export type Shape = number[];

/** What every graph node has; each kind adds its own fields in its op module (src/engine/ops/, see registry.ts). */
export interface NodeBase {
  name: string; // graph node name; also the tensor captured for it
  shape: Shape; // output shape
  inputs: string[]; // producers the unravelling follows (never consts)
}
export type { InputNode, ConvNode, MatMulNode, PoolNode, GapNode, ConcatNode, AddNode, PadNode, IdentityNode };

/** Every kind of node; each has its module in OPS (src/engine/ops/registry.ts). */
export type GraphNode =
  InputNode | ConvNode | MatMulNode | PoolNode | GapNode | ConcatNode | AddNode | PadNode | IdentityNode;

/** Number of elements of a shape. */
export function size(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

export interface Graph {
  /** From the logits node down to the input: every node the unravelling visits, consumers before producers. */
  order: GraphNode[];
  byName: Map<string, GraphNode>;
  input: InputNode;
  logits: string;
  /** Names whose activations the unravelling reads (tensors to capture in the forward pass). */
  captures: string[];
}

/** Kept neurons of one node: flat NHWC indices (batch dropped) and their weights. */
export interface KeptLayer {
  name: string;
  shape: Shape;
  indices: Int32Array;
  weights: Float32Array;
}

export interface Fixation {
  x: number;
  y: number;
  w: number;
}
export interface InputFixation extends Fixation {
  c: number;
}

/** Maps network-input pixel centres to original-image pixel coordinates: orig = net * step + start. */
export interface PixelTransform {
  fit: 'crop' | 'letterbox';
  srcWidth: number;
  srcHeight: number;
  /** Network input size (pixels). */
  inputWidth: number;
  inputHeight: number;
  stepX: number;
  stepY: number;
  startX: number;
  startY: number;
}

export interface TopClass {
  index: number;
  label: string;
  prob: number;
}

/**
 * The two classes of a binary head (one sigmoid logit): 0 present (the model's own probability), 1 absent (the
 * negated logit). The CLI's --class and the element's classes attribute take these names for the indices.
 */
export const BINARY_CLASSES = { present: 0, absent: 1 } as const;
export type BinaryClass = keyof typeof BINARY_CLASSES;

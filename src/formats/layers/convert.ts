// TF.js layers model (Keras topology: model.json with modelTopology.model_config, class_name, inbound_nodes) ->
// the same network as an in-memory TF.js graph model (GraphDef-JSON nodes + weights). Loaded with
// loadGraphModel(io.fromMemory(...)), it goes through FixationModel.create, the engine graph, the worker's WebGPU
// path and the WGSL kernels exactly like a converted graph model. Any layer or option not mapped here is an error
// naming the layer and its class: a model is never run with a silently different computation.
import { GIVE_LOGITS } from '../../engine/facts.ts';
import { io, dispose } from '@tensorflow/tfjs-core';
import { attr, GraphDefBuilder, type Tensor } from './graphdef.ts';

type Json = Record<string, any>;
interface LayerJson {
  class_name: string;
  config: Json;
  name?: string;
  inbound_nodes?: unknown[];
}

const MODEL_CLASSES = ['Sequential', 'Model', 'Functional'];
const PASS_THROUGH = [
  'Dropout',
  'SpatialDropout1D',
  'SpatialDropout2D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
];
export const SUPPORTED_LAYERS = [
  'InputLayer',
  'Conv2D',
  'DepthwiseConv2D',
  'SeparableConv2D',
  'BatchNormalization',
  'Activation',
  'ReLU',
  'LeakyReLU',
  'ELU',
  'Softmax',
  'ZeroPadding2D',
  'MaxPooling2D',
  'AveragePooling2D',
  'GlobalAveragePooling2D',
  'Dense',
  'Flatten',
  'Reshape',
  'Add',
  'Concatenate',
  ...PASS_THROUGH,
  ...MODEL_CLASSES,
];
/** Keras activation -> TF ops applied to the previous value (swish needs its input twice). */
const ACTIVATIONS: Record<string, Step[]> = {
  linear: [],
  relu: [{ op: 'Relu' }],
  relu6: [{ op: 'Relu6' }],
  elu: [{ op: 'Elu' }],
  selu: [{ op: 'Selu' }],
  sigmoid: [{ op: 'Sigmoid' }],
  tanh: [{ op: 'Tanh' }],
  softplus: [{ op: 'Softplus' }],
  softmax: [{ op: 'Softmax' }],
  swish: [{ op: 'Sigmoid' }, { op: 'Mul', inputs: [-2, -1] }],
};
/** One op of a layer; inputs: node names, or -k for the value k steps back (-1: the previous one; the layer input first). */
interface Step {
  op: string;
  inputs?: (string | number)[];
  attrs?: Record<string, unknown>;
}

/** True for a layers-format model.json (or artifacts read from one): a Keras topology, not a GraphDef node list. */
export function isLayersModel(json: { format?: string; modelTopology?: unknown }): boolean {
  const t = json.modelTopology as Json | undefined;
  if (json.format === 'layers-model') return true;
  return !!t && typeof t === 'object' && !Array.isArray(t.node) && !!(t.model_config ?? t.class_name);
}

/**
 * Convert layers-model artifacts (topology + weightSpecs + weightData) to graph-model artifacts. The signature's one
 * output is the model's output; the loaders take the logits as for any graph model (facts.ts: the input of a final
 * Softmax or Sigmoid). `source` names the model in errors.
 */
export function convertLayersModel(artifacts: io.ModelArtifacts, source: string): io.ModelArtifacts {
  const topology = artifacts.modelTopology as Json | undefined;
  const config: LayerJson | undefined = topology?.model_config ?? topology;
  if (!config?.class_name)
    throw new Error(`${source}: not a layers model (modelTopology has no model_config / class_name)`);
  if (!artifacts.weightSpecs || !artifacts.weightData)
    throw new Error(`${source}: layers model without weights (weightsManifest)`);
  const tensors = io.decodeWeights(artifacts.weightData, artifacts.weightSpecs);
  const weights = new Map(
    Object.entries(tensors).map(([name, t]) => [
      name,
      { values: Float32Array.from(t.dataSync() as Float32Array), shape: t.shape },
    ]),
  );
  dispose(Object.values(tensors));
  const c = new Converter(weights, source);
  const outs = c.model(config);
  if (c.inputs.length !== 1)
    throw new Error(`${source}: the model must have exactly one input, it has ${c.inputs.length}`);
  if (outs.length !== 1) throw new Error(`${source}: the model must have exactly one output, it has ${outs.length}`);
  const generatedBy = `${artifacts.generatedBy ?? topology?.keras_version ?? 'Keras'} (layers model ${source})`;
  return c.g.artifacts(c.inputs[0], outs[0].name, generatedBy);
}

class Converter {
  readonly g = new GraphDefBuilder();
  readonly inputs: Tensor[] = [];

  constructor(
    private readonly weights: Map<string, { values: Float32Array; shape: number[] }>,
    private readonly source: string,
  ) {}

  /** A Sequential or Functional model applied to `inputs`; without inputs its input layers become placeholders. */
  model(json: LayerJson, inputs?: Tensor[]): Tensor[] {
    if (json.class_name === 'Sequential') return this.sequential(json, inputs);
    if (json.class_name === 'Model' || json.class_name === 'Functional') return this.functional(json, inputs);
    return this.fail(json, `the model must be a Sequential or a Functional model`);
  }

  private sequential(json: LayerJson, inputs?: Tensor[]): Tensor[] {
    const layers: LayerJson[] = Array.isArray(json.config) ? json.config : (json.config?.layers ?? []);
    if (inputs && inputs.length !== 1) this.fail(json, `a Sequential model takes one input, got ${inputs.length}`);
    let cur = inputs?.[0];
    for (const l of layers) {
      if (l.class_name === 'InputLayer') {
        cur ??= this.placeholder(l);
        continue;
      }
      if (!cur && MODEL_CLASSES.includes(l.class_name)) {
        cur = this.one(l, this.model(l));
        continue;
      }
      if (!cur) {
        const shape = l.config?.batch_input_shape ?? l.config?.batch_shape;
        if (!shape) this.fail(l, 'the first layer of the model has no input shape (batch_input_shape)');
        cur = this.placeholder({
          class_name: 'InputLayer',
          config: { name: `${nameOf(l)}_input`, batch_input_shape: shape },
        });
      }
      cur = this.one(l, this.layer(l, [cur]));
    }
    if (!cur) this.fail(json, 'the model has no layers');
    return [cur];
  }

  private functional(json: LayerJson, inputs?: Tensor[]): Tensor[] {
    const cfg = json.config ?? {};
    const layers: LayerJson[] = cfg.layers ?? [];
    const inputLayers: [string, number, number][] = cfg.input_layers ?? [];
    if (inputs && inputs.length !== inputLayers.length) {
      this.fail(json, `takes ${inputLayers.length} inputs, got ${inputs.length}`);
    }
    // Outputs of every call of every layer: outs.get(layer)[call][tensor].
    const outs = new Map<string, Tensor[][]>();
    const pending: { layer: LayerJson; call: number; refs: [string, number, number][] }[] = [];
    for (const l of layers) {
      if (l.class_name === 'InputLayer') {
        const k = inputLayers.findIndex(([name]) => name === nameOf(l));
        outs.set(nameOf(l), [
          [inputs ? (inputs[k] ?? this.fail(l, 'is not one of the input_layers')) : this.placeholder(l)],
        ]);
        continue;
      }
      (l.inbound_nodes ?? []).forEach((node, call) =>
        pending.push({ layer: l, call, refs: inboundRefs(node, (why) => this.fail(l, why)) }),
      );
    }
    // Apply layers as their inputs become available (a config need not list producers first).
    for (let progress = true; pending.length && progress;) {
      progress = false;
      for (let i = 0; i < pending.length; i++) {
        const { layer, call, refs } = pending[i];
        const ins = refs.map(([name, node, t]) => outs.get(name)?.[node]?.[t]);
        if (ins.some((t) => !t)) continue;
        const list = outs.get(nameOf(layer)) ?? [];
        list[call] = MODEL_CLASSES.includes(layer.class_name)
          ? this.model(layer, ins as Tensor[])
          : this.layer(layer, ins as Tensor[]);
        outs.set(nameOf(layer), list);
        pending.splice(i--, 1);
        progress = true;
      }
    }
    if (pending.length) this.fail(pending[0].layer, `its inputs ${JSON.stringify(pending[0].refs)} are never computed`);
    const outputLayers: [string, number, number][] = cfg.output_layers ?? [];
    return outputLayers.map(
      ([name, node, t]) =>
        outs.get(name)?.[node]?.[t] ??
        this.fail(
          json,
          `output '${name}' (node ${node}, tensor ${t}) is not computed; name an existing layer in output_layers, or ${GIVE_LOGITS}`,
        ),
    );
  }

  private placeholder(l: LayerJson): Tensor {
    const batchShape: (number | null)[] | undefined = l.config?.batch_input_shape ?? l.config?.batch_shape;
    if (!Array.isArray(batchShape)) this.fail(l, 'has no batch_input_shape');
    const shape = batchShape.slice(1);
    if (shape.some((d) => !(typeof d === 'number' && d > 0))) {
      this.fail(l, `the input shape must be fixed, got [${batchShape.map((d) => d ?? 'null')}]`);
    }
    if ((l.config?.dtype ?? 'float32') !== 'float32')
      this.fail(l, `input dtype '${l.config.dtype}' is not supported (float32 only)`);
    const t = { name: this.g.placeholder(nameOf(l), shape as number[]), shape: shape as number[] };
    this.inputs.push(t);
    return t;
  }

  private layer(l: LayerJson, ins: Tensor[]): Tensor[] {
    const cfg = l.config ?? {};
    const name = nameOf(l);
    const x = ins[0];
    if (MODEL_CLASSES.includes(l.class_name)) return this.model(l, ins);
    if (!['Add', 'Concatenate'].includes(l.class_name) && ins.length !== 1)
      this.fail(l, `expects one input, got ${ins.length}`);
    if (cfg.data_format && cfg.data_format !== 'channels_last')
      this.fail(l, `data_format '${cfg.data_format}' is not supported (channels_last only)`);
    if (PASS_THROUGH.includes(l.class_name)) return [x]; // inference: identity
    const map = () => {
      if (x.shape.length !== 3) this.fail(l, `expects an [H,W,C] map, got [${x.shape}]`);
    };
    switch (l.class_name) {
      case 'Conv2D':
      case 'DepthwiseConv2D':
      case 'SeparableConv2D': {
        map();
        if ((cfg.groups ?? 1) !== 1) this.fail(l, `grouped convolution (groups=${cfg.groups}) is not supported`);
        const [sy, sx] = pair(cfg.strides ?? 1);
        const [dy, dx] = pair(cfg.dilation_rate ?? 1);
        const padding = this.padding(l);
        const convAttrs = {
          strides: attr.ints([1, sy, sx, 1]),
          padding: attr.str(padding),
          data_format: attr.str('NHWC'),
          dilations: attr.ints([1, dy, dx, 1]),
        };
        const steps: Step[] = [];
        let channels: number;
        const [kh, kw] = pair(cfg.kernel_size);
        if (l.class_name === 'Conv2D') {
          const k = this.weight(l, 'kernel', [kh, kw, x.shape[2], cfg.filters]);
          steps.push({ op: 'Conv2D', inputs: [-1, k], attrs: convAttrs });
          channels = cfg.filters;
        } else {
          const mult = cfg.depth_multiplier ?? 1;
          const dk = this.weight(l, 'depthwise_kernel', [kh, kw, x.shape[2], mult]);
          steps.push({ op: 'DepthwiseConv2dNative', inputs: [-1, dk], attrs: convAttrs });
          channels = x.shape[2] * mult;
          if (l.class_name === 'SeparableConv2D') {
            // Keras: the depthwise step takes strides/padding/dilation, then a 1x1 'valid' pointwise conv.
            const pk = this.weight(l, 'pointwise_kernel', [1, 1, channels, cfg.filters]);
            steps.push({
              op: 'Conv2D',
              inputs: [-1, pk],
              attrs: {
                ...convAttrs,
                strides: attr.ints([1, 1, 1, 1]),
                padding: attr.str('VALID'),
                dilations: attr.ints([1, 1, 1, 1]),
              },
            });
            channels = cfg.filters;
          }
        }
        if (cfg.use_bias ?? true)
          steps.push({
            op: 'BiasAdd',
            inputs: [-1, this.weight(l, 'bias', [channels])],
            attrs: { data_format: attr.str('NHWC') },
          });
        steps.push(...this.activation(l, cfg.activation));
        const shape = [outSize(x.shape[0], kh, sy, dy, padding), outSize(x.shape[1], kw, sx, dx, padding), channels];
        return [this.emit(name, x, steps, shape)];
      }
      case 'Dense': {
        const n = x.shape.at(-1)!;
        const steps: Step[] = [];
        let shape: number[];
        if (x.shape.length === 1) {
          const k = this.weight(l, 'kernel', [n, cfg.units]);
          steps.push({
            op: 'MatMul',
            inputs: [-1, k],
            attrs: { transpose_a: attr.b(false), transpose_b: attr.b(false) },
          });
          shape = [cfg.units];
        } else if (x.shape.length === 3) {
          // Dense over the channels of a map is a 1x1 convolution (same weights, read as [1,1,N,units]).
          const k4 = this.weight(l, 'kernel', [n, cfg.units], [1, 1, n, cfg.units]);
          steps.push({
            op: 'Conv2D',
            inputs: [-1, k4],
            attrs: {
              strides: attr.ints([1, 1, 1, 1]),
              padding: attr.str('VALID'),
              data_format: attr.str('NHWC'),
              dilations: attr.ints([1, 1, 1, 1]),
            },
          });
          shape = [x.shape[0], x.shape[1], cfg.units];
        } else {
          return this.fail(l, `expects a vector or an [H,W,C] map, got [${x.shape}]`);
        }
        if (cfg.use_bias ?? true)
          steps.push({
            op: 'BiasAdd',
            inputs: [-1, this.weight(l, 'bias', [cfg.units])],
            attrs: { data_format: attr.str('NHWC') },
          });
        steps.push(...this.activation(l, cfg.activation));
        return [this.emit(name, x, steps, shape)];
      }
      case 'BatchNormalization': {
        const axis = Array.isArray(cfg.axis) ? cfg.axis : [cfg.axis ?? -1];
        if (axis.length !== 1 || (axis[0] !== -1 && axis[0] !== x.shape.length))
          this.fail(l, `only normalisation over the last axis is supported, got axis ${JSON.stringify(cfg.axis)}`);
        const c = x.shape.at(-1)!;
        const filled = (v: number) =>
          this.g.constant(`${name}/${v ? 'gamma' : 'beta'}`, new Float32Array(c).fill(v), [c]);
        const gamma = (cfg.scale ?? true) ? this.weight(l, 'gamma', [c]) : filled(1);
        const beta = (cfg.center ?? true) ? this.weight(l, 'beta', [c]) : filled(0);
        const mean = this.weight(l, 'moving_mean', [c]);
        const variance = this.weight(l, 'moving_variance', [c]);
        return [
          this.emit(
            name,
            x,
            [
              {
                op: 'FusedBatchNormV3',
                inputs: [-1, gamma, beta, mean, variance],
                attrs: {
                  epsilon: attr.f(cfg.epsilon ?? 1e-3),
                  data_format: attr.str('NHWC'),
                  is_training: attr.b(false),
                },
              },
            ],
            x.shape,
          ),
        ];
      }
      case 'Activation':
        return [this.emit(name, x, this.activation(l, cfg.activation), x.shape)];
      case 'ReLU': {
        const slope = cfg.negative_slope ?? 0,
          max = cfg.max_value ?? null;
        if ((cfg.threshold ?? 0) !== 0) this.fail(l, `threshold ${cfg.threshold} is not supported`);
        if (slope !== 0 && max !== null) this.fail(l, 'negative_slope together with max_value is not supported');
        const steps: Step[] =
          slope !== 0
            ? [{ op: 'LeakyRelu', attrs: { alpha: attr.f(slope) } }]
            : max === 6
              ? [{ op: 'Relu6' }]
              : max === null
                ? [{ op: 'Relu' }]
                : [
                    { op: 'Relu' },
                    { op: 'Minimum', inputs: [-1, this.g.constant(`${name}/max_value`, Float32Array.of(max), [])] },
                  ];
        return [this.emit(name, x, steps, x.shape)];
      }
      case 'LeakyReLU':
        return [this.emit(name, x, [{ op: 'LeakyRelu', attrs: { alpha: attr.f(cfg.alpha ?? 0.3) } }], x.shape)];
      case 'ELU':
        if ((cfg.alpha ?? 1) !== 1) this.fail(l, `alpha ${cfg.alpha} is not supported (1 only)`);
        return [this.emit(name, x, [{ op: 'Elu' }], x.shape)];
      case 'Softmax':
        if ((cfg.axis ?? -1) !== -1 && cfg.axis !== x.shape.length)
          this.fail(l, `softmax over axis ${cfg.axis} is not supported (last axis only)`);
        return [this.emit(name, x, [{ op: 'Softmax' }], x.shape)];
      case 'ZeroPadding2D': {
        map();
        const [[t, b], [le, r]] = padding2d(cfg.padding ?? 1, (why) => this.fail(l, why));
        const p = this.g.constant(`${name}/paddings`, Int32Array.of(0, 0, t, b, le, r, 0, 0), [4, 2]);
        return [
          this.emit(name, x, [{ op: 'Pad', inputs: [-1, p] }], [x.shape[0] + t + b, x.shape[1] + le + r, x.shape[2]]),
        ];
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        map();
        const [ky, kx] = pair(cfg.pool_size ?? 2);
        const [sy, sx] = pair(cfg.strides ?? cfg.pool_size ?? 2);
        const padding = this.padding(l);
        const op = l.class_name === 'MaxPooling2D' ? 'MaxPool' : 'AvgPool';
        const attrs = {
          ksize: attr.ints([1, ky, kx, 1]),
          strides: attr.ints([1, sy, sx, 1]),
          padding: attr.str(padding),
          data_format: attr.str('NHWC'),
        };
        const shape = [outSize(x.shape[0], ky, sy, 1, padding), outSize(x.shape[1], kx, sx, 1, padding), x.shape[2]];
        return [this.emit(name, x, [{ op, attrs }], shape)];
      }
      case 'GlobalAveragePooling2D': {
        map();
        const keep = !!(cfg.keepdims ?? cfg.keep_dims);
        const axes = this.g.constant(`${name}/reduction_indices`, Int32Array.of(1, 2), [2]);
        return [
          this.emit(
            name,
            x,
            [{ op: 'Mean', inputs: [-1, axes], attrs: { keep_dims: attr.b(keep), Tidx: attr.int } }],
            keep ? [1, 1, x.shape[2]] : [x.shape[2]],
          ),
        ];
      }
      case 'Flatten': {
        if (x.shape.length === 1) return [x];
        const n = x.shape.reduce((a, b) => a * b, 1);
        return [this.reshape(name, x, [n])];
      }
      case 'Reshape': {
        const target: number[] = cfg.target_shape ?? this.fail(l, 'has no target_shape');
        const n = x.shape.reduce((a, b) => a * b, 1);
        const known = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
        const shape = target.map((d) => (d === -1 ? n / known : d));
        if (shape.reduce((a, b) => a * b, 1) !== n || !shape.every(Number.isInteger))
          this.fail(l, `cannot reshape [${x.shape}] to [${target}]`);
        return [this.reshape(name, x, shape)];
      }
      case 'Add': {
        if (ins.length < 2) this.fail(l, `expects at least two inputs, got ${ins.length}`);
        if (ins.some((t) => t.shape.join() !== x.shape.join()))
          this.fail(
            l,
            `inputs must have the same shape (broadcasting is not supported), got ${ins.map((t) => `[${t.shape}]`).join(', ')}`,
          );
        const steps: Step[] = ins
          .slice(1)
          .map((t, i) => ({ op: 'AddV2', inputs: [i === 0 ? ins[0].name : -1, t.name] }));
        return [this.emit(name, x, steps, x.shape)];
      }
      case 'Concatenate': {
        const rank = x.shape.length;
        const axis = cfg.axis ?? -1;
        const a = axis < 0 ? axis + rank : axis - 1; // without the batch dimension
        if (!(a >= 0 && a < rank)) this.fail(l, `cannot concatenate over axis ${axis} (batch or out of range)`);
        const bad = ins.find((t) => t.shape.length !== rank || t.shape.some((d, i) => i !== a && d !== x.shape[i]));
        if (bad)
          this.fail(l, `input shapes ${ins.map((t) => `[${t.shape}]`).join(', ')} do not agree outside axis ${axis}`);
        const ax = this.g.constant(`${name}/axis`, Int32Array.of(a + 1), []);
        const shape = x.shape.map((d, i) => (i === a ? ins.reduce((s, t) => s + t.shape[a], 0) : d));
        return [
          this.emit(
            name,
            x,
            [
              {
                op: 'ConcatV2',
                inputs: [...ins.map((t) => t.name), ax],
                attrs: { N: { i: String(ins.length) }, Tidx: attr.int },
              },
            ],
            shape,
          ),
        ];
      }
      default:
        return this.fail(l, `layer class not supported (supported: ${SUPPORTED_LAYERS.join(', ')})`);
    }
  }

  private reshape(name: string, x: Tensor, shape: number[]): Tensor {
    const s = this.g.constant(`${name}/shape`, Int32Array.from([-1, ...shape]), [shape.length + 1]);
    return this.emit(name, x, [{ op: 'Reshape', inputs: [-1, s], attrs: { Tshape: attr.int } }], shape);
  }

  /** Emit a layer's ops; the last one carries the layer's name (so the logits node is named after its layer). */
  private emit(name: string, x: Tensor, steps: Step[], shape: number[]): Tensor {
    if (!steps.length) return x;
    const values = [x.name];
    steps.forEach((s, i) => {
      const inputs = (s.inputs ?? [-1]).map((v) => (typeof v === 'number' ? values[values.length + v] : v));
      values.push(this.g.op(i === steps.length - 1 ? name : `${name}/${s.op}`, s.op, inputs, s.attrs));
    });
    return { name: values.at(-1)!, shape };
  }

  private activation(l: LayerJson, act: unknown): Step[] {
    const a = typeof act === 'string' ? act : ((act as Json | undefined)?.class_name ?? 'linear');
    const steps = ACTIVATIONS[String(a).replace(/^([A-Z])/, (c) => c.toLowerCase())];
    if (!steps) this.fail(l, `activation '${a}' is not supported (supported: ${Object.keys(ACTIVATIONS).join(', ')})`);
    return steps.map((s) => ({ ...s }));
  }

  private padding(l: LayerJson): 'SAME' | 'VALID' {
    const p = l.config?.padding ?? 'valid';
    if (p !== 'same' && p !== 'valid') this.fail(l, `padding '${p}' is not supported (same, valid)`);
    return p === 'same' ? 'SAME' : 'VALID'; // Keras 'same' is TF SAME: the extra pad of an odd total goes after.
  }

  /** Name of a layer's weight in the manifest: `layer/weight`, else the one name ending in `/layer/weight`. */
  private weightName(l: LayerJson, w: string): string {
    const want = `${nameOf(l)}/${w}`;
    if (this.weights.has(want)) return want;
    const hits = [...this.weights.keys()].filter((k) => k.endsWith(`/${want}`));
    if (hits.length === 1) return hits[0];
    return this.fail(
      l,
      hits.length
        ? `weight '${want}' is ambiguous (${hits.join(', ')})`
        : `weight '${want}' is not in the weights manifest`,
    );
  }

  /** A layer's weight as a graph constant (of shape `as`), checked against the shape the layer's config implies. */
  private weight(l: LayerJson, w: string, shape: number[], as = shape): string {
    const name = this.weightName(l, w);
    const t = this.weights.get(name)!;
    if (t.shape.join() !== shape.join())
      this.fail(l, `weight '${name}' has shape [${t.shape}], the layer needs [${shape}]`);
    return this.g.constant(`${nameOf(l)}/${w}`, t.values, as);
  }

  private one(l: LayerJson, ts: Tensor[]): Tensor {
    if (ts.length !== 1)
      this.fail(l, `has ${ts.length} outputs; only single-output layers are supported in a Sequential model`);
    return ts[0];
  }

  fail(l: LayerJson, why: string): never {
    throw new Error(`${this.source}: layer '${nameOf(l)}' (${l.class_name}): ${why}`);
  }
}

function nameOf(l: LayerJson): string {
  return l.config?.name ?? l.name ?? '?';
}

/** Keras 2 inbound node: [[layer, nodeIndex, tensorIndex, kwargs], ...]. */
function inboundRefs(node: unknown, fail: (why: string) => never): [string, number, number][] {
  if (!Array.isArray(node))
    return fail(`inbound node ${JSON.stringify(node).slice(0, 120)} is not in the Keras 2 format`);
  return node.map((r) => {
    if (!Array.isArray(r) || typeof r[0] !== 'string')
      return fail(`inbound reference ${JSON.stringify(r).slice(0, 120)} is not [layer, node, tensor, kwargs]`);
    return [r[0], Number(r[1] ?? 0), Number(r[2] ?? 0)];
  });
}

function pair(v: number | number[]): [number, number] {
  return Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v, v];
}

function padding2d(p: unknown, fail: (why: string) => never): [[number, number], [number, number]] {
  if (typeof p === 'number')
    return [
      [p, p],
      [p, p],
    ];
  if (Array.isArray(p) && p.length === 2) {
    if (p.every((v) => typeof v === 'number'))
      return [
        [p[0], p[0]],
        [p[1], p[1]],
      ];
    if (p.every((v) => Array.isArray(v) && v.length === 2))
      return [
        [p[0][0], p[0][1]],
        [p[1][0], p[1][1]],
      ];
  }
  return fail(`padding ${JSON.stringify(p)} is not an int, [h, w] or [[top, bottom], [left, right]]`);
}

/** TF output size: SAME ceil(in/s); VALID ceil((in - (k-1)d)/s). */
function outSize(n: number, k: number, s: number, d: number, padding: 'SAME' | 'VALID'): number {
  return padding === 'SAME' ? Math.ceil(n / s) : Math.ceil((n - (k - 1) * d) / s);
}

/** An IOHandler that hands a layers model over as graph-model artifacts (any other model passes unchanged). */
export function asGraphModel(handler: io.IOHandler, source: string): io.IOHandler {
  return {
    async load() {
      const artifacts = await handler.load!();
      return isLayersModel(artifacts) ? convertLayersModel(artifacts, source) : artifacts;
    },
  };
}

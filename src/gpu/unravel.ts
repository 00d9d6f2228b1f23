// The unravelling on the GPU: the same walk as unravelCpu (src/engine/unravel.ts), one compute dispatch per step.
// Per node a weight buffer (one f32 per output neuron, 0 = not kept); a step reads its node's buffer and adds into
// its input's. The kernels sit beside their CPU twins in src/engine/ops/*.ts.
//
// Allocated once per model: weight buffers, uniforms, conv/matmul weights. Per frame: one writeBuffer (the class
// index), clears, and the dispatches; a bind group is re-created only when an activation buffer changes.
// One-to-one ops (ReLU, reshape...) share their input's weight buffer when they are its only consumer: no dispatch.
import { commonWgsl } from '../engine/ops/common.ts';
import { convWgsl } from '../engine/ops/conv.ts';
import { matmulWgsl } from '../engine/ops/matmul.ts';
import { poolWgsl } from '../engine/ops/pool.ts';
import { addWgsl, concatWgsl, identityWgsl, padWgsl } from '../engine/ops/route.ts';
import { size } from '../engine/graph.ts';
import { resolveRules, type Graph, type GraphNode, type InputFixation, type KeptLayer, type PresetName, type Rules } from '../engine/types.ts';
import { bindGroupLayout, bufferWith, computePipeline, workgroups, type Binding } from './kernels.ts';

type Kernel = 'conv' | 'matmul' | 'pool' | 'concat' | 'add' | 'pad' | 'identity';
const KERNELS: Record<Kernel, string> = {
  conv: convWgsl, matmul: matmulWgsl, pool: poolWgsl, concat: concatWgsl, add: addWgsl, pad: padWgsl, identity: identityWgsl,
};

/** The class neuron: weight 1 at the class index of the logits buffer (index from a ring of uniform slots). */
const seedWgsl = /* wgsl */ `
struct Seed { index: u32 }
@group(0) @binding(0) var<uniform> s: Seed;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;
@compute @workgroup_size(1)
fn main() { logits[s.index] = 1.0; }
`;

/** Kept input neurons -> a short list of (flat index, weight bits), so that the readback stays small. */
const compactWgsl = /* wgsl */ `
struct Compact { n: u32, cap: u32 }
struct List { count: atomic<u32>, pad: u32, items: array<vec2<u32>> }
@group(0) @binding(0) var<uniform> p: Compact;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
@group(0) @binding(2) var<storage, read_write> list: List;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * 64u;
  if (i >= p.n) { return; }
  let w = weights[i];
  if (w == 0.0) { return; }
  let slot = atomicAdd(&list.count, 1u);
  if (slot < p.cap) { list.items[slot] = vec2<u32>(i, bitcast<u32>(w)); }
}
`;

/** Entries of the compact fixation list: 8 + 2000 * 8 bytes read back per frame at most. */
export const MAX_FIXATIONS = 2000;
/** How many encode() calls may share one queue submission (each takes its own class-index slot). */
const SEED_SLOTS = 16;

interface Step {
  label: string;
  kernel: Kernel;
  n: number;
  params: GPUBuffer;
  kept: GPUBuffer;
  next: GPUBuffer;
  /** Activations bound at 3.. (per frame), then fixed read-only buffers (weights, scale). */
  acts: string[];
  fixed: GPUBuffer[];
  bindGroup?: GPUBindGroup;
  boundActs?: GPUBuffer[];
}

export interface FixationList {
  /** Kept input neurons in network-input pixels, sorted by flat index (as unravelCpu's inputFixations). */
  fixations: InputFixation[];
  /** Number of kept input neurons; more than fixations.length when the list overflowed MAX_FIXATIONS. */
  total: number;
  truncated: boolean;
}

export class GpuUnraveller {
  /** Weight buffer of the input node: f32 per input neuron (H*W*C, NHWC), 0 = not kept. */
  readonly inputWeights: GPUBuffer;
  /** Compact list of the kept input neurons: u32 count, u32 pad, then (u32 index, f32 weight) pairs. */
  readonly fixationList: GPUBuffer;
  /** Activations encode() reads: pass a GPUBuffer for each (see gpuActivations). */
  readonly activationNames: string[];

  private readonly weightsOf = new Map<string, GPUBuffer>();
  /** Distinct weight buffers (one-to-one ops share). */
  private readonly unique: GPUBuffer[];
  private readonly steps: Step[] = [];
  private readonly owned: GPUBuffer[] = [];
  private readonly seedParams: GPUBuffer;
  private readonly seedGroup: GPUBindGroup;
  private readonly compactGroup: GPUBindGroup;
  private readonly slotBytes: number;
  private slot = 0;
  private readonly pipelines = new Map<string, Map<Kernel | 'seed' | 'compact', GPUComputePipeline>>();
  private listStaging?: GPUBuffer;
  private layerStaging?: GPUBuffer;
  private reading: Promise<unknown> = Promise.resolve();
  private destroyed = false;

  static create(device: GPUDevice, graph: Graph): GpuUnraveller {
    return new GpuUnraveller(device, graph);
  }

  private constructor(readonly device: GPUDevice, readonly graph: Graph) {
    const STORAGE = GPUBufferUsage.STORAGE;
    const consumers = new Map<string, number>();
    for (const n of graph.order) for (const i of n.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
    const limit = device.limits.maxStorageBufferBindingSize;
    const buffer = (label: string, bytes: number, usage: number) => {
      if (bytes > limit) throw new Error(`GPU unravelling: '${label}' needs ${bytes} bytes, over this device's storage binding limit ${limit}`);
      const b = device.createBuffer({ label, size: Math.max(4, bytes), usage });
      this.owned.push(b);
      return b;
    };
    const upload = (label: string, data: Float32Array | Int32Array | Uint32Array, usage: number) => {
      if (data.byteLength > limit) throw new Error(`GPU unravelling: '${label}' needs ${data.byteLength} bytes, over this device's storage binding limit ${limit}`);
      const b = bufferWith(device, label, data, usage);
      this.owned.push(b);
      return b;
    };

    // Weight buffers, producers first so that a one-to-one op can take its input's buffer.
    for (const node of [...graph.order].reverse()) {
      const only = node.kind === 'identity' && consumers.get(node.inputs[0]) === 1;
      this.weightsOf.set(node.name, only
        ? this.weightsOf.get(node.inputs[0])!
        : buffer(`weights of ${node.name}`, size(node.shape) * 4, STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST));
    }

    const acts = new Set<string>();
    const add = (node: GraphNode, kernel: Kernel, input: string, params: number[], actNames: string[] = [], fixed: GPUBuffer[] = []) => {
      actNames.forEach((a) => acts.add(a));
      const n = size(node.shape);
      this.steps.push({
        label: `${kernel} ${node.name} -> ${input}`, kernel, n,
        params: upload(`params of ${node.name}`, Int32Array.from(padTo4([n, ...params])), GPUBufferUsage.UNIFORM),
        kept: this.weightsOf.get(node.name)!, next: this.weightsOf.get(input)!, acts: actNames, fixed,
      });
    };
    const shapeOf = (name: string) => graph.byName.get(name)!.shape;
    for (const node of graph.order) {
      switch (node.kind) {
        case 'input': break;
        case 'conv': {
          const [H, W, Cin] = shapeOf(node.inputs[0]);
          const [, Wo, Cout] = node.shape;
          const want = node.kernel[0] * node.kernel[1] * Cin * (node.depthwise ? Cout / Cin : Cout);
          if (node.weights.length !== want) throw new Error(`node '${node.name}' (conv): ${node.weights.length} weights, expected ${want}`);
          const scale = node.scale ?? new Float32Array(Cout).fill(1);
          add(node, 'conv', node.inputs[0], [
            H, W, Cin, Wo, Cout, ...node.kernel, ...node.strides, ...node.dilations, ...node.pad,
            node.depthwise ? Cout / Cin : 1, node.depthwise ? 1 : 0,
          ], [node.inputs[0]], [upload(`conv weights of ${node.name}`, node.weights, STORAGE), upload(`scale of ${node.name}`, scale, STORAGE)]);
          break;
        }
        case 'matmul': {
          const N = size(shapeOf(node.inputs[0]));
          const M = node.shape.at(-1)!;
          if (node.weights.length !== N * M) throw new Error(`node '${node.name}' (matmul): ${node.weights.length} weights, expected ${N}x${M}`);
          add(node, 'matmul', node.inputs[0], [N, M, node.fromSpatial ? 1 : 0], [node.inputs[0]],
            [upload(`matmul weights of ${node.name}`, node.weights, STORAGE)]);
          break;
        }
        case 'pool': case 'gap': {
          const [H, W, C] = shapeOf(node.inputs[0]);
          const p = node.kind === 'gap'
            ? [1, H, W, 1, 1, 0, 0, 0]
            : [node.shape[1], ...node.kernel, ...node.strides, ...node.pad, node.op === 'max' ? 1 : 0];
          add(node, 'pool', node.inputs[0], [H, W, C, ...p], [node.inputs[0]]);
          break;
        }
        case 'concat': {
          const C = node.shape.at(-1)!;
          node.inputs.forEach((input, i) => add(node, 'concat', input, [C, node.offsets[i], shapeOf(input).at(-1)!]));
          break;
        }
        case 'add':
          node.inputs.forEach((input, which) => add(node, 'add', input, [which, node.skip], node.inputs));
          break;
        case 'pad': {
          const [, Wo, Co] = node.shape;
          add(node, 'pad', node.inputs[0], [Wo, Co, ...shapeOf(node.inputs[0]), ...node.before]);
          break;
        }
        case 'identity':
          if (this.weightsOf.get(node.name) !== this.weightsOf.get(node.inputs[0])) add(node, 'identity', node.inputs[0], []);
          break;
      }
    }
    this.activationNames = [...acts];
    this.unique = [...new Set(this.weightsOf.values())];

    this.inputWeights = this.weightsOf.get(graph.input.name)!;
    this.slotBytes = Math.max(256, device.limits.minUniformBufferOffsetAlignment);
    this.seedParams = buffer('class index slots', this.slotBytes * SEED_SLOTS, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.seedGroup = device.createBindGroup({
      layout: bindGroupLayout(device, ['uniform-dynamic', 'write']),
      entries: [
        { binding: 0, resource: { buffer: this.seedParams, size: 16 } },
        { binding: 1, resource: { buffer: this.weightsOf.get(graph.logits)! } },
      ],
    });
    this.fixationList = buffer('fixation list', 8 + MAX_FIXATIONS * 8, STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    this.compactGroup = device.createBindGroup({
      layout: bindGroupLayout(device, ['uniform', 'read', 'write']),
      entries: [
        { binding: 0, resource: { buffer: upload('compact params', Uint32Array.of(size(graph.input.shape), MAX_FIXATIONS, 0, 0), GPUBufferUsage.UNIFORM) } },
        { binding: 1, resource: { buffer: this.inputWeights } },
        { binding: 2, resource: { buffer: this.fixationList } },
      ],
    });
  }

  /** Weight buffer of a node (shared with its input for one-to-one ops). */
  weights(name: string): GPUBuffer {
    const b = this.weightsOf.get(name);
    if (!b) throw new Error(`GPU unravelling: no node '${name}' in the graph`);
    return b;
  }

  /**
   * Encode the whole unravelling of class `classIndex` (clear, seed, one dispatch per step, compaction).
   * `acts(name)` gives the GPUBuffer (f32 NHWC, batch 1) of each of activationNames, from the forward pass
   * this explains; they must stay alive until the submission finishes. Up to 16 encode() calls may share one
   * submission; the weight buffers then hold the last one's result (copy inputWeights out in between if needed).
   */
  encode(encoder: GPUCommandEncoder, acts: (name: string) => GPUBuffer, classIndex: number, rules: Rules | PresetName): void {
    if (this.destroyed) throw new Error('GPU unravelling: used after destroy()');
    const logitsSize = size(this.graph.byName.get(this.graph.logits)!.shape);
    if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= logitsSize) {
      throw new Error(`class index ${classIndex} is out of range 0..${logitsSize - 1} of '${this.graph.logits}'`);
    }
    const pipelines = this.pipelinesFor(resolveRules(rules));
    const buffers = new Map<string, GPUBuffer>();
    for (const name of this.activationNames) {
      const b = acts(name);
      const need = size(this.graph.byName.get(name)!.shape) * 4;
      if (!b || b.size < need) throw new Error(`GPU unravelling: activation '${name}' has ${b?.size ?? 0} bytes, needs ${need}`);
      buffers.set(name, b);
    }

    const offset = (this.slot++ % SEED_SLOTS) * this.slotBytes;
    this.device.queue.writeBuffer(this.seedParams, offset, Uint32Array.of(classIndex));
    for (const b of this.unique) encoder.clearBuffer(b);
    encoder.clearBuffer(this.fixationList, 0, 8);

    const pass = encoder.beginComputePass({ label: 'unravel' });
    pass.setPipeline(pipelines.get('seed')!);
    pass.setBindGroup(0, this.seedGroup, [offset]);
    pass.dispatchWorkgroups(1);
    for (const step of this.steps) {
      const bound = step.acts.map((a) => buffers.get(a)!);
      if (!step.bindGroup || bound.some((b, i) => b !== step.boundActs![i])) {
        step.bindGroup = this.device.createBindGroup({
          label: step.label,
          layout: bindGroupLayout(this.device, bindingsOf(step)),
          entries: [step.params, step.kept, step.next, ...bound, ...step.fixed].map((buffer, binding) => ({ binding, resource: { buffer } })),
        });
        step.boundActs = bound;
      }
      pass.setPipeline(pipelines.get(step.kernel)!);
      pass.setBindGroup(0, step.bindGroup);
      pass.dispatchWorkgroups(...workgroups(this.device, step.n));
    }
    pass.setPipeline(pipelines.get('compact')!);
    pass.setBindGroup(0, this.compactGroup);
    pass.dispatchWorkgroups(...workgroups(this.device, size(this.graph.input.shape)));
    pass.end();
  }

  /** Read back the compact fixation list (at most 8 + 16000 bytes) of the last submitted encode(). */
  readInputFixations(): Promise<FixationList> {
    const bytes = 8 + MAX_FIXATIONS * 8;
    this.listStaging ??= this.stagingBuffer('fixation list readback', bytes);
    return this.read(this.listStaging, [[this.fixationList, 0, bytes]], (data) => {
      const u = new Uint32Array(data);
      const f = new Float32Array(data);
      const total = u[0];
      const count = Math.min(total, MAX_FIXATIONS);
      const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => u[2 + 2 * a] - u[2 + 2 * b]);
      const [, W, C] = this.graph.input.shape;
      const fixations = order.map((i) => {
        const idx = u[2 + 2 * i];
        return { x: Math.floor(idx / C) % W, y: Math.floor(idx / C / W), c: idx % C, w: f[3 + 2 * i] };
      });
      return { fixations, total, truncated: total > count };
    });
  }

  /** Read back every node's kept neurons, in graph order like unravelCpu's layers (tests, layer view; large). */
  readLayers(): Promise<KeptLayer[]> {
    const unique = this.unique;
    const offsets = new Map<GPUBuffer, number>();
    let bytes = 0;
    for (const b of unique) { offsets.set(b, bytes); bytes += b.size; }
    this.layerStaging ??= this.stagingBuffer('layers readback', bytes);
    return this.read(this.layerStaging, unique.map((b) => [b, offsets.get(b)!, b.size]), (data) =>
      this.graph.order.map((node) => {
        const n = size(node.shape);
        const w = new Float32Array(data, offsets.get(this.weightsOf.get(node.name)!)!, n);
        const indices: number[] = [];
        for (let i = 0; i < n; i++) if (w[i] !== 0) indices.push(i);
        return { name: node.name, shape: node.shape, indices: Int32Array.from(indices), weights: Float32Array.from(indices, (i) => w[i]) };
      }),
    );
  }

  destroy(): void {
    this.destroyed = true;
    for (const b of this.owned) b.destroy();
    this.listStaging?.destroy();
    this.layerStaging?.destroy();
  }

  private pipelinesFor(rules: Rules) {
    const key = `${rules.location}|${rules.gap}|${rules.weights}`;
    let map = this.pipelines.get(key);
    if (map) return map;
    map = new Map();
    const COUNT = rules.weights === 'count' ? 1 : 0;
    const constants: Record<Kernel, Record<string, number>> = {
      conv: { COUNT, MAX_LOCATION: rules.location === 'max' ? 1 : 0 },
      pool: { COUNT, GAP_POSITIVE: rules.gap === 'positive' ? 1 : 0 },
      matmul: { COUNT }, concat: { COUNT }, add: { COUNT }, pad: { COUNT }, identity: { COUNT },
    };
    const readsOf = new Map(this.steps.map((s) => [s.kernel, bindingsOf(s)]));
    for (const [kernel, bindings] of readsOf) {
      map.set(kernel, computePipeline(this.device, `unravel ${kernel}`, commonWgsl + KERNELS[kernel], bindings, constants[kernel]));
    }
    map.set('seed', computePipeline(this.device, 'unravel seed', seedWgsl, ['uniform-dynamic', 'write']));
    map.set('compact', computePipeline(this.device, 'unravel compact', compactWgsl, ['uniform', 'read', 'write']));
    this.pipelines.set(key, map);
    return map;
  }

  private stagingBuffer(label: string, bytes: number): GPUBuffer {
    return this.device.createBuffer({ label, size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** Copy ranges into a staging buffer, map it, parse; serialised so that a staging buffer is mapped once at a time. */
  private read<T>(staging: GPUBuffer, copies: [GPUBuffer, number, number][], parse: (data: ArrayBuffer) => T): Promise<T> {
    const run = async () => {
      if (this.destroyed) throw new Error('GPU unravelling: used after destroy()');
      const encoder = this.device.createCommandEncoder({ label: 'unravel readback' });
      for (const [src, dst, bytes] of copies) encoder.copyBufferToBuffer(src, 0, staging, dst, bytes);
      this.device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      try {
        return parse(staging.getMappedRange().slice(0));
      } finally {
        staging.unmap();
      }
    };
    const result = this.reading.then(run, run);
    this.reading = result.catch(() => undefined);
    return result;
  }
}

/** Layout of a step: params, kept, next, then one read-only buffer per activation and fixed buffer. */
function bindingsOf(step: Step): Binding[] {
  return ['uniform', 'read', 'write', ...Array<Binding>(step.acts.length + step.fixed.length).fill('read')];
}

function padTo4(v: number[]): number[] {
  return [...v, ...Array((4 - (v.length % 4)) % 4).fill(0)];
}

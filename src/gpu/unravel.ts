// The unravelling on the GPU: the same walk as unravelCpu (src/engine/unravel.ts), one compute dispatch per step.
// Per node a dense weight buffer (two u32 per output neuron: a fixed-point sum and the kept bit, see commonWgsl) and
// the list of its kept neurons; a step
// runs one invocation per kept neuron of its node (an indirect dispatch sized by the list) and keeps input neurons
// in its input's buffers. Each op's kernel, its uniform packing and override constants sit in its op module
// (src/engine/ops/*.ts, looked up through OPS in registry.ts) beside its CPU twin; the shared part (keep, merging,
// the loop over the list) is commonWgsl in src/engine/ops/common.ts.
//
// Allocated once per model: buffers, uniforms, conv/matmul weights. Per frame: one writeBuffer (the class index or TOP),
// a scatter clear of what the previous walk kept (clearWgsl: work and bytes follow the kept neurons, not the model's
// size), and the dispatches. A step's own buffers are in its bind group 0, made once; each activation it reads is
// bound as a group of its own (1, 2...), kept per buffer (ActivationGroups): no bind group is made per frame.
// One-to-one ops (ReLU, reshape...) share their input's buffers when they are its only consumer: no dispatch.
import { commonWgsl, FIXED_WEIGHT_WGSL, fixedWeightOf } from '../engine/ops/common.ts';
import { opOf, OPS } from '../engine/ops/registry.ts';
import {
  resolveRules,
  size,
  type Graph,
  type GraphNode,
  type InputFixation,
  type KeptLayer,
  type PresetName,
  type Rules,
} from '../engine/types.ts';
import {
  bindGroupLayout,
  bufferWith,
  compilePipeline,
  computePipeline,
  gpuFaults,
  type Binding,
  type Layout,
} from './kernels.ts';
import { ACTIVATION_GROUP, ActivationGroups } from './bind-groups.ts';
import { SEED_BINDINGS, seedWgsl, TOP } from './seed.ts';
import { readback } from './readback.ts';

type Kind = GraphNode['kind'];

/**
 * Kept input neurons -> a short list of (flat index, weight bits), so that the readback stays small. Past `cap` kept
 * neurons it keeps the `cap` heaviest, ties to the lowest index (keepHeaviest() is the CPU twin), so the cut does not
 * depend on the order in which the list's slots were taken: one workgroup finds the cap-th largest 64-bit key
 * (weight as an ordered u32, then the inverted index) by a radix select over 8-bit digits, most significant first,
 * and keeps the keys at or above it. The list order does not matter: the reader sorts by index.
 */
const compactWgsl = /* wgsl */ `
struct Compact { cap: u32 }
struct KeptList { count: u32, groups: u32, gy: u32, gz: u32, index: array<u32> }
struct Out { count: u32, pad: u32, items: array<vec2<u32>> }
@group(0) @binding(0) var<uniform> p: Compact;
@group(0) @binding(1) var<storage, read> weights: array<u32>; // fixed point, two words per neuron (commonWgsl)
@group(0) @binding(2) var<storage, read> list: KeptList;
@group(0) @binding(3) var<storage, read_write> out: Out;

const WG = 256u;
var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> emitted: atomic<u32>;
var<workgroup> prefix: vec2<u32>; // the key digits chosen so far (hi: weight, lo: inverted index)
var<workgroup> need: u32;         // how many keys still to take at or below the prefix

// f32 bits in an order where larger floats give larger u32s (negative floats flipped).
fn ordered(w: f32) -> u32 {
  let b = bitcast<u32>(w);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}
${FIXED_WEIGHT_WGSL}
fn weightAt(i: u32) -> f32 { return fixedWeight(weights[2u * i], weights[2u * i + 1u]); }
fn keyOf(i: u32) -> vec2<u32> { return vec2<u32>(ordered(weightAt(i)), ~i); }
// Digit d (0 = most significant byte of hi ... 7 = least significant byte of lo) of a key.
fn digit(k: vec2<u32>, d: u32) -> u32 {
  let word = select(k.y, k.x, d < 4u);
  return (word >> (24u - 8u * (d % 4u))) & 255u;
}
// Whether a key's digits above digit d equal the prefix's.
fn matches(k: vec2<u32>, d: u32) -> bool {
  if (d == 0u) { return true; }
  if (d <= 4u) { return (k.x >> (32u - 8u * d)) == (prefix.x >> (32u - 8u * d)); }
  return k.x == prefix.x && (k.y >> (64u - 8u * d)) == (prefix.y >> (64u - 8u * d));
}
fn keyAtLeast(k: vec2<u32>, t: vec2<u32>) -> bool { return k.x > t.x || (k.x == t.x && k.y >= t.y); }

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32) {
  let n = list.count;
  if (li == 0u) { out.count = n; }
  if (n <= p.cap) {
    for (var t = li; t < n; t += WG) {
      let i = list.index[t];
      out.items[t] = vec2<u32>(i, bitcast<u32>(weightAt(i)));
    }
    return;
  }
  if (li == 0u) { prefix = vec2<u32>(0u, 0u); need = p.cap; atomicStore(&emitted, 0u); }
  workgroupBarrier();
  for (var d = 0u; d < 8u; d++) {
    atomicStore(&hist[li], 0u);
    workgroupBarrier();
    for (var t = li; t < n; t += WG) {
      let k = keyOf(list.index[t]);
      if (matches(k, d)) { atomicAdd(&hist[digit(k, d)], 1u); }
    }
    workgroupBarrier();
    if (li == 0u) {
      // The largest digit whose keys, with all larger ones, reach the count still needed.
      var above = 0u;
      var b = 255u;
      loop {
        let c = atomicLoad(&hist[b]);
        if (above + c >= need || b == 0u) { break; }
        above += c;
        b -= 1u;
      }
      need -= above;
      if (d < 4u) { prefix.x |= b << (24u - 8u * d); } else { prefix.y |= b << (24u - 8u * (d - 4u)); }
    }
    workgroupBarrier();
  }
  // prefix is now the cap-th largest key (keys are distinct: the index is part of it).
  let threshold = workgroupUniformLoad(&prefix);
  for (var t = li; t < n; t += WG) {
    let i = list.index[t];
    if (keyAtLeast(keyOf(i), threshold)) {
      let slot = atomicAdd(&emitted, 1u);
      if (slot < p.cap) { out.items[slot] = vec2<u32>(i, bitcast<u32>(weightAt(i))); }
    }
  }
}
`;

/**
 * The scatter clear: zero a node's weights at the neurons its list holds (every neuron with a non-zero weight is
 * listed: keep() lists a neuron when it sets its kept bit), one invocation per listed neuron, dispatched indirectly by
 * the list's own header; both fixed-point words of each listed neuron are zeroed.
 */
const clearWgsl = /* wgsl */ `
struct KeptList { count: u32, groups: u32, gy: u32, gz: u32, index: array<u32> }
@group(0) @binding(0) var<storage, read> list: KeptList;
@group(0) @binding(1) var<storage, read_write> weights: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  for (var t = gid.x; t < list.count; t += max(groups.x, 1u) * 64u) {
    let i = list.index[t];
    weights[2u * i] = 0u; // fixed-point hi word with the kept bit
    weights[2u * i + 1u] = 0u; // lo word
  }
}
`;

/**
 * CPU twin of the compaction's cut: the `cap` heaviest of (index, weight) pairs, ties to the lowest index, in
 * index order.
 */
export function keepHeaviest<T extends { index: number; w: number }>(items: T[], cap: number): T[] {
  if (items.length <= cap) return [...items].sort((a, b) => a.index - b.index);
  return [...items]
    .sort((a, b) => Math.fround(b.w) - Math.fround(a.w) || a.index - b.index)
    .slice(0, cap)
    .sort((a, b) => a.index - b.index);
}

/** Entries of the compact fixation list: 8 + 2000 * 8 bytes read back per frame at most. */
export const MAX_FIXATIONS = 2000;
/** How many encode() calls may share one queue submission (each takes its own class-index slot). */
const SEED_SLOTS = 16;
/** Byte offset of the indirect dispatch arguments (workgroups x, y, z) in a list buffer. */
const ARGS = 4;

/** A node's kept neurons: dense fixed-point weights (u32 hi | kept bit, lo per neuron) and the list [count, groups x, 1, 1, index...]. */
interface Store {
  weights: GPUBuffer;
  list: GPUBuffer;
  clearGroup?: GPUBindGroup;
}

interface Step {
  label: string;
  kind: Kind;
  params: GPUBuffer;
  kept: Store;
  next: Store;
  /** Activations bound per frame, each as a bind group of its own (groups 1, 2...). */
  acts: string[];
  /** Fixed read-only buffers (weights, scale), after the common bindings in group 0. */
  fixed: GPUBuffer[];
  /** Group 0: the common bindings and the fixed buffers, made once. */
  group?: GPUBindGroup;
}

export interface FixationList {
  /** Kept input neurons in network-input pixels, sorted by flat index (as unravelCpu's inputFixations). */
  fixations: InputFixation[];
  /** Number of kept input neurons; more than fixations.length when the list overflowed MAX_FIXATIONS. */
  total: number;
  /** Over MAX_FIXATIONS kept: fixations holds the MAX_FIXATIONS heaviest, ties to the lowest index (keepHeaviest). */
  truncated: boolean;
  /** The class unravelled (the seed's choice for 'top'). */
  classIndex: number;
  /** The extra ranges read with the list, in order. */
  extras: ArrayBuffer[];
  /** Bytes read back. */
  bytes: number;
}

export class GpuUnraveller {
  /** Weights of the input node: two u32 per input neuron (H*W*C, NHWC): fixed-point hi with the kept bit, lo. */
  readonly inputWeights: GPUBuffer;
  /** Kept input neurons: u32 [count, groups, 1, 1, flat index...] (count entries, in no particular order). */
  readonly inputList: GPUBuffer;
  /** Compact fixation list: u32 count, u32 class (the seed's), then (u32 flat index, f32 weight) pairs, at most MAX_FIXATIONS. */
  readonly fixationList: GPUBuffer;
  /** Activations encode() reads: pass a GPUBuffer for each (see gpuActivations); for class 'top' also the logits. */
  readonly activationNames: string[];

  private readonly stores = new Map<string, Store>();
  /** Distinct stores (one-to-one ops share their input's). */
  private readonly unique: Store[];
  private readonly steps: Step[] = [];
  private readonly owned: GPUBuffer[] = [];
  private readonly listReset: GPUBuffer;
  private readonly seedParams: GPUBuffer;
  /** The seed's group 0 (its group 1 is the frame's logits, or the placeholder). */
  private readonly seedGroup: GPUBindGroup;
  private readonly actGroups: ActivationGroups;
  private readonly noLogits: GPUBuffer;
  private readonly compactGroup: GPUBindGroup;
  private readonly slotBytes: number;
  private slot = 0;
  private readonly pipelines = new Map<string, Map<Kind | 'seed' | 'compact' | 'clear', GPUComputePipeline>>();
  /** Two staging buffers for the fixation list, used in turn: frame N+1 is copied out while frame N's is mapped. */
  private readonly listStaging: (GPUBuffer | undefined)[] = [undefined, undefined];
  /** Settles when the staging buffer of that turn is unmapped again. */
  private readonly listFree: Promise<unknown>[] = [Promise.resolve(), Promise.resolve()];
  private listTurn = 0;
  private layerStaging?: GPUBuffer;
  private reading: Promise<unknown> = Promise.resolve();
  private destroyed = false;

  /**
   * `constants(name)`: the GPUBuffer (f32, same layout) of a graph constant the model already holds on this device,
   * e.g. tfjs's copy of a conv's weights; such weights are bound from it instead of being uploaded again.
   */
  static create(device: GPUDevice, graph: Graph, constants?: (name: string) => GPUBuffer | undefined): GpuUnraveller {
    return new GpuUnraveller(device, graph, constants);
  }

  /** Bytes of the GPU buffers this unraveller created (not the model's buffers it binds). */
  get bytes(): number {
    return (
      this.owned.reduce((s, b) => s + b.size, 0) +
      this.listStaging.reduce((s, b) => s + (b?.size ?? 0), 0) +
      (this.layerStaging?.size ?? 0)
    );
  }

  private constructor(
    readonly device: GPUDevice,
    readonly graph: Graph,
    constants?: (name: string) => GPUBuffer | undefined,
  ) {
    const U = GPUBufferUsage;
    const limit = Math.min(device.limits.maxStorageBufferBindingSize, gpuFaults.unravelLimit ?? Infinity);
    const check = (label: string, bytes: number) => {
      if (bytes > limit)
        throw new Error(
          `GPU unravelling: '${label}' needs ${bytes} bytes, over this device's storage binding limit ${limit}`,
        );
    };
    const buffer = (label: string, bytes: number, usage: number) => {
      check(label, bytes);
      const b = device.createBuffer({ label, size: Math.max(4, bytes), usage });
      this.owned.push(b);
      return b;
    };
    const upload = (label: string, data: Float32Array | Int32Array | Uint32Array, usage: number) => {
      check(label, data.byteLength);
      const b = bufferWith(device, label, data, usage);
      this.owned.push(b);
      return b;
    };

    // Stores, producers first so that a one-to-one op can take its input's.
    for (const node of [...graph.order].reverse()) {
      const n = size(node.shape);
      const shared = sharesInput(graph, node);
      this.stores.set(
        node.name,
        shared
          ? this.stores.get(node.inputs[0])!
          : {
              weights: buffer(`weights of ${node.name}`, n * 8, U.STORAGE | U.COPY_SRC | U.COPY_DST),
              list: buffer(`kept list of ${node.name}`, 16 + n * 4, U.STORAGE | U.INDIRECT | U.COPY_SRC | U.COPY_DST),
            },
      );
    }
    this.unique = [...new Set(this.stores.values())];
    const clearLayout = bindGroupLayout(device, CLEAR_BINDINGS);
    for (const st of this.unique) {
      st.clearGroup = device.createBindGroup({
        label: 'unravel clear',
        layout: clearLayout,
        entries: [st.list, st.weights].map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
    }
    this.listReset = upload('kept list reset', Uint32Array.of(0, 0, 1, 1), U.COPY_SRC);

    const acts = new Set<string>();
    const noParams = upload('no params', Uint32Array.of(0, 0, 0, 0), U.UNIFORM);
    const shapeOf = (name: string) => graph.byName.get(name)!.shape;
    for (const node of graph.order) {
      const gpu = opOf(node).gpu;
      // A one-to-one op sharing its input's buffers has nothing to do.
      if (!gpu || this.stores.get(node.name) === this.stores.get(node.inputs[0])) continue;
      for (const d of gpu.dispatches(node, shapeOf)) {
        d.acts.forEach((a) => acts.add(a));
        this.steps.push({
          label: `${node.kind} ${node.name} -> ${d.input}`,
          kind: node.kind,
          params: d.params ? upload(`params of ${node.name}`, d.params, U.UNIFORM) : noParams,
          kept: this.stores.get(node.name)!,
          next: this.stores.get(d.input)!,
          acts: d.acts,
          fixed: (d.fixed ?? []).map((f) => {
            const own = f.constant ? constants?.(f.constant) : undefined;
            return own && own.size >= f.data.byteLength && own.usage & U.STORAGE
              ? own
              : upload(f.label, f.data, U.STORAGE);
          }),
        });
      }
    }
    this.activationNames = [...acts];
    this.actGroups = new ActivationGroups(device);
    for (const step of this.steps) {
      if (step.acts.length >= device.limits.maxBindGroups) {
        throw new Error(
          `GPU unravelling: '${step.label}' reads ${step.acts.length} activations, one bind group each, over this device's ${device.limits.maxBindGroups} bind groups`,
        );
      }
      step.group = device.createBindGroup({
        label: step.label,
        layout: bindGroupLayout(device, bindingsOf(step)[0]),
        entries: [step.params, step.kept.weights, step.kept.list, step.next.weights, step.next.list, ...step.fixed].map(
          (buffer, binding) => ({ binding, resource: { buffer } }),
        ),
      });
    }

    const input = this.stores.get(graph.input.name)!;
    this.inputWeights = input.weights;
    this.inputList = input.list;
    this.slotBytes = Math.max(256, device.limits.minUniformBufferOffsetAlignment);
    this.seedParams = buffer('class index slots', this.slotBytes * SEED_SLOTS, U.UNIFORM | U.COPY_DST);
    this.fixationList = buffer('fixation list', 8 + MAX_FIXATIONS * 8, U.STORAGE | U.COPY_SRC | U.COPY_DST);
    this.noLogits = buffer('no logits (seed placeholder)', size(graph.byName.get(graph.logits)!.shape) * 4, U.STORAGE);
    const logits = this.stores.get(graph.logits)!;
    this.seedGroup = device.createBindGroup({
      label: 'unravel seed',
      layout: bindGroupLayout(device, SEED_BINDINGS[0]),
      entries: [
        { buffer: this.seedParams, size: 16 },
        { buffer: logits.weights },
        { buffer: logits.list },
        { buffer: this.fixationList, size: 8 },
      ].map((resource, binding) => ({ binding, resource })),
    });
    this.compactGroup = device.createBindGroup({
      layout: bindGroupLayout(device, COMPACT_BINDINGS),
      entries: [
        upload('compact params', Uint32Array.of(MAX_FIXATIONS, 0, 0, 0), U.UNIFORM),
        input.weights,
        input.list,
        this.fixationList,
      ].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
  }

  /**
   * The compaction alone, over what the input node's buffers hold (the self-check writes them: inputWeights,
   * inputList), into fixationList; read it with readInputFixations().
   */
  encodeCompact(encoder: GPUCommandEncoder): void {
    encoder.clearBuffer(this.fixationList, 0, 8);
    const pass = encoder.beginComputePass({ label: 'unravel compact' });
    pass.setPipeline(computePipeline(this.device, 'unravel compact', compactWgsl, COMPACT_BINDINGS, {}));
    pass.setBindGroup(0, this.compactGroup);
    pass.dispatchWorkgroups(1);
    pass.end();
  }

  /** Dense weights of a node (shared with its input for one-to-one ops). */
  weights(name: string): GPUBuffer {
    return this.store(name).weights;
  }
  /** Kept list of a node: u32 [count, groups, 1, 1, flat index...]. */
  keptList(name: string): GPUBuffer {
    return this.store(name).list;
  }

  /**
   * Encode the whole unravelling of class `classIndex` (reset, seed, one dispatch per step, compaction); 'top' is
   * the argmax of the logits, chosen on the GPU (see seed.ts), so nothing waits between the forward pass and this.
   * `acts(name)` gives the GPUBuffer (f32 NHWC, batch 1) of each of activationNames, from the forward pass this
   * explains; they must stay alive until the submission finishes. Up to 16 encode() calls may share one
   * submission; the buffers then hold the last one's result (copy inputWeights out in between if needed).
   */
  encode(
    encoder: GPUCommandEncoder,
    acts: (name: string) => GPUBuffer,
    classIndex: number | 'top',
    rules: Rules | PresetName,
  ): void {
    if (this.destroyed) throw new Error('GPU unravelling: used after destroy()');
    const logitsSize = size(this.graph.byName.get(this.graph.logits)!.shape);
    if (classIndex !== 'top' && (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= logitsSize)) {
      throw new Error(`class index ${classIndex} is out of range 0..${logitsSize - 1} of '${this.graph.logits}'`);
    }
    const pipelines = this.pipelinesFor(resolveRules(rules));
    const buffers = new Map<string, GPUBuffer>();
    for (const name of this.activationNames) {
      const b = acts(name);
      const need = size(this.graph.byName.get(name)!.shape) * 4;
      if (!b || b.size < need)
        throw new Error(`GPU unravelling: activation '${name}' has ${b?.size ?? 0} bytes, needs ${need}`);
      buffers.set(name, b);
    }

    const offset = (this.slot++ % SEED_SLOTS) * this.slotBytes;
    this.device.queue.writeBuffer(
      this.seedParams,
      offset,
      Uint32Array.of(classIndex === 'top' ? TOP : classIndex, logitsSize),
    );
    // For 'top' the seed reads the logits (acts(logits)); for a given class it reads nothing: a placeholder is bound.
    let logitsAct = this.noLogits;
    if (classIndex === 'top') {
      const b = acts(this.graph.logits);
      if (!b || b.size < logitsSize * 4)
        throw new Error(
          `GPU unravelling: logits '${this.graph.logits}' have ${b?.size ?? 0} bytes, need ${logitsSize * 4}`,
        );
      logitsAct = b;
    }
    // Zero what the previous walk kept (its lists are still there), then empty the lists.
    const clear = encoder.beginComputePass({ label: 'unravel clear' });
    clear.setPipeline(pipelines.get('clear')!);
    for (const st of this.unique) {
      clear.setBindGroup(0, st.clearGroup!);
      clear.dispatchWorkgroupsIndirect(st.list, ARGS);
    }
    clear.end();
    for (const st of this.unique) encoder.copyBufferToBuffer(this.listReset, 0, st.list, 0, 16);
    encoder.clearBuffer(this.fixationList, 0, 8);

    const pass = encoder.beginComputePass({ label: 'unravel' });
    pass.setPipeline(pipelines.get('seed')!);
    pass.setBindGroup(0, this.seedGroup, [offset]);
    pass.setBindGroup(1, this.actGroups.get(logitsAct));
    pass.dispatchWorkgroups(1);
    for (const step of this.steps) {
      pass.setPipeline(pipelines.get(step.kind)!);
      pass.setBindGroup(0, step.group!);
      step.acts.forEach((a, j) => pass.setBindGroup(1 + j, this.actGroups.get(buffers.get(a)!)));
      pass.dispatchWorkgroupsIndirect(step.kept.list, ARGS);
    }
    pass.setPipeline(pipelines.get('compact')!);
    pass.setBindGroup(0, this.compactGroup);
    pass.dispatchWorkgroups(1); // one workgroup: the cut past MAX_FIXATIONS is a workgroup-wide selection
    pass.end();
  }

  /**
   * Read back the compact fixation list (at most 8 + 16000 bytes) of the last submitted encode(), with the class it
   * unravelled; `extra` buffers (e.g. the frame's top-5 scores) are copied into the same staging buffer, so that
   * one map brings everything back.
   */
  async readInputFixations(extra: { buffer: GPUBuffer; bytes: number }[] = []): Promise<FixationList> {
    return (await this.beginReadInputFixations(extra)).result;
  }

  /**
   * The pipelined form of readInputFixations(): resolves once the copies into a staging buffer are submitted (so a
   * later encode() may overwrite the list), with `result` settling when the map does. Two staging buffers are used
   * in turn; with both mapped it first waits for the older one (at most two readbacks in flight).
   */
  async beginReadInputFixations(
    extra: { buffer: GPUBuffer; bytes: number }[] = [],
  ): Promise<{ result: Promise<FixationList> }> {
    const bytes = 8 + MAX_FIXATIONS * 8;
    const copies: [GPUBuffer, number, number][] = [[this.fixationList, 0, bytes]];
    let end = bytes;
    for (const e of extra) {
      if (e.bytes % 4 || e.bytes > e.buffer.size)
        throw new Error(`GPU unravelling: cannot read ${e.bytes} bytes of a ${e.buffer.size}-byte buffer`);
      copies.push([e.buffer, end, e.bytes]);
      end += e.bytes;
    }
    const turn = this.listTurn;
    this.listTurn = 1 - turn;
    await this.listFree[turn];
    if (this.destroyed) throw new Error('GPU unravelling: used after destroy()');
    let staging = this.listStaging[turn];
    if (!staging || staging.size < end) {
      staging?.destroy();
      staging = this.listStaging[turn] = this.stagingBuffer(`fixation list readback ${turn}`, Math.max(end, 2 * bytes));
    }
    const result = this.mapAndParse(staging, copies, (data) => {
      const u = new Uint32Array(data);
      const f = new Float32Array(data);
      const extras = copies.slice(1).map(([, off, n]) => data.slice(off, off + n));
      const classIndex = u[1];
      const total = u[0];
      const count = Math.min(total, MAX_FIXATIONS);
      const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => u[2 + 2 * a] - u[2 + 2 * b]);
      const [, W, C] = this.graph.input.shape;
      const fixations = order.map((i) => {
        const idx = u[2 + 2 * i];
        return { x: Math.floor(idx / C) % W, y: Math.floor(idx / C / W), c: idx % C, w: f[3 + 2 * i] };
      });
      return { fixations, total, truncated: total > count, classIndex, extras, bytes: end };
    });
    this.listFree[turn] = result.catch(() => undefined);
    return { result };
  }

  /**
   * Read back the kept neurons of the named nodes (default: every node, in graph order like unravelCpu's layers).
   * Reads each node's dense weights (8 bytes per neuron: all of SqueezeNet is 36 MB; name the layers you need).
   */
  readLayers(names?: string[]): Promise<KeptLayer[]> {
    const nodes = names
      ? names.map((n) => {
          this.store(n);
          return this.graph.byName.get(n)!;
        })
      : this.graph.order;
    const offsets = new Map<GPUBuffer, number>();
    let bytes = 0;
    for (const node of nodes) {
      const { weights } = this.store(node.name);
      if (!offsets.has(weights)) {
        offsets.set(weights, bytes);
        bytes += weights.size;
      }
    }
    // Sized for what is read (the layer view reads one layer); grows when a read needs more, once the reads queued
    // before this one are done with the old one.
    const staging = () => {
      if (!this.layerStaging || this.layerStaging.size < bytes) {
        this.layerStaging?.destroy();
        this.layerStaging = this.stagingBuffer('layers readback', bytes);
      }
      return this.layerStaging;
    };
    return this.read(
      staging,
      [...offsets].map(([b, off]) => [b, off, b.size]),
      (data) =>
        nodes.map((node) => {
          const n = size(node.shape);
          const w = new Uint32Array(data, offsets.get(this.stores.get(node.name)!.weights)!, 2 * n);
          const indices: number[] = [];
          for (let i = 0; i < n; i++) if (w[2 * i] & 0x80000000) indices.push(i); // the kept bit, not the value
          return {
            name: node.name,
            shape: node.shape,
            indices: Int32Array.from(indices),
            weights: Float32Array.from(indices, (i) => fixedWeightOf(w[2 * i], w[2 * i + 1])),
          };
        }),
    );
  }

  destroy(): void {
    this.destroyed = true;
    for (const b of this.owned) b.destroy();
    for (const b of this.listStaging) b?.destroy();
    this.layerStaging?.destroy();
  }

  private store(name: string): Store {
    const s = this.stores.get(name);
    if (!s) throw new Error(`GPU unravelling: no node '${name}' in the graph`);
    return s;
  }

  private pipelinesFor(rules: Rules) {
    const key = pipelinesKey(rules);
    let map = this.pipelines.get(key);
    if (map) return map;
    map = new Map(this.kernels(rules).map(([kind, ...a]) => [kind, computePipeline(this.device, ...a)]));
    this.pipelines.set(key, map);
    return map;
  }

  /** Compile this graph's kernels for `rules` ahead of the first encode (at model load); rejects naming the kernel. */
  async compile(rules: Rules | PresetName = 'default'): Promise<void> {
    const r = resolveRules(rules);
    await Promise.all(this.kernels(r).map(([, ...a]) => compilePipeline(this.device, ...a)));
    this.pipelinesFor(r); // all cached now: no compilation here
  }

  /** The kernels a walk with `rules` dispatches: one per step kind, the seed and the compaction. */
  private kernels(rules: Rules) {
    const COUNT = rules.weights === 'count' ? 1 : 0;
    const out: [Kind | 'seed' | 'compact' | 'clear', string, string, Layout, Record<string, number>][] = [];
    for (const step of this.steps) {
      if (out.some(([k]) => k === step.kind)) continue;
      const gpu = OPS[step.kind].gpu!;
      out.push([
        step.kind,
        `unravel ${step.kind}`,
        commonWgsl + gpu.wgsl,
        bindingsOf(step),
        { COUNT, ...gpu.constants?.(rules) },
      ]);
    }
    out.push(
      ['seed', 'unravel seed', seedWgsl, SEED_BINDINGS, {}],
      ['compact', 'unravel compact', compactWgsl, COMPACT_BINDINGS, {}],
      ['clear', 'unravel clear', clearWgsl, CLEAR_BINDINGS, {}],
    );
    return out;
  }

  private stagingBuffer(label: string, bytes: number): GPUBuffer {
    return this.device.createBuffer({ label, size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** Copy ranges into a staging buffer, map it, parse; serialised so that a staging buffer is mapped once at a time. */
  private read<T>(
    stagingOf: GPUBuffer | (() => GPUBuffer),
    copies: [GPUBuffer, number, number][],
    parse: (data: ArrayBuffer) => T,
  ): Promise<T> {
    const run = () => {
      if (this.destroyed) throw new Error('GPU unravelling: used after destroy()');
      return this.mapAndParse(typeof stagingOf === 'function' ? stagingOf() : stagingOf, copies, parse);
    };
    const result = this.reading.then(run, run);
    this.reading = result.catch(() => undefined);
    return result;
  }

  /** Submit the copies now (queue order: before any later encode), then map `staging` (unmapped) and parse. */
  private mapAndParse<T>(
    staging: GPUBuffer,
    copies: [GPUBuffer, number, number][],
    parse: (data: ArrayBuffer) => T,
  ): Promise<T> {
    const encoder = this.device.createCommandEncoder({ label: 'unravel readback' });
    for (const [src, dst, bytes] of copies) encoder.copyBufferToBuffer(src, 0, staging, dst, bytes);
    this.device.queue.submit([encoder.finish()]);
    const bytes = copies.reduce((end, [, dst, n]) => Math.max(end, dst + n), 0);
    return readback(staging.mapAsync(GPUMapMode.READ, 0, bytes), 'the unravelling results').then(() => {
      try {
        return parse(staging.getMappedRange(0, bytes).slice(0));
      } finally {
        staging.unmap();
      }
    });
  }
}

/** A one-to-one op that is its input's only consumer shares its input's buffers (no dispatch). */
function sharesInput(graph: Graph, node: GraphNode): boolean {
  const uses = graph.order.reduce((c, n) => c + n.inputs.filter((i) => i === node.inputs[0]).length, 0);
  return !!opOf(node).gpu?.oneToOne && uses === 1;
}

/** The kinds of node the unravelling of `graph` dispatches a kernel for. */
export function kernelKinds(graph: Graph): Set<Kind> {
  return new Set(graph.order.filter((n) => opOf(n).gpu && !sharesInput(graph, n)).map((n) => n.kind));
}

const COMPACT_BINDINGS: Binding[] = ['uniform', 'read', 'read', 'write'];
const CLEAR_BINDINGS: Binding[] = ['read', 'write'];

/**
 * Layout of a step: group 0 holds params, this node's weights and list, the input's weights and list, then the fixed
 * buffers; each activation is a group of its own (binding 0), so that its bind group is per buffer, not per step.
 */
function bindingsOf(step: Step): Binding[][] {
  return [
    ['uniform', 'read', 'read', 'write', 'write', ...Array<Binding>(step.fixed.length).fill('read')],
    ...step.acts.map(() => ACTIVATION_GROUP),
  ];
}

/** One key per kernel variant the rules select. */
export const pipelinesKey = (rules: Rules) =>
  `${rules.location}|${rules.gap}|${rules.weights}|${rules.gapThreshold ?? 0}|${rules.channelRatio ?? 0}|${rules.fcThreshold ?? 0}`;

// Browser harness for the GPU unravelling tests: one tfjs-webgpu forward, then the CPU reference (unravelCpu on
// the read-back activations) and GpuUnraveller (on the GPU buffers of the very same forward), compared per layer.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { disposeForward, FixationModel, type ModelInfo } from '../../../src/engine/model.ts';
import { unravelCpu } from '../../../src/engine/unravel.ts';
import { buildGraph, size } from '../../../src/engine/graph.ts';
import {
  resolveRules,
  type Graph,
  type InputFixation,
  type PresetName,
  type Rules,
} from '../../../src/engine/types.ts';
import { gpuActivations, modelConstants, type GpuActivations } from '../../../src/gpu/activations.ts';
import { bufferWith } from '../../../src/gpu/kernels.ts';
import { GpuUnraveller, keepHeaviest, MAX_FIXATIONS } from '../../../src/gpu/unravel.ts';
import { ALL_RULES, FIXTURES, noExecSource } from '../../fixtures/graphs.ts';
import { compareLayers } from './compare.ts';
import { asGraphModel } from '../../../src/formats/layers/convert.ts';
import { readFacts, graphFacts } from '../../../src/engine/facts.ts';
import { GPU_GRAPHS } from './graphs.ts';

async function startWebGpu() {
  if (tf.getBackend() === 'webgpu') return;
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs webgpu backend did not start');
  await tf.ready();
  // Small tensors would otherwise run on the CPU and have no GPU buffer (the fallback upload is tested separately).
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  device = (tf.backend() as WebGPUBackend).device;
  void device.lost.then((l) => console.error(`WebGPU device lost (${l.reason}): ${l.message}`));
}

let fm: FixationModel;
let gpu: GpuUnraveller;
let device: GPUDevice;

async function init(modelId = 'squeezenet1_1') {
  await startWebGpu();
  const catalog = await (await fetch('/models/catalog.json')).json();
  const entry = catalog.models.find((m: { id: string }) => m.id === modelId);
  const labels = await (await fetch(`/models/${modelId}/${entry.labels}`)).json();
  const model = await loadGraphModel(`/models/${modelId}/model.json`);
  fm = FixationModel.create(model, { ...entry, labels } as ModelInfo);
  gpu = GpuUnraveller.create(device, fm.graph, modelConstants(tf.backend() as WebGPUBackend, fm));
  return { nodes: fm.graph.order.length, activations: gpu.activationNames.length };
}

/**
 * A TF.js layers model served at `url` (its model.json; shards and metadata.json beside it), through the layers
 * converter as the worker loads one: facts (labels, [-1,1]) from metadata.json, logits from the converted graph.
 */
async function initLayers(url: string) {
  await startWebGpu();
  fm?.dispose();
  gpu?.destroy();
  const model = await loadGraphModel(asGraphModel(tf.io.http(url), url));
  const facts = readFacts({
    metadata: await (await fetch(new URL('metadata.json', new URL(url, location.href)))).json(),
  });
  const logits = graphFacts(model, url).logits; // as the app finds them: the input of the final softmax, through reshapes
  fm = FixationModel.create(model, {
    id: url,
    inputSize: model.inputs[0].shape![1],
    preprocessing: facts.preprocessing!,
    logits,
    labels: facts.labels!,
  });
  gpu = GpuUnraveller.create(device, fm.graph, modelConstants(tf.backend() as WebGPUBackend, fm));
  return {
    nodes: fm.graph.order.length,
    activations: gpu.activationNames.length,
    logits,
    range: fm.info.preprocessing.range,
  };
}

async function loadImage(url: string): Promise<tf.Tensor3D> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const bitmap = await createImageBitmap(await res.blob());
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d')!;
  ctx.drawImage(bitmap, 0, 0);
  const { data } = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
  return tf.tensor3d(Int32Array.from(data), [bitmap.height, bitmap.width, 4], 'int32');
}

/** Forward once; hands the captured tensors and the read-back activations to `use`, then disposes everything. */
async function withForward<T>(
  url: string,
  use: (f: { tensors: Map<string, tf.Tensor>; acts: Map<string, Float32Array>; top: number }) => Promise<T>,
): Promise<T> {
  const image = await loadImage(url);
  const { input } = fm.preprocess(image);
  image.dispose();
  const fwd = await fm.forward(input);
  try {
    const acts = new Map<string, Float32Array>();
    for (const n of fm.graph.captures) acts.set(n, (await fwd.tensors.get(n)!.data()) as Float32Array);
    return await use({ tensors: fwd.tensors, acts, top: fm.top(fwd.probs, 1)[0].index });
  } finally {
    disposeForward(fwd);
    if (!input.isDisposed) input.dispose();
  }
}

async function runGpuOn(unr: GpuUnraveller, acts: GpuActivations, classIndex: number, rules: Rules) {
  const encoder = device.createCommandEncoder();
  unr.encode(encoder, acts.get, classIndex, rules);
  device.queue.submit([encoder.finish()]);
  return { layers: await unr.readLayers(), list: await unr.readInputFixations() };
}

function compareAll(
  graphName: string,
  cpu: ReturnType<typeof unravelCpu>,
  g: Awaited<ReturnType<typeof runGpuOn>>,
  rules: Rules,
) {
  const cmp = compareLayers(cpu.layers, g.layers, rules.weights === 'contribution');
  // The compact list must be exactly the input layer of the full readback.
  const input = g.layers[g.layers.length - 1];
  const inLayer = new Map(Array.from(input.indices, (idx, i) => [idx, input.weights[i]]));
  const listIdx = g.list.fixations.map((f) => (f.y * input.shape[1] + f.x) * input.shape[2] + f.c);
  const listMatches =
    g.list.total === input.indices.length &&
    g.list.truncated === input.indices.length > MAX_FIXATIONS &&
    listIdx.length === Math.min(input.indices.length, MAX_FIXATIONS) &&
    listIdx.every((v, i) => inLayer.get(v) === g.list.fixations[i].w && (i === 0 || v > listIdx[i - 1])) &&
    // Past MAX_FIXATIONS: exactly the heaviest of the layer, ties to the lowest index (the CPU twin of the cut).
    String(listIdx) ===
      String(
        keepHeaviest(
          Array.from(input.indices, (index, i) => ({ index, w: input.weights[i] })),
          MAX_FIXATIONS,
        ).map((f) => f.index),
      ) &&
    // With 'count' every weight is 1, so the cut goes by index alone and must equal the CPU reference's cut exactly
    // (with 'contribution' the weights agree within float rounding only: a near-tie at the cut may differ).
    (rules.weights !== 'count' ||
      String(listIdx) ===
        String(
          keepHeaviest(
            cpu.inputFixations.map((f) => ({ index: (f.y * input.shape[1] + f.x) * input.shape[2] + f.c, w: f.w })),
            MAX_FIXATIONS,
          ).map((f) => f.index),
        ));
  const bad = listIdx.findIndex(
    (v, i) => !(inLayer.get(v) === g.list.fixations[i].w && (i === 0 || v > listIdx[i - 1])),
  );
  const listWhy = listMatches
    ? null
    : {
        total: g.list.total,
        n: input.indices.length,
        len: listIdx.length,
        bad,
        at: bad >= 0 ? [listIdx[bad], listIdx[bad - 1], inLayer.get(listIdx[bad]), g.list.fixations[bad].w] : null,
      };
  return {
    graph: graphName,
    ...cmp,
    cpuFixations: cpu.inputFixations.length,
    gpuFixations: g.list.total,
    truncated: g.list.truncated,
    listMatches,
    listWhy,
  };
}

/** CPU vs GPU on one image and rule preset (or explicit rules). */
/**
 * GPU vs CPU unravelling of one image under each rule set, all on one forward pass (a SqueezeNet pass on SwiftShader
 * costs seconds), one rule set after another on the same activations, as the app does when the rules change.
 */
async function compareImage(url: string, presets: (PresetName | Rules)[]) {
  return withForward(url, async ({ tensors, acts: cpuActs, top }) => {
    const acts = gpuActivations(device, tensors, gpu.activationNames);
    try {
      const out = [];
      for (const preset of presets) {
        const rules = resolveRules(preset);
        const cpu = unravelCpu(fm.graph, (n) => cpuActs.get(n)!, top, rules);
        const g = await runGpuOn(gpu, acts, top, rules);
        // Reading a few named layers gives the same as reading them all (the layer view reads one).
        const names = [g.layers[3].name, g.layers[g.layers.length - 1].name];
        const some = await gpu.readLayers(names);
        const subsetMatches = some.every((l, i) => {
          const all = g.layers.find((x) => x.name === names[i])!;
          return (
            l.name === names[i] &&
            String(l.indices) === String(all.indices) &&
            String(l.weights) === String(all.weights)
          );
        });
        out.push({ classIndex: top, ...compareAll(fm.info.id, cpu, g, rules), subsetMatches });
      }
      return out;
    } finally {
      acts.dispose();
    }
  });
}

/** The buffers dataToGPU gives hold exactly the tensor's values (f32, NHWC, no padding or packing in front). */
async function activationsMatch(url: string) {
  return withForward(url, async ({ tensors, acts }) => {
    const g = gpuActivations(device, tensors, gpu.activationNames);
    const out: { name: string; length: number; bufferBytes: number; maxAbsDiff: number }[] = [];
    try {
      for (const name of gpu.activationNames) {
        const ref = acts.get(name)!;
        const buf = g.get(name);
        const staging = device.createBuffer({
          size: ref.byteLength,
          usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        });
        const enc = device.createCommandEncoder();
        enc.copyBufferToBuffer(buf, 0, staging, 0, ref.byteLength);
        device.queue.submit([enc.finish()]);
        await staging.mapAsync(GPUMapMode.READ);
        const got = new Float32Array(staging.getMappedRange());
        let maxAbsDiff = 0;
        for (let i = 0; i < ref.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(got[i] - ref[i]));
        staging.unmap();
        staging.destroy();
        out.push({ name, length: ref.length, bufferBytes: buf.size, maxAbsDiff });
      }
    } finally {
      g.dispose();
    }
    return out;
  });
}

/** Median times (ms) of CPU and GPU unravelling on the same forward, after warm-up. Printed, never asserted. */
async function timing(url: string, preset: PresetName, runs = 20) {
  const rules = resolveRules(preset);
  return withForward(url, async ({ tensors, acts, top }) => {
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
    const cpuT: number[] = [];
    for (let i = 0; i < runs + 3; i++) {
      const t0 = performance.now();
      unravelCpu(fm.graph, (n) => acts.get(n)!, top, rules);
      if (i >= 3) cpuT.push(performance.now() - t0);
    }
    const g = gpuActivations(device, tensors, gpu.activationNames);
    const gpuT: number[] = [];
    const gpuReadT: number[] = [];
    try {
      for (let i = 0; i < runs + 3; i++) {
        let t0 = performance.now();
        const enc = device.createCommandEncoder();
        gpu.encode(enc, g.get, top, rules);
        device.queue.submit([enc.finish()]);
        await device.queue.onSubmittedWorkDone();
        const t1 = performance.now();
        await gpu.readInputFixations();
        if (i >= 3) {
          gpuT.push(t1 - t0);
          gpuReadT.push(performance.now() - t0);
        }
        t0 = 0;
      }
    } finally {
      g.dispose();
    }
    // dataToGPU copies of the activations, per frame (part of the GPU path's cost).
    const copyT: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const a = gpuActivations(device, tensors, gpu.activationNames);
      await device.queue.onSubmittedWorkDone();
      a.dispose();
      copyT.push(performance.now() - t0);
    }
    return {
      cpuMs: median(cpuT),
      gpuMs: median(gpuT),
      gpuWithReadbackMs: median(gpuReadT),
      activationCopyMs: median(copyT),
    };
  });
}

/**
 * A hand-built fixture graph (tests/fixtures/graphs.ts) through tfjs-webgpu: CPU vs GPU for every rule combination
 * and every logit neuron (up to 128), and the GPU result against the fixture's hand-worked fixations.
 * cpuForward: let tfjs run these tiny graphs on the CPU, so that activations have no GPU buffer (upload path).
 */
async function compareFixture(name: string, opts: { cpuForward?: boolean; maxClasses?: number; rules?: Rules[] } = {}) {
  await startWebGpu();
  tf.env().set('WEBGPU_CPU_FORWARD', opts.cpuForward ?? false);
  const make = FIXTURES[name] ?? GPU_GRAPHS[name];
  if (!make) throw new Error(`no fixture graph '${name}'`);
  const fx = make();
  let graph: Graph;
  let cpuActs: Map<string, Float32Array>;
  let acts: GpuActivations;
  let cleanup = () => {};
  if (fx.noExec) {
    // tfjs cannot run this graph: the fixture gives the activations by hand.
    graph = buildGraph(noExecSource(fx));
    cpuActs = new Map(Object.entries(fx.noExec.activations));
    const bufs = new Map([...cpuActs].map(([n, a]) => [n, bufferWith(device, n, a, GPUBufferUsage.STORAGE)]));
    acts = { get: (n) => bufs.get(n)!, dispose: () => bufs.forEach((b) => b.destroy()) };
  } else {
    const model = await loadGraphModel({ load: async () => fx.artifacts });
    const fxm = FixationModel.create(model, fx.info);
    graph = fxm.graph;
    const { height, width, channels } = fxm.input;
    const input = tf.tensor4d(fx.input, [1, height, width, channels]);
    const fwd = await fxm.forward(input);
    cpuActs = new Map();
    for (const n of graph.captures) cpuActs.set(n, (await fwd.tensors.get(n)!.data()) as Float32Array);
    acts = gpuActivations(device, fwd.tensors, graph.captures);
    cleanup = () => {
      disposeForward(fwd, [input]);
      input.dispose();
      fxm.dispose();
    };
  }
  const unr = GpuUnraveller.create(device, graph);
  const classes = Math.min(size(graph.byName.get(graph.logits)!.shape), opts.maxClasses ?? 128);
  let runs = 0,
    minJaccard = 1,
    maxRelErr = 0,
    expectedChecked = 0,
    truncated = 0;
  const failures: string[] = [];
  try {
    // Graphs with an average pool also run the 'positive' rules with a threshold, graphs with a (non-depthwise)
    // conv every rule with channelRatio, graphs with an FC on a vector every rule with fcThreshold; and every
    // rule set of the fixture's hand-worked cases.
    const has = (f: (n: Graph['order'][number]) => boolean) => graph.order.some(f);
    const pooled = has((n) => n.kind === 'gap' || (n.kind === 'pool' && n.op === 'avg'));
    const list = [
      ...ALL_RULES,
      ...(pooled ? ALL_RULES.filter((r) => r.gap === 'positive').map((r) => ({ ...r, gapThreshold: 0.5 })) : []),
      ...(has((n) => n.kind === 'conv' && !n.depthwise) ? ALL_RULES.map((r) => ({ ...r, channelRatio: 0.25 })) : []),
      ...(has((n) => n.kind === 'matmul' && !n.fromSpatial) ? ALL_RULES.map((r) => ({ ...r, fcThreshold: 0.5 })) : []),
    ];
    for (const e of fx.expected) if (!list.some((r) => sameRules(r, e.rules))) list.push(e.rules);
    for (const rules of opts.rules ?? list) {
      for (let ci = 0; ci < classes; ci++) {
        const cpu = unravelCpu(graph, (n) => cpuActs.get(n)!, ci, rules);
        const g = await runGpuOn(unr, acts, ci, rules);
        const r = compareAll(name, cpu, g, rules);
        runs++;
        if (r.truncated) truncated++;
        minJaccard = Math.min(minJaccard, r.minJaccard);
        maxRelErr = Math.max(maxRelErr, r.maxRelErr);
        const tag = `${name} class ${ci} ${JSON.stringify(rules)}`;
        if (r.minJaccard < 1 || !r.listMatches)
          failures.push(`${tag}: ${JSON.stringify(r.worst)} list ${r.listMatches}`);
        for (const e of fx.expected.filter((e) => e.classIndex === ci && sameRules(e.rules, rules))) {
          expectedChecked++;
          const bad = diffFixations(g.list.fixations, e.fixations);
          if (bad) failures.push(`${tag}: hand-worked fixations ${bad}`);
        }
      }
    }
  } finally {
    unr.destroy();
    acts.dispose();
    cleanup();
    tf.env().set('WEBGPU_CPU_FORWARD', false);
  }
  return {
    fixture: name,
    nodes: graph.order.length,
    classes,
    runs,
    minJaccard,
    maxRelErr,
    truncated,
    expectedChecked,
    expectedTotal: fx.expected.length,
    failures,
  };
}

function sameRules(a: Rules, b: Rules) {
  return (
    a.location === b.location &&
    a.gap === b.gap &&
    a.weights === b.weights &&
    (a.gapThreshold ?? 0) === (b.gapThreshold ?? 0) &&
    (a.channelRatio ?? 0) === (b.channelRatio ?? 0) &&
    (a.fcThreshold ?? 0) === (b.fcThreshold ?? 0)
  );
}
/** null if the same neurons with weights within 1e-5, else a description. */
function diffFixations(got: InputFixation[], want: InputFixation[]): string | null {
  const k = (f: InputFixation) => `${f.x},${f.y},${f.c}`;
  const g = new Map(got.map((f) => [k(f), f.w]));
  const ok = got.length === want.length && want.every((f) => g.has(k(f)) && Math.abs(g.get(k(f))! - f.w) <= 1e-5);
  return ok ? null : `got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`;
}

/** Bad input to the SqueezeNet unraveller: the error messages (each call must throw). */
async function errors() {
  const out: string[] = [];
  const attempt = async (f: () => unknown) => {
    try {
      await f();
      out.push('no error');
    } catch (e) {
      out.push((e as Error).message);
    }
  };
  const tiny = device.createBuffer({ size: 4, usage: GPUBufferUsage.STORAGE });
  const enc = () => device.createCommandEncoder();
  await attempt(() => gpu.encode(enc(), () => tiny, 1000, 'default'));
  await attempt(() => gpu.encode(enc(), () => tiny, 1.5, 'default'));
  await attempt(() => gpu.encode(enc(), () => tiny, 3, 'default'));
  await attempt(() =>
    gpu.encode(enc(), () => tiny, 3, { location: 'centre', gap: 'argmax', weights: 'count' } as unknown as Rules),
  );
  await attempt(() => gpu.readLayers(['no/such/node']));
  tiny.destroy();
  return out;
}

/**
 * Memory of a catalog model on the GPU path: the bytes of GPU buffers its unraveller creates with the model's conv
 * and matmul weights bound from tfjs's buffers (`shared`) and with copies of its own (`copied`, as before), the
 * bytes of those weights in the graph, the layer-readback staging after reading one layer and after reading all,
 * and the model.json weight bytes tfjs held for model.save() (dropped by FixationModel.create).
 */
async function memoryOf(modelId: string) {
  await startWebGpu();
  const catalog = await (await fetch('/models/catalog.json')).json();
  const entry = catalog.models.find((m: { id: string }) => m.id === modelId);
  const model = await loadGraphModel(`/models/${modelId}/model.json`);
  const weightData =
    (model as unknown as { artifacts: { weightData?: ArrayBuffer } }).artifacts.weightData?.byteLength ?? 0;
  const m = FixationModel.create(model, { ...entry, labels: [] } as ModelInfo);
  const heldAfter =
    (m.model as unknown as { artifacts: { weightData?: ArrayBuffer } }).artifacts.weightData?.byteLength ?? 0;
  const copy = GpuUnraveller.create(device, m.graph);
  const shared = GpuUnraveller.create(device, m.graph, modelConstants(tf.backend() as WebGPUBackend, m));
  try {
    const before = shared.bytes;
    const last = m.graph.order[m.graph.order.length - 1].name;
    await shared.readLayers([last]);
    const oneLayer = shared.bytes - before;
    await shared.readLayers();
    const allLayers = shared.bytes - before;
    const weights = m.graph.order.reduce(
      (s, n) => s + ((n.kind === 'conv' || n.kind === 'matmul') && n.source ? n.weights.byteLength : 0),
      0,
    );
    return { copied: copy.bytes, shared: before, weights, oneLayer, allLayers, weightData, heldAfter };
  } finally {
    copy.destroy();
    shared.destroy();
    m.dispose();
  }
}

function graphOf(): Graph {
  return fm.graph;
}
function fixtureNames() {
  return { fixtures: Object.keys(FIXTURES), gpu: Object.keys(GPU_GRAPHS) };
}

const api = {
  init,
  initLayers,
  memoryOf,
  errors,
  compareImage,
  activationsMatch,
  timing,
  graphOf,
  compareFixture,
  fixtureNames,
};
declare global {
  interface Window {
    harness: typeof api;
    harnessReady: boolean;
  }
}
window.harness = api;
window.harnessReady = true;

// Page module for sparse-webgl.spec.ts: the fallback's on-demand reads (src/worker/sparse-unravel.ts) on tfjs's WebGL
// backend in the page, against unravelCpu on the same activations read whole. The unit test runs the same on
// tfjs-wasm (the picks as tf ops); here the 1x1 convs' picks run as the WebGL programs of sparse-picks-webgl.ts, as in
// the worker.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { disposeForward, FixationModel } from '../../../src/engine/model.ts';
import { resolveRules, type KeptLayer, type Rules } from '../../../src/engine/types.ts';
import { unravelCpu } from '../../../src/engine/unravel.ts';
import { SparseActivations } from '../../../src/worker/sparse-unravel.ts';

/** The first difference between two walks' kept layers (indices, then weights bit for bit), or null. */
function firstDifference(want: KeptLayer[], got: KeptLayer[]): string | null {
  if (want.length !== got.length) return `${got.length} layers, expected ${want.length}`;
  for (let l = 0; l < want.length; l++) {
    const [a, b] = [want[l], got[l]];
    if (a.name !== b.name || a.indices.length !== b.indices.length)
      return `layer ${a.name}: ${b.indices.length} kept, expected ${a.indices.length}`;
    for (let i = 0; i < a.indices.length; i++) {
      if (a.indices[i] !== b.indices[i]) return `layer ${a.name}: neuron ${b.indices[i]}, expected ${a.indices[i]}`;
      if (!Object.is(a.weights[i], b.weights[i]))
        return `layer ${a.name}: weight ${b.weights[i]} of ${a.indices[i]}, expected ${a.weights[i]}`;
    }
  }
  return null;
}

/** `over`: rules over the catalog's (e.g. a low channelRatio, under which 1x1 rows go unsettled and are read whole). */
export async function sparseVsWhole(modelId: string, imageUrl: string, over: Partial<Rules> = {}) {
  if (!(await tf.setBackend('webgl'))) throw new Error('no WebGL backend in this page');
  const catalog = await (await fetch('/models/catalog.json')).json();
  const e = catalog.models.find((m: { id: string }) => m.id === modelId);
  const labels = await (await fetch(`/models/${e.id}/${e.labels}`)).json();
  const gm = await loadGraphModel(`/models/${e.id}/model.json`);
  const fm = FixationModel.create(gm, {
    id: e.id,
    inputSize: e.inputSize,
    preprocessing: e.preprocessing,
    logits: e.logits,
    probs: e.probs,
    labels,
    rules: e.rules,
  });
  const bmp = await createImageBitmap(await (await fetch(imageUrl)).blob());
  const img = tf.browser.fromPixels(bmp);
  const { input } = fm.preprocess(img, 'crop');
  img.dispose();
  const f = await fm.forward(input);
  const sparse = new SparseActivations(fm.graph);
  try {
    const whole = new Map([...f.tensors].map(([n, t]) => [n, t.dataSync() as Float32Array]));
    const logits = whole.get(fm.graph.logits)!;
    let top = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[top]) top = i;
    const rules = resolveRules('default', over, fm.info.rules);
    const want = unravelCpu(fm.graph, (n) => whole.get(n)!, top, rules);
    const got = await sparse.unravel(f.tensors, top, rules);
    return {
      backend: tf.getBackend(),
      top,
      fixations: want.inputFixations.length,
      difference: firstDifference(want.layers, got.layers),
      bytes: sparse.bytes,
      reads: sparse.reads,
      unsettled: sparse.unsettled,
    };
  } finally {
    sparse.dispose();
    disposeForward(f, [input]);
    input.dispose();
    fm.dispose();
  }
}

// The fallback path, for browsers without WebGPU: WebGL (or wasm) inference, the activations read back, the CPU
// reference unravelling (unravelCpu), the CPU heatmap and colormap, drawn with a 2D context into the same
// OffscreenCanvas. Same requests, same results; path 'fallback'.
import * as tf from '@tensorflow/tfjs-core';
import { colorize } from '../src/engine/colormap.ts';
import type { FixationModel } from '../src/engine/model.ts';
import { DEFAULT_POST, heatmap, peak } from '../src/engine/post.ts';
import { resolveRules } from '../src/engine/types.ts';
import { unravelCpu } from '../src/engine/unravel.ts';
import { CLASS_COLORS, type Backend, type ExplainRequest, type ExplainedClass, type FrameResult } from './api.ts';
import { baselineClasses, baselineNames, disposeAll, forwardFrame, Laps } from './frame.ts';
import { classColor, framePoints, labelOf, layerCells, overlayOptions, requestedClasses, sceneRects, type ClassScene } from './scene.ts';
import { topK } from '../src/engine/model.ts';

export class FallbackPath {
  readonly name = 'fallback' as const;
  private ctx: OffscreenCanvasRenderingContext2D | null = null;
  /** The smoothed heat drawn last (overlay.smoothing), as the GPU path's EMA buffer. */
  private ema: Float32Array | null = null;
  /** Why there is no overlay, if there is none despite a canvas. */
  readonly note?: string;

  constructor(readonly backend: Backend, readonly fm: FixationModel, readonly canvas: OffscreenCanvas | null) {
    if (canvas) {
      this.ctx = canvas.getContext('2d');
      if (!this.ctx) this.note = 'the overlay canvas already has a WebGPU context: no overlay on the fallback path';
    }
  }

  async explain(frame: ImageBitmap | VideoFrame, req: ExplainRequest): Promise<FrameResult> {
    const fm = this.fm;
    const o = overlayOptions(req.overlay);
    const rules = resolveRules(req.rules ?? 'default');
    const method = req.method ?? 'fixations';
    const laps = new Laps();
    let bytes = 0;
    const frameTensors: tf.Tensor[] = [];
    try {
      const { fw, fh, transform, tensors } = await forwardFrame(fm, frame, req.fit ?? 'crop', laps, frameTensors);
      // Reading the probabilities waits for the forward pass: it counts as forward time.
      const probsT = fm.info.probs ? tensors.get(fm.info.probs)! : tf.softmax(tf.reshape(tensors.get(fm.info.logits)!, [-1]));
      if (!fm.info.probs) frameTensors.push(probsT);
      const probs = (await probsT.data()) as Float32Array;
      bytes += probs.byteLength;
      laps.mark('forward');

      const top = topK(probs, 5).map((index) => ({ index, label: labelOf(fm, index), prob: probs[index] }));
      const classes = requestedClasses(req, top[0].index, probs.length);
      const acts = new Map<string, Float32Array>();
      for (const n of method === 'fixations' ? fm.graph.captures : baselineNames(fm, method)) {
        const a = (await tensors.get(n)!.data()) as Float32Array;
        acts.set(n, a);
        bytes += a.byteLength;
      }
      laps.mark('readback');

      const overlaySize = this.canvas && this.canvas.width > 0 && this.canvas.height > 0
        ? { width: this.canvas.width, height: this.canvas.height } : { width: fw, height: fh };
      const { width, height } = overlaySize;
      const sx = width / fw, sy = height / fh;
      const explained: ExplainedClass[] = [];
      const scenes: ClassScene[] = [];
      let layers: FrameResult['layers'] = [];
      let map: Float32Array;
      if (method === 'fixations') {
        const results = classes.map((c) => unravelCpu(fm.graph, (n) => acts.get(n)!, c, rules));
        laps.mark('unravel');
        results.forEach((r, i) => {
          const { fixations, box } = framePoints(r.inputFixations, transform);
          const scene: ClassScene = { color: classColor(i), fixations, box };
          if (o.layer) {
            const l = r.layers.find((x) => x.name === o.layer);
            if (!l) throw new Error(`overlay.layer: no layer '${o.layer}' in the model`);
            scene.cells = layerCells(fm.graph, o.layer, l.indices, transform);
          }
          scenes.push(scene);
          explained.push({
            class: { index: classes[i], label: labelOf(fm, classes[i]), prob: probs[classes[i]] },
            color: CLASS_COLORS[i], inputFixations: r.inputFixations, fixations, box, peak: null,
          });
        });
        layers = results[0].layers.map((l) => ({ name: l.name, count: l.indices.length, shape: l.shape, ...(req.withLayers ? { indices: l.indices } : {}) }));
        // The heatmap is the first class's, as on the GPU path.
        map = heatmap(scenes[0].fixations.map((p) => ({ x: p.x * sx, y: p.y * sy, w: p.w })), width, height, DEFAULT_POST.sigma);
        const [px, py] = peak(map, width);
        explained[0].peak = [px / sx, py / sy];
      } else {
        const maps = baselineClasses(fm, acts, classes, method, transform, width, height);
        laps.mark('unravel');
        maps.forEach((m, i) => {
          scenes.push({ color: classColor(i), fixations: [], box: m.box });
          explained.push({
            class: { index: classes[i], label: labelOf(fm, classes[i]), prob: probs[classes[i]] },
            color: CLASS_COLORS[i], inputFixations: [], fixations: [], box: m.box, peak: m.peak,
          });
        });
        map = maps[0].map;
      }

      // EMA over frames, as on the GPU: a new size (or smoothing 0) starts over from this frame.
      const s = o.smoothing;
      if (s > 0 && this.ema?.length === map.length) for (let i = 0; i < map.length; i++) this.ema[i] = s * this.ema[i] + (1 - s) * map[i];
      else this.ema = map.slice();
      if (this.ctx) this.draw(this.ctx, this.ema, overlaySize, sceneRects(scenes, { width: fw, height: fh }, overlaySize, o), o);
      laps.mark('heatmap');
      return {
        top, explained, path: 'fallback', backend: this.backend, method, frameSize: { width: fw, height: fh },
        layers, timings: laps.done(), readbackBytes: bytes,
      };
    } finally {
      disposeAll(frameTensors);
    }
  }

  private draw(ctx: OffscreenCanvasRenderingContext2D, map: Float32Array, size: { width: number; height: number },
    rects: ReturnType<typeof sceneRects>, o: ReturnType<typeof overlayOptions>) {
    ctx.clearRect(0, 0, size.width, size.height);
    if (o.heatmap) ctx.putImageData(new ImageData(colorize(map, o.colormap, o.opacity), size.width, size.height), 0, 0);
    for (const r of rects) {
      ctx.fillStyle = `rgba(${r.color.slice(0, 3).map((c) => Math.round(c * 255)).join(',')},${r.color[3]})`;
      ctx.fillRect(r.x0, r.y0, r.x1 - r.x0, r.y1 - r.y0);
    }
  }

  destroy() {
    this.ctx?.clearRect(0, 0, this.canvas!.width, this.canvas!.height);
  }
}

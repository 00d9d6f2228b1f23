// The GPU path: WebGPU inference, WGSL unravelling on the activations in place, WGSL heatmap, overlay drawn by a
// render pass into the OffscreenCanvas (same device). Per frame only these come back to the CPU: top-5 probs and
// the requested classes' probs (4 * (10 + k) bytes), the compact fixation list (<= 16008 bytes per class), and the
// heatmap peak (8 bytes). Layer view and withLayers add the per-layer kept sets; CAM/Grad-CAM read their maps.
import * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_POST, heatGrid, rescalePoints } from '../src/engine/post.ts';
import type { FixationModel } from '../src/engine/model.ts';
import { resolveRules, type Fixation } from '../src/engine/types.ts';
import { flushTf, type GpuContext } from '../src/gpu/device.ts';
import { GpuHeatmap } from '../src/gpu/heatmap.ts';
import { GpuOverlay, type Rect } from '../src/gpu/overlay.ts';
import { CLASS_COLORS, type Colormap, type ExplainRequest, type ExplainedClass, type FrameResult } from './api.ts';
import { baselineClasses, baselineNames, disposeAll, forwardFrame, Laps } from './frame.ts';
import { classColor, framePoints, labelOf, layerCells, overlayOptions, requestedClasses, sceneRects, type ClassScene } from './scene.ts';
import { CpuUnravelSeam, GpuUnravelSeam, type UnravelSeam } from './unravel-seam.ts';

export class GpuPath {
  readonly name = 'gpu' as const;
  readonly backend = 'webgpu' as const;
  readonly heatmap: GpuHeatmap;
  readonly overlay: GpuOverlay;
  readonly unravel: UnravelSeam;
  /** Why the CPU unravelling is used on this path, if it is. */
  readonly note?: string;
  private context: GPUCanvasContext | null = null;
  private format: GPUTextureFormat = 'rgba8unorm';
  private last: { width: number; height: number; rects: Rect[]; heat: boolean; colormap: Colormap; opacity: number } | null = null;

  constructor(readonly gpu: GpuContext, readonly fm: FixationModel, readonly canvas: OffscreenCanvas | null) {
    this.heatmap = new GpuHeatmap(gpu.device);
    this.overlay = new GpuOverlay(gpu.device);
    let seam: UnravelSeam;
    try {
      seam = GpuUnravelSeam.create(gpu.backend, fm);
    } catch (e) {
      seam = new CpuUnravelSeam(fm);
      this.note = `WGSL unravelling unavailable for this model (${(e as Error).message}); using the CPU reference`;
    }
    this.unravel = seam;
    if (canvas) {
      const ctx = canvas.getContext('webgpu');
      if (!ctx) throw new Error('the overlay canvas has no WebGPU context (it already has another kind of context)');
      this.format = navigator.gpu.getPreferredCanvasFormat();
      ctx.configure({ device: gpu.device, format: this.format, alphaMode: 'premultiplied' });
      this.context = ctx;
    }
  }

  async explain(frame: ImageBitmap | VideoFrame, req: ExplainRequest): Promise<FrameResult> {
    const { device, backend } = this.gpu;
    const fm = this.fm;
    const o = overlayOptions(req.overlay);
    const rules = resolveRules(req.rules ?? 'default');
    const method = req.method ?? 'fixations';
    const laps = new Laps(req.timing ? () => { flushTf(backend); return device.queue.onSubmittedWorkDone(); } : undefined);
    let bytes = 0;
    const frameTensors: tf.Tensor[] = [];
    try {
      const { fw, fh, transform, tensors } = await forwardFrame(fm, frame, req.fit ?? 'crop', laps, frameTensors);
      const numClasses = tensors.get(fm.info.logits)!.size;
      const explicit = req.classes === undefined || req.classes === 'top' ? [] : requestedClasses(req, 0, numClasses);
      // One small readback: top-5 probabilities and indices, then the probabilities of explicitly requested classes.
      const summary = tf.tidy(() => {
        const flat = fm.info.probs ? tf.reshape(tensors.get(fm.info.probs)!, [-1]) : tf.softmax(tf.reshape(tensors.get(fm.info.logits)!, [-1]));
        const k = Math.min(5, numClasses);
        const { values, indices } = tf.topk(flat, k);
        const parts = [values, tf.cast(indices, 'float32')];
        if (explicit.length) parts.push(tf.gather(flat, tf.tensor1d(explicit, 'int32')));
        return tf.concat(parts);
      });
      frameTensors.push(summary);
      await laps.lap('forward');

      const s = (await summary.data()) as Float32Array;
      bytes += s.byteLength;
      laps.mark('readback');
      const k = Math.min(5, numClasses);
      const top = Array.from({ length: k }, (_, i) => Math.round(s[k + i])).map((index, i) => ({ index, label: labelOf(fm, index), prob: s[i] }));
      const classes = explicit.length ? explicit : [top[0].index];
      const probOf = (i: number) => (explicit.length ? s[2 * k + i] : s[0]);

      const overlaySize = this.canvas && this.canvas.width > 0 && this.canvas.height > 0
        ? { width: this.canvas.width, height: this.canvas.height } : { width: fw, height: fh };
      // The heatmap (and its EMA) lives on a working grid; the overlay pass upsamples it. Points and boxes stay exact.
      const frameSize = { width: fw, height: fh };
      const grid = heatGrid(overlaySize.width, overlaySize.height);
      const hp = { ...grid, sigma: DEFAULT_POST.sigma, smoothing: o.smoothing };
      const explained: ExplainedClass[] = [];
      const scenes: ClassScene[] = [];
      let layers: FrameResult['layers'] = [];
      const encoder = device.createCommandEncoder({ label: 'heatmap+overlay' });
      let peakFromGpu = false;

      if (method === 'fixations') {
        if (o.layer && !fm.graph.byName.has(o.layer)) throw new Error(`overlay.layer: no layer '${o.layer}' in the model`);
        // The layer view needs only its layer's kept set; withLayers all of them (a large readback).
        const wantLayers = req.withLayers ? 'all' : o.layer ? [o.layer] : null;
        for (let i = 0; i < classes.length; i++) {
          await this.unravel.run(tensors, classes[i], rules);
          await laps.lap('unravel');
          const u = await this.unravel.read(wantLayers);
          bytes += u.bytes;
          laps.mark('readback');
          const { fixations, box } = framePoints(u.input, transform);
          const scene: ClassScene = { color: classColor(i), fixations, box };
          if (o.layer && u.layers) {
            const l = u.layers.find((x) => x.name === o.layer);
            if (!l) throw new Error(`overlay.layer: no layer '${o.layer}' in the model`);
            scene.cells = layerCells(fm.graph, o.layer, l.indices, transform);
          }
          if (i === 0 && u.layers) {
            layers = u.layers.map((l) => ({ name: l.name, count: l.indices.length, shape: l.shape, ...(req.withLayers ? { indices: l.indices } : {}) }));
          }
          scenes.push(scene);
          explained.push({
            class: { index: classes[i], label: labelOf(fm, classes[i]), prob: probOf(i) },
            color: CLASS_COLORS[i], inputFixations: u.input, fixations, box, peak: null,
          });
        }
        // The heatmap is the first class's (the others show as points and boxes in their colours).
        this.heatmap.encodePoints(encoder, rescalePoints(scenes[0].fixations, frameSize, grid), hp);
        peakFromGpu = true;
      } else {
        // Baselines: not the hot path; their maps come from read-back activations, drawn by the same GPU passes.
        const acts = new Map<string, Float32Array>();
        for (const n of baselineNames(fm, method)) {
          const a = (await tensors.get(n)!.data()) as Float32Array;
          acts.set(n, a);
          bytes += a.byteLength;
        }
        laps.mark('readback');
        // Made at the working grid: the CAM is itself upsampled from the last conv layer (13x13 for SqueezeNet).
        const maps = baselineClasses(fm, acts, classes, method, transform, grid.width, grid.height);
        await laps.lap('unravel');
        maps.forEach((m, i) => {
          scenes.push({ color: classColor(i), fixations: [], box: m.box });
          explained.push({
            class: { index: classes[i], label: labelOf(fm, classes[i]), prob: probOf(i) },
            color: CLASS_COLORS[i], inputFixations: [], fixations: [], box: m.box, peak: m.peak,
          });
        });
        this.heatmap.encodeMap(encoder, maps[0].map, hp);
      }

      const rects = sceneRects(scenes, frameSize, overlaySize, o);
      this.last = { ...overlaySize, rects, heat: o.heatmap, colormap: o.colormap, opacity: o.opacity };
      if (this.context) {
        const tex = this.context.getCurrentTexture();
        this.overlay.draw(encoder, tex.createView(), this.format, tex.width, tex.height,
          o.heatmap ? this.heatLayer(o.colormap, o.opacity) : null, rects);
      }
      device.queue.submit([encoder.finish()]);
      await laps.lap('heatmap');
      if (peakFromGpu) {
        const p = await this.heatmap.readPeak();
        bytes += p.bytes;
        const [peak] = rescalePoints([{ ...p, w: 0 }], grid, frameSize); // cell centre -> frame pixel
        explained[0].peak = [peak.x, peak.y];
      }
      laps.mark('readback');

      return {
        top, explained, path: 'gpu', backend: 'webgpu', method, frameSize: { width: fw, height: fh },
        layers, timings: laps.done(), readbackBytes: bytes,
      };
    } finally {
      disposeAll(frameTensors);
    }
  }

  /** Test path: the heatmap of these points, drawn offscreen through the overlay pass and read back. */
  async heatmapPixels(points: Fixation[], width: number, height: number, colormap: Colormap, opacity: number, sigma = DEFAULT_POST.sigma) {
    const hm = new GpuHeatmap(this.gpu.device);
    try {
      const enc = this.gpu.device.createCommandEncoder();
      hm.encodePoints(enc, points, { width, height, sigma, smoothing: 0 });
      this.gpu.device.queue.submit([enc.finish()]);
      return await this.overlay.drawOffscreen(width, height, { buffer: hm.heat, width, height, colormap, opacity }, []);
    } finally {
      hm.destroy();
    }
  }

  /** Test path: the last frame's overlay drawn again offscreen. */
  async lastOverlayPixels() {
    const l = this.last;
    if (!l) throw new Error('no frame explained yet');
    const pixels = await this.overlay.drawOffscreen(l.width, l.height,
      l.heat ? this.heatLayer(l.colormap, l.opacity) : null, l.rects);
    return { width: l.width, height: l.height, pixels };
  }

  private heatLayer(colormap: Colormap, opacity: number) {
    const h = this.heatmap;
    return { buffer: h.heat, width: h.width, height: h.height, colormap, opacity };
  }

  destroy() {
    this.heatmap.destroy();
    this.overlay.destroy();
    this.unravel.destroy();
    try { this.context?.unconfigure(); } catch { /* lost device */ }
  }
}

// Test/bench page: the real explain worker, frames made from shared images, and the CPU references (engine code
// on tfjs's cpu backend, in the page) to compare with.
import { proxy, transfer, wrap } from 'comlink';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { colorize, type ColormapName } from '../../../src/engine/colormap.ts';
import { explain, type ExplainOptions } from '../../../src/engine/explain.ts';
import { FixationModel } from '../../../src/engine/model.ts';
import {
  CLASS_COLORS,
  classOverlay,
  fixationBox,
  heatGrid,
  heatmap,
  removeOutliers,
  rescalePoints,
  tightBox,
  toImagePoints,
  upsample,
  type Size,
} from '../../../src/engine/post.ts';
import { guidedMap } from '../../../src/engine/guided.ts';
import { pixelTransform } from '../../../src/engine/model.ts';
import type { Fixation, InputFixation } from '../../../src/engine/types.ts';
import type { ExplainRequest, ExplainWorkerTestApi, InitOptions } from '../../../src/worker/api.ts';

const worker = new Worker(new URL('../../../src/worker/explain.worker.ts', import.meta.url), { type: 'module' });
const api = wrap<ExplainWorkerTestApi>(worker);

/** Decoded pixels of an image, optionally resized (the same pixels go to the worker and to the reference). */
async function pixels(url: string, width?: number, height?: number): Promise<ImageData> {
  const blob = await (await fetch(url)).blob();
  const bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none' });
  const w = width ?? bmp.width,
    h = height ?? bmp.height;
  const c = new OffscreenCanvas(w, h);
  const ctx = c.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(bmp, 0, 0, w, h);
  bmp.close();
  return ctx.getImageData(0, 0, w, h);
}
/**
 * The worker and GPU specs are about the fixations method (the catalog models' own default is guided): a request
 * that names no method gets 'fixations'. One that has the key, even undefined (the bench: the model's own), is kept.
 */
function fixationsUnlessSaid<T extends { method?: unknown }>(req: T): T {
  return 'method' in req ? req : { ...req, method: 'fixations' };
}

const cache = new Map<string, ImageData>();
async function cached(url: string, width?: number, height?: number) {
  const key = `${url}|${width}|${height}`;
  if (!cache.has(key)) cache.set(key, await pixels(url, width, height));
  return cache.get(key)!;
}

let refModel: FixationModel | null = null;
async function reference(): Promise<FixationModel> {
  if (refModel) return refModel;
  await tf.setBackend('cpu');
  const catalog = await (await fetch('/models/catalog.json')).json();
  const e = catalog.models.find((m: { id: string }) => m.id === 'squeezenet1_1');
  const labels = await (await fetch(`/models/${e.id}/${e.labels}`)).json();
  const gm = await loadGraphModel(`/models/${e.id}/model.json`);
  // The catalog entry's facts, its rules included: 'default' means them, as in the worker (src/worker/load.ts).
  refModel = FixationModel.create(gm, {
    id: e.id,
    inputSize: e.inputSize,
    preprocessing: e.preprocessing,
    logits: e.logits,
    probs: e.probs,
    labels,
    rules: e.rules,
  });
  return refModel;
}

const h = {
  api,
  async init(o: Omit<InitOptions, 'canvas'> & { canvas?: { width: number; height: number } }) {
    const { canvas: size, ...rest } = o;
    if (!size) return api.init(rest);
    const el = document.createElement('canvas');
    el.width = size.width;
    el.height = size.height;
    document.body.append(el);
    const off = el.transferControlToOffscreen();
    return api.init(transfer({ ...rest, canvas: off }, [off]));
  },
  /** Explain a shared image (optionally resized) in the worker, sent as an ImageBitmap or a VideoFrame. */
  async explainUrl(url: string, req: ExplainRequest = {}, width?: number, height?: number, videoFrame = false) {
    const bmp = await createImageBitmap(await cached(url, width, height));
    if (!videoFrame) return api.explain(transfer(bmp, [bmp]), fixationsUnlessSaid(req));
    const frame = new VideoFrame(bmp, { timestamp: 0 });
    bmp.close();
    return api.explain(transfer(frame, [frame as unknown as Transferable]), fixationsUnlessSaid(req));
  },
  /**
   * `n` frames of a shared image sent as the app's frame loop sends them: the next one as soon as the worker says the
   * previous one is submitted and at most `maxInFlight` frames are in flight (1: one at a time). Returns the results in arrival order, the order of the worker's events
   * ('s3': frame 3 submitted, 'r3': its result arrived) and the wall time (bench: end-to-end fps when pipelined).
   */
  async explainStream(
    url: string,
    n: number,
    req: ExplainRequest = {},
    width?: number,
    height?: number,
    maxInFlight = 2,
  ) {
    const img = await cached(url, width, height);
    const events: string[] = [];
    const results: unknown[] = [];
    const done: Promise<void>[] = [];
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      if (i >= maxInFlight) await done[i - maxInFlight];
      const bmp = await createImageBitmap(img);
      let submitted!: () => void;
      const sent = new Promise<void>((r) => (submitted = r));
      done.push(
        api
          .explain(
            transfer(bmp, [bmp]),
            fixationsUnlessSaid(req),
            proxy(() => {
              events.push(`s${i}`);
              submitted();
            }),
          )
          .then((r) => {
            events.push(`r${i}`);
            results.push(r);
          }),
      );
      await Promise.race([sent, done[i]]);
    }
    await Promise.all(done);
    return { results, events, ms: performance.now() - t0 };
  },
  /** The CPU reference explain() (engine, tfjs cpu backend) on the same pixels. */
  async referenceExplain(url: string, opts: ExplainOptions = {}, width?: number, height?: number) {
    const fm = await reference();
    const img = await cached(url, width, height);
    const t = tf.tensor3d(Int32Array.from(img.data), [img.height, img.width, 4], 'int32');
    try {
      const e = await explain(fm, t, fixationsUnlessSaid(opts));
      return {
        top: e.top,
        class: e.class,
        inputFixations: e.inputFixations,
        fixations: e.fixations,
        box: e.box,
        boxSource: e.boxSource,
        peak: e.peak,
      };
    } finally {
      t.dispose();
    }
  },
  /** EMA of CPU heatmaps (oldest first), as the overlay smooths them, colormapped and premultiplied. */
  cpuSmoothedPixels(
    frames: Fixation[][],
    smoothing: number,
    width: number,
    height: number,
    colormap: ColormapName,
    opacity: number,
  ) {
    let ema: Float32Array | null = null;
    for (const pts of frames) {
      const m = heatmap(pts, width, height);
      ema = ema ? ema.map((v, i) => smoothing * v + (1 - smoothing) * m[i]) : m;
    }
    return new Uint8Array(colorize(ema!, colormap, opacity, true).buffer);
  },
  /**
   * The live overlay's heat layer on the CPU: frame points -> heatmap() on the overlay's working grid (heatGrid) ->
   * bilinear upsample() to the overlay -> colormap, premultiplied.
   */
  cpuOverlayHeatPixels(points: Fixation[], frame: Size, overlay: Size, colormap: ColormapName, opacity: number) {
    const g = heatGrid(overlay.width, overlay.height);
    const map = upsample(
      heatmap(rescalePoints(points, frame, g), g.width, g.height),
      g.width,
      g.height,
      overlay.width,
      overlay.height,
    );
    return new Uint8Array(colorize(map, colormap, opacity, true).buffer);
  },
  /**
   * Several classes' heat layer on the CPU: per class, frame points -> heatmap() on the working grid (the GPU path's
   * heatGrid, or the overlay itself on the fallback) -> upsample() -> classOverlay() in CLASS_COLORS, premultiplied.
   */
  cpuClassOverlayPixels(points: Fixation[][], frame: Size, overlay: Size, opacity: number, grid = true) {
    const g = grid ? heatGrid(overlay.width, overlay.height) : overlay;
    const maps = points.map((p) =>
      upsample(
        heatmap(rescalePoints(p, frame, g), g.width, g.height),
        g.width,
        g.height,
        overlay.width,
        overlay.height,
      ),
    );
    return new Uint8Array(classOverlay(maps, CLASS_COLORS, opacity, true).buffer);
  },
  /** Per-class EMA over frames (frames[f][class] = points, oldest first), each slot on its own, in the class hues. */
  cpuSmoothedClassPixels(frames: Fixation[][][], smoothing: number, width: number, height: number, opacity: number) {
    let ema: Float32Array[] | null = null;
    for (const classes of frames) {
      const maps = classes.map((p) => heatmap(p, width, height));
      ema = ema ? ema.map((e, k) => e.map((v, i) => smoothing * v + (1 - smoothing) * maps[k][i])) : maps;
    }
    return new Uint8Array(classOverlay(ema!, CLASS_COLORS, opacity, true).buffer);
  },
  /** CPU heatmaps in their class hues, premultiplied: the twin of __heatmapForTest with several point lists. */
  cpuClassHeatmapPixels(points: Fixation[][], width: number, height: number, opacity: number) {
    return new Uint8Array(
      classOverlay(
        points.map((p) => heatmap(p, width, height)),
        CLASS_COLORS,
        opacity,
        true,
      ).buffer,
    );
  },
  /**
   * The CPU post of a network-input list (the engine's functions: what the GPU post must equal): the pixel transform
   * of a W x H frame, the points in the photo (toImagePoints), the ones kept after removeOutliers, their tightBox
   * and the box drawn (fixationBox).
   */
  cpuFramePoints(input: InputFixation[], W: number, H: number, inputSize: number, fit: 'crop' | 'letterbox') {
    const t = pixelTransform(W, H, inputSize, fit);
    const inPhoto = toImagePoints(input, t);
    const fixations = removeOutliers(inPhoto, W, H);
    // box: what the GPU post's stats hold; drawnBox: the box drawn (none below MIN_BOX_POINTS points).
    return { t, points: inPhoto.length, fixations, box: tightBox(fixations), drawnBox: fixationBox(fixations) };
  },
  /** Per-channel differences of two RGBA8 images: the largest, and how many pixels differ by more than 1. */
  pixelDiff(a: Uint8Array, b: Uint8Array) {
    if (a.length !== b.length) throw new Error(`pixelDiff: ${a.length} vs ${b.length} bytes`);
    let max = 0,
      over = 0;
    for (let p = 0; p < a.length; p += 4) {
      let d = 0;
      for (let k = 0; k < 4; k++) d = Math.max(d, Math.abs(a[p + k] - b[p + k]));
      max = Math.max(max, d);
      if (d > 1) over++;
    }
    return { max, over };
  },
  /** Opaque pixels of exactly this colour ('#rrggbb'; premultiplied = straight when opaque): dots and box outlines. */
  colorPixels(a: Uint8Array, hex: string) {
    const [r, g, b] = [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
    let n = 0;
    for (let p = 0; p < a.length; p += 4) if (a[p + 3] === 255 && a[p] === r && a[p + 1] === g && a[p + 2] === b) n++;
    return n;
  },
  /**
   * The guided heat on the CPU (guidedMap of each list's heatmap() and its class map), premultiplied: one list through
   * the colormap, several in their hues: the twin of __heatmapForTest with `guide`.
   */
  cpuGuidedPixels(
    points: Fixation[][],
    maps: Float32Array[],
    epsilon: number,
    width: number,
    height: number,
    colormap: ColormapName,
    opacity: number,
    sigma?: number,
  ) {
    const heat = points.map((p, i) => guidedMap(maps[i], heatmap(p, width, height, sigma), epsilon));
    return new Uint8Array(
      (heat.length > 1 ? classOverlay(heat, CLASS_COLORS, opacity, true) : colorize(heat[0], colormap, opacity, true))
        .buffer,
    );
  },
  /** CPU heatmap + colormap, premultiplied: the twin of __heatmapForTest. */
  cpuHeatmapPixels(
    points: Fixation[],
    width: number,
    height: number,
    colormap: ColormapName,
    opacity: number,
    sigma?: number,
  ) {
    return new Uint8Array(colorize(heatmap(points, width, height, sigma), colormap, opacity, true).buffer);
  },
};
(window as unknown as { h: typeof h }).h = h;
document.body.dataset.ready = '1';

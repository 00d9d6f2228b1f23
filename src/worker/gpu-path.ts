// The GPU path: WebGPU inference, WGSL unravelling on the activations in place, WGSL heatmap, overlay drawn by a
// render pass into the OffscreenCanvas (same device). A single-class fixations frame's overlay is drawn from the
// unravelling's GPU-side list before its readback (src/gpu/post.ts: beginUnravel with a ListDraw). Per frame one buffer map brings back the top-5 probs and the
// requested classes' probs (4 * (10 + k) bytes) with the compact fixation list (<= 16008 bytes); the class for
// 'top' is chosen on the GPU. Each further class is one more map; layer view and withLayers add the per-layer kept
// sets; CAM/Grad-CAM read their maps.
import * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_POST, heatGrid, heatPeak, rescalePoints, type Box, type Size } from '../engine/post.ts';
import type { FixationModel } from '../engine/model.ts';
import { resolveRules, type Fixation, type InputFixation, type PixelTransform } from '../engine/types.ts';
import { flushTf, type GpuContext } from '../gpu/device.ts';
import { GpuHeatmap } from '../gpu/heatmap.ts';
import { GpuOverlay, type GpuRects, type HeatLayer, type Rect } from '../gpu/overlay.ts';
import { GpuPost, packFixationList, type PostStats } from '../gpu/post.ts';
import { CLASS_COLORS, type Colormap, type GuideForTest, type OverlayOptions } from './api.ts';
import { forwardNames, Laps, summaryTensor } from './frame.ts';
import type { FramePath, HeatSource, ListDraw, Unravelled } from './path.ts';
import { classColor, sceneRects } from './scene.ts';
import type { FramePlan } from './plan.ts';
import { GuardedUnraveller, partScope, scoped } from './guarded-unraveller.ts';
import { overlaySelfCheck, postSelfCheck } from '../gpu/selfcheck.ts';
import type { Pending } from './unraveller.ts';

export class GpuPath implements FramePath {
  readonly name = 'gpu' as const;
  readonly backend = 'webgpu' as const;
  readonly heatmapGpu: GpuHeatmap;
  readonly overlay: GpuOverlay;
  /** The overlay's points, outliers, box and splat from the unravelling's GPU-side list (ListDraw frames). */
  readonly post: GpuPost;
  readonly unraveller: GuardedUnraveller;
  /**
   * Why a part of this path is replaced, if one is: the unravelling by the CPU's (GuardedUnraveller), the post and
   * heatmap by the CPU's points drawn without a heatmap, the overlay by nothing (frames are still explained).
   */
  get note(): string | undefined {
    const b = this.broken;
    return (
      [
        this.unraveller.reason,
        b.post &&
          `GPU post and heatmap unavailable (${b.post}); the overlay shows the CPU's points and box, without the heatmap`,
        b.overlay && `GPU overlay unavailable (${b.overlay}); frames are explained but not drawn`,
      ]
        .filter(Boolean)
        .join('; ') || undefined
    );
  }
  /**
   * The parts besides the unravelling, each under its own error scopes (partScope) and with its own fallback: one
   * part's error never switches another (an overlay shader error does not send the unravelling to the CPU).
   */
  private broken: { post?: string; overlay?: string } = {};
  private context: GPUCanvasContext | null = null;
  private format: GPUTextureFormat = 'rgba8unorm';
  /** Class maps made by the last heatmap(); 0 when it made none (post and heatmap unavailable). */
  private classes = 1;
  private last: {
    width: number;
    height: number;
    rects: Rect[];
    gpuRects?: GpuRects;
    heat: boolean;
    colormap: Colormap;
    opacity: number;
  } | null = null;

  constructor(
    readonly gpu: GpuContext,
    readonly fm: FixationModel,
    readonly canvas: OffscreenCanvas | null,
  ) {
    const device = gpu.device;
    const post = partScope(device, () => [new GpuHeatmap(device), new GpuPost(device)] as const);
    if (post.thrown) throw post.thrown;
    [this.heatmapGpu, this.post] = post.value!;
    this.watch('post', post.error);
    if (canvas) {
      const ctx = canvas.getContext('webgpu');
      if (!ctx) throw new Error('the overlay canvas has no WebGPU context (it already has another kind of context)');
      this.format = navigator.gpu.getPreferredCanvasFormat();
      ctx.configure({ device, format: this.format, alphaMode: 'premultiplied' });
      this.context = ctx;
    }
    const overlay = partScope(device, () => {
      const o = new GpuOverlay(device);
      o.prepare(this.format);
      return o;
    });
    if (overlay.thrown) throw overlay.thrown;
    this.overlay = overlay.value!;
    this.watch('overlay', overlay.error);
    this.unraveller = new GuardedUnraveller(gpu, fm);
  }

  /** A part's error (set-up or a frame's) replaces that part from then on. */
  private watch(part: 'post' | 'overlay', error: Promise<string | null>) {
    void error.then((e) => {
      if (!e || this.broken[part]) return;
      this.broken[part] = e;
      console.warn(this.note);
    });
  }

  /** Run one part's GPU calls (encode and submit) inside its own error scopes. */
  private part(name: 'post' | 'overlay', f: () => void) {
    const r = partScope(this.gpu.device, f);
    this.watch(name, r.error);
    if (r.thrown) throw r.thrown;
  }

  /**
   * Set up the frame path while the camera starts: tfjs's shaders for a frame compiled in parallel, then the WGSL
   * kernels compiled for the model's default rules and self-checked, else the CPU unravelling with the reason in
   * `note` (see GuardedUnraveller); then the post, heatmap and overlay kernels checked, each failing part replaced
   * alone. Returns the parts' times, ms.
   */
  async compile(): Promise<Record<string, number>> {
    const t0 = performance.now();
    await this.compileTf();
    const tfjsCompileMs = performance.now() - t0;
    await this.unraveller.prepare(resolveRules('default', {}, this.fm.info.rules));
    const t1 = performance.now();
    // The post/heatmap and overlay kernels against their CPU twins, each in its own error scopes.
    const device = this.gpu.device;
    const check = async (part: 'post' | 'overlay', f: () => Promise<void>) => {
      if (this.broken[part]) return;
      try {
        await scoped(device, `${part} self-check`, f);
      } catch (e) {
        this.watch(part, Promise.resolve((e as Error).message));
      }
    };
    await check('post', () => postSelfCheck(device, this.post, this.heatmapGpu));
    await check('overlay', () => overlaySelfCheck(device, this.overlay));
    const postCheckMs = performance.now() - t1;
    return { tfjsCompileMs, ...this.unraveller.timings, postCheckMs };
  }

  /**
   * tfjs compiles each op's shader when the op first runs, one createComputePipeline at a time; its
   * WEBGPU_ENGINE_COMPILE_ONLY mode records a frame's ops (preprocess at the bench's 640x480, forward pass, top-5)
   * without running them and compiles their pipelines with createComputePipelineAsync, all at once. A failure here
   * only leaves the compile to the first frame.
   */
  private async compileTf() {
    const env = tf.env();
    env.set('WEBGPU_ENGINE_COMPILE_ONLY', true);
    try {
      tf.tidy(() => {
        const { input } = this.fm.preprocess(tf.zeros([480, 640, 3], 'int32') as tf.Tensor3D, 'crop');
        const names = forwardNames(this.fm);
        const out = this.fm.model.execute(input, names);
        const outs = Array.isArray(out) ? out : [out];
        summaryTensor(this.fm, new Map(names.map((n, i) => [n, outs[i]])), 'top');
      });
    } catch {
      /* compiled at the first frame instead */
    } finally {
      env.set('WEBGPU_ENGINE_COMPILE_ONLY', false);
    }
    try {
      await this.gpu.backend.checkCompileCompletionAsync();
    } catch {
      /* idem */
    }
  }

  laps(timing: boolean): Laps {
    const { device, backend } = this.gpu;
    return new Laps(
      timing
        ? () => {
            flushTf(backend);
            return device.queue.onSubmittedWorkDone();
          }
        : undefined,
    );
  }

  async unravel(
    tensors: Map<string, tf.Tensor>,
    classIndex: number | 'top',
    plan: FramePlan,
    laps: Laps,
    summary?: tf.Tensor,
    draw?: ListDraw,
  ): Promise<Unravelled> {
    return (await this.beginUnravel(tensors, classIndex, plan, laps, summary, draw)).result;
  }

  /**
   * With `draw` and the WGSL unravelling in use, the overlay is drawn from its list before the readback is
   * copied: post (src/gpu/post.ts), heat slot 0 and the overlay pass are submitted and presented now, nothing waits
   * for the map. The CPU unravelling (GuardedUnraveller on 'cpu') has no GPU list: its frames draw in finish().
   */
  async beginUnravel(
    tensors: Map<string, tf.Tensor>,
    classIndex: number | 'top',
    plan: FramePlan,
    laps: Laps,
    summary?: tf.Tensor,
    draw?: ListDraw,
  ): Promise<Pending<Unravelled>> {
    await this.unraveller.run(tensors, classIndex, plan.rules, summary);
    await laps.lap('unravel');
    const list = draw && !this.broken.post ? this.unraveller.fixationList : null;
    if (list) {
      this.drawList(list, draw!, this.fm.graph.input.shape[2]);
      await laps.lap('heatmap');
    }
    const { result } = await this.unraveller.read(plan.layers);
    return {
      result: result.then((u) => {
        laps.mark('readback');
        return list ? { ...u, drawn: true } : u;
      }),
    };
  }

  /** One frame's overlay from a compact fixation list on the GPU: post + heat slot 0 + overlay pass, submitted. */
  private drawList(list: GPUBuffer, d: ListDraw, channels: number) {
    const { overlay, heat } = this.sizes(d.frame);
    this.part('post', () => {
      const encoder = this.gpu.device.createCommandEncoder({ label: 'post+heatmap' });
      this.heatmapGpu.encodeSplat(
        encoder,
        { ...heat, sigma: DEFAULT_POST.sigma, smoothing: d.smoothing },
        0,
        (enc, target) =>
          this.post.encode(enc, list, target, {
            transform: d.transform,
            channels,
            frame: d.frame,
            overlay,
            heat,
            points: d.overlay.points,
            box: d.overlay.box,
            color: classColor(0),
          }),
      );
      this.gpu.device.queue.submit([encoder.finish()]);
    });
    this.classes = 1;
    this.draw([], overlay, d.overlay, this.post.rects);
  }

  sizes(frame: Size) {
    const overlay =
      this.canvas && this.canvas.width > 0 && this.canvas.height > 0
        ? { width: this.canvas.width, height: this.canvas.height }
        : frame;
    // The heatmap (and its EMA) lives on a working grid; the overlay pass upsamples it. Points and boxes stay exact.
    return { overlay, heat: heatGrid(overlay.width, overlay.height) };
  }

  heatmap(srcs: HeatSource[], heat: Size, smoothing: number): ([number, number] | null)[] {
    // The peak from the CPU twin (a few points on a grid of at most 200 px): no second map in the frame.
    const peaks = srcs.map((src) => ('points' in src && !('guide' in src) ? heatPeak(src.points, heat) : null));
    if (this.broken.post) {
      this.classes = 0;
      return peaks;
    }
    const hp = { ...heat, sigma: DEFAULT_POST.sigma, smoothing };
    this.part('post', () => {
      const encoder = this.gpu.device.createCommandEncoder({ label: 'heatmap' });
      srcs.forEach((src, slot) => {
        // The guided heat from its parts on the GPU (GUIDED_WGSL); its peak came from the CPU twin (src.map).
        if ('guide' in src)
          this.heatmapGpu.encodePoints(
            encoder,
            src.points,
            { ...hp, sigma: src.sigma, epsilon: src.epsilon },
            slot,
            src.guide,
          );
        else if ('points' in src) this.heatmapGpu.encodePoints(encoder, src.points, hp, slot);
        else this.heatmapGpu.encodeMap(encoder, src.map, hp, slot);
      });
      this.gpu.device.queue.submit([encoder.finish()]);
    });
    this.classes = srcs.length;
    return peaks;
  }

  draw(rects: Rect[], overlay: Size, o: OverlayOptions, gpuRects?: GpuRects) {
    const heat = o.heatmap && this.classes > 0 && !this.broken.post;
    this.last = { ...overlay, rects, gpuRects, heat, colormap: o.colormap, opacity: o.opacity };
    if (!this.context || this.broken.overlay) return;
    const context = this.context;
    this.part('overlay', () => {
      const encoder = this.gpu.device.createCommandEncoder({ label: 'overlay' });
      const tex = context.getCurrentTexture();
      this.overlay.draw(
        encoder,
        tex.createView(),
        this.format,
        tex.width,
        tex.height,
        heat ? this.heatLayer(o.colormap, o.opacity) : null,
        rects,
        gpuRects,
      );
      this.gpu.device.queue.submit([encoder.finish()]);
    });
  }

  /**
   * Test path: the heatmap of these points (one list: the colormap; several: one class each, in its hue), drawn
   * offscreen through the overlay pass and read back. With `guide`, the guided heat of each list and its class map.
   */
  async heatmapPixels(
    points: Fixation[] | Fixation[][],
    width: number,
    height: number,
    colormap: Colormap,
    opacity: number,
    sigma = DEFAULT_POST.sigma,
    guide?: GuideForTest,
  ) {
    const perClass = points.length > 0 && Array.isArray(points[0]) ? (points as Fixation[][]) : [points as Fixation[]];
    const hm = new GpuHeatmap(this.gpu.device);
    try {
      const enc = this.gpu.device.createCommandEncoder();
      perClass.forEach((p, slot) =>
        hm.encodePoints(
          enc,
          p,
          { width, height, sigma, smoothing: 0, epsilon: guide?.epsilon },
          slot,
          guide?.maps[slot],
        ),
      );
      this.gpu.device.queue.submit([enc.finish()]);
      return await this.overlay.drawOffscreen(
        width,
        height,
        this.heatLayer(colormap, opacity, hm, perClass.length),
        [],
      );
    } finally {
      hm.destroy();
    }
  }

  /** Test path: the last frame's overlay drawn again offscreen. */
  async lastOverlayPixels() {
    const l = this.last;
    if (!l) throw new Error('no frame explained yet');
    const pixels = await this.overlay.drawOffscreen(
      l.width,
      l.height,
      l.heat ? this.heatLayer(l.colormap, l.opacity) : null,
      l.rects,
      l.gpuRects,
    );
    return { width: l.width, height: l.height, pixels };
  }

  /**
   * Test path: the GPU post's counts and box. With `list` (input fixations, at most MAX_FIXATIONS), that list packed
   * as the unraveller writes it goes through the post, heat slot 0 (no smoothing) and the overlay pass of `overlay`
   * size offscreen (pixels; this overwrites the live slot 0 and dots: call it between frames); without, the last
   * drawn frame's (its pixels: lastOverlayPixels()).
   */
  async postPixels(
    list: { input: InputFixation[]; transform: PixelTransform; frame: Size; overlay: Size; o: OverlayOptions } | null,
  ): Promise<{ stats: PostStats; pixels?: Uint8Array }> {
    if (!list) return { stats: await this.post.readStats() };
    const [, W, C] = this.fm.graph.input.shape;
    const packed = packFixationList(list.input, W, C);
    const buf = this.gpu.device.createBuffer({
      label: 'post test list',
      size: packed.byteLength,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    try {
      this.gpu.device.queue.writeBuffer(buf, 0, packed as Uint32Array<ArrayBuffer>);
      const heat = heatGrid(list.overlay.width, list.overlay.height);
      const enc = this.gpu.device.createCommandEncoder();
      this.heatmapGpu.encodeSplat(enc, { ...heat, sigma: DEFAULT_POST.sigma, smoothing: 0 }, 0, (e, target) =>
        this.post.encode(e, buf, target, {
          transform: list.transform,
          channels: C,
          frame: list.frame,
          overlay: list.overlay,
          heat,
          points: list.o.points,
          box: list.o.box,
          color: classColor(0),
        }),
      );
      this.gpu.device.queue.submit([enc.finish()]);
      this.classes = 1;
      const pixels = await this.overlay.drawOffscreen(
        list.overlay.width,
        list.overlay.height,
        list.o.heatmap ? this.heatLayer(list.o.colormap, list.o.opacity) : null,
        [],
        this.post.rects,
      );
      return { stats: await this.post.readStats(), pixels };
    } finally {
      buf.destroy();
    }
  }

  /**
   * Test path: the CPU-points overlay (the path's own before the GPU post, and still its path for several classes):
   * these frame fixations and box as sceneRects() draws them, their heat from the CPU splat (encodePoints), offscreen.
   */
  async pointsPixels(
    fixations: Fixation[],
    box: Box | null,
    frame: Size,
    overlay: Size,
    o: OverlayOptions,
  ): Promise<Uint8Array> {
    const hm = new GpuHeatmap(this.gpu.device);
    try {
      const heat = heatGrid(overlay.width, overlay.height);
      const rects = sceneRects([{ color: classColor(0), fixations, box }], frame, overlay, o);
      const enc = this.gpu.device.createCommandEncoder();
      hm.encodePoints(
        enc,
        rescalePoints(fixations, frame, heat),
        { ...heat, sigma: DEFAULT_POST.sigma, smoothing: 0 },
        0,
      );
      this.gpu.device.queue.submit([enc.finish()]);
      return await this.overlay.drawOffscreen(
        overlay.width,
        overlay.height,
        o.heatmap ? this.heatLayer(o.colormap, o.opacity, hm, 1) : null,
        rects,
      );
    } finally {
      hm.destroy();
    }
  }

  /** The heat maps of `classes` slots as the overlay draws them: one in the colormap, several in their class hues. */
  private heatLayer(colormap: Colormap, opacity: number, h = this.heatmapGpu, classes = this.classes): HeatLayer {
    return {
      buffer: h.heat,
      width: h.width,
      height: h.height,
      stride: h.stride,
      hues: classes > 1 ? CLASS_COLORS.slice(0, classes) : null,
      colormap,
      opacity,
    };
  }

  destroy() {
    this.heatmapGpu.destroy();
    this.overlay.destroy();
    this.post.destroy();
    this.unraveller.destroy();
    try {
      this.context?.unconfigure();
    } catch {
      /* lost device */
    }
  }
}

// Runs HEATMAP_WGSL (src/engine/post.ts): points -> blurred, normalised, EMA-smoothed heat of the given size (the
// live overlay passes its working grid, heatGrid()), one map per explained class (a slot each, up to
// CLASS_COLORS.length), kept on the GPU in one buffer for the overlay pass, which upsamples and composes them.
// Nothing is read back: the peak comes from the CPU twin (FramePath.heatmap). Points come from the CPU
// (encodePoints) or are splatted on the GPU by the overlay's post (encodeSplat, src/gpu/post.ts).
import { GUIDED_WGSL } from '../engine/guided.ts';
import { CLASS_COLORS, gaussianKernel, HEATMAP_WGSL, splatPixels } from '../engine/post.ts';
import type { Fixation } from '../engine/types.ts';
import { Growable } from './device.ts';
import { bindGroupLayout, shaderModule } from './kernels.ts';
import type { SplatTarget } from './post.ts';

export interface HeatmapParams {
  width: number;
  height: number;
  /** Gaussian sigma as a fraction of the map's diagonal (heatmap()'s sigmaFrac). */
  sigma: number;
  /** EMA factor over frames, 0 = off (this frame replaces the slot's history). */
  smoothing: number;
  /** The guided method's epsilon (encodeGuided only). */
  epsilon?: number;
}

/** Class maps the heat buffer holds: one per class colour. */
export const HEAT_SLOTS = CLASS_COLORS.length;

const STEPS = [
  'splat',
  'splat_kernels',
  'blur_rows',
  'blur_cols',
  'reduce_max',
  'argmax',
  'normalise',
  'guide_product',
  'restart_max',
] as const;
type Step = (typeof STEPS)[number];
const S = GPUBufferUsage.STORAGE;

/**
 * One class's working buffers. Each slot has its own params, points and stats, since several slots are encoded
 * into one command buffer and queue.writeBuffer lands before it runs; its map lives at slot * stride in the heat buffer.
 */
interface Slot {
  params: GPUBuffer;
  stats: GPUBuffer;
  points: Growable;
  kernel: Growable;
  img: Growable;
  tmp: Growable;
  /** The guided method's class map (width x height), read by guide_product. */
  guide: Growable;
  /** The slot's heat holds a history to smooth with. */
  smoothed: boolean;
  bindGroup: GPUBindGroup | null;
  bound: (GPUBuffer | null)[];
  /** The stride the bind group's heat range was made for (the range is slot * stride). */
  boundStride: number;
}

export class GpuHeatmap {
  private pipelines: Record<Step, GPUComputePipeline>;
  private layout: GPUBindGroupLayout;
  private slots: Slot[] = [];
  /** The normalised (and smoothed) heat of every slot, row-major width x height each, `stride` floats apart. */
  private heatBuf: Growable;
  private size = { width: 0, height: 0 };
  private strideFloats = 0;

  constructor(private device: GPUDevice) {
    const module = shaderModule(device, 'heatmap', HEATMAP_WGSL + GUIDED_WGSL);
    this.layout = bindGroupLayout(device, ['uniform', 'read', 'read', 'write', 'write', 'write', 'write', 'read']);
    const layout = device.createPipelineLayout({ bindGroupLayouts: [this.layout] });
    this.pipelines = Object.fromEntries(
      STEPS.map((s) => [
        s,
        device.createComputePipeline({ label: `heatmap.${s}`, layout, compute: { module, entryPoint: s } }),
      ]),
    ) as Record<Step, GPUComputePipeline>;
    this.heatBuf = new Growable(device, 'heatmap.heat', S | GPUBufferUsage.COPY_SRC); // COPY_SRC: the start-up self-check reads it
  }

  /** The heat buffer: slot k's map starts at float k * stride. */
  get heat(): GPUBuffer {
    return this.heatBuf.buf!;
  }
  get stride() {
    return this.strideFloats;
  }
  get width() {
    return this.size.width;
  }
  get height() {
    return this.size.height;
  }

  /** Forget every slot's smoothed history (new model, new scene). */
  resetSmoothing() {
    for (const s of this.slots) s.smoothed = false;
  }

  /**
   * Heatmap of points already scaled to the map's width x height, into class slot `slot`. With `guide` (a width x
   * height class map, max 1: CAM or Grad-CAM made on the CPU), the guided method's heat (GUIDED_WGSL, twin of
   * guidedMap()): the points' density, its max, then guide x (p.epsilon + density / max), normalised as any map.
   */
  encodePoints(encoder: GPUCommandEncoder, points: Fixation[], p: HeatmapParams, slot = 0, guide?: Float32Array) {
    if (guide && guide.length !== p.width * p.height)
      throw new Error(`guided class map has ${guide.length} values, expected ${p.width}x${p.height}`);
    const { index, weight } = splatPixels(points, p.width, p.height);
    const sigma = Math.max(p.sigma * Math.hypot(p.width, p.height), 0.5);
    const kern = gaussianKernel(sigma);
    const s = this.prepare(slot, p, index.length, (kern.length - 1) / 2);
    const data = new ArrayBuffer(Math.max(index.length, 1) * 8);
    const u = new Uint32Array(data),
      f = new Float32Array(data);
    for (let i = 0; i < index.length; i++) {
      u[2 * i] = index[i];
      f[2 * i + 1] = weight[i];
    }
    this.device.queue.writeBuffer(s.points.buf!, 0, data);
    this.device.queue.writeBuffer(s.kernel.buf!, 0, kern as Float32Array<ArrayBuffer>);
    if (guide) this.device.queue.writeBuffer(s.guide.buf!, 0, guide as Float32Array<ArrayBuffer>);
    // Per pixel, gathering the points' kernels costs `count` steps, the two blur passes 2 (2r + 1).
    const gather = index.length < 2 * kern.length;
    if (!gather) encoder.clearBuffer(s.img.buf!, 0, p.width * p.height * 4);
    const pass = encoder.beginComputePass({ label: `heatmap.${guide ? 'guided.' : ''}${slot}` });
    const n = p.width * p.height;
    if (gather) {
      this.dispatch(pass, s, 'splat_kernels', n);
    } else {
      this.dispatch(pass, s, 'splat', index.length);
      this.dispatch(pass, s, 'blur_rows', n);
      this.dispatch(pass, s, 'blur_cols', n);
    }
    if (guide) {
      this.dispatch(pass, s, 'reduce_max', n);
      this.dispatch(pass, s, 'guide_product', n);
      this.dispatch(pass, s, 'restart_max', 1);
    }
    this.finish(pass, s, p);
  }

  /**
   * Heatmap of points splatted on the GPU into class slot `slot`: `splat` encodes the points into the slot's image
   * (cleared here; width x height floats: their kernels summed, or per-pixel sums as splatPixels for the blur) and
   * returns the blur passes' indirect dispatch size (0 workgroups when it summed the kernels: the point count is only
   * known on the GPU); the rest runs as for encodePoints.
   */
  encodeSplat(
    encoder: GPUCommandEncoder,
    p: HeatmapParams,
    slot: number,
    splat: (encoder: GPUCommandEncoder, target: SplatTarget) => { buffer: GPUBuffer; offset: number },
  ) {
    const kern = gaussianKernel(Math.max(p.sigma * Math.hypot(p.width, p.height), 0.5));
    const radius = (kern.length - 1) / 2;
    const s = this.prepare(slot, p, 0, radius);
    this.device.queue.writeBuffer(s.kernel.buf!, 0, kern as Float32Array<ArrayBuffer>);
    encoder.clearBuffer(s.img.buf!, 0, p.width * p.height * 4);
    const blur = splat(encoder, { img: s.img.buf!, kernel: s.kernel.buf!, radius });
    const pass = encoder.beginComputePass({ label: `heatmap.gpu.${slot}` });
    pass.setBindGroup(0, s.bindGroup!);
    for (const step of ['blur_rows', 'blur_cols'] as const) {
      pass.setPipeline(this.pipelines[step]);
      pass.dispatchWorkgroupsIndirect(blur.buffer, blur.offset);
    }
    this.finish(pass, s, p);
  }

  /** Heatmap from a map made on the CPU (CAM, Grad-CAM), width x height row-major, into class slot `slot`. */
  encodeMap(encoder: GPUCommandEncoder, map: Float32Array, p: HeatmapParams, slot = 0) {
    if (map.length !== p.width * p.height)
      throw new Error(`heatmap map has ${map.length} values, expected ${p.width}x${p.height}`);
    const s = this.prepare(slot, p, 0, 0);
    this.device.queue.writeBuffer(s.img.buf!, 0, map as Float32Array<ArrayBuffer>);
    this.finish(encoder.beginComputePass({ label: `heatmap.map.${slot}` }), s, p);
  }

  private slot(k: number): Slot {
    if (!(Number.isInteger(k) && k >= 0 && k < HEAT_SLOTS))
      throw new Error(`heatmap slot ${k}: give 0 to ${HEAT_SLOTS - 1}`);
    while (this.slots.length <= k) {
      const i = this.slots.length,
        d = this.device,
        rw = S | GPUBufferUsage.COPY_DST;
      this.slots.push({
        params: d.createBuffer({
          label: `heatmap.params.${i}`,
          size: 32,
          usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        }),
        stats: d.createBuffer({ label: `heatmap.stats.${i}`, size: 8, usage: S | GPUBufferUsage.COPY_DST }),
        points: new Growable(d, `heatmap.points.${i}`, rw),
        kernel: new Growable(d, `heatmap.kernel.${i}`, rw),
        img: new Growable(d, `heatmap.img.${i}`, rw),
        tmp: new Growable(d, `heatmap.tmp.${i}`, S),
        guide: new Growable(d, `heatmap.guide.${i}`, rw),
        smoothed: false,
        bindGroup: null,
        bound: [],
        boundStride: -1,
      });
    }
    return this.slots[k];
  }

  private prepare(k: number, p: HeatmapParams, count: number, radius: number): Slot {
    const { width, height } = p;
    if (!(width > 0 && height > 0)) throw new Error(`heatmap size must be positive, got ${width}x${height}`);
    const s = this.slot(k);
    const n = width * height * 4;
    if (width !== this.size.width || height !== this.size.height) {
      this.size = { width, height };
      // Slots start at a multiple of the storage offset alignment, so each binds its own range of the heat buffer.
      const align = this.device.limits.minStorageBufferOffsetAlignment;
      this.strideFloats = (Math.ceil(n / align) * align) / 4;
      this.resetSmoothing();
    }
    // Room for every slot at once: a buffer that grew would lose the other slots' maps mid-frame.
    this.heatBuf.ensure(HEAT_SLOTS * this.strideFloats * 4);
    s.points.ensure(Math.max(count, 1) * 8);
    s.kernel.ensure((2 * radius + 1) * 4);
    for (const b of [s.img, s.tmp, s.guide]) b.ensure(n);
    const reset = !s.smoothed || !(p.smoothing > 0);
    s.smoothed = true;
    const params = new ArrayBuffer(32);
    new Uint32Array(params, 0, 4).set([width, height, radius, count]);
    new Float32Array(params, 16, 1)[0] = Math.min(Math.max(p.smoothing, 0), 0.99);
    new Uint32Array(params, 20, 1)[0] = reset ? 1 : 0;
    new Float32Array(params, 24, 1)[0] = p.epsilon ?? 0;
    this.device.queue.writeBuffer(s.params, 0, params);
    this.device.queue.writeBuffer(s.stats, 0, new Uint32Array([0, 0xffffffff]));
    const bufs = [s.points.buf, s.kernel.buf, s.img.buf, s.tmp.buf, this.heatBuf.buf, s.guide.buf];
    // The bind group also names the slot's heat range: rebuilt when the stride (the size) changes.
    if (!s.bindGroup || bufs.some((b, i) => b !== s.bound[i]) || s.boundStride !== this.strideFloats) {
      s.bound = bufs;
      s.boundStride = this.strideFloats;
      s.bindGroup = this.device.createBindGroup({
        label: `heatmap.${k}`,
        layout: this.layout,
        entries: [
          ...[s.params, bufs[0], bufs[1], bufs[2], bufs[3], s.stats].map((buffer, binding) => ({
            binding,
            resource: { buffer: buffer! },
          })),
          {
            binding: 6,
            resource: { buffer: bufs[4]!, offset: k * this.strideFloats * 4, size: this.strideFloats * 4 },
          },
          { binding: 7, resource: { buffer: bufs[5]! } },
        ],
      });
    }
    return s;
  }

  private finish(pass: GPUComputePassEncoder, s: Slot, p: HeatmapParams) {
    const n = p.width * p.height;
    this.dispatch(pass, s, 'reduce_max', n);
    this.dispatch(pass, s, 'argmax', n);
    this.dispatch(pass, s, 'normalise', n);
    pass.end();
  }

  private dispatch(pass: GPUComputePassEncoder, s: Slot, step: Step, invocations: number) {
    if (invocations <= 0) return;
    const groups = Math.ceil(invocations / 64);
    const x = Math.min(groups, 32768);
    pass.setPipeline(this.pipelines[step]);
    pass.setBindGroup(0, s.bindGroup!);
    pass.dispatchWorkgroups(x, Math.ceil(groups / x));
  }

  destroy() {
    for (const s of this.slots) {
      for (const b of [s.points, s.kernel, s.img, s.tmp, s.guide]) b.destroy();
      s.params.destroy();
      s.stats.destroy();
    }
    this.slots = [];
    this.heatBuf.destroy();
  }
}

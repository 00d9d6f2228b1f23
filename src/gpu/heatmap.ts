// Runs HEATMAP_WGSL (src/engine/post.ts): points -> blurred, normalised, EMA-smoothed heat buffer of the given
// size (the live overlay passes its working grid, heatGrid()), kept on the GPU for the overlay pass, which upsamples
// it; only the peak (8 bytes) is read back.
import { gaussianKernel, HEATMAP_WGSL, splatPixels } from '../engine/post.ts';
import type { Fixation } from '../engine/types.ts';
import { Growable, Staging } from './device.ts';

export interface HeatmapParams {
  width: number;
  height: number;
  /** Gaussian sigma as a fraction of the map's diagonal (heatmap()'s sigmaFrac). */
  sigma: number;
  /** EMA factor over frames, 0 = off. */
  smoothing: number;
}

const STEPS = ['splat', 'splat_kernels', 'blur_rows', 'blur_cols', 'reduce_max', 'argmax', 'normalise'] as const;
type Step = (typeof STEPS)[number];
const S = GPUBufferUsage.STORAGE;

export class GpuHeatmap {
  private pipelines: Record<Step, GPUComputePipeline>;
  private layout: GPUBindGroupLayout;
  private params: GPUBuffer;
  private stats: GPUBuffer;
  private points: Growable;
  private kernel: Growable;
  private img: Growable;
  private tmp: Growable;
  /** The normalised (and smoothed) heat, row-major width x height: what the overlay draws. */
  private heatBuf: Growable;
  private staging: Staging;
  private size = { width: 0, height: 0 };
  private smoothed = false;
  private bindGroup: GPUBindGroup | null = null;
  private bound: (GPUBuffer | null)[] = [];

  constructor(private device: GPUDevice) {
    const module = device.createShaderModule({ label: 'heatmap', code: HEATMAP_WGSL });
    const entry = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry =>
      ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } });
    this.layout = device.createBindGroupLayout({
      label: 'heatmap',
      entries: [entry(0, 'uniform'), entry(1, 'read-only-storage'), entry(2, 'read-only-storage'),
        entry(3, 'storage'), entry(4, 'storage'), entry(5, 'storage'), entry(6, 'storage')],
    });
    const layout = device.createPipelineLayout({ bindGroupLayouts: [this.layout] });
    this.pipelines = Object.fromEntries(STEPS.map((s) =>
      [s, device.createComputePipeline({ label: `heatmap.${s}`, layout, compute: { module, entryPoint: s } })])) as Record<Step, GPUComputePipeline>;
    this.params = device.createBuffer({ label: 'heatmap.params', size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.stats = device.createBuffer({ label: 'heatmap.stats', size: 8, usage: S | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
    const rw = S | GPUBufferUsage.COPY_DST;
    this.points = new Growable(device, 'heatmap.points', rw);
    this.kernel = new Growable(device, 'heatmap.kernel', rw);
    this.img = new Growable(device, 'heatmap.img', rw);
    this.tmp = new Growable(device, 'heatmap.tmp', S);
    this.heatBuf = new Growable(device, 'heatmap.heat', S);
    this.staging = new Staging(device, 'heatmap.peak');
  }

  get heat(): GPUBuffer { return this.heatBuf.buf!; }
  get width() { return this.size.width; }
  get height() { return this.size.height; }

  /** Forget the smoothed history (new model, new scene). */
  resetSmoothing() { this.smoothed = false; }

  /** Heatmap of points already scaled to the map's width x height. */
  encodePoints(encoder: GPUCommandEncoder, points: Fixation[], p: HeatmapParams) {
    const { index, weight } = splatPixels(points, p.width, p.height);
    const sigma = Math.max(p.sigma * Math.hypot(p.width, p.height), 0.5);
    const kern = gaussianKernel(sigma);
    this.prepare(p, index.length, (kern.length - 1) / 2);
    const data = new ArrayBuffer(Math.max(index.length, 1) * 8);
    const u = new Uint32Array(data), f = new Float32Array(data);
    for (let i = 0; i < index.length; i++) { u[2 * i] = index[i]; f[2 * i + 1] = weight[i]; }
    this.device.queue.writeBuffer(this.points.buf!, 0, data);
    this.device.queue.writeBuffer(this.kernel.buf!, 0, kern as Float32Array<ArrayBuffer>);
    // Per pixel, gathering the points' kernels costs `count` steps, the two blur passes 2 (2r + 1).
    const gather = index.length < 2 * kern.length;
    if (!gather) encoder.clearBuffer(this.img.buf!, 0, p.width * p.height * 4);
    const pass = encoder.beginComputePass({ label: 'heatmap' });
    if (gather) {
      this.dispatch(pass, 'splat_kernels', p.width * p.height);
    } else {
      this.dispatch(pass, 'splat', index.length);
      this.dispatch(pass, 'blur_rows', p.width * p.height);
      this.dispatch(pass, 'blur_cols', p.width * p.height);
    }
    this.finish(encoder, pass, p);
  }

  /** Heatmap from a map made on the CPU (CAM, Grad-CAM), width x height row-major. */
  encodeMap(encoder: GPUCommandEncoder, map: Float32Array, p: HeatmapParams) {
    if (map.length !== p.width * p.height) throw new Error(`heatmap map has ${map.length} values, expected ${p.width}x${p.height}`);
    this.prepare(p, 0, 0);
    this.device.queue.writeBuffer(this.img.buf!, 0, map as Float32Array<ArrayBuffer>);
    this.finish(encoder, encoder.beginComputePass({ label: 'heatmap.map' }), p);
  }

  /** After the encoder is submitted: the first position of the maximum (map cells), as peak(). */
  async readPeak(): Promise<{ x: number; y: number; bytes: number }> {
    const [, idx] = new Uint32Array(await this.staging.read(8));
    return { x: idx % this.size.width, y: Math.floor(idx / this.size.width), bytes: 8 };
  }

  private prepare(p: HeatmapParams, count: number, radius: number) {
    const { width, height } = p;
    if (!(width > 0 && height > 0)) throw new Error(`heatmap size must be positive, got ${width}x${height}`);
    const n = width * height * 4;
    if (width !== this.size.width || height !== this.size.height) {
      this.size = { width, height };
      this.smoothed = false;
    }
    this.points.ensure(Math.max(count, 1) * 8);
    this.kernel.ensure((2 * radius + 1) * 4);
    for (const b of [this.img, this.tmp, this.heatBuf]) b.ensure(n);
    const reset = !this.smoothed || !(p.smoothing > 0);
    this.smoothed = true;
    const params = new ArrayBuffer(32);
    new Uint32Array(params, 0, 4).set([width, height, radius, count]);
    new Float32Array(params, 16, 1)[0] = Math.min(Math.max(p.smoothing, 0), 0.99);
    new Uint32Array(params, 20, 1)[0] = reset ? 1 : 0;
    this.device.queue.writeBuffer(this.params, 0, params);
    this.device.queue.writeBuffer(this.stats, 0, new Uint32Array([0, 0xffffffff]));
    const bufs = [this.points.buf, this.kernel.buf, this.img.buf, this.tmp.buf, this.heatBuf.buf];
    if (!this.bindGroup || bufs.some((b, i) => b !== this.bound[i])) {
      this.bound = bufs;
      this.bindGroup = this.device.createBindGroup({
        label: 'heatmap',
        layout: this.layout,
        entries: [this.params, bufs[0], bufs[1], bufs[2], bufs[3], this.stats, bufs[4]]
          .map((buffer, binding) => ({ binding, resource: { buffer: buffer! } })),
      });
    }
  }

  private finish(encoder: GPUCommandEncoder, pass: GPUComputePassEncoder, p: HeatmapParams) {
    const n = p.width * p.height;
    this.dispatch(pass, 'reduce_max', n);
    this.dispatch(pass, 'argmax', n);
    this.dispatch(pass, 'normalise', n);
    pass.end();
    encoder.copyBufferToBuffer(this.stats, 0, this.staging.get(8), 0, 8);
  }

  private dispatch(pass: GPUComputePassEncoder, step: Step, invocations: number) {
    if (invocations <= 0) return;
    const groups = Math.ceil(invocations / 64);
    const x = Math.min(groups, 32768);
    pass.setPipeline(this.pipelines[step]);
    pass.setBindGroup(0, this.bindGroup!);
    pass.dispatchWorkgroups(x, Math.ceil(groups / x));
  }

  destroy() {
    for (const b of [this.points, this.kernel, this.img, this.tmp, this.heatBuf, this.staging]) b.destroy();
    this.params.destroy();
    this.stats.destroy();
  }
}

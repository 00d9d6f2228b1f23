// The live overlay's post-processing on the GPU, read straight from the unraveller's compact fixation list (no
// round trip to the CPU): the WGSL twins of toImagePoints(), removeOutliers(), tightBox() and splatPixels()
// (src/engine/post.ts) and of the overlay's dots and box outline (pointRect(), boxOutline(): src/gpu/overlay.ts),
// in one compute pass. It splats the kept points into a heat slot's cleared image (few points: their kernels summed
// per pixel; else scattered for GpuHeatmap.encodeSplat's blur, chosen on the GPU; then it normalises and smooths) and fills a rect buffer the overlay pass draws (GpuRects). The frame's result
// still comes from the CPU functions on the read-back list; these kernels only draw.
import {
  MIN_BOX_POINTS,
  outlierRadius2,
  REMOVE_OUTLIERS_WGSL,
  SPLAT_POINT_WGSL,
  TIGHT_BOX_WGSL,
  TO_IMAGE_POINTS_WGSL,
  type Box,
  type Size,
} from '../engine/post.ts';
import type { InputFixation, PixelTransform } from '../engine/types.ts';
import { RECT_WGSL, RECTS_WGSL, overlayUnit, type GpuRects } from './overlay.ts';
import { bindGroupLayout, shaderModule } from './kernels.ts';
import { readback } from './readback.ts';
import { MAX_FIXATIONS } from './unravel.ts';

/** What one frame's post needs besides the list: its pixel transform, the frame, overlay and heat grid sizes, what to draw. */
export interface ListPost {
  transform: PixelTransform;
  /** Channels of the network input (the list's flat index is (y * inputWidth + x) * channels + c). */
  channels: number;
  frame: Size;
  overlay: Size;
  heat: Size;
  points: boolean;
  box: boolean;
  /** The class colour, 0..1. */
  color: [number, number, number];
}

/** A heat slot's buffers the post splats into (GpuHeatmap.encodeSplat). */
export interface SplatTarget {
  img: GPUBuffer;
  kernel: GPUBuffer;
  radius: number;
}

/** What the last post kept, read back for tests: points in the photo, points kept after outliers, their box. */
export interface PostStats {
  points: number;
  kept: number;
  box: Box | null;
}

const POST_WGSL = /* wgsl */ `
${RECT_WGSL}
struct Post {
  step: vec2f, start: vec2f, src: vec2f, heat_scale: vec2f, overlay_scale: vec2f, radius2: f32, unit: f32,
  color: vec4f, input_w: u32, channels: u32, heat_w: u32, heat_h: u32, flags: u32, max_count: u32, radius: u32,
}
// One per list entry: its frame point when it is one (valid), kept by the outlier rule.
struct Point { p: vec2f, w: f32, valid: u32, kept: u32 }
@group(0) @binding(0) var<uniform> P: Post;
@group(0) @binding(1) var<storage, read> list: array<u32>;
@group(0) @binding(2) var<storage, read_write> points: array<Point>;
// 0: points in the photo, 1: kept by the outlier rule, 2: kept in the end, 3..6: box bits (TIGHT_BOX_WGSL),
// 7: the largest weight's bits (the splat's fixed-point scale, SPLAT_POINT_WGSL).
@group(0) @binding(3) var<storage, read_write> stats: array<atomic<u32>, 8>;
@group(0) @binding(4) var<storage, read_write> img: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> rects: array<Rect>;
// The heat slot's Gaussian kernel (2 radius + 1 taps), and the indirect dispatch sizes box_rects writes:
// splat_kernels (0..2) and the heatmap's blur passes (3..5); the one not chosen gets 0 workgroups.
@group(0) @binding(6) var<storage, read> kern: array<f32>;
// (args is its own group, bound for box_rects only: a dispatch may not read as indirect what its bindings may write.)
@group(1) @binding(0) var<storage, read_write> args: array<u32, 6>;

fn list_count() -> u32 { return min(list[0], P.max_count); }

@compute @workgroup_size(1)
fn reset() {
  for (var k = 0u; k < 3u; k++) { atomicStore(&stats[k], 0u); }
  atomicStore(&stats[3], 0xffffffffu); atomicStore(&stats[4], 0xffffffffu);
  atomicStore(&stats[5], 0u); atomicStore(&stats[6], 0u); atomicStore(&stats[7], 0u);
}
${TO_IMAGE_POINTS_WGSL}
${REMOVE_OUTLIERS_WGSL}
${TIGHT_BOX_WGSL}
${SPLAT_POINT_WGSL}
${RECTS_WGSL}

// Each kept point: into the box, splatted on the heat grid, its dot (an empty rect for the others).
@compute @workgroup_size(64)
fn kept_points(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i >= P.max_count) { return; }
  var r = Rect(vec4f(0.0), vec4f(0.0));
  if (kept_point(i)) {
    let p = points[i].p;
    atomicAdd(&stats[2], 1u);
    box_add(p);
    if (!gather_kernels()) { splat_point(p, points[i].w); }
    if ((P.flags & 1u) != 0u) { r = point_rect(p, P.overlay_scale, P.unit, P.color); }
  }
  rects[i] = r;
}

@compute @workgroup_size(1)
fn box_rects() {
  var out: array<Rect, 4>;
  // As fixationBox(): no box from fewer than MIN_BOX_POINTS kept points.
  if ((P.flags & 2u) != 0u && atomicLoad(&stats[2]) >= ${MIN_BOX_POINTS}u) { out = box_outline(box_of(), P.overlay_scale, 2.0 * P.unit, P.color); }
  for (var k = 0u; k < 4u; k++) { rects[P.max_count + k] = out[k]; }
  // One invocation per heat pixel in 64-wide workgroups, 2-D past 32768 of them (HEATMAP_WGSL's gidx).
  let groups = (P.heat_w * P.heat_h + 63u) / 64u;
  let x = min(groups, 32768u);
  let size = vec3u(x, (groups + x - 1u) / x, 1u);
  let g = gather_kernels();
  let none = vec3u(0u, 1u, 1u);
  let a = select(none, size, g);
  let b = select(size, none, g);
  args = array<u32, 6>(a.x, a.y, a.z, b.x, b.y, b.z);
}
`;

const STEPS = [
  'reset',
  'image_points',
  'remove_outliers',
  'kept_points',
  'box_rects',
  'splat_kernels',
  'splat_finish',
] as const;
const POINT_BYTES = 24;
const RECT_BYTES = 32;

export class GpuPost {
  private pipelines: Record<(typeof STEPS)[number], GPUComputePipeline>;
  private layout: GPUBindGroupLayout;
  private params: GPUBuffer;
  private points: GPUBuffer;
  private stats: GPUBuffer;
  private rectBuf: GPUBuffer;
  private args: GPUBuffer;
  private bindGroup: GPUBindGroup | null = null;
  private argsGroup: GPUBindGroup;
  private bound: GPUBuffer[] = [];

  constructor(private device: GPUDevice) {
    const module = shaderModule(device, 'post', POST_WGSL);
    this.layout = bindGroupLayout(device, ['uniform', 'read', 'write', 'write', 'write', 'write', 'read']);
    const argsLayout = bindGroupLayout(device, ['write']);
    const layout = device.createPipelineLayout({ bindGroupLayouts: [this.layout] });
    const withArgs = device.createPipelineLayout({ bindGroupLayouts: [this.layout, argsLayout] });
    this.pipelines = Object.fromEntries(
      STEPS.map((s) => [
        s,
        device.createComputePipeline({
          label: `post.${s}`,
          layout: s === 'box_rects' ? withArgs : layout,
          compute: { module, entryPoint: s },
        }),
      ]),
    ) as GpuPost['pipelines'];
    const S = GPUBufferUsage.STORAGE;
    this.params = device.createBuffer({
      label: 'post.params',
      size: 96,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.points = device.createBuffer({ label: 'post.points', size: MAX_FIXATIONS * POINT_BYTES, usage: S });
    this.stats = device.createBuffer({ label: 'post.stats', size: 32, usage: S | GPUBufferUsage.COPY_SRC });
    this.rectBuf = device.createBuffer({ label: 'post.rects', size: (MAX_FIXATIONS + 4) * RECT_BYTES, usage: S });
    this.args = device.createBuffer({ label: 'post.dispatch args', size: 24, usage: S | GPUBufferUsage.INDIRECT });
    this.argsGroup = device.createBindGroup({
      label: 'post.args',
      layout: argsLayout,
      entries: [{ binding: 0, resource: { buffer: this.args } }],
    });
  }

  /** The dots and box outline of the last encode(), for the overlay pass. */
  get rects(): GpuRects {
    return { buffer: this.rectBuf, count: MAX_FIXATIONS + 4 };
  }

  /**
   * Encode the post of `list` (the unraveller's compact fixation list: u32 count, u32 class, then (u32 flat index,
   * f32 weight) pairs) into one compute pass: points, outliers, box, rects, and the splat into `heat.img` (a heat
   * slot's image, o.heat in size, cleared by the caller; `heat.kernel` its Gaussian of `heat.radius`). Returns the
   * indirect dispatch size of the blur passes (0 workgroups where the points' kernels were summed here).
   */
  encode(
    encoder: GPUCommandEncoder,
    list: GPUBuffer,
    heat: SplatTarget,
    o: ListPost,
  ): { buffer: GPUBuffer; offset: number } {
    const t = o.transform;
    const data = new ArrayBuffer(96);
    const f = new Float32Array(data),
      u = new Uint32Array(data);
    f.set([
      t.stepX,
      t.stepY,
      t.startX,
      t.startY,
      t.srcWidth,
      t.srcHeight,
      o.heat.width / o.frame.width,
      o.heat.height / o.frame.height,
      o.overlay.width / o.frame.width,
      o.overlay.height / o.frame.height,
      outlierRadius2(t.srcWidth, t.srcHeight),
      overlayUnit(o.overlay),
      ...o.color,
      1,
    ]);
    u.set(
      [
        t.inputWidth,
        o.channels,
        o.heat.width,
        o.heat.height,
        (o.points ? 1 : 0) | (o.box ? 2 : 0),
        MAX_FIXATIONS,
        heat.radius,
      ],
      16,
    );
    this.device.queue.writeBuffer(this.params, 0, data);
    const bufs = [this.params, list, this.points, this.stats, heat.img, this.rectBuf, heat.kernel];
    if (!this.bindGroup || bufs.some((b, i) => b !== this.bound[i])) {
      this.bound = bufs;
      this.bindGroup = this.device.createBindGroup({
        label: 'post',
        layout: this.layout,
        entries: bufs.map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
    }
    const pass = encoder.beginComputePass({ label: 'post' });
    pass.setBindGroup(0, this.bindGroup);
    const groups = Math.ceil(MAX_FIXATIONS / 64);
    for (const s of STEPS) {
      pass.setPipeline(this.pipelines[s]);
      if (s === 'box_rects') pass.setBindGroup(1, this.argsGroup);
      if (s === 'splat_kernels') pass.dispatchWorkgroupsIndirect(this.args, 0);
      else if (s === 'splat_finish')
        pass.dispatchWorkgroupsIndirect(this.args, 12); // the blur's size: 0 when gathered
      else pass.dispatchWorkgroups(s === 'reset' || s === 'box_rects' ? 1 : groups);
    }
    pass.end();
    return { buffer: this.args, offset: 12 };
  }

  /** Test path: what the last encode() kept (one more buffer map, made for the test). */
  async readStats(): Promise<PostStats> {
    const out = this.device.createBuffer({
      label: 'post.stats readback',
      size: 32,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    try {
      const enc = this.device.createCommandEncoder();
      enc.copyBufferToBuffer(this.stats, 0, out, 0, 32);
      this.device.queue.submit([enc.finish()]);
      await readback(out.mapAsync(GPUMapMode.READ), 'the post stats');
      const u = new Uint32Array(out.getMappedRange().slice(0));
      out.unmap();
      const f = new Float32Array(u.buffer);
      return { points: u[0], kept: u[2], box: u[2] ? [f[3], f[4], f[5], f[6]] : null };
    } finally {
      out.destroy();
    }
  }

  destroy() {
    for (const b of [this.params, this.points, this.stats, this.rectBuf, this.args]) b.destroy();
  }
}

/** Test path: a list in the unraveller's compact format (as GpuUnraveller writes it) from input fixations. */
export function packFixationList(list: InputFixation[], inputWidth: number, channels: number): Uint32Array {
  if (list.length > MAX_FIXATIONS)
    throw new Error(`packFixationList: ${list.length} entries, at most ${MAX_FIXATIONS}`);
  const u = new Uint32Array(2 + 2 * MAX_FIXATIONS);
  const f = new Float32Array(u.buffer);
  u[0] = list.length;
  list.forEach((e, i) => {
    u[2 + 2 * i] = (e.y * inputWidth + e.x) * channels + e.c;
    f[3 + 2 * i] = e.w;
  });
  return u;
}

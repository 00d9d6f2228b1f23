// Draws the overlay on the GPU into a texture (the OffscreenCanvas's, or an offscreen one for tests): the heat
// maps (on their working grid, bilinearly upsampled: UPSAMPLE_WGSL), one class through the colormap (COLORMAP_WGSL),
// several in their class hues (CLASS_OVERLAY_WGSL), premultiplied alpha; then rectangles (points, boxes, receptive
// fields) blended over it. Nothing here reads back, except drawOffscreen() for tests.
import { COLORMAP_WGSL, colormapIndex, type ColormapName } from '../engine/colormap.ts';
import { CLASS_COLORS, CLASS_OVERLAY_WGSL, hexRgb, UPSAMPLE_WGSL } from '../engine/post.ts';
import { BindGroupCache } from './bind-groups.ts';
import { align4, Growable } from './device.ts';
import { shaderModule } from './kernels.ts';
import { readback } from './readback.ts';

/** Axis-aligned rectangle in overlay pixels, colour straight RGBA 0..1. */
export interface Rect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  color: [number, number, number, number];
}

/** Rects as the overlay pass reads them (32 bytes each): a rect buffer the GPU fills uses this layout. */
export const RECT_WGSL = /* wgsl */ `struct Rect { box: vec4f, color: vec4f }`;

/** The overlay's line and dot unit for an overlay of this size (overlay pixels). */
export function overlayUnit(overlay: { width: number; height: number }): number {
  return Math.max(1, Math.round(Math.hypot(overlay.width, overlay.height) / 400));
}

/** A fixation's dot: a square of radius 1.5 units around the pixel centre of frame point (x, y), scaled by (sx, sy). */
export function pointRect(x: number, y: number, sx: number, sy: number, unit: number, color: Rect['color']): Rect {
  const cx = x * sx + 0.5,
    cy = y * sy + 0.5,
    r = 1.5 * unit;
  return { x0: cx - r, y0: cy - r, x1: cx + r, y1: cy + r, color };
}

/** A box's outline, `t` thick, around frame-pixel box b (inclusive pixel bounds) scaled by (sx, sy): four rects. */
export function boxOutline(
  b: [number, number, number, number],
  sx: number,
  sy: number,
  t: number,
  color: Rect['color'],
): Rect[] {
  const [x0, y0, x1, y1] = [b[0] * sx, b[1] * sy, b[2] * sx + 1, b[3] * sy + 1];
  return [
    { x0, y0, x1, y1: y0 + t, color },
    { x0, y0: y1 - t, x1, y1, color },
    { x0, y0, x1: x0 + t, y1, color },
    { x0: x1 - t, y0, x1, y1, color },
  ];
}

/** WGSL twins of pointRect() and boxOutline() (src/gpu/post.ts fills a rect buffer with them; needs RECT_WGSL). */
export const RECTS_WGSL = /* wgsl */ `
fn point_rect(p: vec2f, s: vec2f, unit: f32, color: vec4f) -> Rect {
  let c = p * s + 0.5;
  let r = 1.5 * unit;
  return Rect(vec4f(c - r, c + r), color);
}
fn box_outline(b: vec4f, s: vec2f, t: f32, color: vec4f) -> array<Rect, 4> {
  let lo = b.xy * s;
  let hi = b.zw * s + 1.0;
  return array<Rect, 4>(Rect(vec4f(lo, hi.x, lo.y + t), color), Rect(vec4f(lo.x, hi.y - t, hi), color),
    Rect(vec4f(lo, lo.x + t, hi.y), color), Rect(vec4f(hi.x - t, lo.y, hi), color));
}
`;

/** Rects already in a GPU buffer (RECT_WGSL layout), drawn after the CPU ones; empty ones (zero size) draw nothing. */
export interface GpuRects {
  buffer: GPUBuffer;
  count: number;
}

export interface HeatLayer {
  /** Row-major heat of a width x height grid (heatGrid() of the overlay, or the overlay size itself), per class. */
  buffer: GPUBuffer;
  width: number;
  height: number;
  /** Floats from one class's map to the next (GpuHeatmap.stride); 0 or any value with one class. */
  stride: number;
  /**
   * null: one map, through the colormap. Several colours ('#rrggbb', at most CLASS_COLORS.length): as many maps,
   * each pixel in the colour of the strongest (classOverlay()).
   */
  hues: readonly string[] | null;
  colormap: ColormapName;
  opacity: number;
}

const MAX_HUES = CLASS_COLORS.length;
const VIEW_BYTES = 32 + 16 * MAX_HUES;

const SHADER = /* wgsl */ `
${COLORMAP_WGSL}
${UPSAMPLE_WGSL}
${CLASS_OVERLAY_WGSL}
// count: 0 = one map through the colormap; 2.. = that many maps in their hues.
struct View { width: f32, height: f32, colormap: u32, opacity: f32, grid: vec2u, count: u32, stride: u32, hues: array<vec4f, ${CLASS_COLORS.length}> }
@group(0) @binding(0) var<uniform> V: View;
@group(0) @binding(1) var<storage, read> heat: array<f32>;
${RECT_WGSL}
@group(0) @binding(2) var<storage, read> rects: array<Rect>;

@vertex fn full(@builtin(vertex_index) i: u32) -> @builtin(position) vec4f {
  let p = vec2f(f32((i << 1u) & 2u), f32(i & 2u));
  return vec4f(p * 2.0 - 1.0, 0.0, 1.0);
}
fn heat_at(t: Taps, o: u32) -> f32 {
  return mix(mix(heat[o + t.i.x], heat[o + t.i.y], t.f.x), mix(heat[o + t.i.z], heat[o + t.i.w], t.f.x), t.f.y);
}
@fragment fn heatmap(@builtin(position) pos: vec4f) -> @location(0) vec4f {
  let t = upsample_taps(pos.xy, vec2f(V.width, V.height), V.grid);
  if (V.count == 0u) {
    let v = heat_at(t, 0u);
    let a = overlay_alpha(v, V.opacity);
    return vec4f(colormap(V.colormap, v) * a, a);
  }
  // Each class's map upsampled on its own, then composed (as upsample() then classOverlay() on the CPU).
  var values: array<f32, ${CLASS_COLORS.length}>;
  for (var k = 0u; k < V.count; k++) { values[k] = heat_at(t, k * V.stride); }
  return class_overlay(values, V.hues, V.count, V.opacity);
}

struct RectOut { @builtin(position) pos: vec4f, @location(0) color: vec4f }
@vertex fn rect(@builtin(vertex_index) vi: u32, @builtin(instance_index) ii: u32) -> RectOut {
  let r = rects[ii];
  var corners = array<vec2f, 6>(vec2f(0, 0), vec2f(1, 0), vec2f(0, 1), vec2f(0, 1), vec2f(1, 0), vec2f(1, 1));
  let px = mix(r.box.xy, r.box.zw, corners[vi]);
  var o: RectOut;
  o.pos = vec4f(px.x / V.width * 2.0 - 1.0, 1.0 - px.y / V.height * 2.0, 0.0, 1.0);
  o.color = vec4f(r.color.rgb * r.color.a, r.color.a);
  return o;
}
@fragment fn fill(i: RectOut) -> @location(0) vec4f { return i.color; }
`;

export class GpuOverlay {
  private module: GPUShaderModule;
  private layout: GPUBindGroupLayout;
  private pipelines = new Map<GPUTextureFormat, { heat: GPURenderPipeline; rect: GPURenderPipeline }>();
  private view: GPUBuffer;
  private rects: Growable;
  /** Bound when there is no heat layer, so that one bind group layout serves both pipelines. */
  private emptyHeat: GPUBuffer;
  private groups = new BindGroupCache();

  constructor(private device: GPUDevice) {
    this.module = shaderModule(device, 'overlay', SHADER);
    const vis = GPUShaderStage.VERTEX | GPUShaderStage.FRAGMENT;
    this.layout = device.createBindGroupLayout({
      label: 'overlay',
      entries: [
        { binding: 0, visibility: vis, buffer: { type: 'uniform' } },
        { binding: 1, visibility: GPUShaderStage.FRAGMENT, buffer: { type: 'read-only-storage' } },
        { binding: 2, visibility: GPUShaderStage.VERTEX, buffer: { type: 'read-only-storage' } },
      ],
    });
    this.view = device.createBuffer({
      label: 'overlay.view',
      size: VIEW_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.rects = new Growable(device, 'overlay.rects', GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    this.emptyHeat = device.createBuffer({ label: 'overlay.noheat', size: 16, usage: GPUBufferUsage.STORAGE });
  }

  /** Create the pipelines for `format` now (at start-up, inside the caller's error scopes), not at the first draw. */
  prepare(format: GPUTextureFormat) {
    this.pipelinesFor(format);
  }

  private pipelinesFor(format: GPUTextureFormat) {
    let p = this.pipelines.get(format);
    if (!p) {
      const layout = this.device.createPipelineLayout({ bindGroupLayouts: [this.layout] });
      const over: GPUBlendState = {
        color: { srcFactor: 'one', dstFactor: 'one-minus-src-alpha', operation: 'add' },
        alpha: { srcFactor: 'one', dstFactor: 'one-minus-src-alpha', operation: 'add' },
      };
      const make = (vs: string, fs: string, blend?: GPUBlendState) =>
        this.device.createRenderPipeline({
          label: `overlay.${fs}`,
          layout,
          vertex: { module: this.module, entryPoint: vs },
          fragment: { module: this.module, entryPoint: fs, targets: [{ format, blend }] },
          primitive: { topology: 'triangle-list' },
        });
      p = { heat: make('full', 'heatmap'), rect: make('rect', 'fill', over) };
      this.pipelines.set(format, p);
    }
    return p;
  }

  /** Clear `target` (width x height) to transparent, draw the heat layer (if any) and the rectangles. */
  draw(
    encoder: GPUCommandEncoder,
    target: GPUTextureView,
    format: GPUTextureFormat,
    width: number,
    height: number,
    heat: HeatLayer | null,
    rects: Rect[],
    gpuRects?: GpuRects,
  ) {
    const p = this.pipelinesFor(format);
    const hues = heat?.hues ?? null;
    if (hues && (hues.length < 1 || hues.length > MAX_HUES))
      throw new Error(`overlay: ${hues.length} class hues, give 1 to ${MAX_HUES}`);
    const view = new ArrayBuffer(VIEW_BYTES);
    new Float32Array(view, 0, 2).set([width, height]);
    new Uint32Array(view, 8, 1)[0] = heat ? colormapIndex(heat.colormap) : 0;
    new Float32Array(view, 12, 1)[0] = heat ? heat.opacity : 0;
    new Uint32Array(view, 16, 4).set([
      ...(heat ? [heat.width, heat.height] : [1, 1]),
      hues?.length ?? 0,
      heat?.stride ?? 0,
    ]);
    hues?.forEach((h, k) => new Float32Array(view, 32 + 16 * k, 4).set([...hexRgb(h).map((c) => c / 255), 1]));
    this.device.queue.writeBuffer(this.view, 0, view);
    const rectBuf = this.rects.ensure(Math.max(rects.length, 1) * 32);
    if (rects.length) {
      const data = new Float32Array(rects.length * 8);
      rects.forEach((r, i) => data.set([r.x0, r.y0, r.x1, r.y1, ...r.color], i * 8));
      this.device.queue.writeBuffer(rectBuf, 0, data);
    }
    // Kept per (heat, rects) pair: the same few buffers every frame.
    const heatBuf = heat?.buffer ?? this.emptyHeat;
    const group = (rectsBuffer: GPUBuffer) =>
      this.groups.get([heatBuf, rectsBuffer], () =>
        this.device.createBindGroup({
          layout: this.layout,
          entries: [
            { binding: 0, resource: { buffer: this.view } },
            { binding: 1, resource: { buffer: heatBuf } },
            { binding: 2, resource: { buffer: rectsBuffer } },
          ],
        }),
      );
    const bindGroup = group(rectBuf);
    const pass = encoder.beginRenderPass({
      label: 'overlay',
      colorAttachments: [{ view: target, loadOp: 'clear', storeOp: 'store', clearValue: { r: 0, g: 0, b: 0, a: 0 } }],
    });
    pass.setBindGroup(0, bindGroup);
    if (heat) {
      pass.setPipeline(p.heat);
      pass.draw(3);
    }
    if (rects.length) {
      pass.setPipeline(p.rect);
      pass.draw(6, rects.length);
    }
    if (gpuRects && gpuRects.count > 0) {
      pass.setPipeline(p.rect);
      pass.setBindGroup(0, group(gpuRects.buffer));
      pass.draw(6, gpuRects.count);
    }
    pass.end();
  }

  /** Test path: draw into an offscreen rgba8unorm texture and read it back (premultiplied RGBA, row-major). */
  async drawOffscreen(
    width: number,
    height: number,
    heat: HeatLayer | null,
    rects: Rect[],
    gpuRects?: GpuRects,
  ): Promise<Uint8Array> {
    const tex = this.device.createTexture({
      label: 'overlay.offscreen',
      size: [width, height],
      format: 'rgba8unorm',
      usage: GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.COPY_SRC,
    });
    const bytesPerRow = Math.ceil((width * 4) / 256) * 256;
    const out = this.device.createBuffer({
      label: 'overlay.readback',
      size: align4(bytesPerRow * height),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    try {
      const enc = this.device.createCommandEncoder();
      this.draw(enc, tex.createView(), 'rgba8unorm', width, height, heat, rects, gpuRects);
      enc.copyTextureToBuffer({ texture: tex }, { buffer: out, bytesPerRow }, [width, height]);
      this.device.queue.submit([enc.finish()]);
      await readback(out.mapAsync(GPUMapMode.READ), 'the offscreen overlay');
      const padded = new Uint8Array(out.getMappedRange());
      const px = new Uint8Array(width * height * 4);
      for (let y = 0; y < height; y++)
        px.set(padded.subarray(y * bytesPerRow, y * bytesPerRow + width * 4), y * width * 4);
      out.unmap();
      return px;
    } finally {
      out.destroy();
      tex.destroy();
    }
  }

  destroy() {
    this.view.destroy();
    this.rects.destroy();
    this.emptyHeat.destroy();
  }
}

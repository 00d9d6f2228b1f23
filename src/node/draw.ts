// Pure-JS drawing for the CLI: the heatmap (colormap with a transparent low end) over the image, the fixation
// points and the box, on a plain RGBA buffer; PNG encoding with pngjs.
import { PNG } from 'pngjs';
import { colorize, type ColormapName } from '../engine/colormap.ts';
import { classOverlay, CLASS_COLORS, hexRgb, type Box } from '../engine/post.ts';
import type { Fixation } from '../engine/types.ts';
import { FAINT } from '../engine/guided.ts';

export interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface DrawOptions {
  colormap: ColormapName;
  /** Heatmap opacity at its maximum (the low end is transparent). */
  opacity: number;
  /** Fill colour of the points and box of a single class (several: each its own); a black outline keeps them visible. */
  color: [number, number, number];
}
export const DRAW_DEFAULTS: DrawOptions = { colormap: 'jet', opacity: 0.6, color: [255, 255, 255] };

/**
 * One explained class as drawn: its heatmap (image size, max 1), points, box and colour ('#rrggbb'); `backed` (method
 * 'guided'): per point, whether its map backs it (backedPoints); the others are drawn at FAINT opacity.
 */
export interface DrawClass {
  heatmap: Float32Array;
  points: Fixation[];
  box: Box | null;
  color?: string;
  backed?: boolean[];
}

/**
 * The picture of an explanation: image, heatmap, points and box. One class: the heatmap in the colormap and the
 * points and box in `color`. Several classes: the per-class hue overlay (classOverlay: each pixel in the colour of
 * the strongest class there), each class's points and box in its own colour.
 */
export function drawExplanation(image: Rgba, classes: DrawClass[], opts: Partial<DrawOptions> = {}): Rgba {
  const o = { ...DRAW_DEFAULTS, ...opts };
  const { width: w, height: h } = image;
  if (!classes.length) throw new Error('drawExplanation: no class to draw');
  for (const c of classes)
    if (c.heatmap.length !== w * h) throw new Error(`heatmap has ${c.heatmap.length} values, image is ${w}x${h}`);
  const several = classes.length > 1;
  const colors = classes.map((c, i) => c.color ?? CLASS_COLORS[i % CLASS_COLORS.length]);
  const over = several
    ? classOverlay(
        classes.map((c) => c.heatmap),
        colors,
        o.opacity,
      )
    : colorize(classes[0].heatmap, o.colormap, o.opacity);
  const out = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    const a = over[4 * i + 3] / 255;
    for (let c = 0; c < 3; c++) out[4 * i + c] = Math.round(image.data[4 * i + c] * (1 - a) + over[4 * i + c] * a);
    out[4 * i + 3] = 255;
  }
  const img = { width: w, height: h, data: out };
  const short = Math.min(w, h);
  const r = Math.max(2, Math.round(short / 160));
  classes.forEach((c, i) => {
    const color = several ? hexRgb(colors[i]) : o.color;
    if (c.box) drawBox(img, c.box, Math.max(2, Math.round(short / 200)), color);
    c.points.forEach((p, k) => drawDot(img, p.x, p.y, r, color, c.backed && !c.backed[k] ? FAINT : 1));
  });
  return img;
}

function put(img: Rgba, x: number, y: number, rgb: readonly number[], alpha = 1) {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const i = 4 * (y * img.width + x);
  for (let c = 0; c < 3; c++) img.data[i + c] = Math.round(img.data[i + c] * (1 - alpha) + rgb[c] * alpha);
  img.data[i + 3] = 255;
}

/** Filled disc of radius r with a 1 px black ring. */
export function drawDot(img: Rgba, cx: number, cy: number, r: number, color: readonly number[], alpha = 1) {
  const x0 = Math.round(cx),
    y0 = Math.round(cy);
  for (let dy = -r - 1; dy <= r + 1; dy++) {
    for (let dx = -r - 1; dx <= r + 1; dx++) {
      const d2 = dx * dx + dy * dy;
      if (d2 <= r * r) put(img, x0 + dx, y0 + dy, color, alpha);
      else if (d2 <= (r + 1) * (r + 1)) put(img, x0 + dx, y0 + dy, [0, 0, 0], alpha);
    }
  }
}

/** Rectangle outline `t` px wide, with 1 px black borders inside and out. */
export function drawBox(img: Rgba, [x1, y1, x2, y2]: Box, t: number, color: readonly number[]) {
  const rect = (a: number, b: number, c: number, d: number, col: readonly number[], width: number) => {
    for (let k = 0; k < width; k++) {
      for (let x = a - k; x <= c + k; x++) {
        put(img, x, b - k, col);
        put(img, x, d + k, col);
      }
      for (let y = b - k; y <= d + k; y++) {
        put(img, a - k, y, col);
        put(img, c + k, y, col);
      }
    }
  };
  const [a, b, c, d] = [Math.round(x1), Math.round(y1), Math.round(x2), Math.round(y2)];
  rect(a + 1, b + 1, c - 1, d - 1, [0, 0, 0], t + 2); // black band one pixel wider on each side of the colour
  rect(a, b, c, d, color, t);
}

export function encodePng(img: Rgba): Buffer {
  const png = new PNG({ width: img.width, height: img.height });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.length);
  return PNG.sync.write(png);
}

/** A map in 0..1 as an 8-bit grayscale PNG (1.0 -> 255). */
export function grayPng(map: Float32Array, width: number, height: number): Buffer {
  const png = new PNG({ width, height, colorType: 0, inputColorType: 6, bitDepth: 8 });
  for (let i = 0; i < width * height; i++) {
    const v = Math.round(Math.min(Math.max(map[i], 0), 1) * 255);
    png.data[4 * i] = png.data[4 * i + 1] = png.data[4 * i + 2] = v;
    png.data[4 * i + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: 0, inputColorType: 6 });
}

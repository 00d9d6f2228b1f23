// Pure-JS drawing for the CLI: the heatmap (colormap with a transparent low end) over the image, the fixation
// points and the box, on a plain RGBA buffer; PNG encoding with pngjs.
import { PNG } from 'pngjs';
import { colorize, type ColormapName } from '../engine/colormap.ts';
import type { Box } from '../engine/post.ts';
import type { Fixation } from '../engine/types.ts';

export interface Rgba { width: number; height: number; data: Uint8Array }

export interface DrawOptions {
  colormap: ColormapName;
  /** Heatmap opacity at its maximum (the low end is transparent). */
  opacity: number;
  /** Fill colour of the points and of the box line; both get a black outline to stay visible on any colour. */
  color: [number, number, number];
}
export const DRAW_DEFAULTS: DrawOptions = { colormap: 'jet', opacity: 0.6, color: [255, 255, 255] };

/** The picture of one explanation: image, heatmap (same size as the image), points and box. */
export function drawExplanation(
  image: Rgba, heat: Float32Array, points: Fixation[], box: Box | null, opts: Partial<DrawOptions> = {},
): Rgba {
  const o = { ...DRAW_DEFAULTS, ...opts };
  const { width: w, height: h } = image;
  if (heat.length !== w * h) throw new Error(`heatmap has ${heat.length} values, image is ${w}x${h}`);
  const out = new Uint8Array(w * h * 4);
  const over = colorize(heat, o.colormap, o.opacity);
  for (let i = 0; i < w * h; i++) {
    const a = over[4 * i + 3] / 255;
    for (let c = 0; c < 3; c++) out[4 * i + c] = Math.round(image.data[4 * i + c] * (1 - a) + over[4 * i + c] * a);
    out[4 * i + 3] = 255;
  }
  const img = { width: w, height: h, data: out };
  const short = Math.min(w, h);
  if (box) drawBox(img, box, Math.max(2, Math.round(short / 200)), o.color);
  const r = Math.max(2, Math.round(short / 160));
  for (const p of points) drawDot(img, p.x, p.y, r, o.color);
  return img;
}

function put(img: Rgba, x: number, y: number, [r, g, b]: readonly number[]) {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const i = 4 * (y * img.width + x);
  img.data[i] = r; img.data[i + 1] = g; img.data[i + 2] = b; img.data[i + 3] = 255;
}

/** Filled disc of radius r with a 1 px black ring. */
export function drawDot(img: Rgba, cx: number, cy: number, r: number, color: readonly number[]) {
  const x0 = Math.round(cx), y0 = Math.round(cy);
  for (let dy = -r - 1; dy <= r + 1; dy++) {
    for (let dx = -r - 1; dx <= r + 1; dx++) {
      const d2 = dx * dx + dy * dy;
      if (d2 <= r * r) put(img, x0 + dx, y0 + dy, color);
      else if (d2 <= (r + 1) * (r + 1)) put(img, x0 + dx, y0 + dy, [0, 0, 0]);
    }
  }
}

/** Rectangle outline `t` px wide, with 1 px black borders inside and out. */
export function drawBox(img: Rgba, [x1, y1, x2, y2]: Box, t: number, color: readonly number[]) {
  const rect = (a: number, b: number, c: number, d: number, col: readonly number[], width: number) => {
    for (let k = 0; k < width; k++) {
      for (let x = a - k; x <= c + k; x++) { put(img, x, b - k, col); put(img, x, d + k, col); }
      for (let y = b - k; y <= d + k; y++) { put(img, a - k, y, col); put(img, c + k, y, col); }
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

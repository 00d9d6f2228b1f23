// The evaluation sets: the hand-boxed photos of /work/shared/eval/boxes.json, and a synthetic set generated
// deterministically from a seed: objects cut out of the shared photos, pasted at known positions and scales onto
// crops of other photos. The ground-truth box is where the object was pasted.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeImage, ROOT } from '../../src/node/index.ts';
import type { Box } from '../../src/engine/post.ts';

/**
 * The folder with images/ and eval/boxes.json: $CNNFIX_SHARED or $SHARED_DIR, else shared/ in or beside the
 * repository, else /work/shared.
 */
export function sharedDir(): string {
  const d = [process.env.CNNFIX_SHARED, process.env.SHARED_DIR, join(ROOT, 'shared'), join(ROOT, '../shared'), '/work/shared']
    .find((x) => x && existsSync(join(x, 'eval/boxes.json')));
  if (!d) throw new Error('eval: cannot find eval/boxes.json; set CNNFIX_SHARED to the folder with images/ and eval/boxes.json');
  return d;
}

/** RGB, row-major, 3 bytes a pixel. */
export interface Rgb { width: number; height: number; data: Uint8Array }

export interface EvalCase {
  id: string;
  set: 'photos' | 'synthetic';
  image: Rgb;
  box: Box;
  /** Candidate classes; the highest-scoring one is explained. */
  classes: number[];
  object: string;
}

/**
 * Objects for the synthetic set that are not in boxes.json: hand-chosen crops where the object is obvious.
 * (Not the red apple of apple.jpg: ImageNet's only apple class is Granny Smith, and SqueezeNet never ranks it.)
 */
const EXTRA_OBJECTS: { image: string; object: string; classes: number[]; box: Box }[] = [
  { image: 'orange.jpg', object: 'orange', classes: [950], box: [30, 50, 465, 495] },
  { image: 'fruits.jpg', object: 'orange', classes: [950], box: [72, 42, 345, 478] }, // the orange slice
  { image: 'fruits.jpg', object: 'lemon', classes: [951], box: [318, 246, 511, 479] }, // the cut lemon
];
/** What each photo shows, so that an object is never pasted onto a photo of the same kind of object. */
const CONTENTS: Record<string, string[]> = {
  'apple.jpg': ['apple'], 'orange.jpg': ['orange'], 'fruits.jpg': ['orange', 'lemon'], 'messi5.jpg': ['ball'],
  'butterfly.jpg': ['butterfly'], 'squirrel_cls.jpg': ['squirrel'], 'chicky_512.png': ['dog'], 'starry_night.jpg': [],
};

/** mulberry32: a small seeded generator, the same sequence on every machine. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function parseClasses(c: number[] | string): number[] {
  if (Array.isArray(c)) return c;
  const m = /^(\d+)-(\d+)$/.exec(c);
  if (!m) throw new Error(`boxes.json: classes '${c}' is neither a list nor a range like "151-268"`);
  return Array.from({ length: +m[2] - +m[1] + 1 }, (_, i) => +m[1] + i);
}

export async function readRgb(path: string): Promise<Rgb> {
  const { width, height, data } = decodeImage(await readFile(path), path);
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) { rgb[i] = data[j]; rgb[i + 1] = data[j + 1]; rgb[i + 2] = data[j + 2]; }
  return { width, height, data: rgb };
}

/**
 * Resample the region [x0, x0+w) x [y0, y0+h) of `src` to ow x oh, averaging s x s bilinear samples per output pixel
 * (s = the shrink factor, rounded up) so that downscaling does not alias.
 */
export function resizeRegion(src: Rgb, x0: number, y0: number, w: number, h: number, ow: number, oh: number): Rgb {
  const out = new Uint8Array(ow * oh * 3);
  const s = Math.max(1, Math.ceil(Math.max(w / ow, h / oh)));
  // Sample points spread evenly over each output pixel's footprint in the source (pixel-centre convention),
  // per axis: the two neighbours and the fraction of the bilinear interpolation.
  const taps = (start: number, len: number, n: number, max: number) => {
    const lo = new Int32Array(n * s), hi = new Int32Array(n * s), f = new Float64Array(n * s);
    for (let o = 0; o < n; o++) for (let i = 0; i < s; i++) {
      const p = Math.min(Math.max(start + ((o + (i + 0.5) / s) * len) / n - 0.5, 0), max - 1);
      const k = o * s + i;
      lo[k] = Math.floor(p); hi[k] = Math.min(lo[k] + 1, max - 1); f[k] = p - lo[k];
    }
    return { lo, hi, f };
  };
  const tx = taps(x0, w, ow, src.width), ty = taps(y0, h, oh, src.height);
  const d = src.data, W = src.width;
  const acc = new Float64Array(3);
  for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
    acc.fill(0);
    for (let j = oy * s; j < (oy + 1) * s; j++) {
      const ra = ty.lo[j] * W, rb = ty.hi[j] * W, fy = ty.f[j];
      for (let i = ox * s; i < (ox + 1) * s; i++) {
        const xa = tx.lo[i], xb = tx.hi[i], fx = tx.f[i];
        for (let ch = 0; ch < 3; ch++) {
          const top = d[(ra + xa) * 3 + ch] * (1 - fx) + d[(ra + xb) * 3 + ch] * fx;
          const bot = d[(rb + xa) * 3 + ch] * (1 - fx) + d[(rb + xb) * 3 + ch] * fx;
          acc[ch] += top * (1 - fy) + bot * fy;
        }
      }
    }
    for (let ch = 0; ch < 3; ch++) out[(oy * ow + ox) * 3 + ch] = Math.round(acc[ch] / (s * s));
  }
  return { width: ow, height: oh, data: out };
}

function paste(dst: Rgb, src: Rgb, x: number, y: number) {
  for (let r = 0; r < src.height; r++) {
    dst.data.set(src.data.subarray(r * src.width * 3, (r + 1) * src.width * 3), ((y + r) * dst.width + x) * 3);
  }
}

interface BoxesJson { items: { image: string; object: string; classes: number[] | string; box: Box }[] }

export async function loadPhotos(imagesDir: string, boxesPath: string): Promise<EvalCase[]> {
  const json: BoxesJson = JSON.parse(await readFile(boxesPath, 'utf8'));
  const out: EvalCase[] = [];
  for (const it of json.items) {
    out.push({
      id: it.image, set: 'photos', image: await readRgb(join(imagesDir, it.image)), box: it.box,
      classes: parseClasses(it.classes), object: it.object,
    });
  }
  return out;
}

/** Pointing-game tolerance: no pasted box comes this close to the composite's centre. */
export const OFF_CENTRE = 15;

export interface Synthesizer {
  /** Candidate i, the same on every run: object i % objects, a random background crop, position and scale. */
  candidate(i: number): EvalCase;
  objects: number;
}

/**
 * Composites of size x size: an object (boxes.json boxes, then EXTRA_OBJECTS; not the 55 px ball, too small to be
 * pasted larger) with its long side 35-50% of the composite, at a uniform off-centre position, on a random square
 * crop (60-100% of the short side) of a photo that does not show the same kind of object.
 */
export async function synthesizer(imagesDir: string, boxesPath: string, seed = 1, size = 320): Promise<Synthesizer> {
  const json: BoxesJson = JSON.parse(await readFile(boxesPath, 'utf8'));
  const objects = [
    ...json.items.map((it) => ({ ...it, classes: parseClasses(it.classes) })).filter((o) => o.object !== 'ball'),
    ...EXTRA_OBJECTS,
  ];
  const photos = new Map<string, Rgb>();
  for (const name of Object.keys(CONTENTS)) photos.set(name, await readRgb(join(imagesDir, name)));
  const candidate = (i: number): EvalCase => {
    const rand = rng(seed ^ Math.imul(i + 1, 0x9e3779b1));
    const obj = objects[i % objects.length];
    const backs = [...photos.keys()].filter((n) => n !== obj.image && !CONTENTS[n].includes(obj.object));
    const backName = backs[Math.floor(rand() * backs.length)];
    const back = photos.get(backName)!;
    const side = Math.floor(Math.min(back.width, back.height) * (0.6 + 0.4 * rand()));
    const bx = Math.floor(rand() * (back.width - side + 1)), by = Math.floor(rand() * (back.height - side + 1));
    const canvas = resizeRegion(back, bx, by, side, side, size, size);
    const [x1, y1, x2, y2] = obj.box;
    const ow = x2 - x1 + 1, oh = y2 - y1 + 1;
    // Off-centre: the box never comes within OFF_CENTRE px of the middle ((size-1)/2), so that pointing at the
    // middle scores (almost) never: large objects placed uniformly would almost always cover it. (A peak on the
    // pixel next to the middle, 0.7 px off, can still score.) Too large to fit: shrink.
    let k = (size * (0.35 + 0.15 * rand())) / Math.max(ow, oh);
    let w = 0, h = 0, px = 0, py = 0;
    for (let tries = 0; ; tries++) {
      if (tries % 20 === 19) k *= 0.9;
      w = Math.max(1, Math.round(ow * k)); h = Math.max(1, Math.round(oh * k));
      px = Math.floor(rand() * (size - w + 1)); py = Math.floor(rand() * (size - h + 1));
      const c = (size - 1) / 2;
      if (Math.hypot(Math.max(px - c, 0, c - (px + w - 1)), Math.max(py - c, 0, c - (py + h - 1))) > OFF_CENTRE) break;
    }
    paste(canvas, resizeRegion(photos.get(obj.image)!, x1, y1, ow, oh, w, h), px, py);
    return {
      id: `syn${String(i).padStart(4, '0')}:${obj.object}@${backName}`, set: 'synthetic', image: canvas,
      box: [px, py, px + w - 1, py + h - 1], classes: obj.classes, object: obj.object,
    };
  };
  return { candidate, objects: objects.length };
}

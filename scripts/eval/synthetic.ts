// The evaluation sets: the hand-boxed photos (eval/data/boxes.json and more-boxes.json), and synthetic sets generated
// deterministically from a seed: objects cut out of the photos, pasted at known positions and scales onto crops of
// other photos. The ground-truth box is where the object was pasted.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeImage, ROOT } from '../../src/node/index.ts';
import type { Box } from '../../src/engine/post.ts';
import { mulberry32 } from './random.ts';

/** Where the photos and box files are. */
export interface EvalData {
  images: string;
  boxes: string;
  moreBoxes: string;
  cuts: string;
}

/**
 * The repository's eval/data (images/, boxes.json, more-boxes.json, cut-objects.json), or, where $CNNFIX_SHARED or
 * $SHARED_DIR is set, that folder in the shared layout (images/, eval/boxes.json, eval/more-boxes.json).
 */
export function evalData(): EvalData {
  const cuts = join(ROOT, 'eval/data/cut-objects.json');
  const env = process.env.CNNFIX_SHARED ?? process.env.SHARED_DIR;
  if (env) {
    if (!existsSync(join(env, 'eval/boxes.json')))
      throw new Error(`eval: ${env} (CNNFIX_SHARED / SHARED_DIR) has no eval/boxes.json`);
    return {
      images: join(env, 'images'),
      boxes: join(env, 'eval/boxes.json'),
      moreBoxes: join(env, 'eval/more-boxes.json'),
      cuts,
    };
  }
  const d = join(ROOT, 'eval/data');
  return { images: join(d, 'images'), boxes: join(d, 'boxes.json'), moreBoxes: join(d, 'more-boxes.json'), cuts };
}

/** RGB, row-major, 3 bytes a pixel. */
export interface Rgb {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface EvalCase {
  id: string;
  set: 'photos' | 'synthetic';
  image: Rgb;
  box: Box;
  /** Candidate classes; the highest-scoring one is explained. */
  classes: number[];
  object: string;
}

/** What each photo shows (object kinds), so that an object is never pasted onto a photo of the same kind. */
const CONTENTS: Record<string, string[]> = {
  'apple.jpg': ['apple'],
  'orange.jpg': ['orange'],
  'fruits.jpg': ['orange', 'lemon'],
  'messi5.jpg': ['soccer ball'],
  'butterfly.jpg': ['butterfly'],
  'squirrel_cls.jpg': ['squirrel'],
  'chicky_512.png': ['dog'],
  'starry_night.jpg': [],
  'home.jpg': ['palace'],
  'stuff.jpg': ['ping-pong ball', 'lighter'],
  'licenseplate_motion.jpg': ['car'],
  'baboon.jpg': ['baboon'],
};
/**
 * The background photos of each synthetic set: the test set and the tuning set never share one (nor a seed), so a
 * choice made on the tuning set is checked on scenes it never saw.
 */
export const BACKGROUNDS = {
  test: ['apple.jpg', 'butterfly.jpg', 'home.jpg', 'messi5.jpg', 'starry_night.jpg', 'stuff.jpg'],
  tuning: ['baboon.jpg', 'chicky_512.png', 'fruits.jpg', 'licenseplate_motion.jpg', 'orange.jpg', 'squirrel_cls.jpg'],
};
export type SetName = keyof typeof BACKGROUNDS;

/** A seeded generator (mulberry32), the same sequence on every machine. */
export const rng = mulberry32;

export function parseClasses(c: number[] | string): number[] {
  if (Array.isArray(c)) return c;
  const m = /^(\d+)-(\d+)$/.exec(c);
  if (!m) throw new Error(`boxes.json: classes '${c}' is neither a list nor a range like "151-268"`);
  return Array.from({ length: +m[2] - +m[1] + 1 }, (_, i) => +m[1] + i);
}

export async function readRgb(path: string): Promise<Rgb> {
  const { width, height, data } = decodeImage(await readFile(path), path);
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    rgb[i] = data[j];
    rgb[i + 1] = data[j + 1];
    rgb[i + 2] = data[j + 2];
  }
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
    const lo = new Int32Array(n * s),
      hi = new Int32Array(n * s),
      f = new Float64Array(n * s);
    for (let o = 0; o < n; o++)
      for (let i = 0; i < s; i++) {
        const p = Math.min(Math.max(start + ((o + (i + 0.5) / s) * len) / n - 0.5, 0), max - 1);
        const k = o * s + i;
        lo[k] = Math.floor(p);
        hi[k] = Math.min(lo[k] + 1, max - 1);
        f[k] = p - lo[k];
      }
    return { lo, hi, f };
  };
  const tx = taps(x0, w, ow, src.width),
    ty = taps(y0, h, oh, src.height);
  const d = src.data,
    W = src.width;
  const acc = new Float64Array(3);
  for (let oy = 0; oy < oh; oy++)
    for (let ox = 0; ox < ow; ox++) {
      acc.fill(0);
      for (let j = oy * s; j < (oy + 1) * s; j++) {
        const ra = ty.lo[j] * W,
          rb = ty.hi[j] * W,
          fy = ty.f[j];
        for (let i = ox * s; i < (ox + 1) * s; i++) {
          const xa = tx.lo[i],
            xb = tx.hi[i],
            fx = tx.f[i];
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

interface BoxItem {
  image: string;
  object: string;
  classes: number[] | string;
  box: Box;
  maxUpscale?: number;
  reason?: string;
}
const readItems = async (path: string): Promise<BoxItem[]> =>
  (JSON.parse(await readFile(path, 'utf8')) as { items: BoxItem[] }).items;

/** A box covering more than this share of its photo says nothing about localization (more-boxes.json's baboon). */
export const MAX_PHOTO_BOX_SHARE = 0.9;

/**
 * The hand-boxed photos of boxes.json and more-boxes.json, except those whose box covers nearly the whole photo
 * (returned apart, with the reason, for the record).
 */
export async function loadPhotos(d: EvalData): Promise<{ cases: EvalCase[]; skipped: { id: string; why: string }[] }> {
  const cases: EvalCase[] = [];
  const skipped: { id: string; why: string }[] = [];
  for (const it of [...(await readItems(d.boxes)), ...(await readItems(d.moreBoxes))]) {
    const image = await readRgb(join(d.images, it.image));
    const [x1, y1, x2, y2] = it.box;
    const share =
      ((Math.min(x2, image.width - 1) - x1 + 1) * (Math.min(y2, image.height - 1) - y1 + 1)) /
      (image.width * image.height);
    if (share > MAX_PHOTO_BOX_SHARE) {
      skipped.push({ id: it.image, why: `its ${it.object} box covers ${(100 * share).toFixed(0)}% of the photo` });
      continue;
    }
    cases.push({
      id: it.image,
      set: 'photos',
      image,
      box: it.box,
      classes: parseClasses(it.classes),
      object: it.object,
    });
  }
  return { cases, skipped };
}

/** Pointing-game tolerance: no pasted box comes this close to the composite's centre. */
export const OFF_CENTRE = 15;

export interface Synthesizer {
  /** Candidate j of object kind k, the same on every run: a random background crop, position and scale. */
  candidate(kind: number, j: number): EvalCase;
  /** The object kinds (several cut-outs of a kind alternate). */
  kinds: string[];
}

/**
 * Composites of size x size: an object (the boxes of boxes.json and more-boxes.json, and cut-objects.json; not
 * boxes.json's 55 px ball, which cut-objects.json lists with its own enlargement cap) with its long side 35-50% of
 * the composite (less where maxUpscale caps it), at a uniform off-centre position, on a random square crop (60-100%
 * of the short side) of one of the set's background photos that does not show the same kind of object.
 */
export async function synthesizer(d: EvalData, set: SetName, seed: number, size = 320): Promise<Synthesizer> {
  const objects = [
    ...[...(await readItems(d.boxes)), ...(await readItems(d.moreBoxes))].filter((o) => o.object !== 'ball'),
    ...(await readItems(d.cuts)),
  ].map((o) => ({ ...o, classes: parseClasses(o.classes) }));
  const kinds = [...new Set(objects.map((o) => o.object))];
  const photos = new Map<string, Rgb>();
  for (const name of new Set([...BACKGROUNDS[set], ...objects.map((o) => o.image)]))
    photos.set(name, await readRgb(join(d.images, name)));
  const candidate = (kind: number, j: number): EvalCase => {
    const rand = rng(seed ^ Math.imul(kind * 100003 + j + 1, 0x9e3779b1));
    const cuts = objects.filter((o) => o.object === kinds[kind]);
    const obj = cuts[j % cuts.length];
    const backs = BACKGROUNDS[set].filter((n) => n !== obj.image && !CONTENTS[n].includes(obj.object));
    const backName = backs[Math.floor(rand() * backs.length)];
    const back = photos.get(backName)!;
    const side = Math.floor(Math.min(back.width, back.height) * (0.6 + 0.4 * rand()));
    const bx = Math.floor(rand() * (back.width - side + 1)),
      by = Math.floor(rand() * (back.height - side + 1));
    const canvas = resizeRegion(back, bx, by, side, side, size, size);
    const [x1, y1, x2, y2] = obj.box;
    const src = photos.get(obj.image)!;
    const ow = Math.min(x2, src.width - 1) - x1 + 1,
      oh = Math.min(y2, src.height - 1) - y1 + 1;
    // Off-centre: the box never comes within OFF_CENTRE px of the middle ((size-1)/2), so that pointing at the
    // middle scores (almost) never: large objects placed uniformly would almost always cover it. (A peak on the
    // pixel next to the middle, 0.7 px off, can still score.) Too large to fit: shrink.
    let k = Math.min((size * (0.35 + 0.15 * rand())) / Math.max(ow, oh), obj.maxUpscale ?? Infinity);
    let w = 0,
      h = 0,
      px = 0,
      py = 0;
    for (let tries = 0; ; tries++) {
      if (tries % 20 === 19) k *= 0.9;
      w = Math.max(1, Math.round(ow * k));
      h = Math.max(1, Math.round(oh * k));
      px = Math.floor(rand() * (size - w + 1));
      py = Math.floor(rand() * (size - h + 1));
      const c = (size - 1) / 2;
      if (Math.hypot(Math.max(px - c, 0, c - (px + w - 1)), Math.max(py - c, 0, c - (py + h - 1))) > OFF_CENTRE) break;
    }
    paste(canvas, resizeRegion(src, x1, y1, ow, oh, w, h), px, py);
    return {
      id: `${set}-${kinds[kind].replace(/ /g, '_')}-${String(j).padStart(3, '0')}@${backName}`,
      set: 'synthetic',
      image: canvas,
      box: [px, py, px + w - 1, py + h - 1],
      classes: obj.classes,
      object: obj.object,
    };
  };
  return { candidate, kinds };
}

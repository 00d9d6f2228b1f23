// CNN Fixations on the real SqueezeNet: the class, the number of fixations under the two rule presets, and the map
// from network-input pixels back to the photo.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, pixelTransform, toImagePoints, type FixationModel } from '../../src/index.ts';
import { loadModel, readImage } from '../../src/node/index.ts';
import { SQUIRREL } from '../fixtures/data.ts';

let model: FixationModel;
let image: tf.Tensor3D;
beforeAll(async () => {
  model = await loadModel('squeezenet1_1');
  image = await readImage(SQUIRREL);
});
afterAll(() => {
  image?.dispose();
  model?.dispose();
});

const distinct = (pts: { x: number; y: number }[]) => new Set(pts.map((p) => `${p.x},${p.y}`)).size;

describe('squirrel_cls.jpg', () => {
  it('top-1 is 335 fox squirrel', async () => {
    const ex = await explain(model, image, { method: 'fixations', rules: 'default' });
    expect(ex.top[0].index).toBe(335);
    expect(ex.class.label).toMatch(/^fox squirrel/);
  });

  it("the 'positive' GAP rule without a threshold keeps many positions; the image-space fixations lie inside the photo", async () => {
    const ex = await explain(model, image, {
      method: 'fixations',
      rules: { location: 'max', gap: 'positive', weights: 'contribution' },
    });
    expect(distinct(ex.inputFixations)).toBeGreaterThan(30);
    const [H, W] = image.shape;
    expect(ex.fixations.length).toBeGreaterThan(0);
    for (const p of ex.fixations) {
      expect(p.x).toBeGreaterThanOrEqual(0);
      expect(p.x).toBeLessThanOrEqual(W - 1);
      expect(p.y).toBeGreaterThanOrEqual(0);
      expect(p.y).toBeLessThanOrEqual(H - 1);
    }
  });

  it('reference rules give exactly one fixation (GAP-argmax keeps one position, every step below is one-to-one)', async () => {
    const ex = await explain(model, image, { method: 'fixations', rules: 'reference' });
    expect(ex.class.index).toBe(335);
    expect(distinct(ex.inputFixations)).toBe(1);
    expect(ex.fixations.length).toBe(1);
  });
});

describe('network-input pixels -> photo pixels', () => {
  // A 400x300 photo, centre crop to 224: the crop is the 300x300 square from x = 50; 224 samples over 300 pixels
  // from centre to centre step 299/223. So input (0,0) -> (50,0) and input (223,223) -> (349,299).
  // Letterbox: the 400x400 square from y = -50, step 399/223: input (0,0) -> (0,-50), (223,223) -> (399,349).
  it('maps the crop corners by hand', () => {
    const t = pixelTransform(400, 300, 224, 'crop');
    const pts = toImagePoints(
      [
        { x: 0, y: 0, c: 0, w: 1 },
        { x: 223, y: 0, c: 0, w: 1 },
        { x: 223, y: 223, c: 0, w: 1 },
      ],
      t,
    );
    expect(pts.map((p) => [p.x, p.y])).toEqual(
      [
        [50, 0],
        [349, 0],
        [349, 299],
      ].map(([x, y]) => [expect.closeTo(x, 9), expect.closeTo(y, 9)]),
    );
    const l = pixelTransform(400, 300, 224, 'letterbox');
    expect([
      0 * l.stepX + l.startX,
      0 * l.stepY + l.startY,
      223 * l.stepX + l.startX,
      223 * l.stepY + l.startY,
    ]).toEqual([0, -50, 399, 349].map((v) => expect.closeTo(v, 9)));
    // Those corners sample the bars (y < 0, y > 299): no photo pixel, dropped. Rows 28 and 195 are the photo's first
    // and last: 28 * 399/223 - 50 = 0.099, 195 * 399/223 - 50 = 298.9; rows 27 and 196 fall outside (-1.69, 300.7).
    const lp = toImagePoints(
      [0, 27, 28, 195, 196, 223].map((y) => ({ x: 223, y, c: 0, w: 1 })),
      l,
    );
    expect(lp.map((p) => [p.x, p.y])).toEqual(
      [
        [399, (28 * 399) / 223 - 50],
        [399, (195 * 399) / 223 - 50],
      ].map(([x, y]) => [expect.closeTo(x, 9), expect.closeTo(y, 9)]),
    );
  });

  it('the preprocessing samples exactly those photo pixels', () => {
    // Black photo with two marked pixels, (349,0) red and (50,299) green: input (223,0) must be pure red and
    // input (0,223) pure green; their neighbours sample between black pixels only.
    const W = 400,
      H = 300;
    const px = new Int32Array(W * H * 4);
    px[(0 * W + 349) * 4] = 255;
    px[(299 * W + 50) * 4 + 1] = 255;
    const photo = tf.tensor3d(px, [H, W, 4], 'int32');
    const { input } = model.preprocess(photo, 'crop');
    const v = input.arraySync()[0];
    photo.dispose();
    input.dispose();
    const { mean, std } = model.info.preprocessing;
    const rgb = (y: number, x: number) => v[y][x].map((n, c) => Math.round((n * std[c] + mean[c]) * 255) + 0); // + 0: no -0
    expect(rgb(0, 223)).toEqual([255, 0, 0]);
    expect(rgb(223, 0)).toEqual([0, 255, 0]);
    expect(rgb(0, 222)).toEqual([0, 0, 0]);
    expect(rgb(1, 223)).toEqual([0, 0, 0]);
  });

  it('letterbox samples exactly those photo pixels, and the bars normalise to exactly 0 in every channel', () => {
    // A 447x301 photo, letterbox to 224: the 447x447 square from y = -73, step 446/223 = 2, so input (x,y) samples
    // photo pixel (2x, 2y - 73). Rows 0..36 and 187..223 fall above row 0 and below row 300: bars. Marked pixels:
    // (200,1) red = input (100,37), (0,299) green = input (0,186), (446,1) blue = input (223,37).
    const W = 447,
      H = 301;
    const px = new Int32Array(W * H * 4);
    px[(1 * W + 200) * 4] = 255;
    px[(299 * W + 0) * 4 + 1] = 255;
    px[(1 * W + 446) * 4 + 2] = 255;
    const photo = tf.tensor3d(px, [H, W, 4], 'int32');
    const { input, transform } = model.preprocess(photo, 'letterbox');
    const v = input.arraySync()[0];
    photo.dispose();
    input.dispose();
    expect(transform).toMatchObject({ startX: 0, startY: -73, stepX: 2, stepY: 2 });
    const { mean, std } = model.info.preprocessing;
    const rgb = (y: number, x: number) => v[y][x].map((n, c) => Math.round((n * std[c] + mean[c]) * 255) + 0);
    expect(rgb(37, 100)).toEqual([255, 0, 0]);
    expect(rgb(186, 0)).toEqual([0, 255, 0]);
    expect(rgb(37, 223)).toEqual([0, 0, 255]);
    expect(rgb(38, 100)).toEqual([0, 0, 0]); // photo row 3: black
    // Black photo pixels normalise to -mean/std; the bars to 0 (the mean colour), not to the photo's black.
    expect(v[100][50].map((n) => +n.toFixed(5))).toEqual(mean.map((m, c) => +(-m / std[c]).toFixed(5)));
    for (const y of [0, 20, 36, 187, 200, 223]) {
      for (const x of [0, 100, 223]) expect(v[y][x]).toEqual([0, 0, 0]);
    }
  });

  it('letterbox fixations map into the photo (none on the bars)', async () => {
    const ex = await explain(model, image, {
      method: 'fixations',
      fit: 'letterbox',
      rules: { location: 'max', gap: 'positive', weights: 'contribution' },
      post: { outliers: false },
    });
    const [H, W] = image.shape;
    expect(ex.transform.fit).toBe('letterbox');
    expect(ex.fixations.length).toBeGreaterThan(0);
    // The walk does reach the bars here (an input pixel sampling above the photo): those have no photo pixel.
    const onBars = ex.inputFixations.filter(
      (f) =>
        f.y * ex.transform.stepY + ex.transform.startY < 0 || f.y * ex.transform.stepY + ex.transform.startY > H - 1,
    );
    expect(onBars.length).toBeGreaterThan(0);
    for (const p of ex.fixations) {
      expect(p.x >= 0 && p.x <= W - 1 && p.y >= 0 && p.y <= H - 1, `(${p.x}, ${p.y}) outside ${W}x${H}`).toBe(true);
    }
  });
});

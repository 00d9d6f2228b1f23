// CNN Fixations on the real SqueezeNet: the class, the number of fixations under the two rule presets, and the map
// from network-input pixels back to the photo.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, pixelTransform, toImagePoints, type FixationModel } from '../../src/index.ts';
import { loadModel, readImage } from '../../src/node/index.ts';

const SQUIRREL = new URL('../../../shared/images/squirrel_cls.jpg', import.meta.url).pathname;

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
    const ex = await explain(model, image, { rules: 'default' });
    expect(ex.top[0].index).toBe(335);
    expect(ex.class.label).toMatch(/^fox squirrel/);
  });

  it("the 'positive' GAP rule without a threshold keeps many positions; the image-space fixations lie inside the photo", async () => {
    const ex = await explain(model, image, { rules: { location: 'max', gap: 'positive', weights: 'contribution' } });
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
    const ex = await explain(model, image, { rules: 'reference' });
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
    const pts = toImagePoints([{ x: 0, y: 0, c: 0, w: 1 }, { x: 223, y: 0, c: 0, w: 1 }, { x: 223, y: 223, c: 0, w: 1 }], t);
    expect(pts.map((p) => [p.x, p.y])).toEqual([[50, 0], [349, 0], [349, 299]].map(([x, y]) => [expect.closeTo(x, 9), expect.closeTo(y, 9)]));
    const l = pixelTransform(400, 300, 224, 'letterbox');
    const lp = toImagePoints([{ x: 0, y: 0, c: 0, w: 1 }, { x: 223, y: 223, c: 0, w: 1 }], l);
    expect(lp.map((p) => [p.x, p.y])).toEqual([[0, -50], [399, 349]].map(([x, y]) => [expect.closeTo(x, 9), expect.closeTo(y, 9)]));
  });

  it('the preprocessing samples exactly those photo pixels', () => {
    // Black photo with two marked pixels, (349,0) red and (50,299) green: input (223,0) must be pure red and
    // input (0,223) pure green; their neighbours sample between black pixels only.
    const W = 400, H = 300;
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
});

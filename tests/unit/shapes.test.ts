// Inputs that are not square RGB: a non-square (160x224) and a 1-channel model, hand-built tiny TF.js graph models
// run by tfjs. The pixel transform is worked out by hand, the preprocessing is checked on marked photo pixels, and a
// fixation seeded at a known network-input pixel must land on the photo pixel that the transform names.
//
// Photos chosen so that every network pixel samples one photo pixel centre exactly (step 2 on both axes):
//   crop, 447x339 photo, 224x160 input: step min(446/223, 338/159) = 2, region 446x318 centred: start (0, 10).
//     network (x, y) -> photo (2x, 2y + 10); (223, 0) -> (446, 10), (0, 159) -> (0, 328).
//   letterbox, 401x319 photo: step max(400/223, 318/159) = 2, region 446x318 centred: start (-23, 0).
//     network (x, y) -> photo (2x - 23, 2y); x <= 11 and x >= 212 fall outside the photo (bars).
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain } from '../../src/engine/explain.ts';
import { RANGE_PRESETS } from '../../src/engine/facts.ts';
import { FixationModel, pixelTransform, type ModelInfo } from '../../src/engine/model.ts';
import { toImagePoints } from '../../src/engine/post.ts';
import { initNodeBackend } from '../../src/node/index.ts';
import { GraphBuilder, kernel } from '../fixtures/graphs.ts';

const F = { T: { type: 'DT_FLOAT' } };
const H = 160,
  W = 224;

/**
 * input [1,H,W,C] -> conv 1x1 to 2 channels (channel 0 = the sum of the input channels, channel 1 = minus it)
 * -> mean over H,W = the logits. Class 0's map is the input itself: the GAP argmax (reference rules) keeps the
 * brightest input position, the 1x1 conv keeps the channel that contributes most there.
 */
async function tinyModel(C: 1 | 3, info: Partial<ModelInfo> = {}): Promise<FixationModel> {
  const g = new GraphBuilder([H, W, C]);
  g.conv(
    'conv',
    'input',
    kernel([1, 1, C, 2], (_u, _v, _k, c) => (c === 0 ? 1 : -1)),
  );
  g.op('gap', 'Mean', ['conv', g.ints('gap/axes', [1, 2])], {
    ...F,
    Tidx: { type: 'DT_INT32' },
    keep_dims: { b: false },
  });
  const gm = await loadGraphModel({ load: async () => g.artifacts() });
  return FixationModel.create(gm, { ...g.info(`tiny${C}`, 'gap'), ...info });
}

/** A black RGBA photo with some pixels set: [x, y, [r, g, b]]. */
function photo(w: number, h: number, set: [number, number, number[]][]): tf.Tensor3D {
  const px = new Int32Array(w * h * 4).fill(0);
  for (let i = 0; i < w * h; i++) px[4 * i + 3] = 255;
  for (const [x, y, rgb] of set) rgb.forEach((v, c) => (px[(y * w + x) * 4 + c] = v));
  return tf.tensor3d(px, [h, w, 4], 'int32');
}

/** Network input values at (y, x), all channels. */
function at(input: tf.Tensor4D, y: number, x: number): number[] {
  return [...tf.tidy(() => tf.slice(input, [0, y, x, 0], [1, 1, 1, -1]).dataSync())];
}

beforeAll(async () => {
  await initNodeBackend();
});

describe('pixel transform of a non-square input, by hand', () => {
  it('crop and letterbox of the two photos', () => {
    const c = pixelTransform(447, 339, { width: W, height: H }, 'crop');
    expect([c.stepX, c.stepY, c.startX, c.startY, c.inputWidth, c.inputHeight]).toEqual([2, 2, 0, 10, W, H]);
    const l = pixelTransform(401, 319, { width: W, height: H }, 'letterbox');
    expect([l.stepX, l.stepY, l.startX, l.startY]).toEqual([2, 2, -23, 0]);
    const pts = toImagePoints(
      [
        { x: 223, y: 0, c: 0, w: 1 },
        { x: 0, y: 159, c: 0, w: 1 },
      ],
      c,
    );
    expect(pts.map((p) => [p.x, p.y])).toEqual([
      [446, 10],
      [0, 328],
    ]);
  });

  it('a square side still works as before (400x300 photo, 224 input: crop from x = 50, step 299/223)', () => {
    const t = pixelTransform(400, 300, 224, 'crop');
    expect(t.startX).toBe(50);
    expect(t.startY).toBe(0);
    expect(t.stepX).toBeCloseTo(299 / 223, 12);
    expect([t.inputWidth, t.inputHeight]).toEqual([224, 224]);
  });

  it('a network input under 2 pixels on a side is refused', () => {
    expect(() => pixelTransform(10, 10, { width: 1, height: 5 }, 'crop')).toThrow(/at least 2x2 pixels, got 1x5/);
  });
});

describe('non-square RGB model (160x224), input range [0,255], per-channel mean and std', () => {
  let fm: FixationModel;
  const pre = { range: [0, 255] as [number, number], mean: [10, 20, 30], std: [2, 4, 5] };
  beforeAll(async () => {
    fm = await tinyModel(3, { preprocessing: pre });
  });
  afterAll(() => fm?.dispose());

  it('reads height, width and channels from the model info and the graph', () => {
    expect(fm.input).toEqual({ height: H, width: W, channels: 3 });
    expect(fm.graph.input.shape).toEqual([H, W, 3]);
  });

  it('crop: samples exactly the marked photo pixels', () => {
    const img = photo(447, 339, [
      [446, 10, [255, 0, 0]],
      [0, 328, [0, 255, 0]],
      [2, 10, [0, 0, 100]],
    ]);
    const { input, transform } = fm.preprocess(img, 'crop');
    img.dispose();
    expect(input.shape).toEqual([1, H, W, 3]);
    expect([transform.startX, transform.startY, transform.stepX]).toEqual([0, 10, 2]);
    const norm = (rgb: number[]) => rgb.map((v, c) => (v - pre.mean[c]) / pre.std[c]);
    const close = (got: number[], want: number[]) => got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 4));
    close(at(input, 0, 223), norm([255, 0, 0]));
    close(at(input, 159, 0), norm([0, 255, 0]));
    close(at(input, 0, 1), norm([0, 0, 100]));
    close(at(input, 0, 222), norm([0, 0, 0])); // photo (444, 10): black
    close(at(input, 1, 223), norm([0, 0, 0]));
    input.dispose();
  });

  it('letterbox: bars are exactly 0 in every channel, the photo starts at network x = 12', () => {
    const img = photo(401, 319, [[1, 0, [200, 200, 200]]]); // photo (1, 0) = network (12, 0)
    const { input } = fm.preprocess(img, 'letterbox');
    img.dispose();
    expect(at(input, 0, 11)).toEqual([0, 0, 0]);
    expect(at(input, 159, 212)).toEqual([0, 0, 0]);
    expect(at(input, 80, 0)).toEqual([0, 0, 0]);
    at(input, 0, 12).forEach((v, c) => expect(v).toBeCloseTo((200 - pre.mean[c]) / pre.std[c], 4));
    at(input, 0, 211).forEach((v, c) => expect(v).toBeCloseTo((0 - pre.mean[c]) / pre.std[c], 4)); // photo (399, 0)
    input.dispose();
  });

  it('a fixation seeded at network pixel (223, 0), red channel, lands on photo pixel (446, 10)', async () => {
    const img = photo(447, 339, [[446, 10, [255, 0, 0]]]);
    const ex = await explain(fm, img, { rules: 'reference', classIndex: 0, fit: 'crop' });
    img.dispose();
    expect(ex.inputFixations.map((f) => [f.x, f.y, f.c])).toEqual([[223, 0, 0]]);
    expect(ex.fixations.map((f) => [f.x, f.y])).toEqual([[446, 10]]);
  });
});

describe('1-channel model: the luminance', () => {
  let fm: FixationModel;
  beforeAll(async () => {
    fm = await tinyModel(1, { preprocessing: { range: [0, 255], mean: [0], std: [1] } });
  });
  afterAll(() => fm?.dispose());

  it('the dry run works: the graph starts at a [160,224,1] input', () => {
    expect(fm.input).toEqual({ height: H, width: W, channels: 1 });
    expect(fm.graph.input.shape).toEqual([H, W, 1]);
  });

  it('each network pixel is 0.299 R + 0.587 G + 0.114 B of its photo pixel', () => {
    const img = photo(447, 339, [
      [446, 10, [255, 0, 0]],
      [0, 328, [0, 255, 0]],
      [2, 10, [0, 0, 255]],
      [4, 10, [100, 100, 100]],
    ]);
    const { input } = fm.preprocess(img, 'crop');
    img.dispose();
    expect(input.shape).toEqual([1, H, W, 1]);
    expect(at(input, 0, 223)[0]).toBeCloseTo(76.245, 3);
    expect(at(input, 159, 0)[0]).toBeCloseTo(149.685, 3);
    expect(at(input, 0, 1)[0]).toBeCloseTo(29.07, 3);
    expect(at(input, 0, 2)[0]).toBeCloseTo(100, 3);
    expect(at(input, 0, 3)[0]).toBe(0);
    input.dispose();
  });

  it("a range preset with 3 equal entries (the app's [-1,1]) serves 1 channel: red 255 -> 0.299 * 2 - 1", async () => {
    const signed = await tinyModel(1, { preprocessing: RANGE_PRESETS.signed });
    const img = photo(447, 339, [[446, 10, [255, 0, 0]]]);
    const { input } = signed.preprocess(img, 'crop');
    expect(at(input, 0, 223)[0]).toBeCloseTo(0.299 * 2 - 1, 5);
    expect(at(input, 0, 0)[0]).toBeCloseTo(-1, 6);
    tf.dispose([img, input]);
    signed.dispose();
  });

  it('letterbox: a fixation at network (100, 50) lands on photo pixel (177, 100)', async () => {
    const img = photo(401, 319, [[177, 100, [0, 90, 0]]]);
    const ex = await explain(fm, img, { rules: 'reference', classIndex: 0, fit: 'letterbox' });
    img.dispose();
    expect(ex.inputFixations.map((f) => [f.x, f.y, f.c])).toEqual([[100, 50, 0]]);
    expect(ex.fixations.map((f) => [f.x, f.y])).toEqual([[177, 100]]);
  });

  it('explain takes a preprocessed [1,160,224,1] tensor, and refuses a 3-channel one naming the shape', async () => {
    const t = tf.tidy(() => tf.reshape(tf.cast(tf.oneHot([5 * W + 7], H * W), 'float32'), [1, H, W, 1]) as tf.Tensor4D); // 1 at (7, 5)
    const ex = await explain(fm, t, { rules: 'reference', classIndex: 0 });
    expect(ex.inputFixations.map((f) => [f.x, f.y, f.c])).toEqual([[7, 5, 0]]);
    expect(ex.fixations.map((f) => [f.x, f.y])).toEqual([[7, 5]]);
    t.dispose();
    const rgb = tf.zeros([1, H, W, 3]) as tf.Tensor4D;
    await expect(explain(fm, rgb)).rejects.toThrow(
      /input tensor must be \[1,160,224,1\] for model 'tiny1', got \[1,160,224,3\]/,
    );
    rgb.dispose();
  });
});

describe('bad input shapes: clear errors', () => {
  it('a mean with 3 entries for a 1-channel model', async () => {
    await expect(tinyModel(1, { preprocessing: { range: [0, 1], mean: [0.4, 0.5, 0.6], std: [1] } })).rejects.toThrow(
      /model 'tiny1': preprocessing.mean has 3 entries, the input has 1 channel\(s\) \(give 1 or 1\)/,
    );
  });
  it('model info that contradicts the input signature', async () => {
    await expect(tinyModel(3, { inputHeight: 200 })).rejects.toThrow(
      /model 'tiny3': the model's input is \[-1,160,224,3\], the model info says \[1,200,224,3\]/,
    );
  });
  it('2 input channels', async () => {
    await expect(tinyModel(3, { inputChannels: 2 })).rejects.toThrow(/input channels 2 are not supported/);
  });
});

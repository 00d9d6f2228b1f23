// Several classes at once (one heatmap and colour each) and Grad-CAM's --layer: the drawing on hand-made maps,
// and the real CLI (node bin/cnnfix.js) on the squirrel photo.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cnnfix } from '../fixtures/cli.ts';
import { overlayAlpha } from '../../src/engine/colormap.ts';
import { CLASS_COLORS } from '../../src/engine/post.ts';
import { drawExplanation } from '../../src/node/draw.ts';
import { decodeImage } from '../../src/node/index.ts';
import { photo, SQUIRREL } from '../fixtures/data.ts';

const FRUITS = photo('fruits.jpg');

describe('per-class hue overlay (drawExplanation with several classes)', () => {
  it("each pixel takes the colour of the strongest class there, with that value's alpha", () => {
    // A 3x1 grey image; class A strong on the left, class B on the right, both 0.5 in the middle (ties go to A).
    const image = {
      width: 3,
      height: 1,
      data: new Uint8Array([100, 100, 100, 255, 100, 100, 100, 255, 100, 100, 100, 255]),
    };
    const A = Float32Array.from([1, 0.5, 0]),
      B = Float32Array.from([0.2, 0.5, 1]);
    const out = drawExplanation(image, [
      { heatmap: A, points: [], box: null, color: '#ff0000' },
      { heatmap: B, points: [], box: null, color: '#0000ff' },
    ]);
    const blend = (c: number, v: number) => Math.round(100 * (1 - overlayAlpha(v, 0.6)) + c * overlayAlpha(v, 0.6));
    expect([...out.data.subarray(0, 3)]).toEqual([blend(255, 1), blend(0, 1), blend(0, 1)]);
    expect([...out.data.subarray(4, 7)]).toEqual([blend(255, 0.5), blend(0, 0.5), blend(0, 0.5)]);
    expect([...out.data.subarray(8, 11)]).toEqual([blend(0, 1), blend(0, 1), blend(255, 1)]);
    expect(overlayAlpha(1, 0.6)).toBeCloseTo(0.6, 6);
  });
});

describe('cnnfix explain --class K1,K2 and --layer', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'cnnfix-classes-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('explains each class with its own colour, heatmap file and JSON entry', async () => {
    const out = join(tmp, 'two');
    const r = await cnnfix('explain', SQUIRREL, '--class', '335,336', '--out', out, '--save-heatmap');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/335 fox squirrel.*#ff3b30.*; 336 marmot.*#30d158/);
    const j = JSON.parse(readFileSync(join(out, 'squirrel_cls.json'), 'utf8'));
    expect(j.classes.map((c: { class: { index: number }; color: string }) => [c.class.index, c.color])).toEqual([
      [335, CLASS_COLORS[0]],
      [336, CLASS_COLORS[1]],
    ]);
    expect(j.class.index).toBe(335);
    for (const k of [335, 336]) {
      const png = PNG.sync.read(readFileSync(join(out, `squirrel_cls.heatmap-${k}.png`)));
      const c = j.classes.find((x: { class: { index: number } }) => x.class.index === k);
      // The grayscale map peaks (255) at the class's peak.
      expect(png.data[4 * (Math.round(c.peak[1]) * png.width + Math.round(c.peak[0]))]).toBe(255);
    }
    expect(existsSync(join(out, 'squirrel_cls.heatmap.png'))).toBe(false);
  });

  it('the PNG of two classes (lemon, orange on fruits.jpg): each pixel in the hue of the class whose map is stronger', async () => {
    const out = join(tmp, 'fruits');
    // The fixations method (SqueezeNet's own default is guided): its few points leave most pixels to compare.
    const r = await cnnfix(
      'explain',
      FRUITS,
      '--method',
      'fixations',
      '--class',
      '951,950',
      '--out',
      out,
      '--save-heatmap',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(readFileSync(join(out, 'fruits.json'), 'utf8'));
    const png = PNG.sync.read(readFileSync(join(out, 'fruits.png')));
    const img = decodeImage(readFileSync(FRUITS));
    const maps = [951, 950].map((k) => PNG.sync.read(readFileSync(join(out, `fruits.heatmap-${k}.png`))).data);
    const hue = CLASS_COLORS.slice(0, 2).map((h) =>
      h
        .slice(1)
        .match(/../g)!
        .map((x) => parseInt(x, 16)),
    );
    // Points and boxes are drawn over the heat: leave out what lies near them, and near-ties of the two maps.
    const marks = j.classes.flatMap((c: { fixations: { x: number; y: number }[] }) => c.fixations);
    const boxes: number[][] = j.classes.map((c: { box: number[] | null }) => c.box).filter(Boolean);
    const near = (x: number, y: number) =>
      marks.some((p: { x: number; y: number }) => Math.hypot(p.x - x, p.y - y) < 8) ||
      boxes.some(
        ([x1, y1, x2, y2]) =>
          x > x1 - 8 &&
          x < x2 + 8 &&
          y > y1 - 8 &&
          y < y2 + 8 &&
          (Math.abs(x - x1) < 8 || Math.abs(x - x2) < 8 || Math.abs(y - y1) < 8 || Math.abs(y - y2) < 8),
      );
    let maxDiff = 0,
      checked = 0;
    const tinted = [0, 0];
    for (let y = 0; y < png.height; y++)
      for (let x = 0; x < png.width; x++) {
        if (near(x, y)) continue;
        const i = 4 * (y * png.width + x);
        const v = maps.map((m) => m[i] / 255);
        if (Math.abs(v[0] - v[1]) <= 1 / 255 && v[0] > 0) continue; // which is stronger is lost in the 8-bit maps
        const k = v[1] > v[0] ? 1 : 0;
        const a = overlayAlpha(v[k], 0.6); // the CLI's opacity
        if (a > 0.5) tinted[k]++;
        for (let c = 0; c < 3; c++)
          maxDiff = Math.max(maxDiff, Math.abs(png.data[i + c] - (img.data[i + c] * (1 - a) + hue[k][c] * a)));
        checked++;
      }
    expect(checked).toBeGreaterThan(0.5 * png.width * png.height);
    // Both hues are there, each over a blob or more (orange's map on the orange, lemon's on the lemon and the lime;
    // SqueezeNet's catalog rules keep 1-3 fixations per class here: 466 pixels tinted for lemon).
    expect(tinted[0]).toBeGreaterThan(300);
    expect(tinted[1]).toBeGreaterThan(300);
    // The saved maps are 8-bit: alpha within 0.6 / 0.25 * 0.5 / 255 of the PNG's, a pixel within 2.
    expect(maxDiff).toBeLessThanOrEqual(2);
  });

  it('--method gradcam --layer NODE differentiates at that layer; a bad layer or method is a clear error', async () => {
    const out = join(tmp, 'layer');
    const ok = await cnnfix('explain', SQUIRREL, '--method', 'gradcam', '--layer', 'fire8/concat', '--out', out);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'squirrel_cls.json'), 'utf8')).layer).toBe('fire8/concat');
    const bad = await cnnfix('explain', SQUIRREL, '--method', 'gradcam', '--layer', 'nope', '--out', out);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/layer 'nope' is not a node the logits 'pool10' depend on/);
    const wrong = await cnnfix('explain', SQUIRREL, '--method', 'fixations', '--layer', 'fire8/concat', '--out', out);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/--layer applies to --method gradcam or guided, not fixations/);
    const many = await cnnfix('explain', SQUIRREL, '--class', '1,2,3,4,5,6,7', '--out', out);
    expect(many.code).toBe(2);
    expect(many.stderr).toMatch(/at most 6 classes/);
  });
});

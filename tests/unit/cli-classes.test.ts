// Several classes at once (one heatmap and colour each) and Grad-CAM's --layer: the drawing on hand-made maps,
// and the real CLI (node bin/cnnfix.js) on the squirrel photo.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { overlayAlpha } from '../../src/engine/colormap.ts';
import { CLASS_COLORS } from '../../src/engine/post.ts';
import { drawExplanation } from '../../src/node/draw.ts';

const ROOT = join(import.meta.dirname, '../..');
const SQUIRREL = join(ROOT, '../shared/images/squirrel_cls.jpg');

interface Run { code: number; stdout: string; stderr: string }
function cnnfix(...args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [join(ROOT, 'bin/cnnfix.js'), ...args], { cwd: ROOT, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

describe('per-class hue overlay (drawExplanation with several classes)', () => {
  it('each pixel takes the colour of the strongest class there, with that value\'s alpha', () => {
    // A 3x1 grey image; class A strong on the left, class B on the right, both 0.5 in the middle (ties go to A).
    const image = { width: 3, height: 1, data: new Uint8Array([100, 100, 100, 255, 100, 100, 100, 255, 100, 100, 100, 255]) };
    const A = Float32Array.from([1, 0.5, 0]), B = Float32Array.from([0.2, 0.5, 1]);
    const out = drawExplanation(image, [{ heatmap: A, points: [], box: null, color: '#ff0000' }, { heatmap: B, points: [], box: null, color: '#0000ff' }]);
    const blend = (c: number, v: number) => Math.round(100 * (1 - overlayAlpha(v, 0.6)) + c * overlayAlpha(v, 0.6));
    expect([...out.data.subarray(0, 3)]).toEqual([blend(255, 1), blend(0, 1), blend(0, 1)]);
    expect([...out.data.subarray(4, 7)]).toEqual([blend(255, 0.5), blend(0, 0.5), blend(0, 0.5)]);
    expect([...out.data.subarray(8, 11)]).toEqual([blend(0, 1), blend(0, 1), blend(255, 1)]);
    expect(overlayAlpha(1, 0.6)).toBeCloseTo(0.6, 6);
  });
});

describe('cnnfix explain --class K1,K2 and --layer', () => {
  let tmp: string;
  beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'cnnfix-classes-')); });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('explains each class with its own colour, heatmap file and JSON entry', async () => {
    const out = join(tmp, 'two');
    const r = await cnnfix('explain', SQUIRREL, '--class', '335,336', '--out', out, '--save-heatmap');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/335 fox squirrel.*#ff3b30.*; 336 marmot.*#30d158/);
    const j = JSON.parse(readFileSync(join(out, 'squirrel_cls.json'), 'utf8'));
    expect(j.classes.map((c: { class: { index: number }; color: string }) => [c.class.index, c.color])).toEqual([[335, CLASS_COLORS[0]], [336, CLASS_COLORS[1]]]);
    expect(j.class.index).toBe(335);
    for (const k of [335, 336]) {
      const png = PNG.sync.read(readFileSync(join(out, `squirrel_cls.heatmap-${k}.png`)));
      const c = j.classes.find((x: { class: { index: number } }) => x.class.index === k);
      // The grayscale map peaks (255) at the class's peak.
      expect(png.data[4 * (Math.round(c.peak[1]) * png.width + Math.round(c.peak[0]))]).toBe(255);
    }
    expect(existsSync(join(out, 'squirrel_cls.heatmap.png'))).toBe(false);
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
    const wrong = await cnnfix('explain', SQUIRREL, '--layer', 'fire8/concat', '--out', out);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/--layer applies to --method gradcam, not fixations/);
    const many = await cnnfix('explain', SQUIRREL, '--class', '1,2,3,4,5,6,7', '--out', out);
    expect(many.code).toBe(2);
    expect(many.stderr).toMatch(/at most 6 classes/);
  });
});

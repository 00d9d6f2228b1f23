// The guided method (class map x (epsilon + fixation density)) on the real SqueezeNet and the squirrel photo,
// through the library and the CLI; its errors on a model without a class map. Expected maps are recomputed here
// from the CAM and the fixations' density that explain() gives for those methods alone.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cnnfix, ROOT } from '../fixtures/cli.ts';
import { explain } from '../../src/engine/explain.ts';
import { FixationModel, type ModelInfo } from '../../src/engine/model.ts';
import { MIN_BOX_POINTS, tightBox } from '../../src/engine/post.ts';
import { PRESETS } from '../../src/engine/types.ts';
import { GUIDED } from '../../src/engine/methods.ts';
import { loadModel, readImage } from '../../src/node/index.ts';
import { planFrame } from '../../src/worker/plan.ts';
import { GraphBuilder, kernel, matrix } from '../fixtures/graphs.ts';

const SQUIRREL = join(ROOT, 'eval/data/images/squirrel_cls.jpg');
const CATALOG = JSON.parse(readFileSync(join(ROOT, 'models/catalog.json'), 'utf8'));
/** The squirrel's box in eval/data/boxes.json (original-image pixels [x1, y1, x2, y2]). */
const SQUIRREL_BOX = [125, 100, 360, 370];
const inBox = ([x, y]: [number, number], b: number[]) => x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3];

describe('guided on SqueezeNet, the squirrel photo', () => {
  let fm: FixationModel;
  let img: tf.Tensor3D;
  beforeAll(async () => {
    fm = await loadModel('squeezenet1_1');
    img = await readImage(SQUIRREL);
  });
  afterAll(() => {
    img?.dispose();
    fm?.dispose();
  });

  it("CAM x (epsilon + the dense fixations' density), the default knobs: peak on the squirrel, the map's box, the points drawn", async () => {
    // No method asked: SqueezeNet's own default (its catalog entry's "method") is guided.
    const e = await explain(fm, img);
    expect(e.method).toBe('guided');
    expect(e.class.index).toBe(335);
    expect(e.guided).toEqual({ ...GUIDED, classMap: 'cam' });
    expect(GUIDED.rules).toBe('dense');
    expect(e.rules).toEqual(PRESETS.dense);
    expect(inBox(e.peak, SQUIRREL_BOX), `peak ${e.peak} in the squirrel's box ${SQUIRREL_BOX}`).toBe(true);
    // Dense fixations: enough points to span the squirrel (the default rules leave 1-3).
    expect(e.fixations.length).toBeGreaterThanOrEqual(MIN_BOX_POINTS);
    expect(e.boxSource).toBe('map');
    expect(e.box).toEqual(e.camBox);

    // The map is CAM x (epsilon + density), each normalised to max 1, renormalised: recomputed from the two parts.
    const cam = await explain(fm, img, { method: 'cam' });
    const fix = await explain(fm, img, { method: 'fixations', rules: 'dense', post: { sigma: GUIDED.sigma } });
    expect(e.layer).toBe(cam.layer); // the class map's layer
    expect(fix.fixations).toEqual(e.fixations);
    const c = cam.heatmap.data,
      d = fix.heatmap.data;
    const want = new Float64Array(c.length);
    let max = 0;
    for (let i = 0; i < c.length; i++) {
      want[i] = c[i] * (GUIDED.epsilon + d[i]);
      max = Math.max(max, want[i]);
    }
    let worst = 0;
    for (let i = 0; i < c.length; i++) worst = Math.max(worst, Math.abs(want[i] / max - e.heatmap.data[i]));
    expect(worst).toBeLessThan(1e-5);
    // The product sharpens CAM: less of the map's mass outside the squirrel's box.
    const outside = (m: Float32Array) => {
      let all = 0,
        out = 0;
      for (let i = 0; i < m.length; i++) {
        all += m[i];
        if (!inBox([i % e.heatmap.width, Math.floor(i / e.heatmap.width)], SQUIRREL_BOX)) out += m[i];
      }
      return out / all;
    };
    expect(outside(e.heatmap.data)).toBeLessThan(outside(c));
  });

  it("knobs: epsilon 0 is the plain product; box 'fixations' is the tight box of the points; Grad-CAM class map", async () => {
    const e = await explain(fm, img, {
      method: 'guided',
      guided: { epsilon: 0, classMap: 'gradcam' },
      box: 'fixations',
    });
    expect(e.guided).toMatchObject({ epsilon: 0, classMap: 'gradcam' });
    expect(e.layer).toBe('fire9/concat');
    expect(e.boxSource).toBe('fixations');
    expect(e.box).toEqual(tightBox(e.fixations));
    expect(inBox(e.peak, SQUIRREL_BOX)).toBe(true);
    // The default rules feed it when asked for.
    const r = await explain(fm, img, { method: 'guided', rules: 'default' });
    expect(r.rules).toEqual(fm.info.rules);
  });

  it('errors name the method, the option or the model', async () => {
    await expect(explain(fm, img, { method: 'lrp' as never })).rejects.toThrow(
      /unknown method 'lrp' \(known: fixations, guided, cam, gradcam, center\)/,
    );
    await expect(explain(fm, img, { method: 'cam', box: 'fixations' })).rejects.toThrow(
      /box 'fixations': method 'cam' has no fixations/,
    );
    await expect(explain(fm, img, { method: 'fixations', guided: { epsilon: 1 } })).rejects.toThrow(
      /option 'guided' applies to method 'guided', not 'fixations'/,
    );
    await expect(
      explain(fm, img, { method: 'guided', guided: { classMap: 'cam' }, layer: 'fire9/concat' }),
    ).rejects.toThrow(/'layer' applies to the Grad-CAM class map.*squeezenet1_1/);
  });

  it("the worker's plan: guided knobs, box source and rules resolved; an unknown method named with the known ones", () => {
    const p = planFrame(fm, { method: 'guided', guided: { epsilon: 0.3 } });
    expect(p.guided).toEqual({ ...GUIDED, epsilon: 0.3, classMap: 'cam' });
    expect(p.box).toBe('map');
    expect(p.rules).toEqual(PRESETS.dense);
    expect(planFrame(fm, { method: 'fixations' }).box).toBe('fixations');
    // No method asked: SqueezeNet's own (catalog "method": guided, with its "guided" knobs).
    const entry = CATALOG.models.find((m: { id: string }) => m.id === 'squeezenet1_1');
    expect(entry.method).toBe('guided');
    expect(planFrame(fm, {})).toMatchObject({
      method: 'guided',
      box: 'map',
      guided: { ...GUIDED, ...entry.guided, classMap: 'cam' },
    });
    expect(() => planFrame(fm, { method: 'lrp' as never })).toThrow(
      /unknown method 'lrp' \(known: fixations, guided, cam, gradcam\)/,
    );
    expect(() => planFrame(fm, { method: 'cam', box: 'fixations' })).toThrow(
      /box 'fixations': method 'cam' has no fixations/,
    );
    expect(() => planFrame(fm, { method: 'guided', guided: { sigma: 2 } })).toThrow(/guided.sigma=2/);
  });
});

describe('guided on a model without a class map (Flatten + Dense, no pool)', () => {
  const info: ModelInfo = {
    id: 'flatDense',
    inputSize: 2,
    preprocessing: { range: [0, 1], mean: [0, 0, 0], std: [1, 1, 1] },
    logits: 'fc',
    labels: [],
  };
  let fm: FixationModel;
  beforeAll(async () => {
    const g = new GraphBuilder(2);
    g.conv(
      'conv',
      'input',
      kernel([1, 1, 3, 3], (_u, _v, k, c) => (k === c ? 2 : 0)),
    );
    g.reshape('flat', 'conv', [-1, 12]);
    g.matmul('fc', 'flat', matrix(Array.from({ length: 12 }, (_, j) => [(j % 3) - 1, j < 6 ? 1 : -1])));
    fm = FixationModel.create(await loadGraphModel({ load: async () => g.artifacts() }), info);
  });
  afterAll(() => fm?.dispose());

  it('CAM does not apply: cam and guided with classMap cam name the method and the model; auto takes Grad-CAM', async () => {
    const x = () => tf.tensor4d([1, 0, 0, 0, 1, 0, 2, 0, 1, 0, 0, 2], [1, 2, 2, 3]);
    await expect(explain(fm, x(), { method: 'cam' })).rejects.toThrow(
      /method 'cam' does not apply to model 'flatDense': CAM needs a global average pool/,
    );
    await expect(explain(fm, x(), { method: 'guided', guided: { classMap: 'cam' } })).rejects.toThrow(
      /method 'guided' with classMap 'cam' does not apply to model 'flatDense'/,
    );
    const e = await explain(fm, x(), { method: 'guided', classIndex: 0 });
    expect(e.guided?.classMap).toBe('gradcam');
    expect(e.layer).toBe('conv');
    // The worker computes class maps in closed form only: it refuses by name.
    expect(() => planFrame(fm, { method: 'guided' })).toThrow(
      /method 'guided' does not apply to model 'flatDense': CAM needs a global average pool/,
    );
  });
});

describe('cnnfix explain --method guided', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'cnnfix-guided-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('writes the guided knobs, the box and its source to the JSON; knobs of another method are refused', async () => {
    // No --method: SqueezeNet's own default is guided, so its knobs apply.
    const run = await cnnfix(
      'explain',
      SQUIRREL,
      '--epsilon',
      '0.2',
      '--density-sigma',
      '0.03',
      '--box',
      'fixations',
      '--out',
      tmp,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/squirrel_cls\.jpg: 335 fox squirrel.*\d+ fixations/);
    const j = JSON.parse(readFileSync(join(tmp, 'squirrel_cls.json'), 'utf8'));
    expect(j.method).toBe('guided');
    expect(j.guided).toEqual({ epsilon: 0.2, rules: 'dense', sigma: 0.03, classMap: 'cam' });
    expect(j.boxSource).toBe('fixations');
    const xs = j.fixations.map((p: { x: number }) => p.x),
      ys = j.fixations.map((p: { y: number }) => p.y);
    expect(j.box).toEqual([Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)]);
    expect(j.classes[0].boxSource).toBe('fixations');
    expect(inBox(j.peak, SQUIRREL_BOX)).toBe(true);

    const wrong = await cnnfix('explain', SQUIRREL, '--method', 'cam', '--epsilon', '0.2', '--out', tmp);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/--epsilon applies to --method guided, not cam/);
    const unknown = await cnnfix('explain', SQUIRREL, '--method', 'lrp', '--out', tmp);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--method 'lrp' is not one of fixations, guided, cam, gradcam, center/);
  });
});

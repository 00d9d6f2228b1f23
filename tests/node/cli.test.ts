// The real CLI (node bin/cnnfix.js) in a child process: outputs, --tensor, and its errors on bad inputs.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cnnfix, ROOT, type Run } from '../fixtures/cli.ts';
import type { FixationModel } from '../../src/engine/model.ts';
import { loadModel, readImage } from '../../src/node/index.ts';
import { MIN_BOX_POINTS } from '../../src/engine/post.ts';
import { lacks, mirror, SQUIRREL } from '../fixtures/data.ts';

const PHOTOS_DIR = join(ROOT, 'eval/data/images');
// The mirror's SqueezeNet test vectors (computed outside this project) for --tensor; without the mirror those checks skip.
const VECTORS = mirror('squeezenet1_1/testvectors');
const NO_VECTORS = lacks('cli.test.ts --tensor', join(VECTORS, 'input_0.f32'));

let tmp: string;
// The same model in this process, for expected values the CLI does not compute: the graph's softmax node ('prob').
let fm: FixationModel;
let labels: string[];
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'cnnfix-cli-'));
  fm = await loadModel('squeezenet1_1');
  labels = fm.info.labels;
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  fm?.dispose();
});

async function graphProbs(fit: 'crop' | 'letterbox'): Promise<Float32Array> {
  const img = await readImage(SQUIRREL);
  const { input } = fm.preprocess(img, fit);
  const prob = fm.model.execute(input, 'prob') as tf.Tensor;
  const p = (await prob.data()) as Float32Array;
  tf.dispose([img, input, prob]);
  expect(p).toHaveLength(1000);
  return p;
}
const readJson = (dir: string, name: string) => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));

describe('cnnfix explain', () => {
  let run: Run;
  const out = () => join(tmp, 'ok');
  beforeAll(async () => {
    // The fixations method's output in every field (SqueezeNet's own default, guided: tests/node/guided.test.ts).
    run = await cnnfix(
      'explain',
      SQUIRREL,
      '--method',
      'fixations',
      ...(NO_VECTORS ? [] : ['--tensor', join(VECTORS, 'input_0.f32')]),
      '--out',
      out(),
      '--save-heatmap',
    );
  });

  it('exits 0 and prints the class and the time per input', () => {
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/squirrel_cls\.jpg: 335 fox squirrel.* \d+ ms/);
  });

  it('writes the JSON with every field, each with its value', async () => {
    const j = JSON.parse(readFileSync(join(out(), 'squirrel_cls.json'), 'utf8'));
    expect(Object.keys(j).sort()).toEqual(
      [
        'box',
        'boxSource',
        'camBox',
        'class',
        'classes',
        'file',
        'fit',
        'fixations',
        'image',
        'inputFixations',
        'layers',
        'method',
        'model',
        'peak',
        'rules',
        'timingsMs',
        'top',
      ].sort(),
    );
    // One explained class: 'classes' holds it once more, with its colour, equal to the top-level fields.
    expect(j.classes).toHaveLength(1);
    expect(j.classes[0]).toEqual({
      class: j.class,
      color: expect.stringMatching(/^#[0-9a-f]{6}$/i),
      layers: j.layers,
      inputFixations: j.inputFixations,
      fixations: j.fixations,
      box: j.box,
      boxSource: j.boxSource,
      camBox: j.camBox,
      peak: j.peak,
    });
    expect(j.file).toBe(SQUIRREL);
    expect(j.image).toEqual({ width: 535, height: 426, kind: 'image' });
    expect(j.model).toBe('squeezenet1_1');
    expect(j.method).toBe('fixations');
    expect(j.fit).toBe('crop');
    expect(j.rules).toEqual({ location: 'center', gap: 'positive', gapThreshold: 0.9, weights: 'contribution' }); // the catalog's rules for SqueezeNet
    // Class and top-5: the graph's own softmax node ('prob') on the same input, read here through tfjs.
    const probs = await graphProbs('crop');
    const order = [...probs.keys()].sort((a, b) => probs[b] - probs[a]).slice(0, 5);
    expect(j.top.map((t: { index: number }) => t.index)).toEqual(order);
    j.top.forEach((t: { index: number; label: string; prob: number }) => {
      expect(t.prob).toBeCloseTo(probs[t.index], 6);
      expect(t.label).toBe(labels[t.index]);
    });
    expect(j.class).toEqual(j.top[0]);
    expect(j.class.index).toBe(335);
    expect(j.layers[0]).toEqual({ name: 'pool10', count: 1 });
    expect(j.layers.at(-1)).toEqual({ name: 'input', count: j.inputFixations.length });
    // Image fixations: the crop maps input (x, y) to (54.5 + x * 425/223, y * 425/223) (the 426 px square of a 535 px
    // width), one point per input pixel with the weights of its channels summed; all inside the photo.
    const byPixel = new Map<string, number>();
    for (const f of j.inputFixations) {
      expect(f).toEqual({ x: expect.any(Number), y: expect.any(Number), c: expect.any(Number), w: expect.any(Number) });
      byPixel.set(`${f.x},${f.y}`, (byPixel.get(`${f.x},${f.y}`) ?? 0) + f.w);
    }
    expect(j.fixations.length).toBeGreaterThan(0);
    for (const p of j.fixations) {
      const match = [...byPixel].find(([k]) => {
        const [x, y] = k.split(',').map(Number);
        return Math.abs(54.5 + (x * 425) / 223 - p.x) < 1e-9 && Math.abs((y * 425) / 223 - p.y) < 1e-9;
      });
      expect(match, `fixation (${p.x}, ${p.y})`).toBeDefined();
      expect(p.w).toBeCloseTo(match![1], 6);
      expect(p.x >= 0 && p.x <= 534 && p.y >= 0 && p.y <= 425).toBe(true);
    }
    const xs = j.fixations.map((p: { x: number }) => p.x),
      ys = j.fixations.map((p: { y: number }) => p.y);
    // The paper's box around the fixations, none from fewer than MIN_BOX_POINTS points (a sliver spans no object).
    if (j.fixations.length >= MIN_BOX_POINTS) {
      expect(j.box).toEqual([Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)]);
      expect(j.boxSource).toBe('fixations');
    } else {
      expect(j.box).toBeNull();
      expect(j.boxSource).toBeNull();
    }
    // camBox contains the peak; both are image pixels.
    const [cx1, cy1, cx2, cy2] = j.camBox;
    expect(
      0 <= cx1 &&
        cx1 <= j.peak[0] &&
        j.peak[0] <= cx2 &&
        cx2 <= 534 &&
        0 <= cy1 &&
        cy1 <= j.peak[1] &&
        j.peak[1] <= cy2 &&
        cy2 <= 425,
    ).toBe(true);
    for (const k of [
      'decodeMs',
      'preprocessMs',
      'forwardMs',
      'unravelMs',
      'heatmapMs',
      'totalMs',
      'drawMs',
      'imageMs',
    ]) {
      expect(j.timingsMs[k], k).toBeGreaterThanOrEqual(0);
    }
    expect(j.timingsMs.imageMs).toBeGreaterThan(0);
  });

  it('the PNG has the photo size, and the heatmap PNG is 8-bit grayscale of that size peaking at the JSON peak', () => {
    const photo = jpeg.decode(readFileSync(SQUIRREL));
    const png = PNG.sync.read(readFileSync(join(out(), 'squirrel_cls.png')));
    expect([png.width, png.height]).toEqual([photo.width, photo.height]);

    const file = readFileSync(join(out(), 'squirrel_cls.heatmap.png'));
    expect([file[24], file[25]]).toEqual([8, 0]); // IHDR bit depth 8, colour type 0 (grayscale)
    const heat = PNG.sync.read(file);
    expect([heat.width, heat.height]).toEqual([photo.width, photo.height]);
    let best = 0;
    for (let i = 0; i < heat.width * heat.height; i++) if (heat.data[4 * i] > heat.data[4 * best]) best = i;
    expect(heat.data[4 * best]).toBe(255);
    const j = JSON.parse(readFileSync(join(out(), 'squirrel_cls.json'), 'utf8'));
    expect(Math.abs((best % heat.width) - j.peak[0])).toBeLessThanOrEqual(3);
    expect(Math.abs(Math.floor(best / heat.width) - j.peak[1])).toBeLessThanOrEqual(3);
  });

  it.skipIf(NO_VECTORS)(
    '--tensor explains the test vector: top-1 = argmax of its expected logits, coordinates in input pixels',
    () => {
      const b = readFileSync(join(VECTORS, 'logits_0.f32'));
      const logits = Array.from({ length: 1000 }, (_, i) => b.readFloatLE(4 * i));
      const j = JSON.parse(readFileSync(join(out(), 'input_0.json'), 'utf8'));
      expect(j.class.index).toBe(logits.indexOf(Math.max(...logits)));
      expect(j.image).toMatchObject({ width: 224, height: 224, kind: 'tensor' });
      for (const p of j.fixations) expect(p.x >= 0 && p.x <= 223 && p.y >= 0 && p.y <= 223).toBe(true);
      const png = PNG.sync.read(readFileSync(join(out(), 'input_0.png')));
      expect([png.width, png.height]).toEqual([224, 224]);
    },
  );
});

describe('cnnfix on a folder', () => {
  const images = readdirSync(PHOTOS_DIR).filter((f) => /\.(jpe?g|png)$/i.test(f));
  const hasScript = (() => {
    try {
      execFileSync('script', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  it(
    'on a terminal (a pseudo-terminal from util-linux script): a progress bar, and every result line still shown',
    { skip: !hasScript },
    () => {
      const out = join(tmp, 'tty');
      const cmd = [process.execPath, join(ROOT, 'bin/cnnfix.js'), 'explain', PHOTOS_DIR, '--out', out]
        .map((a) => `'${a}'`)
        .join(' ');
      const text = execFileSync('script', ['-qec', cmd, '/dev/null'], {
        cwd: ROOT,
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      });
      expect(text).toMatch(new RegExp(`cnnfix [\\u2588\\u2591]+ [1-9]/${images.length} images`));
      for (const f of images) expect(text).toContain(`${join(PHOTOS_DIR, f)}: `);
      expect(readFileSync(join(out, 'index.jsonl'), 'utf8').trim().split('\n')).toHaveLength(images.length);
    },
  );
});

describe('cnnfix classify', () => {
  it("prints the top-5 of the graph's softmax, in order, with index and label", async () => {
    const run = await cnnfix('classify', SQUIRREL);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^.*squirrel_cls\.jpg \(\d+ ms\)$/);
    expect(lines).toHaveLength(6);
    const probs = await graphProbs('crop');
    const order = [...probs.keys()].sort((a, b) => probs[b] - probs[a]).slice(0, 5);
    lines.slice(1).forEach((l, i) => {
      const m = l.match(/^ {2}(\d\.\d{4}) {2}\s*(\d+) {2}(.+)$/)!;
      expect(m, l).not.toBeNull();
      expect(Number(m[2])).toBe(order[i]);
      expect(m[1]).toBe(probs[order[i]].toFixed(4));
      expect(m[3]).toBe(labels[order[i]]);
    });
  });

  it('options of explain are usage errors', async () => {
    const run = await cnnfix('classify', SQUIRREL, '--class', '3');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--class applies to 'explain', not 'classify'");
  });
});

describe('cnnfix explain --class, --fit letterbox, --model', () => {
  it('explains the class asked for on the letterboxed photo; fixations inside the photo', async () => {
    const dir = join(tmp, 'class');
    const run = await cnnfix(
      'explain',
      SQUIRREL,
      '--class',
      '380',
      '--fit',
      'letterbox',
      '--model',
      'squeezenet1_1',
      '--out',
      dir,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('squirrel_cls.jpg: 380 titi, titi monkey');
    const j = readJson(dir, 'squirrel_cls');
    expect(j.model).toBe('squeezenet1_1');
    expect(j.fit).toBe('letterbox');
    // The letterboxed input's own probabilities (they differ from the crop's: the class sees bars).
    const probs = await graphProbs('letterbox');
    const crop = await graphProbs('crop');
    expect(Math.abs(probs[380] - crop[380])).toBeGreaterThan(1e-3);
    expect(j.class).toEqual({ index: 380, label: labels[380], prob: expect.closeTo(probs[380], 6) });
    expect(j.top[0].index).not.toBe(380);
    // Letterbox of 535x426: the 535 px square from y = -54.5, step 534/223.
    expect(j.fixations.length).toBeGreaterThan(0);
    for (const p of j.fixations) {
      expect(p.x >= 0 && p.x <= 534 && p.y >= 0 && p.y <= 425, `(${p.x}, ${p.y})`).toBe(true);
      expect(
        j.inputFixations.some(
          (f: { x: number; y: number }) =>
            Math.abs((f.x * 534) / 223 - p.x) < 1e-9 && Math.abs(-54.5 + (f.y * 534) / 223 - p.y) < 1e-9,
        ),
      ).toBe(true);
    }
  });

  it('a class index out of range, an unknown or a missing model are named', async () => {
    const a = await cnnfix('explain', SQUIRREL, '--class', '1000');
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("--class 1000 is out of range: model 'squeezenet1_1' has 1000 classes (0..999)");
    const b = await cnnfix('explain', SQUIRREL, '--model', 'nope');
    expect(b.code).toBe(1);
    // The message lists the catalog's ids, read here from the catalog itself.
    const ids = JSON.parse(readFileSync('models/catalog.json', 'utf8')).models.map((m: { id: string }) => m.id);
    expect(ids.length).toBeGreaterThan(1);
    expect(b.stderr).toContain(`unknown model 'nope' (catalog has: ${ids.join(', ')})`);
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    const c = await cnnfix('explain', SQUIRREL, '--model', 'mobilenet_v2', '--model-dir', empty);
    expect(c.code).toBe(1);
    expect(c.stderr).toContain(`cannot load the model 'mobilenet_v2' from ${empty}`);
    expect(c.stderr).toContain("run 'npm run models'");
  });
});

describe('cnnfix explain --method', () => {
  it("cam: the class map's box, no fixations; center: the peak in the middle of the photo", async () => {
    const dir = join(tmp, 'method');
    const cam = await cnnfix('explain', SQUIRREL, '--method', 'cam', '--out', dir);
    expect(cam.code).toBe(0);
    const j = readJson(dir, 'squirrel_cls');
    expect(j.method).toBe('cam');
    expect(j.fixations).toEqual([]);
    expect(j.inputFixations).toEqual([]);
    expect(j.layers).toEqual([]);
    expect(j.box).toEqual(j.camBox);
    // CAM's peak is conv10's strongest class cell mapped to the photo: cell centre 15 + 16 i network pixels.
    const img = await readImage(SQUIRREL);
    const { input } = fm.preprocess(img, 'crop');
    const act = fm.model.execute(input, 'conv10/Relu') as tf.Tensor;
    const a = (await act.data()) as Float32Array;
    tf.dispose([img, input, act]);
    let best = 0;
    for (let p = 0; p < 169; p++) if (a[p * 1000 + 335] > a[best * 1000 + 335]) best = p;
    const cx = 54.5 + ((15 + 16 * (best % 13)) * 425) / 223,
      cy = ((15 + 16 * Math.floor(best / 13)) * 425) / 223;
    expect(Math.abs(j.peak[0] - cx)).toBeLessThanOrEqual(1);
    expect(Math.abs(j.peak[1] - cy)).toBeLessThanOrEqual(1);

    const center = await cnnfix('explain', SQUIRREL, '--method', 'center', '--out', dir);
    expect(center.code).toBe(0);
    const c = readJson(dir, 'squirrel_cls');
    expect(c.method).toBe('center');
    // 535x426: the middle is (267, 212.5).
    expect(c.peak[0]).toBe(267);
    expect([212, 213]).toContain(c.peak[1]);
  });
});

describe('cnnfix errors', () => {
  it('a bad input is reported with its file name, the others still run, exit code 1', async () => {
    const fake = join(tmp, 'notes.jpg');
    writeFileSync(fake, 'this is a text file\n');
    const short = join(tmp, 'short.f32');
    writeFileSync(short, Buffer.alloc(4000));
    const out = join(tmp, 'mixed');
    const run = await cnnfix('explain', fake, SQUIRREL, '--tensor', short, '--out', out);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${fake}: image: not a JPEG or PNG image`);
    expect(run.stderr).toContain(`${short}: tensor file must hold 602112 bytes`);
    expect(run.stderr).toContain('it has 4000');
    expect(JSON.parse(readFileSync(join(out, 'squirrel_cls.json'), 'utf8')).class.index).toBe(335);
  });

  it('an op the unravelling does not know is named with its node, without a stack dump', async () => {
    const dir = join(tmp, 'cumsum');
    cpSync(join(ROOT, 'models/squeezenet1_1'), dir, { recursive: true });
    chmodSync(join(dir, 'model.json'), 0o644);
    const m = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    // pool10 (Mean over H,W) sits between conv10 and the logits; as Cumsum the graph still runs in tfjs.
    m.modelTopology.node.find((n: { name: string }) => n.name === 'pool10').op = 'Cumsum';
    writeFileSync(join(dir, 'model.json'), JSON.stringify(m));
    const run = await cnnfix('explain', SQUIRREL, '--model-dir', dir, '--out', join(tmp, 'cumsum-out'));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("node 'pool10' (op Cumsum)");
    expect(run.stderr.length).toBeLessThan(1000);
  });

  it('an error after the wasm backend loaded prints its message, not the wasm module (< 2 kB)', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, '');
    const run = await cnnfix('explain', SQUIRREL, '--out', join(file, 'out'));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`ENOTDIR: not a directory, mkdir '${join(file, 'out')}'`);
    expect(run.stderr.length + run.stdout.length).toBeLessThan(2000);
  });

  it('an unknown flag or a bad value is a usage error (exit 2)', async () => {
    const a = await cnnfix('explain', SQUIRREL, '--colour', 'red');
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("'--colour'");
    const b = await cnnfix('explain', SQUIRREL, '--gap', 'median');
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("--gap 'median' is not one of argmax, positive");
  });
});

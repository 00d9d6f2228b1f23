// A user's own TF.js graph model, with no catalog entry: facts read off the graph (src/engine/facts.ts), quantized
// weights decoded by tfjs (uint8 with the converter's affine scheme, float16), the CLI's own-model flags, and short
// errors after the wasm backend has loaded.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disposeForward, type FixationModel } from '../../src/index.ts';
import { loadModel, readImage, ROOT } from '../../src/node/index.ts';
import { lacks, mirror, photoFolder, PHOTOS, SQUIRREL } from '../fixtures/data.ts';
import { readWeights, toFloat16 } from '../../scripts/quantize-models.ts';

const CATALOG = JSON.parse(readFileSync(join(ROOT, 'models/catalog.json'), 'utf8'));
const SQUEEZE = CATALOG.models.find((m: { id: string }) => m.id === 'squeezenet1_1');
const SQUEEZE_DIR = join(ROOT, 'models/squeezenet1_1');

interface Spec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number };
}

/**
 * Rewrite SqueezeNet's weights (decoded from the committed model, whose kernels are float16) as the tfjs converter's
 * --quantize_uint8 / --quantize_float16 would from float32: float32 weights only (int32 constants stay), one shard,
 * quantization metadata in the manifest. Returns the shard's size and the size it would have in float32.
 */
function quantize(dir: string, kind: 'uint8' | 'float16'): { size: number; float32: number } {
  const { json, specs: committed, tensors } = readWeights(SQUEEZE_DIR);
  const out: Buffer[] = [];
  let float32 = 0;
  const specs: Spec[] = committed.map(({ name, shape, dtype }) => ({ name, shape, dtype }));
  for (const w of specs) {
    const data = tensors[w.name].dataSync();
    float32 += 4 * data.length;
    if (w.dtype !== 'float32') {
      out.push(Buffer.from(new Int32Array(data).buffer));
      continue;
    }
    const v = new Float32Array(data);
    if (kind === 'float16') {
      out.push(Buffer.from(toFloat16(v, w.name).buffer));
      w.quantization = { dtype: 'float16' };
    } else {
      // tensorflowjs/quantization.py: the range is widened to include 0 and nudged so that 0 is exact.
      let lo = 0,
        hi = 0;
      for (const x of v) {
        lo = Math.min(lo, x);
        hi = Math.max(hi, x);
      }
      const scale = (hi - lo) / 255 || 1;
      const min = -Math.round(-lo / scale) * scale;
      const q = new Uint8Array(v.length);
      for (let i = 0; i < v.length; i++) q[i] = Math.min(255, Math.max(0, Math.round((v[i] - min) / scale)));
      out.push(Buffer.from(q.buffer));
      w.quantization = { dtype: 'uint8', min, scale };
    }
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'group1-shard1of1.bin'), Buffer.concat(out));
  writeFileSync(
    join(dir, 'model.json'),
    JSON.stringify({ ...json, weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: specs }] }),
  );
  return { size: Buffer.concat(out).length, float32 };
}

async function probs(model: FixationModel, image: string): Promise<Float32Array> {
  const t = await readImage(image);
  const { input } = model.preprocess(t);
  const f = await model.forward(input);
  disposeForward(f);
  t.dispose();
  input.dispose();
  return f.probs;
}
const argmax = (v: Float32Array) => v.indexOf(Math.max(...v));

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'cnnfix-own-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('a model with no catalog entry', () => {
  it('its facts are read off the graph: the ones the catalog gives SqueezeNet', async () => {
    const dir = join(tmp, 'plain');
    mkdirSync(dir);
    for (const f of ['model.json', 'group1-shard1of1.bin'])
      writeFileSync(join(dir, f), readFileSync(join(SQUEEZE_DIR, f)));
    const m = await loadModel({ path: dir });
    expect(m.info).toMatchObject({
      id: 'plain',
      inputSize: SQUEEZE.inputSize,
      logits: SQUEEZE.logits,
      probs: SQUEEZE.probs,
      labels: [],
    });
    expect(m.info.preprocessing).toEqual(SQUEEZE.preprocessing); // ImageNet, the default for own models
    expect(m.top(await probs(m, SQUIRREL), 1)[0]).toMatchObject({ index: 335, label: 'class 335' });
    m.dispose();
  });

  for (const kind of ['uint8', 'float16'] as const) {
    it(`${kind}-quantized weights load through tfjs's decoding and keep the top-1`, async () => {
      const dir = join(tmp, kind);
      const { size, float32 } = quantize(dir, kind);
      // The old loader's hand-computed size (4 bytes a value) would reject these shards.
      expect(size).toBeLessThan(float32 * (kind === 'uint8' ? 0.3 : 0.6));
      const float = await loadModel();
      const quant = await loadModel({ path: join(dir, 'model.json'), labels: join(SQUEEZE_DIR, 'labels.json') });
      const [pf, pq] = [await probs(float, SQUIRREL), await probs(quant, SQUIRREL)];
      expect(argmax(pq)).toBe(335);
      expect(argmax(pq)).toBe(argmax(pf));
      expect(quant.top(pq, 1)[0].label).toMatch(/^fox squirrel/);
      expect(Math.abs(pq[335] - pf[335])).toBeLessThan(kind === 'uint8' ? 0.1 : 0.005);
      float.dispose();
      quant.dispose();
    });
  }

  it('a truncated quantized shard is a clear error naming the folder and the shard', async () => {
    const dir = join(tmp, 'uint8-cut');
    const { size } = quantize(dir, 'uint8');
    writeFileSync(
      join(dir, 'group1-shard1of1.bin'),
      readFileSync(join(dir, 'group1-shard1of1.bin')).subarray(0, size - 5000),
    );
    const e = (await loadModel({ path: dir }).then(
      () => undefined,
      (err) => err,
    )) as Error;
    expect(e.message).toContain(dir);
    expect(e.message).toContain(`group1-shard1of1.bin ${size - 5000} bytes`);
    expect(e.message).toContain('truncated');
  });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function cnnfix(...args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(ROOT, 'bin/cnnfix.js'), ...args],
      { cwd: tmp, maxBuffer: 1 << 24 },
      (err, stdout, stderr) => {
        done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
      },
    );
  });
}

describe('cnnfix on your own model', () => {
  it('explain --model-dir model.json --labels FILE.txt: facts off the graph, labels one per line', async () => {
    const dir = join(tmp, 'mine');
    quantize(dir, 'uint8');
    const labels = join(tmp, 'names.txt');
    writeFileSync(
      labels,
      (JSON.parse(readFileSync(join(SQUEEZE_DIR, 'labels.json'), 'utf8')) as string[]).join('\n') + '\n',
    );
    const out = join(tmp, 'mine-out');
    const run = await cnnfix(
      'explain',
      SQUIRREL,
      '--model-dir',
      join(dir, 'model.json'),
      '--labels',
      labels,
      '--out',
      out,
    );
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/squirrel_cls\.jpg: 335 fox squirrel/);
    const j = JSON.parse(readFileSync(join(out, 'squirrel_cls.json'), 'utf8'));
    expect(j.model).toBe('mine');
    expect(j.layers[0].name).toBe(SQUEEZE.logits);
    const index = readFileSync(join(out, 'index.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(index).toHaveLength(1);
    expect(index[0]).toMatchObject({
      file: SQUIRREL,
      png: join(out, 'squirrel_cls.png'),
      class: { index: 335 },
      fixations: j.fixations.length,
    });
  });

  it.skipIf(lacks('own-model.test.ts --range', mirror('mobilenet_v2/model.json')))(
    '--range=-1,1 alone means mean 0, std 1: MobileNetV2 from the mirror ([-1,1] inputs) ranks the fox squirrel first',
    async () => {
      const mobilenet = ['classify', SQUIRREL, '--model-dir', mirror('mobilenet_v2')];
      const top5 = (r: Run) => r.stdout.split('\n').slice(1, 6).join('\n');
      const run = await cnnfix(...mobilenet, '--range=-1,1');
      expect(run.stderr).toBe('');
      expect(run.stdout.split('\n')[1]).toMatch(/^\s+0\.\d+\s+335\s+fox squirrel/);
      expect(top5(await cnnfix(...mobilenet, '--range=-1,1', '--mean', '0', '--std', '1,1,1'))).toBe(top5(run));
      expect(top5(await cnnfix(...mobilenet))).not.toBe(top5(run)); // the default: [0,1] and ImageNet mean/std
    },
  );

  it('bad own-model flags are usage errors (exit 2) naming the flag and value', async () => {
    const cases: [string[], string][] = [
      [['--range', '0'], "--range '0' is not 2 comma-separated numbers"],
      [['--range=1,0'], "--range '1,0': LO must be below HI"],
      [['--mean', '1,2'], "--mean '1,2' is not 1 comma-separated number or 3 comma-separated numbers"],
      [['--std', '0'], "--std '0': a standard deviation cannot be 0"],
      [['--input-size', '22.5'], "--input-size '22.5' is not a positive integer"],
    ];
    for (const [flags, msg] of cases) {
      const run = await cnnfix('explain', SQUIRREL, ...flags);
      expect(run.code, flags.join(' ')).toBe(2);
      expect(run.stderr).toContain(msg);
    }
  });

  it('a folder of images: every image explained, one index.jsonl line each (no progress bar off a terminal); a missing labels file named', async () => {
    const out = join(tmp, 'folder-out');
    const run = await cnnfix('explain', photoFolder(join(tmp, 'photos')), '--out', out);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split('\n')).toHaveLength(PHOTOS.length);
    const images = readFileSync(join(out, 'index.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(images.map((l) => l.file.replace(/^.*\//, ''))).toEqual(PHOTOS);
    expect(images.find((l) => l.file.endsWith('squirrel_cls.jpg')).class.index).toBe(335);
    const bad = await cnnfix('explain', SQUIRREL, '--model-dir', SQUEEZE_DIR, '--labels', join(tmp, 'nope.txt'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`cannot read ${join(tmp, 'nope.txt')} (ENOENT)`);
  });
});

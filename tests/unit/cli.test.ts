// The real CLI (node bin/cnnfix.js) in a child process: outputs, --tensor, and its errors on bad inputs.
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const SHARED = join(ROOT, '../shared');
const SQUIRREL = join(SHARED, 'images/squirrel_cls.jpg');
const VECTORS = join(SHARED, 'models/squeezenet1_1/testvectors');

interface Run { code: number; stdout: string; stderr: string }
function cnnfix(...args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [join(ROOT, 'bin/cnnfix.js'), ...args], { cwd: ROOT, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'cnnfix-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('cnnfix explain', () => {
  let run: Run;
  const out = () => join(tmp, 'ok');
  beforeAll(async () => {
    run = await cnnfix('explain', SQUIRREL, '--tensor', join(VECTORS, 'input_0.f32'), '--out', out(), '--save-heatmap');
  });

  it('exits 0 and prints the class and the time per input', () => {
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/squirrel_cls\.jpg: 335 fox squirrel.* \d+ ms/);
  });

  it('writes the JSON with every field', () => {
    const j = JSON.parse(readFileSync(join(out(), 'squirrel_cls.json'), 'utf8'));
    for (const k of ['model', 'class', 'top', 'rules', 'method', 'layers', 'inputFixations', 'fixations', 'box', 'camBox', 'peak', 'timingsMs']) {
      expect(j).toHaveProperty(k);
    }
    expect(j.model).toBe('squeezenet1_1');
    expect(j.class.index).toBe(335);
    expect(j.top).toHaveLength(5);
    expect(j.rules).toEqual({ location: 'center', gap: 'positive', gapThreshold: 0.75, weights: 'contribution' });
    expect(j.layers[0]).toEqual({ name: 'pool10', count: 1 });
    expect(j.layers.at(-1).count).toBeGreaterThan(1);
    expect(j.inputFixations[0]).toEqual({ x: expect.any(Number), y: expect.any(Number), c: expect.any(Number), w: expect.any(Number) });
    expect(j.box).toHaveLength(4);
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

  it('--tensor explains the test vector: top-1 = argmax of its expected logits, coordinates in input pixels', () => {
    const b = readFileSync(join(VECTORS, 'logits_0.f32'));
    const logits = Array.from({ length: 1000 }, (_, i) => b.readFloatLE(4 * i));
    const j = JSON.parse(readFileSync(join(out(), 'input_0.json'), 'utf8'));
    expect(j.class.index).toBe(logits.indexOf(Math.max(...logits)));
    expect(j.image).toMatchObject({ width: 224, height: 224, kind: 'tensor' });
    for (const p of j.fixations) expect(p.x >= 0 && p.x <= 223 && p.y >= 0 && p.y <= 223).toBe(true);
    const png = PNG.sync.read(readFileSync(join(out(), 'input_0.png')));
    expect([png.width, png.height]).toEqual([224, 224]);
  });
});

describe('cnnfix on a folder', () => {
  const images = readdirSync(join(SHARED, 'images')).filter((f) => /\.(jpe?g|png)$/i.test(f));
  const hasScript = (() => { try { execFileSync('script', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();

  it('on a terminal (a pseudo-terminal from util-linux script): a progress bar, and every result line still shown', { skip: !hasScript }, () => {
    const out = join(tmp, 'tty');
    const cmd = [process.execPath, join(ROOT, 'bin/cnnfix.js'), 'explain', join(SHARED, 'images'), '--out', out].map((a) => `'${a}'`).join(' ');
    const text = execFileSync('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 });
    expect(text).toMatch(new RegExp(`cnnfix [\\u2588\\u2591]+ [1-9]/${images.length} images`));
    for (const f of images) expect(text).toContain(`${join(SHARED, 'images', f)}: `);
    expect(readFileSync(join(out, 'index.jsonl'), 'utf8').trim().split('\n')).toHaveLength(images.length);
  });
});

describe('cnnfix errors', () => {
  it('a bad input is reported with its file name, the others still run, exit code 1', async () => {
    const fake = join(tmp, 'notes.jpg');
    writeFileSync(fake, 'this is a text file\n');
    const short = join(tmp, 'short.f32');
    writeFileSync(short, readFileSync(join(VECTORS, 'input_0.f32')).subarray(0, 4000));
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

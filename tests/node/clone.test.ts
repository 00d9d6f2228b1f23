// A fresh clone of the repository (its committed HEAD) in a temporary folder with no ../shared beside it and no
// MODELS_MIRROR: every catalog model is in git, so `npm run models` verifies them and fetches nothing, the CLI
// loads and runs each of them, and the fast tier and the Node tier pass there, the tests that need the mirror
// skipping with the missing path printed. node_modules is linked from this checkout rather than installed again, so
// npm's `prepare` (the generated ONNX decoder) is run by hand, as `npm ci` would.
// Inside that clone this file skips itself (CNNFIX_IN_CLONE), or it would clone again.
import { execFile, execFileSync } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { photo } from '../fixtures/data.ts';

const ROOT = join(import.meta.dirname, '../..');
const IN_CLONE = !!process.env.CNNFIX_IN_CLONE;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

let tmp: string, clone: string, env: NodeJS.ProcessEnv;
beforeAll(() => {
  if (IN_CLONE) return;
  tmp = mkdtempSync(join(tmpdir(), 'cnnfix-clone-'));
  clone = join(tmp, 'cnnfix');
  const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  execFileSync('git', ['clone', '--quiet', '--no-checkout', ROOT, clone]);
  execFileSync('git', ['-c', 'advice.detachedHead=false', 'checkout', '--quiet', head], { cwd: clone });
  symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir');
  // .gitignore's node_modules/ matches a folder, not this link.
  appendFileSync(join(clone, '.git/info/exclude'), '/node_modules\n');
  // Nothing of this run leaks in: no mirror, no npm lifecycle variables, no vitest worker state.
  env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) =>
        !['MODELS_MIRROR', 'TEST_TIER', 'NODE_ENV'].includes(k) &&
        !k.startsWith('npm_') &&
        !k.startsWith('VITEST') &&
        !k.startsWith('CNNFIX_CLONE_'),
    ),
  );
  // What `npm ci` runs after installing: the ONNX decoder generated from onnx.proto (git-ignored, so not in the clone).
  execFileSync('npm', ['run', 'prepare'], { cwd: clone, env, stdio: 'ignore' });
}, 120_000);
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(IN_CLONE)('a fresh clone, no mirror', () => {
  it('has no ../shared and no MODELS_MIRROR', () => {
    expect(existsSync(join(clone, '../shared'))).toBe(false);
    expect(env.MODELS_MIRROR).toBeUndefined();
  });

  it("git tracks exactly the catalog models' files (every file of each entry and every shard of its model.json)", () => {
    const cat = JSON.parse(readFileSync(join(clone, 'models/catalog.json'), 'utf8'));
    const want = cat.models.flatMap((m: { id: string; files: Record<string, string> }) => {
      const json = JSON.parse(readFileSync(join(clone, 'models', m.id, 'model.json'), 'utf8'));
      return [
        ...new Set([...Object.keys(m.files), ...json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths)]),
      ].map((f) => `models/${m.id}/${f}`);
    });
    const tracked = execFileSync('git', ['ls-files', 'models'], { cwd: clone, encoding: 'utf8' })
      .trim()
      .split('\n')
      .sort();
    expect(tracked).toEqual(['models/catalog.json', ...want].sort());
  });

  it('npm run models succeeds: every catalog model is verified against its pinned hashes, nothing fetched', async () => {
    const run = await sh('npm', ['run', 'models'], clone, env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const cat = JSON.parse(readFileSync(join(clone, 'models/catalog.json'), 'utf8'));
    for (const m of cat.models) {
      for (const sha of Object.values(m.files)) expect(sha).toMatch(/^[0-9a-f]{64}$/); // pinned, not null
      expect(run.stdout).toMatch(new RegExp(`${m.id}: (\\d+) files ok \\(0 installed, \\1 already present\\)`));
    }
    // What the install writes (installed.json) is ignored: the clone stays clean.
    expect(execFileSync('git', ['status', '--porcelain'], { cwd: clone, encoding: 'utf8' })).toBe('');
  });

  // A known top-1 per catalog model (the mirror's README; the TF Hub MobileNet's 1001 outputs put background at 0).
  const TOP1 = [
    ['squeezenet1_1', 'squirrel_cls.jpg', 335, 'fox squirrel'],
    ['mobilenet_v2', 'squirrel_cls.jpg', 335, 'fox squirrel'],
    ['mobilenet_v1_025_224_tfhub', 'fruits.jpg', 951, 'orange'],
  ] as const;
  for (const [id, name, index, label] of TOP1) {
    it(`the CLI of the clone loads and runs ${id} (top-1 ${index} ${label} on ${name})`, async () => {
      const run = await sh(
        process.execPath,
        [join(clone, 'bin/cnnfix.js'), 'classify', photo(name), '--model', id],
        clone,
        env,
      );
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout.split('\n')[1]).toMatch(new RegExp(`^\\s+[01]\\.\\d+\\s+${index}\\s+${label}`));
    });
  }

  it('npm run test:fast, then the Node tier, pass in the clone; tests needing the mirror skip naming the missing file', async () => {
    expect(existsSync(join(clone, 'src/formats/onnx/onnx.pb.js'))).toBe(true);
    const inner = { ...env, CNNFIX_IN_CLONE: '1' };
    const fast = await sh('npm', ['run', 'test:fast'], clone, inner);
    expect(fast.code, fast.stdout.slice(-4000) + fast.stderr.slice(-4000)).toBe(0);
    const report = join(tmp, 'node-tier.json');
    const node = await sh(
      'npm',
      ['run', 'test:node', '--', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`],
      clone,
      inner,
    );
    const tail = (r: Run) => r.stdout.slice(-3000) + r.stderr.slice(-3000);
    console.log(`in the clone: ${summary(fast.stdout)} (fast tier); ${summary(node.stdout)} (Node tier)`);
    expect(node.code, tail(node)).toBe(0);
    // Each skip names a missing path: the clone's own (absent) ../shared/models, a catalog model it did not install.
    const skips = node.stdout.split('\n').filter((l) => l.startsWith('skipped: '));
    expect(skips.some((l) => l.includes(` needs ${join(tmp, 'shared/models')}/`))).toBe(true);
    for (const l of skips) expect(existsSync(l.match(/ needs (\S+)/)![1]), l).toBe(false);
    expect(node.stdout).not.toContain(join(ROOT, '..', 'shared'));
    // For `npm test` (scripts/test-all.mjs): the files that passed here with nothing skipped, which its Node tier
    // need not run again when this checkout is clean at the commit cloned (vitest.config.ts checks that too).
    const out = process.env.CNNFIX_CLONE_REPORT;
    const clean = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' }) === '';
    if (out && clean) {
      const files = (
        JSON.parse(readFileSync(report, 'utf8')).testResults as {
          name: string;
          status: string;
          assertionResults: { status: string }[];
        }[]
      )
        .filter(
          (f) =>
            f.status === 'passed' &&
            f.assertionResults.length > 0 &&
            f.assertionResults.every((t) => t.status === 'passed'),
        )
        .map((f) => relative(clone, f.name))
        .sort();
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(
        out,
        JSON.stringify(
          { head: execFileSync('git', ['rev-parse', 'HEAD'], { cwd: clone, encoding: 'utf8' }).trim(), files },
          null,
          1,
        ),
      );
      console.log(`passed in the clone with nothing skipped: ${files.join(', ')}`);
    }
  }, 1_500_000);
});

/** vitest's "Tests  N passed | M skipped (K)" line. */
function summary(out: string): string {
  return (
    stripVTControlCharacters(out)
      .match(/Tests\s+([^\n]*)/)?.[1]
      .trim() ?? '(no summary)'
  );
}

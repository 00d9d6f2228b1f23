// A fresh clone of the repository (its committed HEAD) in a temporary folder with no ../shared beside it and no
// MODELS_MIRROR: the catalog's default model is in git, so `npm run models` verifies it and fetches nothing, and the
// CLI loads and runs it. (node_modules is linked from this checkout rather than installed again.)
import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { photo } from '../fixtures/photos.ts';

const ROOT = join(import.meta.dirname, '../..');
const SQUIRREL = photo('squirrel_cls.jpg');

interface Run { code: number; stdout: string; stderr: string }
function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

let tmp: string, clone: string, env: NodeJS.ProcessEnv;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'cnnfix-clone-'));
  clone = join(tmp, 'cnnfix');
  const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  execFileSync('git', ['clone', '--quiet', '--no-checkout', ROOT, clone]);
  execFileSync('git', ['-c', 'advice.detachedHead=false', 'checkout', '--quiet', head], { cwd: clone });
  symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir');
  // .gitignore's node_modules/ matches a folder, not this link.
  appendFileSync(join(clone, '.git/info/exclude'), '/node_modules\n');
  env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'MODELS_MIRROR' && !k.startsWith('npm_')));
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('a fresh clone, no mirror', () => {
  it('has no ../shared and no MODELS_MIRROR', () => {
    expect(existsSync(join(clone, '../shared'))).toBe(false);
    expect(env.MODELS_MIRROR).toBeUndefined();
  });

  it("git tracks exactly the catalog default's files (every file of its entry and every shard of its model.json)", () => {
    const cat = JSON.parse(readFileSync(join(clone, 'models/catalog.json'), 'utf8'));
    const def = cat.models.find((m: { id: string }) => m.id === cat.default);
    const json = JSON.parse(readFileSync(join(clone, 'models', def.id, 'model.json'), 'utf8'));
    const want = [...new Set([...Object.keys(def.files), ...json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths)])]
      .map((f) => `models/${def.id}/${f}`).sort();
    const tracked = execFileSync('git', ['ls-files', 'models'], { cwd: clone, encoding: 'utf8' }).trim().split('\n').sort();
    expect(tracked).toEqual(['models/catalog.json', ...want].sort());
  });

  it('npm run models succeeds: the default model is verified against its pinned hashes, nothing fetched', async () => {
    const run = await sh('npm', ['run', 'models'], clone, env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const cat = JSON.parse(readFileSync(join(clone, 'models/catalog.json'), 'utf8'));
    const def = cat.models.find((m: { id: string }) => m.id === cat.default);
    for (const sha of Object.values(def.files)) expect(sha).toMatch(/^[0-9a-f]{64}$/); // pinned, not null
    expect(run.stdout).toMatch(new RegExp(`${cat.default}: (\\d+) files ok \\(0 installed, \\1 already present\\)`));
    // What the install writes (installed.json) is ignored: the clone stays clean.
    expect(execFileSync('git', ['status', '--porcelain'], { cwd: clone, encoding: 'utf8' })).toBe('');
  });

  it('the CLI of the clone loads and runs the default model (right top-1 on a photo)', async () => {
    const run = await sh(process.execPath, [join(clone, 'bin/cnnfix.js'), 'classify', SQUIRREL], clone, env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')[1]).toMatch(/^\s+0\.\d+\s+\d+\s+fox squirrel/);
  });
});

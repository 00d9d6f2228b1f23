// A fresh clone of the repository (its committed HEAD) in a temporary folder with no ../shared beside it and no
// MODELS_MIRROR: every catalog model is in git, so `npm run models` verifies them and fetches nothing, and the CLI
// loads and runs each of them. (node_modules is linked from this checkout rather than installed again.)
import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const SHARED_IMAGES = join(ROOT, '../shared/images');

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

  it("git tracks exactly the catalog models' files (every file of each entry and every shard of its model.json)", () => {
    const cat = JSON.parse(readFileSync(join(clone, 'models/catalog.json'), 'utf8'));
    const want = cat.models.flatMap((m: { id: string; files: Record<string, string> }) => {
      const json = JSON.parse(readFileSync(join(clone, 'models', m.id, 'model.json'), 'utf8'));
      return [...new Set([...Object.keys(m.files), ...json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths)])].map((f) => `models/${m.id}/${f}`);
    });
    const tracked = execFileSync('git', ['ls-files', 'models'], { cwd: clone, encoding: 'utf8' }).trim().split('\n').sort();
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
  const TOP1 = [['squeezenet1_1', 'squirrel_cls.jpg', 335, 'fox squirrel'], ['mobilenet_v2', 'squirrel_cls.jpg', 335, 'fox squirrel'],
    ['mobilenet_v1_025_224_tfhub', 'fruits.jpg', 951, 'orange']] as const;
  for (const [id, photo, index, label] of TOP1) {
    it(`the CLI of the clone loads and runs ${id} (top-1 ${index} ${label} on ${photo})`, async () => {
      const run = await sh(process.execPath, [join(clone, 'bin/cnnfix.js'), 'classify', join(SHARED_IMAGES, photo), '--model', id], clone, env);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout.split('\n')[1]).toMatch(new RegExp(`^\\s+[01]\\.\\d+\\s+${index}\\s+${label}`));
    });
  }
});

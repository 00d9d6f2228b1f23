// The npm package as a user gets it: `npm pack` (prepack compiles dist/lib/), the tarball installed into an empty
// project, then plain `node` on the library with the default model inside the package (every catalog model is in
// it), `npx cnnfix explain`, and a TypeScript consumer type-checked against the shipped .d.ts. Prints the tarball
// size, the installed size and the time from `npm install` to the first explained image.
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lacks, mirror, SQUIRREL } from '../fixtures/data.ts';

const ROOT = join(import.meta.dirname, '../..');
const CATALOG = JSON.parse(readFileSync(join(ROOT, 'models/catalog.json'), 'utf8'));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}
function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  const t0 = performance.now();
  return new Promise((done) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}
function du(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((s, f) => s + du(join(path, f)), 0);
}
const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

let tmp: string, app: string, tarball: string, packed: { path: string; size: number }[];
// No npm lifecycle variables of the outer `npm test` run leak into the inner npm commands.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_'))) as NodeJS.ProcessEnv;
let installMs = 0,
  firstImageMs = 0,
  first: Run;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'cnnfix-pkg-'));
  const pack = await sh('npm', ['pack', '--json', '--pack-destination', tmp], ROOT, env);
  expect(pack.code, pack.stderr).toBe(0);
  const info = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')))[0];
  tarball = join(tmp, info.filename);
  packed = info.files;

  app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  writeFileSync(
    join(app, 'explain.mjs'),
    [
      "import { loadModel, readImage, explain } from 'cnnfix/node';",
      'const model = await loadModel();',
      'const ex = await explain(model, await readImage(process.argv[2]));',
      'console.log(JSON.stringify({ model: ex.model, method: ex.method, class: ex.class, fixations: ex.fixations.length, box: ex.box, boxSource: ex.boxSource }));',
    ].join('\n'),
  );
  // The tarball's dependencies come from npm's cache when it has them (--prefer-offline), else from the registry.
  const install = await sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], app, env);
  expect(install.code, install.stderr).toBe(0);
  installMs = install.ms;
  first = await sh(process.execPath, ['explain.mjs', SQUIRREL], app, env);
  firstImageMs = installMs + first.ms;
}, 600_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('npm package', () => {
  it('the tarball holds the compiled library, the bin, the catalog and every catalog model; no sources, tests or eval', () => {
    const paths = packed.map((f) => f.path);
    for (const p of paths)
      expect(p).toMatch(/^(dist\/lib\/.*\.(js|d\.ts)|bin\/cnnfix\.js|models\/.*|package\.json|README\.md|LICENSE)$/);
    expect(paths).toContain('dist/lib/index.js');
    expect(paths).toContain('dist/lib/index.d.ts');
    expect(paths).toContain('dist/lib/node/index.d.ts');
    // Every catalog model (so the default, whichever it is), and nothing else under models/.
    const want = CATALOG.models.flatMap((m: { id: string; files: Record<string, string> }) => {
      const json = JSON.parse(readFileSync(join(ROOT, 'models', m.id, 'model.json'), 'utf8'));
      const shards = json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths);
      return [...new Set([...Object.keys(m.files), ...shards])].map((f) => `models/${m.id}/${f}`);
    });
    expect(want.some((p: string) => p.startsWith(`models/${CATALOG.default}/`))).toBe(true);
    expect(paths.filter((p) => p.startsWith('models/')).sort()).toEqual(['models/catalog.json', ...want].sort());
    const pkg = JSON.parse(readFileSync(join(app, 'node_modules/cnnfix/package.json'), 'utf8'));
    for (const dev of ['tsx', 'vite', 'vitest', 'typescript', '@playwright/test'])
      expect(pkg.dependencies).not.toHaveProperty(dev);
    console.log(
      `package: tarball ${mb(statSync(tarball).size)}, ${paths.length} files; installed: cnnfix ${mb(du(join(app, 'node_modules/cnnfix')))}, ` +
        `with dependencies ${mb(du(join(app, 'node_modules')))}; npm install ${(installMs / 1000).toFixed(1)} s, ` +
        `install to first explained image ${(firstImageMs / 1000).toFixed(1)} s`,
    );
  });

  it('plain node: loadModel() with no arguments (the model inside the package) explains a photo', () => {
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const r = JSON.parse(first.stdout);
    expect(r.model).toBe(CATALOG.default);
    // The default model's own default method (its catalog "method") travels in the package.
    expect(r.method).toBe(CATALOG.models.find((m: { id: string }) => m.id === CATALOG.default).method ?? 'fixations');
    expect(r.class.label).toMatch(/^fox squirrel/);
    expect(r.fixations).toBeGreaterThan(0);
    // A box with its source, or none (too few fixations) and no source.
    if (r.boxSource === null) expect(r.box).toBeNull();
    else expect(r.box).toHaveLength(4);
  });

  it('npx cnnfix explain works in the project', async () => {
    const run = await sh('npx', ['--no-install', 'cnnfix', 'explain', SQUIRREL, '--out', 'out'], app, env);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/squirrel_cls\.jpg: \d+ fox squirrel/);
    expect(existsSync(join(app, 'out/squirrel_cls.png'))).toBe(true);
    expect(readFileSync(join(app, 'out/index.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('npx cnnfix --help, and an ONNX model through the installed package (its generated decoder is in dist/lib)', async (ctx) => {
    expect(packed.map((f) => f.path)).toEqual(
      expect.arrayContaining(['dist/lib/formats/onnx/onnx.pb.js', 'dist/lib/formats/onnx/onnx.pb.d.ts']),
    );
    const help = await sh('npx', ['--no-install', 'cnnfix', '--help'], app, env);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/cnnfix explain IMAGE/);
    const onnx = mirror('onnx/squeezenet1_1.onnx');
    if (lacks('the ONNX run of the packed CLI', onnx)) return ctx.skip();
    const run = await sh('npx', ['--no-install', 'cnnfix', 'classify', SQUIRREL, '--model-dir', onnx], app, env);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/335\s+fox squirrel/);
  });

  it('an error after the wasm backend loaded prints its message, not the wasm module (< 2 kB)', async () => {
    writeFileSync(
      join(app, 'fail.mjs'),
      "import { loadModel } from 'cnnfix/node';\nawait loadModel();\nthrow new Error('my own bug');\n",
    );
    const run = await sh(process.execPath, ['fail.mjs'], app, env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('my own bug');
    expect(run.stderr.length).toBeLessThan(2000);
    const cli = await sh('npx', ['--no-install', 'cnnfix', 'explain', SQUIRREL, '--out', 'package.json/x'], app, env);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('ENOTDIR');
    expect(cli.stderr.length + cli.stdout.length).toBeLessThan(2000);
  });

  it("a browser bundler (Vite) bundles the 'cnnfix' entry: no Node built-in reached from it", async () => {
    writeFileSync(
      join(app, 'browser.js'),
      "import { FixationModel, explain, PRESETS } from 'cnnfix';\nglobalThis.cnnfix = { FixationModel, explain, PRESETS };\n",
    );
    const { build } = await import('vite');
    const reached: string[] = [];
    await build({
      root: app,
      configFile: false,
      logLevel: 'silent',
      plugins: [
        {
          name: 'node-builtins',
          enforce: 'pre',
          resolveId(id, importer) {
            if (importer?.includes('/node_modules/cnnfix/') && (id.startsWith('node:') || builtinModules.includes(id)))
              reached.push(`${importer} -> ${id}`);
            return null;
          },
        },
      ],
      build: {
        outDir: join(app, 'web'),
        minify: false,
        lib: { entry: join(app, 'browser.js'), formats: ['es'], fileName: 'bundle' },
      },
    });
    expect(reached).toEqual([]);
    const bundle = readFileSync(
      join(
        app,
        'web',
        readdirSync(join(app, 'web')).find((f) => f.endsWith('.js'))!,
      ),
      'utf8',
    );
    expect(bundle).toContain('FixationModel');
  });

  it('a TypeScript consumer type-checks against the shipped .d.ts (and misuse fails)', async () => {
    writeFileSync(
      join(app, 'consumer.ts'),
      `
import { explain, FixationModel, PRESETS, type Explanation, type ExplainOptions, type ModelInfo } from 'cnnfix';
import { loadModel, readImage, type LoadModelOptions } from 'cnnfix/node';

const opts: ExplainOptions = { rules: 'reference', method: 'fixations', override: { gap: 'positive' } };
const load: LoadModelOptions = { path: './my-model', info: { inputSize: 224 }, labels: 'labels.txt' };
const model: FixationModel = await loadModel(load);
const info: ModelInfo = model.info;
const ex: Explanation = await explain(model, await readImage('photo.jpg'), opts);
const index: number = ex.class.index + model.input.height + (info.inputSize ?? 0) + PRESETS.default.gapThreshold;
// @ts-expect-error: not a method
await explain(model, await readImage('photo.jpg'), { method: 'saliency' });
// @ts-expect-error: internals are not exported
import { HEATMAP_WGSL } from 'cnnfix';
export { index, HEATMAP_WGSL };
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          lib: ['ES2022', 'DOM'],
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules/@types')],
          skipLibCheck: true,
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = await sh(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.'], app, env);
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.code).toBe(0);
  });
});

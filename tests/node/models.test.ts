// The model installer (src/node/install.ts) on a temporary project root and mirror holding the real SqueezeNet
// files (the committed ones), and the loader's errors on broken model folders (src/node/index.ts).
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installModels, InstallError, type InstallEntry } from '../../src/node/install.ts';
import { loadModel } from '../../src/node/index.ts';

const COMMITTED = join(import.meta.dirname, '../../models/squeezenet1_1');
const CATALOG = JSON.parse(readFileSync(join(import.meta.dirname, '../../models/catalog.json'), 'utf8'));
const SQUEEZE: InstallEntry = CATALOG.models.find((m: InstallEntry) => m.id === 'squeezenet1_1');
const FILES = ['model.json', 'group1-shard1of1.bin', 'labels.json'];
const hash = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

let tmp: string, root: string, mirror: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'cnnfix-models-'));
  root = join(tmp, 'root');
  mirror = join(tmp, 'mirror');
  mkdirSync(join(root, 'models'), { recursive: true });
  mkdirSync(join(mirror, 'squeezenet1_1'), { recursive: true });
  for (const f of FILES) cpSync(join(COMMITTED, f), join(mirror, 'squeezenet1_1', f));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

function writeCatalog(models: InstallEntry[], def = models[0].id) {
  writeFileSync(join(root, 'models/catalog.json'), JSON.stringify({ default: def, models }));
}
async function failure(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err) => err,
  );
  expect(e).toBeInstanceOf(InstallError);
  return (e as Error).message;
}
function flipByte(path: string, at = 1000) {
  const b = readFileSync(path);
  b[at] ^= 0xff;
  writeFileSync(path, b);
}

describe('installer', () => {
  it('installs the catalog default from the mirror with every pinned hash, then skips what is present', async () => {
    writeCatalog([SQUEEZE]);
    const [r] = await installModels({ root, mirror });
    expect(r.changed).toBe(true);
    for (const f of FILES) {
      // The catalog's pinned hash is the hash of the shared file.
      expect(hash(join(root, 'models/squeezenet1_1', f))).toBe(hash(join(COMMITTED, f)));
      expect(SQUEEZE.files[f]).toBe(hash(join(COMMITTED, f)));
    }
    rmSync(mirror, { recursive: true });
    const [again] = await installModels({ root, mirror });
    expect(again.changed).toBe(false);
    expect(again.files.map((f) => f.source)).toEqual(['installed', 'installed', 'installed']);
  });

  it('a missing file fails naming the model, the file and every source tried', async () => {
    writeCatalog([{ ...SQUEEZE, urls: ['http://127.0.0.1:9/models/{file}'] }]);
    rmSync(join(mirror, 'squeezenet1_1/group1-shard1of1.bin'));
    const msg = await failure(installModels({ root, mirror }));
    expect(msg).toContain("model 'squeezenet1_1'");
    expect(msg).toContain("file 'group1-shard1of1.bin'");
    expect(msg).toContain(`mirror ${join(mirror, 'squeezenet1_1/group1-shard1of1.bin')}: not found`);
    expect(msg).toContain('http://127.0.0.1:9/models/group1-shard1of1.bin');
    // Staged as a whole: model.json was fine, but nothing of the model was installed.
    expect(existsSync(join(root, 'models/squeezenet1_1/model.json'))).toBe(false);
  });

  it('a corrupt file fails with expected and actual sha256 and leaves nothing corrupt installed', async () => {
    writeCatalog([SQUEEZE]);
    const shard = join(mirror, 'squeezenet1_1/group1-shard1of1.bin');
    flipByte(shard);
    const got = hash(shard);
    const msg = await failure(installModels({ root, mirror }));
    expect(msg).toContain("file 'group1-shard1of1.bin'");
    expect(msg).toContain(`expected ${SQUEEZE.files['group1-shard1of1.bin']}, got ${got}`);
    expect(existsSync(join(root, 'models/squeezenet1_1/group1-shard1of1.bin'))).toBe(false);
  });

  it('repairs an installed file with a wrong hash, and removes it when no source has a good copy', async () => {
    writeCatalog([SQUEEZE]);
    await installModels({ root, mirror });
    const installed = join(root, 'models/squeezenet1_1/group1-shard1of1.bin');
    flipByte(installed);
    await installModels({ root, mirror });
    expect(hash(installed)).toBe(SQUEEZE.files['group1-shard1of1.bin']);

    flipByte(installed);
    flipByte(join(mirror, 'squeezenet1_1/group1-shard1of1.bin'));
    await failure(installModels({ root, mirror }));
    expect(existsSync(installed)).toBe(false);
    expect(hash(join(root, 'models/squeezenet1_1/model.json'))).toBe(SQUEEZE.files['model.json']);
  });

  it('an unknown model id is a clear error listing the catalog', async () => {
    writeCatalog([SQUEEZE]);
    const msg = await failure(installModels({ root, mirror, ids: ['resnet9000'] }));
    expect(msg).toBe("unknown model 'resnet9000' (catalog has: squeezenet1_1)");
  });

  it('no mirror and no URL: says so', async () => {
    writeCatalog([SQUEEZE]);
    const msg = await failure(installModels({ root, mirror: null }));
    expect(msg).toContain("model 'squeezenet1_1', file 'model.json'");
    expect(msg).toContain('no mirror given');
    expect(msg).toContain('git checkout -- models/squeezenet1_1');
  });

  it('installs unpinned shards named by model.json and records the hash it saw', async () => {
    writeCatalog([{ ...SQUEEZE, files: { 'model.json': null } }]);
    const lines: string[] = [];
    const [r] = await installModels({ root, mirror, log: (l) => lines.push(l) });
    expect(r.files.map((f) => f.name).sort()).toEqual(['group1-shard1of1.bin', 'model.json']);
    const rec = JSON.parse(readFileSync(join(root, 'models/squeezenet1_1/installed.json'), 'utf8'));
    expect(rec['group1-shard1of1.bin']).toBe(hash(join(COMMITTED, 'group1-shard1of1.bin')));
    expect(lines.join('\n')).toContain(`sha256 ${hash(join(COMMITTED, 'model.json'))}`);
    // The recorded hash guards the next run: a changed file is fetched again.
    flipByte(join(root, 'models/squeezenet1_1/group1-shard1of1.bin'));
    const [again] = await installModels({ root, mirror });
    expect(again.files.find((f) => f.name === 'group1-shard1of1.bin')!.source).toContain('mirror');
    expect(hash(join(root, 'models/squeezenet1_1/group1-shard1of1.bin'))).toBe(
      hash(join(COMMITTED, 'group1-shard1of1.bin')),
    );
  });

  it('a write failing while staging installs nothing and leaves no .staging-* folder behind', async () => {
    // model.json names two shards 'w' and 'w/x': staged one after the other, the second cannot be written ('w' is a
    // file by then). A local HTTP server holds them (a mirror folder cannot hold both names). A real filesystem error.
    const json = JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['w', 'w/x'], weights: [] }] });
    const server = createServer((req, res) => res.end(req.url === '/model.json' ? json : 'shard bytes'));
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      const port = (server.address() as AddressInfo).port;
      writeCatalog([
        {
          ...SQUEEZE,
          id: 'staged',
          files: { 'model.json': null },
          urls: [`http://127.0.0.1:${port}/{file}`],
          classes: undefined,
        },
      ]);
      const e = await installModels({ root, mirror: null }).then(
        () => undefined,
        (err) => err as NodeJS.ErrnoException,
      );
      expect(e, 'the install must fail').toBeInstanceOf(Error);
      expect(['ENOTDIR', 'EEXIST']).toContain(e!.code);
      expect(readdirSync(join(root, 'models')).sort()).toEqual(['catalog.json']); // no model folder, no staging folder
    } finally {
      server.close();
    }
  });

  it("derives MobileNet's 1001 labels (background first) from SqueezeNet's, matching the catalog's pinned hash", async () => {
    const mobile: InstallEntry = CATALOG.models.find((m: InstallEntry) => m.id === 'mobilenet_v1_025_224_tfhub');
    // Only the derived file (the temporary mirror holds SqueezeNet only).
    writeCatalog([SQUEEZE, { ...mobile, files: { 'labels.json': mobile.files['labels.json'] } }]);
    await installModels({ root, mirror, ids: ['mobilenet_v1_025_224_tfhub'] });
    const labels = JSON.parse(readFileSync(join(root, 'models/mobilenet_v1_025_224_tfhub/labels.json'), 'utf8'));
    const imagenet = JSON.parse(readFileSync(join(COMMITTED, 'labels.json'), 'utf8'));
    expect(labels.length).toBe(1001);
    expect(labels[0]).toBe('background');
    expect(labels[336]).toBe(imagenet[335]);
    expect(imagenet[335]).toMatch(/^fox squirrel/);
  });
});

describe('loading errors name the file', () => {
  let dir: string;
  beforeEach(() => {
    dir = join(tmp, 'model');
    mkdirSync(dir);
    for (const f of FILES) cpSync(join(COMMITTED, f), join(dir, f));
  });
  const loadError = async () =>
    (await loadModel('squeezenet1_1', dir).then(
      () => undefined,
      (e) => e,
    )) as Error;

  it('missing model.json', async () => {
    rmSync(join(dir, 'model.json'));
    const e = await loadError();
    expect(e.message).toContain(join(dir, 'model.json'));
    expect(e.message).toContain('ENOENT');
  });

  it('truncated shard', async () => {
    const shard = join(dir, 'group1-shard1of1.bin');
    writeFileSync(shard, readFileSync(shard).subarray(0, 1_000_000));
    const e = await loadError();
    expect(e.message).toContain(dir);
    expect(e.message).toContain('1000000 bytes');
    expect(e.message).toContain('truncated');
  });

  it('JSON that is not a graph model', async () => {
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ hello: 'world' }));
    const e = await loadError();
    expect(e.message).toContain(join(dir, 'model.json'));
    expect(e.message).toContain('not a TF.js graph model');
  });
});

// Model installer: copies (or downloads) the files of catalog models into <root>/models/<id>/, checking each file's
// sha256. A model is staged in full in a temporary folder beside it and only renamed into place once every file is
// verified, so a failed install never leaves a corrupt or half-updated model.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile, mkdtemp } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';

/** One model of models/catalog.json as the installer reads it (the loader reads more fields: src/node/index.ts). */
export interface InstallEntry {
  id: string;
  /** File name -> sha256, or null when not yet known (checked on first download, recorded in installed.json). */
  files: Record<string, string | null>;
  /**
   * Download URLs tried after the mirror, in order; `{file}` stands for the file name (e.g. a shard path of
   * model.json). Empty when there is no official TF.js URL (the model comes from a mirror only).
   */
  urls: string[];
  /** Files built from another model's files instead of fetched: e.g. labels = ['background', ...1000 labels]. */
  derive?: Record<string, { from: string; file: string; prepend?: string[] }>;
  labels?: string;
  /** Number of outputs: the labels file must have this many entries. */
  classes?: number;
}
export interface InstallCatalog {
  default: string;
  models: InstallEntry[];
}

export interface InstallOptions {
  /** Project root: the catalog is <root>/models/catalog.json, models go to <root>/models/<id>/. */
  root: string;
  /** Mirror folder laid out as <mirror>/<id>/<file>; tried before the URLs. null: none. */
  mirror?: string | null;
  /**
   * Models to install; default: the catalog's default model, every catalog model with a folder in models/ (the
   * committed ones: verified, nothing fetched) and every catalog model present in the mirror.
   */
  ids?: string[];
  all?: boolean;
  log?: (line: string) => void;
  /** Timeout of one download. */
  timeoutMs?: number;
}

export interface InstalledModel {
  id: string;
  files: { name: string; sha256: string; source: string; verified: boolean }[];
  changed: boolean;
}

/** Record of what was installed (git-ignored, beside the model): the hashes seen for files the catalog leaves open. */
export const RECORD = 'installed.json';

export class InstallError extends Error {}

export const sha256 = (buf: Uint8Array) => createHash('sha256').update(buf).digest('hex');

/** The default mirror: ../shared/models beside the project root, when it exists. */
export function defaultMirror(root: string): string | null {
  const dir = resolve(root, '../shared/models');
  return existsSync(dir) ? dir : null;
}

export async function readInstallCatalog(root: string): Promise<InstallCatalog> {
  const path = join(root, 'models/catalog.json');
  let cat: InstallCatalog;
  try {
    cat = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new InstallError(`catalog ${path}: ${(e as Error).message}`);
  }
  if (!Array.isArray(cat.models) || typeof cat.default !== 'string') {
    throw new InstallError(`catalog ${path}: needs "default" and a "models" list`);
  }
  return cat;
}

/** Which models a plain run installs: the default, the ones asked for, or all; plus those present here or in the mirror. */
export function selectModels(
  cat: InstallCatalog,
  opts: Pick<InstallOptions, 'ids' | 'all' | 'mirror' | 'root'>,
): string[] {
  const known = cat.models.map((m) => m.id);
  if (opts.all) return known;
  if (opts.ids?.length) {
    for (const id of opts.ids) {
      if (!known.includes(id)) throw new InstallError(`unknown model '${id}' (catalog has: ${known.join(', ')})`);
    }
    return opts.ids;
  }
  const present = known.filter((id) => existsSync(join(opts.root, 'models', id, 'model.json')));
  const inMirror = opts.mirror ? known.filter((id) => existsSync(join(opts.mirror!, id))) : [];
  return [...new Set([cat.default, ...present, ...inMirror])];
}

export async function installModels(opts: InstallOptions): Promise<InstalledModel[]> {
  const cat = await readInstallCatalog(opts.root);
  const ids = selectModels(cat, opts);
  const done = new Map<string, InstalledModel>();
  const install = async (id: string, chain: string[] = []): Promise<InstalledModel> => {
    if (done.has(id)) return done.get(id)!;
    if (chain.includes(id)) throw new InstallError(`model '${id}': circular "derive" (${[...chain, id].join(' -> ')})`);
    const entry = cat.models.find((m) => m.id === id);
    if (!entry)
      throw new InstallError(`unknown model '${id}' (catalog has: ${cat.models.map((m) => m.id).join(', ')})`);
    // A derived file needs its source model installed first.
    for (const d of Object.values(entry.derive ?? {})) await install(d.from, [...chain, id]);
    const r = await installOne(entry, opts);
    done.set(id, r);
    return r;
  };
  for (const id of ids) await install(id);
  return ids.map((id) => done.get(id)!);
}

interface Staged {
  name: string;
  data: Uint8Array;
  sha256: string;
  source: string;
  verified: boolean;
}

async function installOne(entry: InstallEntry, opts: InstallOptions): Promise<InstalledModel> {
  const log = opts.log ?? (() => {});
  const modelsDir = join(opts.root, 'models');
  const dir = join(modelsDir, entry.id);
  const record = await readRecord(dir);
  const wanted = { ...entry.files };
  const staged: Staged[] = [];
  const kept: Staged[] = [];

  const handle = async (name: string) => {
    const expected = wanted[name] ?? null;
    const present = await readIfPresent(join(dir, name));
    // Already installed with the right hash (or, for an open hash, the hash recorded when it was first installed).
    const okHash = expected ?? record[name] ?? null;
    if (present && okHash && sha256(present) === okHash) {
      kept.push({ name, data: present, sha256: okHash, source: 'installed', verified: expected !== null });
      return present;
    }
    const s = await obtain(entry, name, expected, opts, modelsDir);
    staged.push(s);
    return s.data;
  };

  try {
    // model.json first: the shards it names are installed too, even when the catalog does not list them.
    if ('model.json' in wanted) {
      const json = await handle('model.json');
      for (const shard of shardPaths(entry.id, json)) if (!(shard in wanted)) wanted[shard] = null;
    }
    for (const name of Object.keys(wanted)) if (name !== 'model.json') await handle(name);
  } catch (e) {
    // Nothing was written. An installed file that fails its pinned hash is removed, so that loading the model
    // fails clearly instead of running on corrupt weights.
    for (const [name, sha] of Object.entries(entry.files)) {
      const p = join(dir, name);
      const data = sha ? await readIfPresent(p) : undefined;
      if (data && sha256(data) !== sha) await rm(p, { force: true });
    }
    throw e;
  }

  const all = [...kept, ...staged];
  if (entry.classes && entry.labels)
    checkLabels(
      entry,
      all.find((f) => f.name === entry.labels),
    );

  if (staged.length) {
    // Stage beside the model, then rename: a failed write leaves no partial model behind.
    await mkdir(modelsDir, { recursive: true });
    const tmp = await mkdtemp(join(modelsDir, `.${entry.id}.staging-`));
    try {
      for (const f of staged) {
        await mkdir(join(tmp, f.name, '..'), { recursive: true });
        await writeFile(join(tmp, f.name), f.data);
      }
      await mkdir(dir, { recursive: true });
      for (const f of staged) {
        await mkdir(join(dir, f.name, '..'), { recursive: true });
        await rename(join(tmp, f.name), join(dir, f.name));
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  const rec = Object.fromEntries(all.map((f) => [f.name, f.sha256]));
  if (staged.length || JSON.stringify(rec) !== JSON.stringify(record))
    await writeAtomic(join(dir, RECORD), JSON.stringify(rec, null, 2) + '\n');

  for (const f of staged.filter((s) => !s.verified)) {
    log(
      `${entry.id}/${f.name}: not pinned in models/catalog.json; sha256 ${f.sha256} (from ${f.source}) recorded in models/${entry.id}/${RECORD}`,
    );
  }
  log(`${entry.id}: ${all.length} files ok (${staged.length} installed, ${kept.length} already present)`);
  return {
    id: entry.id,
    changed: staged.length > 0,
    files: all.map(({ name, sha256, source, verified }) => ({ name, sha256, source, verified })),
  };
}

/** Get one file from the first source that has it with the right hash; else an error listing every source tried. */
async function obtain(
  entry: InstallEntry,
  name: string,
  expected: string | null,
  opts: InstallOptions,
  modelsDir: string,
): Promise<Staged> {
  const tried: string[] = [];
  const accept = (data: Uint8Array, source: string): Staged | undefined => {
    const got = sha256(data);
    if (expected && got !== expected) {
      tried.push(`${source}: sha256 mismatch (expected ${expected}, got ${got})`);
      return undefined;
    }
    return { name, data, sha256: got, source, verified: expected !== null };
  };

  const derive = entry.derive?.[name];
  if (derive) {
    const from = join(modelsDir, derive.from, derive.file);
    const src = await readIfPresent(from);
    if (!src) tried.push(`derived from ${from}: not found`);
    else {
      try {
        const list = JSON.parse(Buffer.from(src).toString('utf8'));
        if (!Array.isArray(list)) throw new Error('not a JSON array');
        const r = accept(Buffer.from(JSON.stringify([...(derive.prepend ?? []), ...list])), `derived from ${from}`);
        if (r) return r;
      } catch (e) {
        tried.push(`derived from ${from}: ${(e as Error).message}`);
      }
    }
  } else {
    if (opts.mirror) {
      const p = join(opts.mirror, entry.id, name);
      const data = await readIfPresent(p);
      const r = data ? accept(data, `mirror ${p}`) : (tried.push(`mirror ${p}: not found`), undefined);
      if (r) return r;
    }
    for (const template of entry.urls) {
      const url = template.replaceAll('{file}', name.split('/').map(encodeURIComponent).join('/'));
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 120_000), redirect: 'follow' });
        if (!res.ok) {
          tried.push(`${url}: HTTP ${res.status} ${res.statusText}`);
          continue;
        }
        const r = accept(new Uint8Array(await res.arrayBuffer()), url);
        if (r) return r;
      } catch (e) {
        const err = e as Error & { cause?: { code?: string; message?: string } };
        tried.push(`${url}: download failed (${err.cause?.code ?? err.cause?.message ?? err.message})`);
      }
    }
    if (!opts.mirror && !entry.urls.length)
      tried.push('no mirror given (MODELS_MIRROR or --from) and the catalog lists no URL');
    // The catalog's own models are committed (docs/models-catalog.md): a lost or changed file comes back from git.
    if (!entry.urls.length)
      tried.push(`a catalog model without URL is committed in the repository: git checkout -- models/${entry.id}`);
  }
  throw new InstallError(
    `model '${entry.id}', file '${name}': could not install; sources tried:\n  - ${tried.join('\n  - ')}`,
  );
}

function shardPaths(id: string, json: Uint8Array): string[] {
  let m: { weightsManifest?: { paths?: string[] }[] };
  try {
    m = JSON.parse(Buffer.from(json).toString('utf8'));
  } catch (e) {
    throw new InstallError(`model '${id}', file 'model.json': not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(m.weightsManifest))
    throw new InstallError(`model '${id}', file 'model.json': not a TF.js graph model (no weightsManifest)`);
  const paths = m.weightsManifest.flatMap((g) => g.paths ?? []);
  for (const p of paths) {
    // A shard path must stay inside the model folder.
    if (p.startsWith('/') || p.split('/').includes('..'))
      throw new InstallError(`model '${id}', file 'model.json': shard path '${p}' leaves the model folder`);
  }
  return paths;
}

function checkLabels(entry: InstallEntry, f: Staged | undefined) {
  if (!f) return;
  let list: unknown;
  try {
    list = JSON.parse(Buffer.from(f.data).toString('utf8'));
  } catch {
    list = undefined;
  }
  if (!Array.isArray(list) || list.length !== entry.classes) {
    throw new InstallError(
      `model '${entry.id}', file '${f.name}': expected a JSON array of ${entry.classes} labels, got ${Array.isArray(list) ? list.length + ' entries' : 'something else'}`,
    );
  }
}

async function readIfPresent(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function readRecord(dir: string): Promise<Record<string, string>> {
  const data = await readIfPresent(join(dir, RECORD));
  try {
    return data ? JSON.parse(Buffer.from(data).toString('utf8')) : {};
  } catch {
    return {};
  }
}

async function writeAtomic(path: string, text: string) {
  const tmp = join(path, '..', `.${basename(path)}.tmp-${process.pid}`);
  await writeFile(tmp, text);
  await rename(tmp, path);
}

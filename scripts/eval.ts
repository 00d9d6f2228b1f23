// npm run eval [-- --model ID]... [-- --quick] [-- --per-object N] [-- --explore]
// Localization and faithfulness of the explanation methods (CNN Fixations, the guided product, CAM, Grad-CAM, a
// centre prior) per catalog model (every installed one, or those given with --model): the hand-boxed photos
// (eval/data/boxes.json + more-boxes.json) and a synthetic test set (objects pasted at known places onto the test
// backgrounds, kept where the model ranks the object's class in its top 5, the same number per object kind: each
// model has its own kept set). Metrics with 95% intervals: recognition (top-1 on the labelled photos, top-1/top-5 on
// the synthetic candidates), pointing game, energy share, localization (IoU >= 0.5) of the method's own box and of
// the CAM-protocol box, deletion AUC, the cascading randomisation sanity check at every depth, ms per explanation.
// Writes out/eval-<id>.json and the tables into eval/results.md (between markers; `npm run eval:tables` copies them on).
// --quick: a small run (out/eval-<id>-quick.json, eval/results.md untouched). --per-object N: N kept synthetic test
// images per object kind. --explore: the rule search; --explore-guided: the guided family's search (tuning set only).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { explain, type ExplainOptions } from '../src/engine/explain.ts';
import type { FixationModel } from '../src/engine/model.ts';
import { PRESETS, resolveRules, type Rules } from '../src/engine/types.ts';
import { DEFAULT_POST, fixationBox } from '../src/engine/post.ts';
import { BOX_SOURCE, methodFor, resolveGuided, type MethodFacts } from '../src/engine/methods.ts';
import { initNodeBackend, loadModel, readCatalog, ROOT } from '../src/node/index.ts';
import {
  evidenceVariants,
  explore,
  SANITY_MAX_RHO,
  variantKey,
  variants,
  type ExploreResult,
  type Prepared,
} from './eval/explore.ts';
import { exploreGuided, guidedTable } from './eval/explore-guided.ts';
import {
  auc,
  bootstrapIndices,
  bootstrapMean,
  energyShare,
  every4,
  iou,
  mean,
  pointingHit,
  spearman,
  wilson,
} from './eval/metrics.ts';
import { cascade, perturbationBase, perturbationCurves, probsOf, saliencyAtInput } from './eval/protocols.ts';
import { evalData, loadPhotos, readRgb, synthesizer, type EvalCase, type SetName } from './eval/synthetic.ts';
import { copyTables } from './eval-tables.ts';
import { f3, modelTables, pct, summaryTable, writeSection } from './eval/report.ts';

const argv = process.argv.slice(2);
const flag = (f: string) => argv.includes(f);
const opt = (f: string) => (argv.includes(f) ? Number(argv[argv.indexOf(f) + 1]) : undefined);
const QUICK = flag('--quick');
const EXPLORE = flag('--explore') || flag('--explore-guided');
const models = argv.flatMap((a, i) => (a === '--model' ? [argv[i + 1]] : []));
// Kept synthetic test images per object kind in the full run, per model (eval/results.md's run): MobileNetV2's maps
// cost several times SqueezeNet's (its FC head fans out), so it gets fewer.
const PER_OBJECT: Record<string, number> = { squeezenet1_1: 8, mobilenet_v1_025_224_tfhub: 6, mobilenet_v2: 4 };
const CFG = {
  perObject: opt('--per-object') ?? (QUICK ? 2 : undefined), // undefined: PER_OBJECT[model] ?? 8
  recognitionPool: QUICK ? 4 : 16, // candidates per object kind always classified (top-1 / top-5 on the candidates)
  maxTriesPerObject: QUICK ? 24 : 40, // an object kind the model rarely ranks in its top 5 stops here (reported)
  perturbPerObject: flag('--no-deletion') ? 0 : 1, // deletion on this many of each kind's kept images (plus every photo)
  sanitySynthetic: 2, // sanity on every photo and the first synthetic images (one per kind: interleaved)
  steps: 16, // deletion steps of 1/16 of the pixels each
  seed: 1, // test set; the tuning set uses seed 2 and the other backgrounds
  tol: 15, // pointing game tolerance, pixels
  bootstrap: 2000, // resamples over images for the intervals of means and of paired differences
  // --explore: the rule search on the tuning set; --cases N: N tuning images (deletion on N/6, sanity on N/40).
  exploreCases: opt('--cases') ?? (QUICK ? 24 : 300),
  exploreTopK: 6,
};
const DATA = evalData();
/** Models evaluated at a time (--jobs N; default the CPU count). */
const JOBS = opt('--jobs') ?? cpus().length;

export interface Method {
  key: string;
  label: string;
  opts: ExplainOptions;
}
export const METHODS: Method[] = [
  { key: 'fixations', label: 'CNN Fixations, catalog rules', opts: { method: 'fixations', rules: 'default' } },
  { key: 'guided', label: 'Guided (class map × fixation density)', opts: { method: 'guided' } },
  { key: 'cam', label: 'CAM', opts: { method: 'cam' } },
  { key: 'gradcam', label: 'Grad-CAM', opts: { method: 'gradcam' } },
  { key: 'center', label: 'centre prior', opts: { method: 'center' } },
];

const log = (s: string) => console.log(s);
const toTensor = (c: EvalCase) => tf.tensor3d(c.image.data, [c.image.height, c.image.width, 3], 'int32');

/** The explained class: the highest-scoring of the case's classes, and its rank among all classes. */
async function classify(
  fm: FixationModel,
  cs: EvalCase[],
): Promise<{ ci: number; prob: number; rank: number; top: number }[]> {
  const out: { ci: number; prob: number; rank: number; top: number }[] = [];
  for (let i = 0; i < cs.length; i += 16) {
    const part = cs.slice(i, i + 16);
    const inputs = part.map((c) => tf.tidy(() => fm.preprocess(toTensor(c)).input));
    const batch = tf.concat(inputs) as tf.Tensor4D;
    const probs = await probsOf(fm, batch);
    tf.dispose([batch, ...inputs]);
    // Case classes are ImageNet's 1000; a model with a background class first (TF Hub: 1001) shifts them by one.
    const off = fm.info.labels.length === 1001 && fm.info.labels[0] === 'background' ? 1 : 0;
    part.forEach((c, k) => {
      const p = probs[k];
      const ci = c.classes.map((x) => x + off).reduce((a, b) => (p[b] > p[a] ? b : a));
      let rank = 0,
        top = 0;
      for (let j = 0; j < p.length; j++) {
        if (p[j] > p[ci]) rank++;
        if (p[j] > p[top]) top = j;
      }
      out.push({ ci, prob: p[ci], rank, top });
    });
  }
  return out;
}

export interface KindStats {
  object: string;
  kept: number;
  tried: number;
  top1: number;
  top5: number;
  pool: number;
}

/**
 * A synthetic set balanced per object kind: per kind, candidates in seeded order, kept where the model ranks the
 * object's class in its top 5, until `perObject` are kept or `maxTriesPerObject` were tried. Recognition (top-1 /
 * top-5) is measured on the first `recognitionPool` candidates of every kind, classified whatever is kept.
 */
export async function syntheticSet(fm: FixationModel, set: SetName, seed: number, perObject: number) {
  const syn = await synthesizer(DATA, set, seed);
  const kinds: KindStats[] = syn.kinds.map((object) => ({ object, kept: 0, tried: 0, top1: 0, top5: 0, pool: 0 }));
  const out: (Prepared & { prob: number; rank: number })[][] = syn.kinds.map(() => []);
  for (;;) {
    const batch: { k: number; j: number; c: EvalCase }[] = [];
    for (const [k, s] of kinds.entries()) {
      const need = s.tried < CFG.recognitionPool || (s.kept < perObject && s.tried < CFG.maxTriesPerObject);
      // Draw a few at a time per kind (about what is still needed), to classify in batches.
      for (
        let n = 0;
        need &&
        n < Math.max(1, Math.min(4, perObject - s.kept)) &&
        (s.tried < CFG.recognitionPool || s.tried < CFG.maxTriesPerObject);
        n++
      ) {
        batch.push({ k, j: s.tried, c: syn.candidate(k, s.tried) });
        s.tried++;
      }
    }
    if (!batch.length) break;
    const cls = await classify(
      fm,
      batch.map((b) => b.c),
    );
    batch.forEach(({ k, j, c }, i) => {
      const s = kinds[k];
      if (j < CFG.recognitionPool) {
        s.pool++;
        s.top1 += cls[i].rank === 0 ? 1 : 0;
        s.top5 += cls[i].rank < 5 ? 1 : 0;
      }
      if (cls[i].rank < 5 && out[k].length < perObject) out[k].push({ c, ...cls[i] });
    });
    for (const [k, s] of kinds.entries()) s.kept = out[k].length;
  }
  // Interleaved by kind, so that any prefix (deletion, sanity subsets) stays balanced.
  const cases: (Prepared & { prob: number; rank: number })[] = [];
  for (let j = 0; j < perObject; j++) for (const o of out) if (o[j]) cases.push(o[j]);
  const pool = kinds.reduce((a, s) => a + s.pool, 0);
  return {
    cases,
    kinds,
    pool,
    top1: kinds.reduce((a, s) => a + s.top1, 0),
    top5: kinds.reduce((a, s) => a + s.top5, 0),
  };
}

/**
 * One map's scores. loc: the CAM-protocol box of the map; locBox: the method's own box (e.box, none counts as a miss);
 * locFix: the paper's box from the fixations (fixationBox; methods with fixations only).
 */
export interface Rec {
  pointing: number;
  energy: number;
  loc: number;
  locBox: number;
  locFix?: number;
  box: number;
  ms: number;
  deletion?: number;
}

async function main() {
  const t0 = performance.now();
  if (flag('--tables')) return rewriteTables();
  if (flag('--forward')) return forwardCost();
  const cat = await readCatalog();
  const installed = cat.models.map((m) => m.id).filter((id) => existsSync(join(ROOT, 'models', id, 'model.json')));
  const ids = models.length ? models : installed;
  for (const id of ids)
    if (!installed.includes(id))
      throw new Error(`eval: model '${id}' is not installed (npm run models -- --model ${id})`);
  if (ids.length === 1) return evalModel(ids[0], true);
  // Every installed model, one process each, as many at a time as there are CPUs (the eval is single-threaded).
  log(`eval: ${ids.join(', ')} (${Math.min(ids.length, JOBS)} at a time)`);
  const queue = [...ids];
  const run = async () => {
    for (let id = queue.shift(); id; id = queue.shift()) {
      const args = [
        'tsx',
        'scripts/eval.ts',
        '--model',
        id,
        ...argv.filter(
          (a, i) => a !== '--model' && argv[i - 1] !== '--model' && a !== '--jobs' && argv[i - 1] !== '--jobs',
        ),
        '--no-write',
      ];
      const code = await new Promise<number>((done) => {
        const child = spawn('npx', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
        child.stdout.on('data', (d: Buffer) => {
          for (const l of d.toString().split('\n')) if (l) log(`[${id}] ${l}`);
        });
        child.on('close', (c) => done(c ?? 1));
      });
      if (code) throw new Error(`eval: model '${id}' failed (exit ${code})`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(JOBS, ids.length) }, run));
  if (!QUICK && !EXPLORE) {
    for (const id of ids) await writeSection(`eval:${id}`, await readFile(join(ROOT, 'out', `eval-${id}.md`), 'utf8'));
    await writeSection(
      'eval:summary',
      await summaryTable(
        ids.map((id) => join(ROOT, 'out', `eval-${id}.json`)),
        (performance.now() - t0) / 1000,
      ),
    );
    const changed = await copyTables();
    log(`wrote eval/results.md${changed.length ? ` and its tables into ${changed.join(', ')}` : ''}`);
  }
  log(`eval: all models in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

/**
 * --forward: the forward-pass cost of each installed catalog model as a ratio to the first one, in one process
 * (wasm, batch 1, 224x224; rounds interleaved so that the load of a shared machine falls on every model alike).
 */
async function forwardCost() {
  const backend = await initNodeBackend();
  const cat = await readCatalog();
  const ids = cat.models.map((m) => m.id).filter((id) => existsSync(join(ROOT, 'models', id, 'model.json')));
  const fms = await Promise.all(ids.map((id) => loadModel(id)));
  const img = tf.tensor3d((await readRgb(join(DATA.images, 'squirrel_cls.jpg'))).data, [426, 535, 3], 'int32');
  const inputs = fms.map((fm) => fm.preprocess(img).input);
  const times = fms.map(() => [] as number[]);
  const rounds = opt('--rounds') ?? 15;
  for (let r = -2; r < rounds; r++) {
    for (const [i, fm] of fms.entries()) {
      const t = performance.now();
      await probsOf(fm, inputs[i]);
      if (r >= 0) times[i].push(performance.now() - t);
    }
  }
  const med = times.map((t) => [...t].sort((a, b) => a - b)[t.length >> 1]);
  const md = [
    `Forward pass cost (${backend}, batch 1, median of ${rounds} interleaved rounds in one process; ratio to \`${ids[0]}\`):`,
    '',
    `| model | ${ids.map((id) => `\`${id}\``).join(' | ')} |`,
    `|---|${ids.map(() => '---|').join('')}`,
    `| forward / ${ids[0]}'s | ${med.map((m) => (m / med[0]).toFixed(2)).join(' | ')} |`,
  ].join('\n');
  log(md);
  await writeSection('eval:forward', md);
  tf.dispose([img, ...inputs]);
}

/**
 * --tables: render eval/results.md's model tables and summary again from the last full run's out/eval-<id>.json (no
 * measuring), with the current default method and box sources of src/engine/methods.ts (the numbers are the run's).
 */
async function rewriteTables() {
  const cat = await readCatalog();
  const paths = cat.models.map((m) => join(ROOT, 'out', `eval-${m.id}.json`)).filter((p) => existsSync(p));
  for (const p of paths) {
    const r = JSON.parse(await readFile(p, 'utf8'));
    const entry = cat.models.find((m) => m.id === r.model) as MethodFacts | undefined;
    r.defaults = { ...r.defaults, method: methodFor(entry ?? {}), box: BOX_SOURCE };
    await writeFile(p, JSON.stringify(r, null, 1));
    await writeSection(`eval:${r.model}`, modelTables(r));
  }
  await writeSection('eval:summary', await summaryTable(paths));
  const changed = await copyTables();
  log(`eval --tables: ${paths.length} models${changed.length ? `; updated ${changed.join(', ')}` : ''}`);
}

async function evalModel(id: string, write: boolean) {
  write &&= !flag('--no-write');
  const t0 = performance.now();
  const backend = await initNodeBackend();
  const fm = await loadModel(id);
  const perObject = CFG.perObject ?? PER_OBJECT[id] ?? 8;
  log(
    `eval: model ${fm.info.id}, backend ${backend}, ${cpus().length} CPUs, images ${DATA.images}${QUICK ? ', --quick' : ''}`,
  );

  if (flag('--explore-guided')) return runExploreGuided(fm, t0, write);
  if (flag('--explore')) return runExplore(fm, t0, write);

  const { cases: photos, skipped } = await loadPhotos(DATA);
  const photoCls = await classify(fm, photos);
  // Recognition: every photo with a known class (the boxed ones, the baboon too, and two fruit photos).
  const labelled = [
    ...photos,
    ...(await Promise.all(
      [...skipped.map((s) => ({ image: s.id, object: 'baboon', classes: [372] })), ...LABELLED].map(async (l) => ({
        ...photos[0],
        id: l.image,
        object: l.object,
        classes: l.classes,
        image: await readRgb(join(DATA.images, l.image)),
      })),
    )),
  ];
  const labelledCls = await classify(fm, labelled);
  const photoTop1 = labelled.map((c, i) => ({
    id: c.id,
    object: c.object,
    top1: labelledCls[i].rank === 0,
    top5: labelledCls[i].rank < 5,
    label: fm.info.labels[labelledCls[i].top],
  }));
  const { cases: syn, kinds, pool, top1: synTop1, top5: synTop5 } = await syntheticSet(fm, 'test', CFG.seed, perObject);
  log(
    `synthetic: ${syn.length} cases (${kinds.map((k) => `${k.object} ${k.kept}/${k.tried}`).join(', ')}) (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
  );
  const nth = (s: { c: EvalCase }) => syn.filter((x) => x.c.object === s.c.object).indexOf(s as never);
  const all = [
    ...photos.map((c, i) => ({ c, ...photoCls[i], perturb: !flag('--no-deletion'), sanity: !flag('--no-sanity') })),
    ...syn.map((s, i) => ({
      ...s,
      perturb: nth(s) < CFG.perturbPerObject,
      sanity: !flag('--no-sanity') && i < CFG.sanitySynthetic,
    })),
  ];

  const recs = new Map<string, Map<string, Rec>>(); // case id -> method -> record
  const originals = new Map<string, Map<string, Float32Array>>(); // sanity cases' maps
  const t1 = performance.now();
  for (const [n, k] of all.entries()) {
    const img = toTensor(k.c);
    const byMethod = new Map<string, Rec>();
    recs.set(k.c.id, byMethod);
    let base;
    let input: tf.Tensor4D | undefined;
    if (k.perturb) {
      input = fm.preprocess(img).input;
      base = await perturbationBase(fm, input, k.ci, 100 + n);
    }
    for (const m of METHODS) {
      const s = performance.now();
      const e = await explain(fm, img, { ...m.opts, classIndex: k.ci });
      const ms = performance.now() - s;
      const { width, height, data } = e.heatmap;
      const r: Rec = {
        pointing: pointingHit(data, width, k.c.box, CFG.tol) ? 1 : 0,
        energy: energyShare(data, width, k.c.box),
        loc: e.camBox && iou(e.camBox, k.c.box) >= 0.5 ? 1 : 0,
        locBox: e.box && iou(e.box, k.c.box) >= 0.5 ? 1 : 0,
        box: e.box ? 1 : 0,
        ms,
      };
      if (m.opts.method === 'fixations' || m.opts.method === 'guided') {
        const b = fixationBox(e.fixations);
        r.locFix = b && iou(b, k.c.box) >= 0.5 ? 1 : 0;
      }
      if (base) {
        const curves = await perturbationCurves(
          fm,
          base,
          saliencyAtInput(data, width, height, e.transform),
          k.ci,
          CFG.steps,
          'deletion',
        );
        r.deletion = auc(curves.deletion);
      }
      if (k.sanity) {
        if (!originals.has(k.c.id)) originals.set(k.c.id, new Map());
        originals.get(k.c.id)!.set(m.key, every4(data, width));
      }
      byMethod.set(m.key, r);
    }
    tf.dispose([img, ...(input ? [input] : [])]);
    if ((n + 1) % 20 === 0) log(`  ${n + 1}/${all.length} cases, ${((performance.now() - t1) / 1000).toFixed(0)} s`);
  }
  const mainS = (performance.now() - t1) / 1000;

  // Sanity check: cascading randomisation from the top; rank correlation of each map with the original one.
  const t2 = performance.now();
  const sanity: Record<string, { depth: number; group: string; rho: number; degenerate: number }[]> = {};
  for (const m of METHODS) sanity[m.key] = [];
  const sanityCases = all.filter((k) => k.sanity);
  for await (const { depth, group, model } of sanityCases.length ? cascade(fm) : []) {
    const rhos = new Map(METHODS.map((m) => [m.key, [] as number[]]));
    const degenerate = new Map(METHODS.map((m) => [m.key, 0]));
    for (const k of sanityCases) {
      const img = toTensor(k.c);
      for (const m of METHODS) {
        const e = await explain(model, img, { ...m.opts, classIndex: k.ci });
        const rho = spearman(originals.get(k.c.id)!.get(m.key)!, every4(e.heatmap.data, e.heatmap.width));
        // A constant map (e.g. a dead class channel) has no ranking left: count it as uncorrelated.
        if (Number.isNaN(rho)) degenerate.set(m.key, degenerate.get(m.key)! + 1);
        rhos.get(m.key)!.push(Number.isNaN(rho) ? 0 : rho);
      }
      img.dispose();
    }
    for (const m of METHODS)
      sanity[m.key].push({ depth, group, rho: mean(rhos.get(m.key)!), degenerate: degenerate.get(m.key)! });
  }
  const sanityS = (performance.now() - t2) / 1000;

  const sets = {
    photos: all.filter((k) => k.c.set === 'photos'),
    synthetic: all.filter((k) => k.c.set === 'synthetic'),
  };
  const summary: Record<string, Record<string, Summary>> = {};
  const comparisons: Record<string, Comparison[]> = {};
  for (const [name, ks] of Object.entries(sets)) {
    const rs = (key: string) => ks.map((k) => recs.get(k.c.id)!.get(key)!);
    summary[name] = Object.fromEntries(METHODS.map((m) => [m.key, summarize(rs(m.key))]));
    comparisons[name] = [];
    for (const m of METHODS.filter((x) => CANDIDATES.includes(x.key))) {
      for (const b of ['cam', 'gradcam']) comparisons[name].push(compare(m.key, b, rs(m.key), rs(b)));
    }
  }
  const byObject: Record<string, Record<string, Summary>> = {};
  for (const s of kinds) {
    const ks = sets.synthetic.filter((k) => k.c.object === s.object);
    byObject[s.object] = Object.fromEntries(
      METHODS.map((m) => [
        m.key,
        summarize(
          ks.map((k) => recs.get(k.c.id)!.get(m.key)!),
          200,
        ),
      ]),
    );
  }
  const totalS = (performance.now() - t0) / 1000;
  const result = {
    model: fm.info.id,
    backend,
    cpus: cpus().length,
    quick: QUICK,
    config: { ...CFG, perObject },
    methods: METHODS.map((m) => ({ key: m.key, label: m.label })),
    defaults: {
      method: methodFor(fm.info),
      box: BOX_SOURCE,
      guided: resolveGuided({}, fm.info.guided),
      rules: resolveRules('default', {}, fm.info.rules),
      post: DEFAULT_POST,
    },
    syntheticCandidates: pool,
    syntheticTop1: synTop1 / pool,
    syntheticTop5: synTop5 / pool,
    syntheticTop1Ci: wilson(synTop1, pool),
    syntheticTop5Ci: wilson(synTop5, pool),
    photoTop1,
    skippedPhotos: skipped,
    kinds,
    photos: sets.photos.map((k) => ({
      id: k.c.id,
      class: k.ci,
      label: fm.info.labels[k.ci],
      prob: k.prob,
      rank: k.rank,
    })),
    summary,
    byObject,
    comparisons,
    sanity,
    cases: all.map((k) => ({
      id: k.c.id,
      set: k.c.set,
      object: k.c.object,
      box: k.c.box,
      class: k.ci,
      prob: k.prob,
      rank: k.rank,
      methods: Object.fromEntries(recs.get(k.c.id)!),
    })),
    // CPU seconds of this (single-threaded) process: close to the wall time on an otherwise idle machine.
    seconds: { total: totalS, main: mainS, sanity: sanityS, cpu: cpuSeconds() },
  };
  const md = modelTables(result);
  log('\n' + md);
  await mkdir(join(ROOT, 'out'), { recursive: true });
  const jsonPath = join(ROOT, 'out', `eval-${id}${QUICK ? '-quick' : ''}.json`);
  await writeFile(jsonPath, JSON.stringify(result, null, 1));
  await writeFile(join(ROOT, 'out', `eval-${id}${QUICK ? '-quick' : ''}.md`), md);
  if (write && !QUICK) await writeSection(`eval:${id}`, md);
  log(
    `wrote ${jsonPath}${write && !QUICK ? ' and eval/results.md' : ''}; ${totalS.toFixed(0)} s in all (main ${mainS.toFixed(0)} s, sanity ${sanityS.toFixed(0)} s; ${cpuSeconds().toFixed(0)} CPU s)`,
  );
}

/** Photos with a known ImageNet class but no box (not apple.jpg: no red-apple class; not starry_night.jpg). */
const LABELLED = [
  { image: 'orange.jpg', object: 'orange', classes: [950] },
  { image: 'fruits.jpg', object: 'orange or lemon', classes: [950, 951] },
];
/** The methods checked against the targets (each against CAM and Grad-CAM). */
const CANDIDATES = ['fixations', 'guided'];

export interface Interval {
  mean: number;
  lo: number;
  hi: number;
}
export interface Summary {
  n: number;
  perturbN: number;
  ms: number;
  pointing: Interval;
  energy: Interval;
  loc: Interval;
  locBox: Interval;
  locFix?: Interval;
  box: number;
  deletion: Interval;
}
const draws = new Map<number, Int32Array[]>();
const drawsFor = (n: number, B = CFG.bootstrap) => {
  const key = n * 100000 + B;
  if (!draws.has(key)) draws.set(key, bootstrapIndices(n, B, 777 + n));
  return draws.get(key)!;
};
/** Proportions with Wilson intervals, means with bootstrap intervals over images. */
function summarize(rs: Rec[], B = CFG.bootstrap): Summary {
  const prop = (f: 'pointing' | 'loc' | 'locBox' | 'locFix'): Interval => {
    const k = rs.reduce((a, r) => a + (r[f] ?? 0), 0);
    const [lo, hi] = wilson(k, rs.length);
    return { mean: rs.length ? k / rs.length : NaN, lo, hi };
  };
  const del = rs.map((r) => r.deletion).filter((v): v is number => v !== undefined);
  return {
    n: rs.length,
    perturbN: del.length,
    ms: mean(rs.map((r) => r.ms)),
    pointing: prop('pointing'),
    energy: bootstrapMean(
      rs.map((r) => r.energy),
      drawsFor(rs.length, B),
    ),
    loc: prop('loc'),
    locBox: prop('locBox'),
    ...(rs.some((r) => r.locFix !== undefined) ? { locFix: prop('locFix') } : {}),
    box: mean(rs.map((r) => r.box)),
    deletion: bootstrapMean(del, drawsFor(del.length, B)),
  };
}

/** A method against a baseline on the same images: paired differences with bootstrap intervals. */
export interface Comparison {
  method: string;
  baseline: string;
  pointing: Interval;
  energy: Interval;
  loc: Interval;
  deletion: Interval;
}
function compare(method: string, baseline: string, a: Rec[], b: Rec[]): Comparison {
  const d = drawsFor(a.length);
  const f = (k: 'pointing' | 'energy' | 'locBox' | 'loc') =>
    bootstrapMean(
      a.map((r) => r[k]),
      d,
      b.map((r) => r[k]),
    );
  const pairs = a
    .map((r, i) => [r.deletion, b[i].deletion])
    .filter((p): p is [number, number] => p[0] !== undefined && p[1] !== undefined);
  // Localization: the method's own box against the baseline's own box (CAM's is its CAM-protocol box).
  return {
    method,
    baseline,
    pointing: f('pointing'),
    energy: f('energy'),
    loc: f('locBox'),
    deletion: bootstrapMean(
      pairs.map((p) => p[0]),
      drawsFor(pairs.length),
      pairs.map((p) => p[1]),
    ),
  };
}

async function runExplore(fm: FixationModel, t0: number, write: boolean) {
  // --grid first: the first search's grid (post-processing too); default: the rules that keep more evidence.
  // --grid '[rules, ...]' (JSON): just these rule sets (a confirmation run on more cases).
  const grid = argv.includes('--grid') ? argv[argv.indexOf('--grid') + 1] : undefined;
  const first = grid === 'first';
  const listed: Rules[] | undefined = grid?.startsWith('[')
    ? JSON.parse(grid).map((r: Rules) => resolveRules(r))
    : undefined;
  const perObject = Math.ceil(CFG.exploreCases / 11);
  const { cases } = await syntheticSet(fm, 'tuning', CFG.seed + 1, perObject);
  log(`explore: ${cases.length} tuning cases (seed ${CFG.seed + 1}, tuning backgrounds)`);
  const hasFc = fm.graph.order.some((n) => n.kind === 'matmul' && !n.fromSpatial);
  const variant = (rules: Rules, sigma: number, outliers: boolean) => ({
    key: variantKey(rules, sigma, outliers),
    rules,
    sigma,
    outliers,
  });
  const post = first ? { sigma: 0.03, outliers: true } : DEFAULT_POST;
  // Always finalists: the authors' rules and the model's current default.
  const must = [
    variant(PRESETS.reference, post.sigma, post.outliers),
    variant(resolveRules('default', {}, fm.info.rules), post.sigma, post.outliers),
  ];
  const n = cases.length;
  const r = await explore(fm, cases, {
    variants: listed
      ? listed.map((r) => variant(r, post.sigma, post.outliers))
      : first
        ? variants()
        : evidenceVariants(hasFc),
    must,
    log,
    deletionCases: Math.max(2, Math.round(n / 6)),
    sanityCases: Math.max(2, Math.round(n / 40)),
    topK: first ? CFG.exploreTopK : 10,
    steps: CFG.steps,
    // Evidence grid: the best GAP rule of each location x channel ratio x FC threshold.
    groupOf: first ? undefined : (v) => `${v.rules.location}/${v.rules.channelRatio ?? 0}/${v.rules.fcThreshold ?? 0}`,
  });
  const md = exploreTable(r, first);
  log('\n' + md);
  await mkdir(join(ROOT, 'out'), { recursive: true });
  const tag = first ? '' : listed ? '-confirm' : '-evidence';
  await writeFile(
    join(ROOT, 'out', `explore-${fm.info.id}${tag}${QUICK ? '-quick' : ''}.json`),
    JSON.stringify(r, null, 1),
  );
  if (!QUICK && write) await writeSection(`explore${tag}:${fm.info.id}`, md);
  log(
    `winner: ${r.winner ?? 'none (no finalist passes the sanity check)'}; ${((performance.now() - t0) / 1000).toFixed(0)} s (${cpuSeconds().toFixed(0)} CPU s)`,
  );
}

/** The guided family's search on the tuning set (never the test set or the photos). */
async function runExploreGuided(fm: FixationModel, t0: number, write: boolean) {
  const perObject = opt('--per-object') ?? (QUICK ? 1 : 4);
  const { cases, kinds } = await syntheticSet(fm, 'tuning', CFG.seed + 1, perObject);
  log(
    `explore-guided: ${cases.length} tuning cases (seed ${CFG.seed + 1}, tuning backgrounds; ${kinds.map((k) => `${k.object} ${k.kept}`).join(', ')})`,
  );
  const r = await exploreGuided(fm, cases, { log, steps: CFG.steps, quick: QUICK, drawsFor });
  const md = guidedTable(fm.info.id, r);
  log('\n' + md);
  await mkdir(join(ROOT, 'out'), { recursive: true });
  await writeFile(
    join(ROOT, 'out', `explore-guided-${fm.info.id}${QUICK ? '-quick' : ''}.json`),
    JSON.stringify(r, null, 1),
  );
  if (!QUICK && write) await writeSection(`explore-guided:${fm.info.id}`, md);
  log(`explore-guided: ${((performance.now() - t0) / 1000).toFixed(0)} s (${cpuSeconds().toFixed(0)} CPU s)`);
}

function exploreTable(r: ExploreResult, first: boolean): string {
  const out = [
    `#### ${first ? 'Rule search' : 'Evidence rule search'} on the synthetic tuning set (seed 2, tuning backgrounds): ${r.cases} cases, deletion on ${r.deletionCases}, sanity on ${r.sanityCases}`,
    '',
    `Variant = location / GAP rule / weights${first ? '' : ' [/ conv channelRatio] [/ fcThreshold]'} / blur sigma (fraction of the diagonal) / outlier removal. Stage 1 ranks all by the mean rank over pointing and energy.`,
    `The finalists also get the deletion AUC and the sanity check (worst mean ρ over the cascade; passes below ${SANITY_MAX_RHO}) and are ranked by the mean rank over pointing, energy and deletion; the winner (bold) is the best finalist that passes.`,
    '',
    '| variant | pointing % | energy % | deletion AUC ↓ | sanity: worst ρ | stage-1 rank | final rank |',
    '|---|---|---|---|---|---|---|',
  ];
  const fin = r.rows.filter((x) => x.rank !== undefined).sort((a, b) => a.rank! - b.rank!);
  const rest = r.rows.filter((x) => x.rank === undefined).sort((a, b) => a.rank1 - b.rank1);
  for (const x of [...fin, ...rest]) {
    out.push(
      `| ${x.key === r.winner ? `**${x.key}**` : x.key} | ${pct(x.pointing)} | ${pct(x.energy)} | ${x.deletion === undefined ? '' : f3(x.deletion)} | ${x.sanityMaxRho === undefined ? '' : x.sanityMaxRho.toFixed(2)} | ${x.rank1.toFixed(1)} | ${x.rank === undefined ? '' : x.rank.toFixed(2)} |`,
    );
  }
  return out.join('\n');
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

// npm run eval [-- --model ID]... [-- --quick] [-- --explore]
// Localization and faithfulness of CNN Fixations against CAM, Grad-CAM and a centre prior, per catalog model (every
// installed one, or those given with --model): the hand-boxed photos (boxes.json) and a synthetic set made from a
// seed (objects pasted at known places, kept where the model ranks the object's class in its top 5: each model has
// its own kept set). Metrics: top-1 on the labelled photos and the synthetic candidates, pointing game, energy share,
// CAM-protocol localization, deletion/insertion AUC, the cascading randomisation sanity check, ms per explanation.
// Writes out/eval-<id>.json and the model's tables into eval/results.md.
// --quick: a small run (out/eval-<id>-quick.json, eval/results.md untouched). --cases N: N synthetic test images
// (default 120). --explore: the rule search instead.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { explain, type ExplainOptions } from '../src/engine/explain.ts';
import type { FixationModel } from '../src/engine/model.ts';
import { PRESETS, resolveRules, type Rules } from '../src/engine/types.ts';
import { DEFAULT_POST } from '../src/engine/post.ts';
import { initNodeBackend, loadModel, readCatalog, ROOT } from '../src/node/index.ts';
import { evidenceVariants, explore, SANITY_MAX_RHO, variantKey, variants, type ExploreResult, type Prepared } from './eval/explore.ts';
import { auc, energyShare, every4, iou, mean, pointingHit, spearman } from './eval/metrics.ts';
import { cascade, perturbationBase, perturbationCurves, probsOf, saliencyAtInput } from './eval/protocols.ts';
import { loadPhotos, readRgb, sharedDir, synthesizer, type EvalCase } from './eval/synthetic.ts';

const argv = process.argv.slice(2);
const flag = (f: string) => argv.includes(f);
const QUICK = flag('--quick');
const models = argv.flatMap((a, i) => (a === '--model' ? [argv[i + 1]] : []));
// Per-model default size of the full run, where the model is costly: MobileNetV2's unravelling fans out over its FC
// head (about 10x SqueezeNet's CPU time per map), so its 60 images cost about what SqueezeNet's 120 do.
const MODEL_CASES: Record<string, number> = { mobilenet_v2: 60 };
const CASES = argv.includes('--cases') ? Number(argv[argv.indexOf('--cases') + 1])
  : !QUICK && !flag('--explore') && models.length === 1 ? MODEL_CASES[models[0]] : undefined;
// Sized so that the full run of every catalog model fits 15 minutes on a quiet 2-core machine (models in parallel).
const CFG = {
  // --cases N: a smaller (or larger) test set, deletion/insertion on N/5 of it, sanity on N/20 (at least 2).
  synthetic: CASES ?? (QUICK ? 16 : 120), // synthetic test cases (object's class in the model's top 5)
  perturbCases: CASES ? Math.max(2, Math.round(CASES / 5)) : QUICK ? 4 : 24, // also deletion/insertion (all photos do)
  sanityCases: CASES ? Math.max(2, Math.round(CASES / 20)) : QUICK ? 2 : 6, // sanity check cases (plus all photos)
  steps: 16, // deletion/insertion steps of 1/16 of the pixels each
  seed: 1, // test set; the rule search uses seed 2
  tol: 15, // pointing game tolerance, pixels
  // With --explore, --cases N: a smaller rule search (deletion on N/6 of them, sanity on N/40, at least 2).
  exploreCases: CASES ?? (QUICK ? 24 : 300),
  exploreDeletionCases: CASES ? Math.max(2, Math.round(CASES / 6)) : QUICK ? 6 : 48,
  exploreSanityCases: CASES ? Math.max(2, Math.round(CASES / 40)) : QUICK ? 2 : 8,
  exploreTopK: 6,
};
const SHARED = sharedDir();
const IMAGES = join(SHARED, 'images'), BOXES = join(SHARED, 'eval/boxes.json');

interface Method { key: string; label: string; opts: ExplainOptions }
const METHODS: Method[] = [
  { key: 'fixations', label: "CNN Fixations, default rules (the model's, from the catalog)", opts: { method: 'fixations', rules: 'default' } },
  { key: 'fixations-ref', label: 'CNN Fixations, reference rules', opts: { method: 'fixations', rules: 'reference' } },
  { key: 'cam', label: 'CAM', opts: { method: 'cam' } },
  { key: 'gradcam', label: 'Grad-CAM', opts: { method: 'gradcam' } },
  { key: 'center', label: 'centre prior', opts: { method: 'center' } },
];

const log = (s: string) => console.log(s);
const toTensor = (c: EvalCase) => tf.tensor3d(c.image.data, [c.image.height, c.image.width, 3], 'int32');

/** The explained class: the highest-scoring of the case's classes, and its rank among all classes. */
async function classify(fm: FixationModel, cs: EvalCase[]): Promise<{ ci: number; prob: number; rank: number; top: number }[]> {
  const inputs = cs.map((c) => tf.tidy(() => fm.preprocess(toTensor(c)).input));
  const batch = tf.concat(inputs) as tf.Tensor4D;
  const probs = await probsOf(fm, batch);
  tf.dispose([batch, ...inputs]);
  // Case classes are ImageNet's 1000; a model with a background class first (TF Hub: 1001) shifts them by one.
  const off = fm.info.labels.length === 1001 && fm.info.labels[0] === 'background' ? 1 : 0;
  return cs.map((c, i) => {
    const p = probs[i];
    const ci = c.classes.map((k) => k + off).reduce((a, b) => (p[b] > p[a] ? b : a));
    let rank = 0;
    let top = 0;
    for (let k = 0; k < p.length; k++) { if (p[k] > p[ci]) rank++; if (p[k] > p[top]) top = k; }
    return { ci, prob: p[ci], rank, top };
  });
}

/** Synthetic cases whose object the model sees (its class in the top 5), drawn in order from the seeded stream. */
async function syntheticSet(fm: FixationModel, count: number, seed: number) {
  const syn = await synthesizer(IMAGES, BOXES, seed);
  const out: (Prepared & { prob: number; rank: number })[] = [];
  let tried = 0, top1 = 0, top5 = 0;
  while (out.length < count) {
    const batch = Array.from({ length: 16 }, (_, k) => syn.candidate(tried + k));
    tried += batch.length;
    const cls = await classify(fm, batch);
    for (const r of cls) { top1 += r.rank === 0 ? 1 : 0; top5 += r.rank < 5 ? 1 : 0; }
    batch.forEach((c, k) => { if (cls[k].rank < 5 && out.length < count) out.push({ c, ...cls[k] }); });
    if (tried > 40 * count + 400) throw new Error(`eval: only ${out.length} of ${tried} synthetic candidates have their class in the top 5`);
  }
  // Top-1 / top-5 accuracy of the model on the candidates drawn (the object's class among the model's first 1 / 5).
  return { cases: out, tried, top1: top1 / tried, top5: top5 / tried };
}

interface Rec { pointing: number; energy: number; loc: number; locBox: number; ms: number; deletion?: number; insertion?: number }

/** Shared photos with a known ImageNet class (not apple.jpg: no red-apple class; not starry_night.jpg). */
const LABELLED = [{ image: 'orange.jpg', object: 'orange', classes: [950] }, { image: 'fruits.jpg', object: 'orange or lemon', classes: [950, 951] }];

async function main() {
  const t0 = performance.now();
  const cat = await readCatalog();
  const installed = cat.models.map((m) => m.id).filter((id) => existsSync(join(ROOT, 'models', id, 'model.json')));
  const ids = models.length ? models : installed;
  for (const id of ids) if (!installed.includes(id)) throw new Error(`eval: model '${id}' is not installed (npm run models -- --model ${id})`);
  if (ids.length === 1) return evalModel(ids[0], true);
  // Every installed model, one process each, as many at a time as there are CPUs (the eval is single-threaded).
  log(`eval: ${ids.join(', ')} (${Math.min(ids.length, cpus().length)} at a time)`);
  const queue = [...ids];
  const run = async () => {
    for (let id = queue.shift(); id; id = queue.shift()) {
      const args = ['tsx', 'scripts/eval.ts', '--model', id, ...argv.filter((a, i) => a !== '--model' && argv[i - 1] !== '--model'), '--no-write'];
      const code = await new Promise<number>((done) => {
        const child = spawn('npx', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
        child.stdout.on('data', (d: Buffer) => { for (const l of d.toString().split('\n')) if (l) log(`[${id}] ${l}`); });
        child.on('close', (c) => done(c ?? 1));
      });
      if (code) throw new Error(`eval: model '${id}' failed (exit ${code})`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(cpus().length, ids.length) }, run));
  if (!QUICK && !flag('--explore')) {
    for (const id of ids) await writeSection(`eval:${id}`, await readFile(join(ROOT, 'out', `eval-${id}.md`), 'utf8'));
    log('wrote eval/results.md');
  }
  log(`eval: all models in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

async function evalModel(id: string, write: boolean) {
  write &&= !flag('--no-write');
  const t0 = performance.now();
  const backend = await initNodeBackend();
  const fm = await loadModel(id);
  log(`eval: model ${fm.info.id}, backend ${backend}, ${cpus().length} CPUs, data ${SHARED}${QUICK ? ', --quick' : ''}`);

  if (flag('--explore')) return runExplore(fm, t0, write);

  const photos = await loadPhotos(IMAGES, BOXES);
  const photoCls = await classify(fm, photos);
  const labelled = [...photos, ...await Promise.all(LABELLED.map(async (l) => ({ ...photos[0], id: l.image, object: l.object, classes: l.classes, image: await readRgb(join(IMAGES, l.image)) })))];
  const labelledCls = await classify(fm, labelled);
  const photoTop1 = labelled.map((c, i) => ({ id: c.id, object: c.object, top1: labelledCls[i].rank === 0, label: fm.info.labels[labelledCls[i].top] }));
  const { cases: syn, tried, top1: synTop1, top5: synTop5 } = await syntheticSet(fm, CFG.synthetic, CFG.seed);
  log(`synthetic: ${syn.length} cases from ${tried} candidates (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  const all = [
    ...photos.map((c, i) => ({ c, ...photoCls[i], perturb: true, sanity: true })),
    ...syn.map((s, i) => ({ ...s, perturb: i < CFG.perturbCases, sanity: i < CFG.sanityCases })),
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
        ms,
      };
      if (base) {
        const curves = await perturbationCurves(fm, base, saliencyAtInput(data, width, height, e.transform), k.ci, CFG.steps);
        r.deletion = auc(curves.deletion);
        r.insertion = auc(curves.insertion!);
      }
      if (k.sanity) {
        if (!originals.has(k.c.id)) originals.set(k.c.id, new Map());
        originals.get(k.c.id)!.set(m.key, every4(data, width));
      }
      byMethod.set(m.key, r);
    }
    tf.dispose([img, ...(input ? [input] : [])]);
    if ((n + 1) % 50 === 0) log(`  ${n + 1}/${all.length} cases, ${((performance.now() - t1) / 1000).toFixed(0)} s`);
  }
  const mainS = (performance.now() - t1) / 1000;

  // Sanity check: cascading randomisation from the top; rank correlation of each map with the original one.
  const t2 = performance.now();
  const sanity: Record<string, { depth: number; group: string; rho: number; degenerate: number }[]> = {};
  for (const m of METHODS) sanity[m.key] = [];
  const sanityCases = all.filter((k) => k.sanity);
  for await (const { depth, group, model } of cascade(fm)) {
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
    for (const m of METHODS) sanity[m.key].push({ depth, group, rho: mean(rhos.get(m.key)!), degenerate: degenerate.get(m.key)! });
  }
  const sanityS = (performance.now() - t2) / 1000;

  const sets = { photos: all.filter((k) => k.c.set === 'photos'), synthetic: all.filter((k) => k.c.set === 'synthetic') };
  const summary: Record<string, Record<string, Record<string, number>>> = {};
  for (const [name, ks] of Object.entries(sets)) {
    summary[name] = {};
    for (const m of METHODS) {
      const rs = ks.map((k) => recs.get(k.c.id)!.get(m.key)!);
      const pick = (f: keyof Rec) => rs.map((r) => r[f]).filter((v): v is number => v !== undefined);
      summary[name][m.key] = {
        n: rs.length, pointing: mean(pick('pointing')), energy: mean(pick('energy')), loc: mean(pick('loc')), locBox: mean(pick('locBox')),
        deletion: mean(pick('deletion')), insertion: mean(pick('insertion')), perturbN: pick('deletion').length,
        ms: mean(pick('ms')), pointingSe: se01(pick('pointing')), energySe: se(pick('energy')), deletionSe: se(pick('deletion')),
      };
    }
  }
  const totalS = (performance.now() - t0) / 1000;
  const result = {
    model: fm.info.id, backend, cpus: cpus().length, quick: QUICK, config: CFG,
    defaults: { rules: resolveRules('default', {}, fm.info.rules), post: DEFAULT_POST },
    syntheticCandidates: tried, syntheticTop1: synTop1, syntheticTop5: synTop5, photoTop1,
    objects: countBy(syn.map((s) => s.c.object)),
    photos: sets.photos.map((k) => ({ id: k.c.id, class: k.ci, label: fm.info.labels[k.ci], prob: k.prob, rank: k.rank })),
    summary, sanity,
    cases: all.map((k) => ({ id: k.c.id, set: k.c.set, box: k.c.box, class: k.ci, prob: k.prob, rank: k.rank, methods: Object.fromEntries(recs.get(k.c.id)!) })),
    // CPU seconds of this (single-threaded) process: close to the wall time on an otherwise idle machine.
    seconds: { total: totalS, main: mainS, sanity: sanityS, cpu: cpuSeconds() },
  };
  const md = tables(result);
  log('\n' + md);
  await mkdir(join(ROOT, 'out'), { recursive: true });
  const jsonPath = join(ROOT, 'out', `eval-${id}${QUICK ? '-quick' : ''}.json`);
  await writeFile(jsonPath, JSON.stringify(result, null, 1));
  await writeFile(join(ROOT, 'out', `eval-${id}${QUICK ? '-quick' : ''}.md`), md);
  if (write && !QUICK) await writeSection(`eval:${id}`, md);
  log(`wrote ${jsonPath}${write && !QUICK ? ' and eval/results.md' : ''}; ${totalS.toFixed(0)} s in all (main ${mainS.toFixed(0)} s, sanity ${sanityS.toFixed(0)} s; ${cpuSeconds().toFixed(0)} CPU s)`);
}

async function runExplore(fm: FixationModel, t0: number, write: boolean) {
  // --grid first: the first search's grid (post-processing too); default: the rules that keep more evidence.
  // --grid '[rules, ...]' (JSON): just these rule sets (a confirmation run on more cases).
  const grid = argv.includes('--grid') ? argv[argv.indexOf('--grid') + 1] : undefined;
  const first = grid === 'first';
  const listed: Rules[] | undefined = grid?.startsWith('[') ? JSON.parse(grid).map((r: Rules) => resolveRules(r)) : undefined;
  const { cases, tried } = await syntheticSet(fm, CFG.exploreCases, CFG.seed + 1);
  log(`explore: ${cases.length} tuning cases (seed ${CFG.seed + 1}) from ${tried} candidates`);
  const hasFc = fm.graph.order.some((n) => n.kind === 'matmul' && !n.fromSpatial);
  const variant = (rules: Rules, sigma: number, outliers: boolean) => ({ key: variantKey(rules, sigma, outliers), rules, sigma, outliers });
  const post = first ? { sigma: 0.03, outliers: true } : DEFAULT_POST;
  // Always finalists: the authors' rules and the model's current default.
  const must = [variant(PRESETS.reference, post.sigma, post.outliers), variant(resolveRules('default', {}, fm.info.rules), post.sigma, post.outliers)];
  const r = await explore(fm, cases, {
    variants: listed ? listed.map((r) => variant(r, post.sigma, post.outliers)) : first ? variants() : evidenceVariants(hasFc), must, log,
    deletionCases: CFG.exploreDeletionCases, sanityCases: CFG.exploreSanityCases, topK: first ? CFG.exploreTopK : 10, steps: CFG.steps,
    // Evidence grid: the best GAP rule of each location x channel ratio x FC threshold.
    groupOf: first ? undefined : (v) => `${v.rules.location}/${v.rules.channelRatio ?? 0}/${v.rules.fcThreshold ?? 0}`,
  });
  const md = exploreTable(r, first);
  log('\n' + md);
  await mkdir(join(ROOT, 'out'), { recursive: true });
  const tag = first ? '' : listed ? '-confirm' : '-evidence';
  await writeFile(join(ROOT, 'out', `explore-${fm.info.id}${tag}${QUICK ? '-quick' : ''}.json`), JSON.stringify(r, null, 1));
  if (!QUICK && write) await writeSection(`explore${tag}:${fm.info.id}`, md);
  log(`winner: ${r.winner ?? 'none (no finalist passes the sanity check)'}; ${((performance.now() - t0) / 1000).toFixed(0)} s (${cpuSeconds().toFixed(0)} CPU s)`);
}

const pct = (v: number) => (Number.isNaN(v) ? '–' : `${(100 * v).toFixed(1)}`);
const f3 = (v: number) => (Number.isNaN(v) ? '–' : v.toFixed(3));

function tables(r: any): string {
  const out: string[] = [];
  const hits = r.photoTop1.filter((p: any) => p.top1).length;
  out.push(`### \`${r.model}\``, '',
    `Top-1 on the ${r.photoTop1.length} labelled shared photos: ${hits}/${r.photoTop1.length} (${r.photoTop1.map((p: any) => `${p.id} ${p.top1 ? 'yes' : `no: ${p.label}`}`).join('; ')}). ` +
    `Synthetic candidates: top-1 ${pct(r.syntheticTop1)}%, top-5 ${pct(r.syntheticTop5)}% of ${r.syntheticCandidates}; kept set (class in the top 5): ${r.summary.synthetic[METHODS[0].key].n} images. ` +
    `Default rules: \`${JSON.stringify(r.defaults.rules)}\`.`, '');
  for (const [set, title] of [['synthetic', 'Synthetic test set'], ['photos', 'Hand-boxed photos (boxes.json)']]) {
    const s = r.summary[set];
    const any = s[METHODS[0].key];
    out.push(`#### ${title}: ${any.n} images, deletion/insertion on ${any.perturbN}`, '',
      '| method | pointing % | energy % | loc. CAM protocol % | loc. engine box % | deletion AUC ↓ | insertion AUC ↑ | ms |', '|---|---|---|---|---|---|---|---|');
    for (const m of METHODS) {
      const v = s[m.key];
      const pm = set === 'synthetic' ? ` ± ${pct(v.pointingSe)}` : '';
      const em = set === 'synthetic' ? ` ± ${pct(v.energySe)}` : '';
      const dm = set === 'synthetic' ? ` ± ${f3(v.deletionSe)}` : '';
      out.push(`| ${m.label} | ${pct(v.pointing)}${pm} | ${pct(v.energy)}${em} | ${pct(v.loc)} | ${pct(v.locBox)} | ${f3(v.deletion)}${dm} | ${f3(v.insertion)} | ${v.ms.toFixed(0)} |`);
    }
    out.push('');
  }
  const groups = r.sanity[METHODS[0].key].map((d: any) => d.group);
  out.push(`#### Sanity check: Spearman ρ of the map with the original after randomising the layers from the top down to ...`, '',
    `| method | ${groups.join(' | ')} | passes (ρ < ${SANITY_MAX_RHO} at every depth) |`, `|---|${groups.map(() => '---|').join('')}---|`);
  for (const m of METHODS) {
    const d = r.sanity[m.key] as { rho: number; degenerate: number }[];
    out.push(`| ${m.label} | ${d.map((x) => x.rho.toFixed(2) + (x.degenerate ? '*' : '')).join(' | ')} | ${d.every((x) => x.rho < SANITY_MAX_RHO) ? 'yes' : 'no'} |`);
  }
  out.push('', `(* some maps became constant and count as ρ = 0.) Sanity cases: ${r.cases.filter((c: any) => c.set === 'photos').length} photos + ${r.config.sanityCases} synthetic.`,
    `Run: ${r.cpus} CPUs, backend ${r.backend}, ${r.seconds.total.toFixed(0)} s wall, ${r.seconds.cpu.toFixed(0)} CPU s; synthetic cases from ${r.syntheticCandidates} candidates; objects ${JSON.stringify(r.objects)}.`,
    `Defaults measured: rules ${JSON.stringify(r.defaults.rules)}, post ${JSON.stringify(r.defaults.post)}.`);
  return out.join('\n');
}

function exploreTable(r: ExploreResult, first: boolean): string {
  const out = [`#### ${first ? 'Rule search' : 'Evidence rule search'} on the synthetic tuning set (seed 2): ${r.cases} cases, deletion on ${r.deletionCases}, sanity on ${r.sanityCases}`, '',
    `Variant = location / GAP rule / weights${first ? '' : ' [/ conv channelRatio] [/ fcThreshold]'} / blur sigma (fraction of the diagonal) / outlier removal. Stage 1 ranks all by the mean rank over pointing and energy.`,
    `The finalists also get the deletion AUC and the sanity check (worst mean ρ over the cascade; passes below ${SANITY_MAX_RHO}) and are ranked by the mean rank over pointing, energy and deletion; the winner (bold) is the best finalist that passes.`, '',
    '| variant | pointing % | energy % | deletion AUC ↓ | sanity: worst ρ | stage-1 rank | final rank |', '|---|---|---|---|---|---|---|'];
  const fin = r.rows.filter((x) => x.rank !== undefined).sort((a, b) => a.rank! - b.rank!);
  const rest = r.rows.filter((x) => x.rank === undefined).sort((a, b) => a.rank1 - b.rank1);
  for (const x of [...fin, ...rest]) {
    out.push(`| ${x.key === r.winner ? `**${x.key}**` : x.key} | ${pct(x.pointing)} | ${pct(x.energy)} | ${x.deletion === undefined ? '' : f3(x.deletion)} | ${x.sanityMaxRho === undefined ? '' : x.sanityMaxRho.toFixed(2)} | ${x.rank1.toFixed(1)} | ${x.rank === undefined ? '' : x.rank.toFixed(2)} |`);
  }
  return out.join('\n');
}

/** Replace the text between <!-- name:begin --> and <!-- name:end --> in eval/results.md (appended if absent). */
async function writeSection(name: string, md: string) {
  const path = join(ROOT, 'eval/results.md');
  await mkdir(join(ROOT, 'eval'), { recursive: true });
  let text = existsSync(path) ? await readFile(path, 'utf8') : '# Evaluation results\n';
  const begin = `<!-- ${name}:begin -->`, end = `<!-- ${name}:end -->`;
  const block = `${begin}\n${md}\n${end}`;
  const i = text.indexOf(begin), j = text.indexOf(end);
  text = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  await writeFile(path, text);
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
function se(v: number[]): number {
  const m = mean(v);
  return Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / Math.max(v.length - 1, 1) / v.length);
}
function se01(v: number[]): number {
  const p = mean(v);
  return Math.sqrt((p * (1 - p)) / v.length);
}
function countBy(v: string[]): Record<string, number> {
  const o: Record<string, number> = {};
  for (const x of v) o[x] = (o[x] ?? 0) + 1;
  return o;
}

main().catch((e) => { console.error(e); process.exit(1); });

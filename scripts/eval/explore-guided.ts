// The guided family's search (npm run eval -- --explore-guided --model ID), on the synthetic tuning set only (seed 2,
// the tuning backgrounds): guided = class map x (epsilon + fixation density), normalised to max 1, over the class map
// (CAM; Grad-CAM at the last spatial layer; Grad-CAM one resolution step lower), the fixation rules that feed the
// density (the catalog's, the authors' reference rules, "dense": reference rules with every positive GAP position),
// the density's blur sigma, and epsilon (0 = the plain product). Stage 1 scores every variant on pointing, energy and
// CAM-protocol localization; the finalists (best of each class map x rules, the overall top few) also get deletion
// and the cascading sanity check. The winner: among finalists that pass, the best mean rank over pointing, energy,
// localization and deletion. The class maps alone and the fixations' own box are reported beside it.
import * as tf from '@tensorflow/tfjs-core';
import { explain } from '../../src/engine/explain.ts';
import type { FixationModel } from '../../src/engine/model.ts';
import { camBox, fixationBox, heatmap, removeOutliers, toImagePoints, type Box } from '../../src/engine/post.ts';
import { gradCamLayer } from '../../src/engine/baselines.ts';
import { PRESETS, resolveRules, type Rules } from '../../src/engine/types.ts';
import { unravelCpu } from '../../src/engine/unravel.ts';
import { meanRank, SANITY_MAX_RHO, type Prepared } from './explore.ts';
import { auc, energyShare, every4, iou, mean, pointingHit, spearman, wilson } from './metrics.ts';
import { cascade, perturbationBase, perturbationCurves, saliencyAtInput } from './protocols.ts';

export const SIGMAS = [0.02, 0.04, 0.08];
export const EPSILONS = [0, 0.1, 0.3, 1, 3];

/** The class maps: CAM, Grad-CAM at its default layer, Grad-CAM at the first layer below with twice the resolution. */
export function classMaps(fm: FixationModel): { key: string; method: 'cam' | 'gradcam'; layer?: string }[] {
  const last = gradCamLayer(fm);
  const g = fm.graph;
  const h = g.byName.get(last)!.shape[0];
  let mid: string | undefined;
  for (let node = g.byName.get(last); node; node = g.byName.get(node.inputs[0])) {
    if (node.shape.length === 3 && node.shape[0] >= 2 * h && node.kind !== 'input') {
      mid = node.name;
      break;
    }
  }
  return [
    { key: 'cam', method: 'cam' },
    { key: 'gradcam', method: 'gradcam' },
    ...(mid && !unusable.has(mid) ? [{ key: `gradcam@${mid}`, method: 'gradcam' as const, layer: mid }] : []),
  ];
}

/** Layers whose Grad-CAM the backend cannot compute (tf.grad needs kernels wasm lacks, e.g. Conv2DBackpropFilter). */
const unusable = new Set<string>();

export function ruleSets(
  fm: FixationModel,
): { key: string; preset: 'default' | 'reference' | 'dense'; rules: Rules }[] {
  return [
    { key: 'catalog', preset: 'default', rules: resolveRules('default', {}, fm.info.rules) },
    { key: 'reference', preset: 'reference', rules: PRESETS.reference },
    { key: 'dense', preset: 'dense', rules: PRESETS.dense },
  ];
}

/** The explain() options of a guided variant (method 'guided'), for the check and for the report. */
export function guidedOptions(fm: FixationModel, v: { map: string; dens?: string; eps?: number }) {
  const c = classMaps(fm).find((x) => x.key === v.map)!;
  const [rk, s] = v.dens!.split('/s');
  return {
    method: 'guided' as const,
    ...(c.layer ? { layer: c.layer } : {}),
    guided: {
      epsilon: v.eps!,
      sigma: Number(s),
      classMap: c.method,
      rules: ruleSets(fm).find((r) => r.key === rk)!.preset,
    },
  };
}

const norm = (m: Float32Array) => {
  let mx = 0;
  for (const v of m) if (v > mx) mx = v;
  return mx > 0 ? m.map((v) => v / mx) : m;
};
/** guided = classMap x (eps + density), both normalised to max 1, the product too. */
export function guidedMap(cls: Float32Array, dens: Float32Array, eps: number): Float32Array {
  return norm(cls.map((v, i) => v * (eps + dens[i])));
}

interface CaseMaps {
  width: number;
  height: number;
  cls: Map<string, Float32Array>;
  dens: Map<string, Float32Array>;
  boxes: Map<string, Box | null>;
  transform: any;
}

async function caseMaps(fm: FixationModel, p: Prepared): Promise<CaseMaps> {
  const img = tf.tensor3d(p.c.image.data, [p.c.image.height, p.c.image.width, 3], 'int32');
  const cls = new Map<string, Float32Array>();
  let transform: any;
  for (const c of classMaps(fm)) {
    const e = await explain(fm, img, { method: c.method, classIndex: p.ci, ...(c.layer ? { layer: c.layer } : {}) });
    cls.set(c.key, norm(e.heatmap.data));
    transform = e.transform;
  }
  const { input } = fm.preprocess(img);
  const fwd = await fm.forward(input);
  const acts = new Map<string, Float32Array>();
  for (const n of fm.graph.captures) acts.set(n, (await fwd.tensors.get(n)!.data()) as Float32Array);
  tf.dispose([...fwd.tensors.values(), input, img]);
  const { width, height } = p.c.image;
  const dens = new Map<string, Float32Array>();
  const boxes = new Map<string, Box | null>();
  for (const r of ruleSets(fm)) {
    const pts = removeOutliers(
      toImagePoints(unravelCpu(fm.graph, (n) => acts.get(n)!, p.ci, r.rules).inputFixations, transform),
      width,
      height,
    );
    boxes.set(r.key, fixationBox(pts));
    for (const s of SIGMAS) dens.set(`${r.key}/s${s}`, heatmap(pts, width, height, s));
  }
  return { width, height, cls, dens, boxes, transform };
}

export interface GuidedRow {
  key: string;
  pointing: number;
  energy: number;
  loc: number;
  deletion?: number;
  sanityMaxRho?: number;
  rank1: number;
  rank?: number;
}
export interface GuidedResult {
  cases: number;
  deletionCases: number;
  sanityCases: number;
  rows: GuidedRow[];
  winner: string | null;
  fixationBoxLoc: Record<string, [number, number, number]>;
}

type V = { key: string; map: string; dens?: string; eps?: number };
function allVariants(fm: FixationModel): V[] {
  const out: V[] = classMaps(fm).map((c) => ({ key: `${c.key} alone`, map: c.key }));
  for (const c of classMaps(fm))
    for (const r of ruleSets(fm))
      for (const s of SIGMAS)
        for (const eps of EPSILONS) {
          out.push({ key: `${c.key} x (${eps} + ${r.key}/s${s})`, map: c.key, dens: `${r.key}/s${s}`, eps });
        }
  return out;
}
const mapOf = (cm: CaseMaps, v: V) =>
  v.dens ? guidedMap(cm.cls.get(v.map)!, cm.dens.get(v.dens)!, v.eps!) : cm.cls.get(v.map)!;

export async function exploreGuided(
  fm: FixationModel,
  set: Prepared[],
  opts: { log: (s: string) => void; steps: number; quick: boolean; drawsFor?: unknown },
): Promise<GuidedResult> {
  for (const c of classMaps(fm).filter((x) => x.layer)) {
    const img = tf.tensor3d(set[0].c.image.data, [set[0].c.image.height, set[0].c.image.width, 3], 'int32');
    try {
      await explain(fm, img, { method: 'gradcam', layer: c.layer, classIndex: set[0].ci });
    } catch (e) {
      unusable.add(c.layer!);
      opts.log(
        `  explore-guided: no Grad-CAM at ${c.layer} here (${(e as Error).message}); that class map is left out`,
      );
    } finally {
      img.dispose();
    }
  }
  const vs = allVariants(fm);
  // Check once that this shortcut makes the same map as explain(method 'guided').
  {
    const p = set[0];
    const v = vs.find((x) => x.dens === 'dense/s0.02' && x.eps === 0.1)!;
    const img = tf.tensor3d(p.c.image.data, [p.c.image.height, p.c.image.width, 3], 'int32');
    const e = await explain(fm, img, { ...guidedOptions(fm, v), classIndex: p.ci });
    img.dispose();
    const m = mapOf(await caseMaps(fm, p), v);
    let d = 0;
    for (let i = 0; i < m.length; i++) d = Math.max(d, Math.abs(m[i] - e.heatmap.data[i]));
    if (d > 1e-4) throw new Error(`explore-guided: the variant map differs from explain(method 'guided') by ${d}`);
  }
  const sc = new Map(
    vs.map((v) => [
      v.key,
      { pointing: [] as number[], energy: [] as number[], loc: [] as number[], deletion: [] as number[] },
    ]),
  );
  const fixLoc = new Map(ruleSets(fm).map((r) => [r.key, 0]));
  const t0 = performance.now();
  for (const [i, p] of set.entries()) {
    const cm = await caseMaps(fm, p);
    for (const v of vs) {
      const m = mapOf(cm, v);
      const s = sc.get(v.key)!;
      s.pointing.push(pointingHit(m, cm.width, p.c.box) ? 1 : 0);
      s.energy.push(energyShare(m, cm.width, p.c.box));
      const b = camBox(m, cm.width, cm.height);
      s.loc.push(b && iou(b, p.c.box) >= 0.5 ? 1 : 0);
    }
    for (const [k, b] of cm.boxes) if (b && iou(b, p.c.box) >= 0.5) fixLoc.set(k, fixLoc.get(k)! + 1);
    if ((i + 1) % 10 === 0)
      opts.log(`  explore-guided stage 1: ${i + 1}/${set.length}, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  const rows: GuidedRow[] = vs.map((v) => ({
    key: v.key,
    pointing: mean(sc.get(v.key)!.pointing),
    energy: mean(sc.get(v.key)!.energy),
    loc: mean(sc.get(v.key)!.loc),
    rank1: 0,
  }));
  meanRank(rows, ['pointing', 'energy', 'loc'], 'rank1');
  rows.sort((a, b) => a.rank1 - b.rank1);
  const groupOf = (k: string) => k.replace(/ x \([\d.]+ \+ (\w+)\/s[\d.]+\)$/, ' $1');
  const bestPerGroup = [...new Set(rows.map((r) => groupOf(r.key)))].map(
    (g) => rows.find((r) => groupOf(r.key) === g)!.key,
  );
  const finalists = [...new Set([...rows.slice(0, opts.quick ? 3 : 6).map((r) => r.key), ...bestPerGroup])];
  const fvs = finalists.map((k) => vs.find((v) => v.key === k)!);
  opts.log(`  explore-guided: ${finalists.length} finalists`);
  const delN = Math.max(2, Math.round(set.length / 3)),
    sanN = opts.quick ? 1 : Math.max(2, Math.min(4, Math.round(set.length / 15)));
  const orig: Map<string, Float32Array>[] = [];
  for (const [i, p] of set.slice(0, Math.max(delN, sanN)).entries()) {
    const cm = await caseMaps(fm, p);
    if (i < sanN) orig.push(new Map(fvs.map((v) => [v.key, every4(mapOf(cm, v), cm.width)])));
    if (i >= delN) continue;
    const img = tf.tensor3d(p.c.image.data, [p.c.image.height, p.c.image.width, 3], 'int32');
    const { input } = fm.preprocess(img);
    const base = await perturbationBase(fm, input, p.ci, 2000 + i);
    for (const v of fvs) {
      const { deletion } = await perturbationCurves(
        fm,
        base,
        saliencyAtInput(mapOf(cm, v), cm.width, cm.height, cm.transform),
        p.ci,
        opts.steps,
        'deletion',
      );
      sc.get(v.key)!.deletion.push(auc(deletion));
    }
    tf.dispose([img, input]);
  }
  const fin = rows.filter((r) => finalists.includes(r.key));
  for (const r of fin) r.deletion = mean(sc.get(r.key)!.deletion);
  const worst = new Map(finalists.map((k) => [k, -Infinity]));
  for await (const { model } of cascade(fm)) {
    const rhos = new Map(finalists.map((k) => [k, [] as number[]]));
    for (const [i, p] of set.slice(0, sanN).entries()) {
      const cm = await caseMaps(model, p);
      for (const v of fvs) {
        const rho = spearman(orig[i].get(v.key)!, every4(mapOf(cm, v), cm.width));
        rhos.get(v.key)!.push(Number.isNaN(rho) ? 0 : rho);
      }
    }
    for (const k of finalists) worst.set(k, Math.max(worst.get(k)!, mean(rhos.get(k)!)));
  }
  for (const r of fin) r.sanityMaxRho = worst.get(r.key)!;
  meanRank(fin, ['pointing', 'energy', 'loc', '-deletion'], 'rank');
  const passing = fin
    .filter((r) => r.sanityMaxRho! < SANITY_MAX_RHO && r.key.includes(' x '))
    .sort((a, b) => a.rank! - b.rank! || b.loc - a.loc);
  const n = set.length;
  const fixationBoxLoc = Object.fromEntries(
    [...fixLoc].map(([k, v]) => [k, [v / n, ...wilson(v, n)] as [number, number, number]]),
  );
  return { cases: n, deletionCases: delN, sanityCases: sanN, rows, winner: passing[0]?.key ?? null, fixationBoxLoc };
}

const pct = (v: number) => (v === undefined || Number.isNaN(v) ? '' : (100 * v).toFixed(1));
export function guidedTable(id: string, r: GuidedResult): string {
  const out = [
    `#### Guided family on the synthetic tuning set (seed 2, tuning backgrounds): ${r.cases} images, deletion on ${r.deletionCases}, sanity on ${r.sanityCases}`,
    '',
    'Variant = class map x (epsilon + fixation density of rule set / blur sigma), normalised; "alone" = the class map by itself. Stage 1 ranks all by the mean rank over pointing, energy and localization (CAM protocol on the map).',
    `The finalists also get the deletion AUC and the sanity check (worst mean ρ over the cascade; passes below ${SANITY_MAX_RHO}), ranked by the mean rank over the four; the winner (bold) is the best guided finalist that passes.`,
    `Localization of the fixations' own box (tight box after outlier removal): ${Object.entries(r.fixationBoxLoc)
      .map(([k, v]) => `${k} ${pct(v[0])}% [${pct(v[1])}, ${pct(v[2])}]`)
      .join(', ')}.`,
    '',
    '| variant | pointing % | energy % | loc. CAM protocol % | deletion AUC ↓ | sanity: worst ρ | stage-1 rank | final rank |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const fin = r.rows.filter((x) => x.rank !== undefined).sort((a, b) => a.rank! - b.rank!);
  const rest = r.rows
    .filter((x) => x.rank === undefined)
    .sort((a, b) => a.rank1 - b.rank1)
    .slice(0, 20);
  for (const x of [...fin, ...rest]) {
    out.push(
      `| ${x.key === r.winner ? `**${x.key}**` : x.key} | ${pct(x.pointing)} | ${pct(x.energy)} | ${pct(x.loc)} | ${x.deletion === undefined ? '' : x.deletion.toFixed(3)} | ${x.sanityMaxRho === undefined ? '' : x.sanityMaxRho.toFixed(2)} | ${x.rank1.toFixed(1)} | ${x.rank === undefined ? '' : x.rank.toFixed(2)} |`,
    );
  }
  out.push(
    '',
    `(${r.rows.length} variants; the 20 best of stage 1 beyond the finalists shown; all in out/explore-guided-${id}.json.)`,
  );
  return out.join('\n');
}

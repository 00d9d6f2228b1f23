// The rule search (npm run eval -- --explore): every combination of the fixation rules and post-processing on a
// synthetic tuning set (its own seed, never the photos). Stage 1 scores every variant on the pointing game and the
// energy share. The finalists (the best post-processing of each rule combination, the overall top few, and the
// reference and current default) also get the deletion AUC (15 forward passes a map) and the sanity check.
// The winner: among the finalists that pass the sanity check, the best mean rank over pointing, energy and deletion.
import * as tf from '@tensorflow/tfjs-core';
import { explain } from '../../src/engine/explain.ts';
import type { FixationModel } from '../../src/engine/model.ts';
import { DEFAULT_POST, heatmap, removeOutliers, toImagePoints } from '../../src/engine/post.ts';
import type { GapRule, PixelTransform, Rules } from '../../src/engine/types.ts';
import { unravelCpu } from '../../src/engine/unravel.ts';
import { auc, energyShare, every4, mean, pointingHit, spearman } from './metrics.ts';
import { cascade, perturbationBase, perturbationCurves, saliencyAtInput } from './protocols.ts';
import type { EvalCase } from './synthetic.ts';

export interface Variant {
  key: string;
  rules: Rules;
  sigma: number;
  outliers: boolean;
}
export interface Prepared {
  c: EvalCase;
  ci: number;
}

/** The grid of the first search (SqueezeNet): the GAP rule and threshold, weights, blur and outlier removal. */
export function variants(): Variant[] {
  const out: Variant[] = [];
  const gaps: [GapRule, number][] = [
    ['argmax', 0],
    ['positive', 0],
    ['positive', 0.25],
    ['positive', 0.5],
    ['positive', 0.75],
  ];
  for (const location of ['center', 'max'] as const)
    for (const [gap, thr] of gaps)
      for (const weights of ['count', 'contribution'] as const) {
        if (gap === 'argmax' && weights === 'contribution') continue; // one kept position: the weights cannot differ
        for (const sigma of [0.02, 0.03, 0.05])
          for (const outliers of [true, false]) {
            const rules: Rules = thr ? { location, gap, weights, gapThreshold: thr } : { location, gap, weights };
            out.push({ key: variantKey(rules, sigma, outliers), rules, sigma, outliers });
          }
      }
  return out;
}

/**
 * The grid of the second search (every catalog model): the rules that keep more of the evidence. Post-processing
 * fixed at DEFAULT_POST (the first search's choice). GAP argmax (count) or positive with contribution shares, at
 * 0 / 0.25 / 0.5 / 0.75 / 0.9 x max; conv channelRatio 0 (best only) / 0.75 / 0.9 / 0.95 (lower ratios compound over
 * the layers: 0.5 keeps ~1300 input pixels on SqueezeNet, 0.75 ~3800 on MobileNet v1, ~18600 on MobileNetV2);
 * location center / max. A model with an FC on a vector (MobileNetV2) gets fcThreshold 0 / 0.25 / 0.5 / 0.75 / 0.9
 * instead of the low GAP thresholds and of ratios below 0.95, and only the 'max' location (centre is degenerate
 * without pooling: MobileNet v1's search), to keep its unravellings (0.3-2 s each here) affordable.
 */
export function evidenceVariants(hasFc: boolean): Variant[] {
  const out: Variant[] = [];
  const gaps: [GapRule, number][] = hasFc
    ? [
        ['argmax', 0],
        ['positive', 0.5],
        ['positive', 0.75],
        ['positive', 0.9],
      ]
    : [
        ['argmax', 0],
        ['positive', 0],
        ['positive', 0.25],
        ['positive', 0.5],
        ['positive', 0.75],
        ['positive', 0.9],
      ];
  const ratios = hasFc ? [0, 0.95] : [0, 0.75, 0.9, 0.95];
  const fcs = hasFc ? [0, 0.25, 0.5, 0.75, 0.9] : [0];
  const locations = hasFc ? (['max'] as const) : (['center', 'max'] as const);
  const { sigma, outliers } = DEFAULT_POST;
  for (const location of locations)
    for (const [gap, thr] of gaps)
      for (const ratio of ratios)
        for (const fc of fcs) {
          const rules: Rules = { location, gap, weights: gap === 'argmax' ? 'count' : 'contribution' };
          if (thr) rules.gapThreshold = thr;
          if (ratio) rules.channelRatio = ratio;
          if (fc) rules.fcThreshold = fc;
          out.push({ key: variantKey(rules, sigma, outliers), rules, sigma, outliers });
        }
  return out;
}

/** location / GAP rule / weights [/ ch>=ratio] [/ fc>=threshold] / blur sigma / outlier removal. */
export function variantKey(r: Rules, sigma: number, outliers: boolean): string {
  const g = r.gapThreshold ? `positive>=${r.gapThreshold}max` : r.gap;
  const extra = (r.channelRatio ? `/ch>=${r.channelRatio}` : '') + (r.fcThreshold ? `/fc>=${r.fcThreshold}` : '');
  return `${r.location}/${g}/${r.weights}${extra}/s${sigma}/${outliers ? 'out' : 'noout'}`;
}

/** Every variant's heatmap for one forward pass (the same steps as explain(), which the caller checks once). */
async function variantMaps(fm: FixationModel, img: tf.Tensor3D, ci: number, vs: Variant[]) {
  const { input, transform } = fm.preprocess(img);
  const fwd = await fm.forward(input);
  const acts = new Map<string, Float32Array>();
  for (const n of fm.graph.captures) acts.set(n, (await fwd.tensors.get(n)!.data()) as Float32Array);
  tf.dispose([...fwd.tensors.values(), input]);
  const { width, height } = { width: transform.srcWidth, height: transform.srcHeight };
  const maps = new Map<string, Float32Array>();
  const unravelled = new Map<string, ReturnType<typeof toImagePoints>>();
  for (const v of vs) {
    const rk = ruleKey(v);
    if (!unravelled.has(rk))
      unravelled.set(
        rk,
        toImagePoints(unravelCpu(fm.graph, (n) => acts.get(n)!, ci, v.rules).inputFixations, transform),
      );
    let pts = unravelled.get(rk)!;
    if (v.outliers) pts = removeOutliers(pts, width, height);
    maps.set(v.key, heatmap(pts, width, height, v.sigma));
  }
  return { maps, transform, width, height };
}

export interface ExploreResult {
  cases: number;
  deletionCases: number;
  steps: number;
  sanityCases: number;
  rows: {
    key: string;
    pointing: number;
    energy: number;
    deletion?: number;
    sanityMaxRho?: number;
    rank1: number;
    rank?: number;
  }[];
  /** null when no finalist passes the sanity check (the table still shows them all). */
  winner: string | null;
}

const ruleKey = (v: Variant) => variantKey(v.rules, 0, true);

export async function explore(
  fm: FixationModel,
  set: Prepared[],
  opts: {
    variants: Variant[];
    deletionCases: number;
    sanityCases: number;
    topK: number;
    steps: number;
    must: Variant[];
    log: (s: string) => void;
    /** Finalists include the best variant of each group (default: each rule combination). */
    groupOf?: (v: Variant) => string;
  },
): Promise<ExploreResult> {
  const vs = [...opts.variants, ...opts.must.filter((m) => !opts.variants.some((v) => v.key === m.key))];
  const score = new Map(
    vs.map((v) => [v.key, { pointing: [] as number[], energy: [] as number[], deletion: [] as number[] }]),
  );
  // Check once that this shortcut makes the same map as explain() for the project's rules.
  {
    const { c, ci } = set[0];
    const img = tf.tensor3d(c.image.data, [c.image.height, c.image.width, 3], 'int32');
    const v = vs.find((x) => x.rules.location === 'max' && x.rules.gap === 'positive' && x.rules.channelRatio) ?? vs[0];
    const e = await explain(fm, img, {
      rules: v.rules,
      classIndex: ci,
      post: { sigma: v.sigma, outliers: v.outliers },
    });
    const { maps } = await variantMaps(fm, img, ci, [v]);
    const m = maps.get(v.key)!;
    let d = 0;
    for (let i = 0; i < m.length; i++) d = Math.max(d, Math.abs(m[i] - e.heatmap.data[i]));
    img.dispose();
    if (d > 1e-5) throw new Error(`explore: the variant maps differ from explain() by ${d}`);
  }
  const t0 = performance.now();
  for (const [i, { c, ci }] of set.entries()) {
    const img = tf.tensor3d(c.image.data, [c.image.height, c.image.width, 3], 'int32');
    const { maps, width } = await variantMaps(fm, img, ci, vs);
    img.dispose();
    for (const v of vs) {
      const m = maps.get(v.key)!;
      score.get(v.key)!.pointing.push(pointingHit(m, width, c.box) ? 1 : 0);
      score.get(v.key)!.energy.push(energyShare(m, width, c.box));
    }
    if ((i + 1) % 10 === 0)
      opts.log(`  explore stage 1: ${i + 1}/${set.length} cases, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  const rows = vs.map(
    (v) =>
      ({
        key: v.key,
        pointing: mean(score.get(v.key)!.pointing),
        energy: mean(score.get(v.key)!.energy),
        rank1: 0,
      }) as ExploreResult['rows'][number],
  );
  meanRank(rows, ['pointing', 'energy'], 'rank1');
  rows.sort((a, b) => a.rank1 - b.rank1);
  const byKey = new Map(vs.map((v) => [v.key, v]));
  const groupOf = opts.groupOf ?? ruleKey;
  const bestPerRules = [...new Set(vs.map(groupOf))].map(
    (g) => rows.find((r) => groupOf(byKey.get(r.key)!) === g)!.key,
  );
  const finalists = [
    ...new Set([...rows.slice(0, opts.topK).map((r) => r.key), ...bestPerRules, ...opts.must.map((m) => m.key)]),
  ];
  opts.log(`  explore: ${finalists.length} finalists`);
  const t1 = performance.now();
  for (const [i, { c, ci }] of set.slice(0, opts.deletionCases).entries()) {
    const img = tf.tensor3d(c.image.data, [c.image.height, c.image.width, 3], 'int32');
    const { maps, transform, width, height } = await variantMaps(
      fm,
      img,
      ci,
      finalists.map((k) => byKey.get(k)!),
    );
    const { input } = fm.preprocess(img);
    const base = await perturbationBase(fm, input, ci, 1000 + i);
    for (const k of finalists) {
      const sal = saliencyAtInput(maps.get(k)!, width, height, transform as PixelTransform);
      const { deletion } = await perturbationCurves(fm, base, sal, ci, opts.steps, 'deletion');
      score.get(k)!.deletion.push(auc(deletion));
    }
    tf.dispose([img, input]);
    if ((i + 1) % 4 === 0)
      opts.log(
        `  explore stage 2: ${i + 1}/${opts.deletionCases} cases, ${((performance.now() - t1) / 1000).toFixed(0)} s`,
      );
  }
  const fin = rows.filter((r) => finalists.includes(r.key));
  for (const r of fin) r.deletion = mean(score.get(r.key)!.deletion);

  // Sanity check of the finalists: the largest mean rank correlation with the original map over the cascade.
  const sanitySet = set.slice(0, opts.sanityCases);
  const fvs = finalists.map((k) => byKey.get(k)!);
  const orig: Map<string, Float32Array>[] = [];
  for (const { c, ci } of sanitySet) {
    const img = tf.tensor3d(c.image.data, [c.image.height, c.image.width, 3], 'int32');
    orig.push((await variantMaps(fm, img, ci, fvs)).maps);
    img.dispose();
  }
  const worst = new Map(finalists.map((k) => [k, -Infinity]));
  for await (const { model } of cascade(fm)) {
    const rhos = new Map(finalists.map((k) => [k, [] as number[]]));
    for (const [i, { c, ci }] of sanitySet.entries()) {
      const img = tf.tensor3d(c.image.data, [c.image.height, c.image.width, 3], 'int32');
      const { maps } = await variantMaps(model, img, ci, fvs);
      img.dispose();
      for (const k of finalists) {
        const rho = spearman(every4(orig[i].get(k)!, c.image.width), every4(maps.get(k)!, c.image.width));
        rhos.get(k)!.push(Number.isNaN(rho) ? 0 : rho);
      }
    }
    for (const k of finalists) worst.set(k, Math.max(worst.get(k)!, mean(rhos.get(k)!)));
  }
  for (const r of fin) r.sanityMaxRho = worst.get(r.key)!;
  meanRank(fin, ['pointing', 'energy', '-deletion'], 'rank');
  const passing = fin
    .filter((r) => r.sanityMaxRho! < SANITY_MAX_RHO)
    .sort((a, b) => a.rank! - b.rank! || b.pointing - a.pointing);
  return {
    cases: set.length,
    deletionCases: opts.deletionCases,
    steps: opts.steps,
    sanityCases: sanitySet.length,
    rows,
    winner: passing[0]?.key ?? null,
  };
}

/** A method passes the sanity check if its map's mean rank correlation with the original stays below this at every depth. */
export const SANITY_MAX_RHO = 0.5;

/** Mean over metrics of each row's rank (1 = best; '-name' means lower is better; ties share the average rank). */
export function meanRank<T extends Record<string, any>>(rows: T[], metrics: string[], into: keyof T) {
  const total = new Map<T, number>(rows.map((r) => [r, 0]));
  for (const m of metrics) {
    const lower = m.startsWith('-');
    const key = lower ? m.slice(1) : m;
    const val = (r: T) => (lower ? r[key] : -r[key]) as number;
    for (const r of rows) {
      const better = rows.filter((o) => val(o) < val(r)).length;
      const same = rows.filter((o) => val(o) === val(r)).length;
      total.set(r, total.get(r)! + better + (same + 1) / 2);
    }
  }
  for (const r of rows) (r as any)[into] = total.get(r)! / metrics.length;
}

// The markdown of the evaluation: one model's tables, the summary over models, and the marked sections of
// eval/results.md that they go into (`npm run eval:tables` copies those sections on into the docs).
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT } from '../../src/node/index.ts';
import { SANITY_MAX_RHO } from './explore.ts';
import { bootstrapIndices, bootstrapMean } from './metrics.ts';

// Missing values: NaN in the run, null once through JSON.
const missing = (v: number | null | undefined) => v === undefined || v === null || Number.isNaN(v);
export const pct = (v: number) => (missing(v) ? '–' : `${(100 * v).toFixed(1)}`);
export const f3 = (v: number) => (missing(v) ? '–' : v.toFixed(3));
interface Iv {
  mean: number;
  lo: number;
  hi: number;
}
/** A mean with its 95% interval: "88.3 [81.1, 93.0]" (percent) or "0.018 [0.012, 0.025]". */
export const ivp = (v: Iv) => (missing(v.mean) ? '–' : `${pct(v.mean)} [${pct(v.lo)}, ${pct(v.hi)}]`);
export const iv3 = (v: Iv) => (missing(v.mean) ? '–' : `${f3(v.mean)} [${f3(v.lo)}, ${f3(v.hi)}]`);
const signed = (x: number, f: (v: number) => string) => (x > 0 ? '+' : '') + f(x);
/** A paired difference with its interval and the verdict: better / worse beyond the interval, else a tie. */
export function verdict(d: Iv, lowerIsBetter = false, percent = true): string {
  const f = percent ? (v: number) => (100 * v).toFixed(1) : (v: number) => v.toFixed(3);
  if (missing(d.mean)) return '–';
  const txt = `${signed(d.mean, f)} [${signed(d.lo, f)}, ${signed(d.hi, f)}]`;
  const better = lowerIsBetter ? d.hi < 0 : d.lo > 0;
  const worse = lowerIsBetter ? d.lo > 0 : d.hi < 0;
  return `${txt} ${better ? '**better**' : worse ? '**worse**' : 'tie'}`;
}
/** The sanity verdict of one method: passes if the mean ρ stays below SANITY_MAX_RHO at every depth. */
export const sanityPasses = (d: { rho: number }[]) => d.length > 0 && d.every((x) => x.rho < SANITY_MAX_RHO);

/* eslint-disable @typescript-eslint/no-explicit-any */
export function modelTables(r: any): string {
  const out: string[] = [];
  const M: { key: string; label: string }[] = r.methods;
  const hits = r.photoTop1.filter((p: any) => p.top1).length;
  const n = r.photoTop1.length;
  out.push(
    `### \`${r.model}\``,
    '',
    `**Recognition.** Top-1 on the ${n} labelled photos: ${hits}/${n}, top-5 ${r.photoTop1.filter((p: any) => p.top5).length}/${n} (misses: ${
      r.photoTop1
        .filter((p: any) => !p.top1)
        .map((p: any) => `${p.id} → ${p.label}`)
        .join('; ') || 'none'
    }). ` +
      `Synthetic candidates (${r.config.recognitionPool} per object kind, ${r.syntheticCandidates} in all): top-1 ${ivp({ mean: r.syntheticTop1, lo: r.syntheticTop1Ci[0], hi: r.syntheticTop1Ci[1] })}%, ` +
      `top-5 ${ivp({ mean: r.syntheticTop5, lo: r.syntheticTop5Ci[0], hi: r.syntheticTop5Ci[1] })}% (Wilson 95%).`,
    '',
    `Default method \`${r.defaults.method}\`; catalog rules \`${JSON.stringify(r.defaults.rules)}\`; guided \`${JSON.stringify(r.defaults.guided)}\`; boxes \`${JSON.stringify(r.defaults.box)}\`.`,
    '',
  );
  for (const [set, title] of [
    ['synthetic', 'Synthetic test set'],
    ['photos', 'Hand-boxed photos (boxes.json + more-boxes.json)'],
  ]) {
    const s = r.summary[set];
    const any = s[M[0].key];
    out.push(
      `#### ${title}: ${any.n} images, deletion on ${any.perturbN}`,
      '',
      '| method | pointing % | energy % | loc. own box % | loc. CAM protocol % | loc. fixation box % | deletion AUC ↓ | ms |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const m of M) {
      const v = s[m.key];
      const noBox = v.box < 1 ? ` (no box on ${pct(1 - v.box)}%)` : '';
      out.push(
        `| ${m.label} | ${ivp(v.pointing)} | ${ivp(v.energy)} | ${ivp(v.locBox)}${noBox} | ${ivp(v.loc)} | ${v.locFix ? ivp(v.locFix) : ''} | ${iv3(v.deletion)} | ${v.ms.toFixed(0)} |`,
      );
    }
    out.push('');
  }
  out.push(
    "Localization: IoU >= 0.5 with the box. Own box: the box the method returns (`box`; its source per method in BOX_SOURCE, src/engine/methods.ts; no box counts as a miss); CAM protocol: the largest component above 20% of the map's max; fixation box: the fixations after outlier removal, none below 20 points (the paper's box).",
    'Intervals: 95%; Wilson for the proportions (pointing, localization), percentile bootstrap over images (2000 resamples) for the means (energy, deletion).',
    '',
  );
  // Per object kind (synthetic test set): kept / tried, recognition, and pointing / energy / own-box localization.
  out.push(
    '#### Per object (synthetic test set): kept / tried, top-5 on the pool; pointing % / energy % / loc. own box % per method',
    '',
    `| object | kept / tried | top-5 % | ${M.map((m) => m.label).join(' | ')} |`,
    `|---|---|---|${M.map(() => '---|').join('')}`,
  );
  for (const k of r.kinds) {
    const b = r.byObject[k.object];
    out.push(
      `| ${k.object} | ${k.kept} / ${k.tried} | ${pct(k.top5 / k.pool)} | ${M.map((m) => (b[m.key].n ? `${pct(b[m.key].pointing.mean)} / ${pct(b[m.key].energy.mean)} / ${pct(b[m.key].locBox.mean)}` : '–')).join(' | ')} |`,
    );
  }
  const short = r.kinds.filter((k: any) => k.kept < r.config.perObject);
  out.push(
    '',
    short.length
      ? `Balance: ${r.config.perObject} kept per object kind asked; fewer where the model ranks the object in its top 5 too rarely within ${r.config.maxTriesPerObject} tries: ${short.map((k: any) => `${k.object} ${k.kept}`).join(', ')}.`
      : `Balance: ${r.config.perObject} kept per object kind, every kind.`,
    '',
  );
  // Targets: each candidate default against CAM and Grad-CAM, paired differences.
  out.push(
    '#### Targets: paired differences (method − baseline) with 95% bootstrap intervals; "tie" = the interval contains 0',
    '',
    '| set | method vs | pointing (pp) | energy (pp) | loc. own box (pp) | deletion AUC (↓ better) |',
    '|---|---|---|---|---|---|',
  );
  for (const [set, title] of [
    ['synthetic', 'test'],
    ['photos', 'photos'],
  ]) {
    for (const c of r.comparisons[set]) {
      out.push(
        `| ${title} | ${label(M, c.method)} vs ${label(M, c.baseline)} | ${verdict(c.pointing)} | ${verdict(c.energy)} | ${verdict(c.loc)} | ${verdict(c.deletion, true, false)} |`,
      );
    }
  }
  out.push('');
  const ms = new Set(M.map((m) => m.key));
  if (ms.has('guided') && ms.has('fixations')) {
    out.push(
      'Guided against CNN Fixations (catalog rules) on the same images, paired (guided − fixations):',
      '',
      '| set | pointing (pp) | energy (pp) | loc. own box (pp) | deletion AUC (↓ better) |',
      '|---|---|---|---|---|',
    );
    for (const [set, title] of [
      ['synthetic', 'test'],
      ['photos', 'photos'],
    ]) {
      const d = (k: string) => paired(r, set, 'guided', 'fixations', k);
      out.push(
        `| ${title} | ${verdict(d('pointing'))} | ${verdict(d('energy'))} | ${verdict(d('locBox'))} | ${verdict(d('deletion'), true, false)} |`,
      );
    }
    out.push('');
  }
  for (const c of [...new Set((r.comparisons.synthetic as any[]).map((x) => x.method))]) {
    out.push(
      `Targets of ${label(M, c)} (against both CAM and Grad-CAM): test set ${targetLine(targets(r, c, 'synthetic'))}; photos ${targetLine(targets(r, c, 'photos'))}.`,
      '',
    );
  }
  const groups = r.sanity[M[0].key].map((d: any) => d.group);
  out.push(
    `#### Sanity check: Spearman ρ of the map with the original after randomising the layers from the top down to ...`,
    '',
    `| method | ${groups.join(' | ')} | passes (ρ < ${SANITY_MAX_RHO} at every depth) |`,
    `|---|${groups.map(() => '---|').join('')}---|`,
  );
  for (const m of M) {
    const d = r.sanity[m.key] as { rho: number; degenerate: number }[];
    out.push(
      `| ${m.label} | ${d.map((x) => x.rho.toFixed(2) + (x.degenerate ? '*' : '')).join(' | ')} | ${sanityPasses(d) ? 'yes' : '**no**'} |`,
    );
  }
  const sanityN = r.cases.filter((c: any) => c.set === 'photos').length;
  out.push(
    '',
    `(* some maps became constant and count as ρ = 0.) Sanity cases: ${sanityN} photos + ${r.config.sanitySynthetic} synthetic (${r.config.sanitySynthetic} object kinds).` +
      (r.skippedPhotos.length
        ? ` Not a localization case: ${r.skippedPhotos.map((s: any) => `${s.id} (${s.why})`).join('; ')}.`
        : ''),
    `Run: ${r.cpus} CPUs, backend ${r.backend}, ${r.seconds.total.toFixed(0)} s wall, ${r.seconds.cpu.toFixed(0)} CPU s; ms: one \`explain()\` on a shared machine, compare within a table only.`,
    `Defaults measured: rules ${JSON.stringify(r.defaults.rules)}, post ${JSON.stringify(r.defaults.post)}.`,
  );
  return out.join('\n');
}
/**
 * Issue 18's five targets for one method on one set, each against both CAM and Grad-CAM: pointing at least as often,
 * localization at least as often and deletion no worse hold unless a baseline wins beyond the interval (a tie
 * holds); energy must be higher beyond the interval; the sanity check must pass at every depth.
 */
export function targets(
  r: any,
  method: string,
  set: 'synthetic' | 'photos',
): { name: string; holds: boolean; how: string }[] {
  const cs = (r.comparisons[set] as any[]).filter((c) => c.method === method);
  if (!cs.length) return [];
  const notWorse = (k: string, lower = false) => cs.every((c) => (lower ? c[k].lo <= 0 : c[k].hi >= 0));
  const win = (k: string, lower = false) => cs.every((c) => (lower ? c[k].hi < 0 : c[k].lo > 0));
  const how = (k: string, lower = false) => (win(k, lower) ? 'wins' : notWorse(k, lower) ? 'ties' : 'loses');
  const sane = sanityPasses(r.sanity[method]);
  const ran = r.sanity[method].length > 0;
  return [
    { name: 'pointing', holds: notWorse('pointing'), how: how('pointing') },
    { name: 'energy', holds: win('energy'), how: how('energy') },
    { name: 'localization', holds: notWorse('loc'), how: how('loc') },
    cs.some((c) => missing(c.deletion.mean))
      ? { name: 'deletion', holds: false, how: 'not run' }
      : { name: 'deletion', holds: notWorse('deletion', true), how: how('deletion', true) },
    { name: 'sanity', holds: sane, how: !ran ? 'not run' : sane ? 'passes' : 'fails' },
  ];
}
const targetLine = (t: { name: string; holds: boolean; how: string }[]) =>
  `${t.filter((x) => x.holds).length}/5 (${t.map((x) => `${x.name} ${x.how}${x.holds || x.how === 'not run' ? '' : ' ✗'}`).join(', ')})`;

/** A paired difference a − b of one record field over a set's cases (those where both have it), bootstrap 95%. */
export function paired(r: any, set: string, a: string, b: string, k: string): Iv {
  const pairs = (r.cases as any[])
    .filter((c) => c.set === set)
    .map((c) => [c.methods[a]?.[k], c.methods[b]?.[k]])
    .filter((p): p is [number, number] => typeof p[0] === 'number' && typeof p[1] === 'number');
  return bootstrapMean(
    pairs.map((p) => p[0]),
    bootstrapIndices(pairs.length, 2000, 991 + pairs.length),
    pairs.map((p) => p[1]),
  );
}

const label = (M: { key: string; label: string }[], k: string) => M.find((m) => m.key === k)?.label ?? k;

const met = (t: { holds: boolean }[]) => (t.length ? `${t.filter((x) => x.holds).length}/5` : '');

/** The compact per-model table: recognition and the headline numbers of the default method, CAM and Grad-CAM. */
export async function summaryTable(jsonPaths: string[], wallS?: number): Promise<string> {
  const out = [
    '| model | labelled photos top-1 | synthetic top-1 / top-5 % | method | pointing % | energy % | loc. own box % | loc. CAM protocol % | deletion AUC ↓ | sanity | targets met: test / photos |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const p of jsonPaths) {
    if (!existsSync(p)) continue;
    const r = JSON.parse(await readFile(p, 'utf8'));
    const s = r.summary.synthetic;
    const keys = [...new Set([r.defaults.method, 'guided', 'fixations', 'cam', 'gradcam'])].filter((k) => s[k]);
    for (const [i, k] of keys.entries()) {
      const v = s[k];
      const rec = i ? '' : `${r.photoTop1.filter((x: any) => x.top1).length}/${r.photoTop1.length}`;
      const syn = i ? '' : `${pct(r.syntheticTop1)} / ${pct(r.syntheticTop5)}`;
      const name = r.methods.find((m: any) => m.key === k).label + (k === r.defaults.method ? ' (default)' : '');
      out.push(
        `| ${i ? '' : `\`${r.model}\``} | ${rec} | ${syn} | ${name} | ${ivp(v.pointing)} | ${ivp(v.energy)} | ${ivp(v.locBox)} | ${ivp(v.loc)} | ${iv3(v.deletion)} | ${!r.sanity[k].length ? 'not run' : sanityPasses(r.sanity[k]) ? 'pass' : 'fail'} | ${targets(r, k, 'synthetic').length ? `${met(targets(r, k, 'synthetic'))} / ${met(targets(r, k, 'photos'))}` : ''} |`,
      );
    }
  }
  out.push(
    '',
    'Synthetic test set, 95% intervals (Wilson for proportions, bootstrap over images for means); full tables per model in `eval/results.md`.' +
      (wallS ? ` Whole run: ${wallS.toFixed(0)} s wall.` : ''),
  );
  return out.join('\n');
}

/** Replace the text between <!-- name:begin --> and <!-- name:end --> in eval/results.md (appended if absent). */
export async function writeSection(name: string, md: string, path = join(ROOT, 'eval/results.md')) {
  await mkdir(join(ROOT, 'eval'), { recursive: true });
  let text = existsSync(path) ? await readFile(path, 'utf8') : '# Evaluation results\n';
  const begin = `<!-- ${name}:begin -->`,
    end = `<!-- ${name}:end -->`;
  const block = `${begin}\n${md}\n${end}`;
  const i = text.indexOf(begin),
    j = text.indexOf(end);
  text = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  await writeFile(path, text);
}

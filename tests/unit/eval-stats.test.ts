// The evaluation's statistics and its table copier: Wilson and bootstrap intervals against hand-worked values, and
// the marker copy of eval/results.md's tables into the docs (scripts/eval-tables.ts).
import { describe, expect, it } from 'vitest';
import { bootstrapIndices, bootstrapMean, wilson } from '../../scripts/eval/metrics.ts';
import { fill, sections } from '../../scripts/eval-tables.ts';

describe('intervals', () => {
  it('Wilson 95% interval of known proportions', () => {
    // 8 of 10: centre (0.8 + 1.92/10) / (1 + 3.8416/10) = 0.7167, half-width 0.2266 (hand-worked).
    const [lo, hi] = wilson(8, 10);
    expect(lo).toBeCloseTo(0.4902, 3);
    expect(hi).toBeCloseTo(0.9433, 3);
    // 0 of n keeps a non-zero upper bound; n of n a lower bound below 1.
    expect(wilson(0, 20)[0]).toBe(0);
    expect(wilson(0, 20)[1]).toBeCloseTo(0.1611, 3);
    expect(wilson(20, 20)[0]).toBeCloseTo(0.8389, 3);
  });
  it('bootstrap interval of a mean and of a paired difference', () => {
    const v = Array.from({ length: 200 }, (_, i) => (i % 2 ? 1 : 0));
    const d = bootstrapIndices(200, 2000, 1);
    const m = bootstrapMean(v, d);
    expect(m.mean).toBe(0.5);
    // Standard error 0.5 / sqrt(200) = 0.0354: the interval is about +-1.96 of it.
    expect(m.lo).toBeGreaterThan(0.5 - 0.08);
    expect(m.lo).toBeLessThan(0.5 - 0.05);
    expect(m.hi).toBeGreaterThan(0.5 + 0.05);
    // Paired: the same shift on every image has a zero-width interval, whatever the spread.
    const w = v.map((x) => x - 0.1);
    const p = bootstrapMean(v, d, w);
    expect(p.lo).toBeCloseTo(0.1, 12);
    expect(p.hi).toBeCloseTo(0.1, 12);
    expect(() => bootstrapMean(v.slice(1), d)).toThrow(/199 values, resamples of 200/);
  });
});

describe('npm run eval:tables', () => {
  const results =
    '# R\n\n<!-- eval:summary:begin -->\n| a | b |\n|---|---|\n| 1 | 2 |\n<!-- eval:summary:end -->\n\ntext\n<!-- eval:m1:begin -->\n### m1\n<!-- eval:m1:end -->\n';
  it('reads the named tables of results.md', () => {
    const t = sections(results);
    expect([...t.keys()]).toEqual(['eval:summary', 'eval:m1']);
    expect(t.get('eval:summary')).toBe('| a | b |\n|---|---|\n| 1 | 2 |');
  });
  it('replaces the content between matching markers, and only there', () => {
    const doc =
      'intro\n<!-- eval:summary -->\nold table\n<!-- /eval:summary -->\nmiddle\n<!-- eval:m1 -->\n<!-- /eval:m1 -->\nend\n';
    const out = fill(doc, sections(results), 'README.md');
    expect(out).toBe(
      'intro\n<!-- eval:summary -->\n| a | b |\n|---|---|\n| 1 | 2 |\n<!-- /eval:summary -->\nmiddle\n<!-- eval:m1 -->\n### m1\n<!-- /eval:m1 -->\nend\n',
    );
    expect(fill(out, sections(results), 'README.md')).toBe(out); // idempotent
  });
  it('leaves a marker quoted in prose alone (markers stand alone on their lines)', () => {
    const doc = 'Put `<!-- eval:summary -->` ... `<!-- /eval:summary -->` in a file.\n';
    expect(fill(doc, sections(results), 'docs/x.md')).toBe(doc);
    expect([...sections('say `<!-- x:begin -->` and `<!-- x:end -->`\n').keys()]).toEqual([]);
  });
  it('names the file and the marker when a marker names no table', () => {
    expect(() => fill('<!-- eval:nope -->\n<!-- /eval:nope -->', sections(results), 'docs/x.md')).toThrow(
      /docs\/x.md: marker <!-- eval:nope --> names no table/,
    );
  });
});

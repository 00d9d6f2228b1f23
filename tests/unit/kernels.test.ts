// Pipeline creation passes a kernel only the override constants its WGSL declares (issue 20, item 10): WebKit fails
// createComputePipeline on an undeclared constant, and the unravelling sets rule constants (COUNT, MAX_LOCATION, ...)
// for every kernel. The real kernels' WGSL is read here, so a kernel that stops declaring one is noticed too.
import { describe, expect, it } from 'vitest';
import { commonWgsl } from '../../src/engine/ops/common.ts';
import { OPS } from '../../src/engine/ops/registry.ts';
import { PRESETS, resolveRules } from '../../src/engine/types.ts';
import { declaredConstants, overrideNames } from '../../src/gpu/kernels.ts';

describe('override constants', () => {
  it('finds override declarations, with @id and types, not in comments or other identifiers', () => {
    const code = `
      override A: bool = false;
      @id(3) override B_2: f32;
      override   C = 1u;
      // override COMMENTED: f32;
      /* override BLOCK: u32; */
      const overrideD = 1;
      let notoverride E = 2;`;
    expect([...overrideNames(code)].sort()).toEqual(['A', 'B_2', 'C']);
  });

  it('drops the constants a kernel does not declare, keeps the others with their values', () => {
    expect(
      declaredConstants('override COUNT: bool = false;\noverride GAP_THRESHOLD: f32 = 0.0;', {
        COUNT: 1,
        MAX_LOCATION: 1,
        GAP_THRESHOLD: 0.75,
      }),
    ).toEqual({ COUNT: 1, GAP_THRESHOLD: 0.75 });
    expect(declaredConstants('fn main() {}', { COUNT: 1 })).toEqual({});
  });

  it('every unravel kernel under every rule set gets exactly the constants it declares', () => {
    const rules = [
      PRESETS.default,
      PRESETS.reference,
      resolveRules({
        location: 'max',
        gap: 'positive',
        weights: 'contribution',
        channelRatio: 0.5,
        fcThreshold: 0.3,
        gapThreshold: 0.5,
      }),
    ];
    for (const op of Object.values(OPS)) {
      if (!op.gpu) continue;
      const code = commonWgsl + op.gpu.wgsl;
      for (const r of rules) {
        const all: Record<string, number> = { COUNT: r.weights === 'count' ? 1 : 0, ...op.gpu.constants?.(r) };
        const passed = declaredConstants(code, all);
        for (const k of Object.keys(passed)) expect(code, `${op.kind}: ${k}`).toMatch(new RegExp(`override ${k}\\b`));
        // What the rules set for this kernel and it declares is all passed (nothing it needs is dropped).
        for (const k of Object.keys(all))
          if (overrideNames(code).has(k)) expect(passed[k], `${op.kind}: ${k}`).toBe(all[k]);
      }
    }
  });
});

// What every unravel step gets: the rules, activations by node name, and a sink for the kept input neurons.
import type { Rules, Shape } from '../types.ts';

export interface StepContext {
  rules: Rules;
  /** Activations (NHWC, batch dropped) of a captured node. */
  act(name: string): Float32Array;
  /** Output shape of a node (batch dropped). */
  shape(name: string): Shape;
  /** Keep input neuron `index` of node `target` with weight `w` (merging is the walker's business). */
  keep(target: string, index: number, w: number): void;
}
export type Kept = Map<number, number>;

/**
 * Fan-out: keep every candidate with its share of the total contribution (the rule 'contribution'), or
 * weight 1 each under 'count' (the walker sets it). No positive candidate keeps the single best one.
 */
export function fanOut(ctx: StepContext, target: string, w: number, idx: ArrayLike<number>, contrib: ArrayLike<number>) {
  let total = 0;
  let best = 0;
  for (let i = 0; i < contrib.length; i++) {
    if (contrib[i] > 0) total += contrib[i];
    if (contrib[i] > contrib[best]) best = i;
  }
  if (total <= 0) return ctx.keep(target, idx[best], w);
  for (let i = 0; i < contrib.length; i++) if (contrib[i] > 0) ctx.keep(target, idx[i], (w * contrib[i]) / total);
}

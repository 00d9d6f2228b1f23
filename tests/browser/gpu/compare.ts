// Kept-set comparison of two unravellings (CPU reference vs GPU), layer by layer.
import type { KeptLayer } from '../../../src/engine/types.ts';

export interface LayerDiff {
  name: string;
  cpu: number;
  gpu: number;
  jaccard: number;
  maxRelErr: number;
}
export interface Comparison {
  layers: number;
  minJaccard: number;
  maxRelErr: number;
  worst: LayerDiff[];
}

export function compareLayers(cpu: KeptLayer[], gpu: KeptLayer[], weights: boolean): Comparison {
  if (cpu.length !== gpu.length) throw new Error(`layer count differs: cpu ${cpu.length}, gpu ${gpu.length}`);
  const diffs = cpu.map((c, i) => {
    const g = gpu[i];
    if (g.name !== c.name) throw new Error(`layer ${i}: cpu '${c.name}', gpu '${g.name}'`);
    const gw = new Map(Array.from(g.indices, (idx, k) => [idx, g.weights[k]]));
    let both = 0;
    let maxRelErr = 0;
    c.indices.forEach((idx, k) => {
      const w = gw.get(idx);
      if (w === undefined) return;
      both++;
      if (weights) maxRelErr = Math.max(maxRelErr, Math.abs(w - c.weights[k]) / Math.abs(c.weights[k]));
    });
    const union = c.indices.length + g.indices.length - both;
    return {
      name: c.name,
      cpu: c.indices.length,
      gpu: g.indices.length,
      jaccard: union === 0 ? 1 : both / union,
      maxRelErr,
    };
  });
  return {
    layers: diffs.length,
    minJaccard: Math.min(...diffs.map((d) => d.jaccard)),
    maxRelErr: Math.max(...diffs.map((d) => d.maxRelErr)),
    worst: [...diffs].sort((a, b) => a.jaccard - b.jaccard || b.maxRelErr - a.maxRelErr).slice(0, 3),
  };
}

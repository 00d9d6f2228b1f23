// Library entry (browser and Node): load a model, classify, explain, heatmap and box.
export * from './engine/types.ts';
export { buildGraph, type TfNode, type GraphSource } from './engine/graph.ts';
export { FixationModel, pixelTransform, topK, disposeForward, type ModelInfo, type Preprocessing, type Fit, type Forward } from './engine/model.ts';
export { unravelCpu, type UnravelResult } from './engine/unravel.ts';
export { explain, type ExplainOptions, type Explanation, type ExplainMethod } from './engine/explain.ts';
export * from './engine/baselines.ts';
export * from './engine/post.ts';

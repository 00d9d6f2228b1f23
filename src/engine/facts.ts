// The facts of a model that has no catalog entry (a user's own TF.js graph model), read off its graph: the logits
// node, the probabilities node (when the graph ends in a Softmax) and the input size. What a graph cannot say
// (preprocessing, labels) comes from the caller, else ImageNet preprocessing and "class N" labels.
// One place for the app's worker (workers/load.ts), the library and the CLI (src/node/index.ts).
import type { GraphModel } from '@tensorflow/tfjs-converter';
import type { ModelInfo, Preprocessing } from './model.ts';
import type { TfNode } from './graph.ts';

/** The preprocessing most published ImageNet classifiers were trained with: [0,1], then ImageNet mean and std. */
export const IMAGENET: Preprocessing = { range: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** Input size assumed when the graph's input has no fixed spatial size. */
export const DEFAULT_INPUT_SIZE = 224;

export interface GraphFacts {
  /** Node whose output is the class scores before any softmax. */
  logits: string;
  /** The Softmax node the graph ends with, if it does. */
  probs?: string;
  /** Square input size, or undefined when the graph leaves it open (-1 / null). */
  inputSize?: number;
}

const strip = (name: string) => name.replace(/:\d+$/, '');

/**
 * Logits, probabilities and input size of a loaded graph model. `source` names the model in errors (a path or a URL).
 * The output is the graph's first output node; a Softmax there gives probs, and its input is the logits.
 */
export function graphFacts(gm: GraphModel, source: string): GraphFacts {
  // artifacts is private in the typings, but it is the parsed model.json.
  const nodes: TfNode[] = (gm as unknown as { artifacts?: { modelTopology?: { node?: TfNode[] } } }).artifacts?.modelTopology?.node ?? [];
  const out = gm.outputNodes[0] && strip(gm.outputNodes[0]);
  const outNode = nodes.find((n) => n.name === out);
  if (!outNode) throw new Error(`model ${source}: cannot find its output node${out ? ` '${out}'` : ''} in the graph; give the logits node`);
  const facts: GraphFacts = outNode.op === 'Softmax' && outNode.input?.[0]
    ? { logits: strip(outNode.input[0]), probs: outNode.name }
    : { logits: outNode.name };
  const inputSize = graphInputSize(gm);
  return inputSize ? { ...facts, inputSize } : facts;
}

/** The graph input's spatial size (NHWC), when it is fixed. */
function graphInputSize(gm: GraphModel): number | undefined {
  const shape = gm.inputs[0]?.shape ?? [];
  return shape.length === 4 && shape[1] && shape[1] > 0 ? shape[1] : undefined;
}

/**
 * The ModelInfo of a user model: `given` wins, then the graph's facts, then ImageNet preprocessing, input size 224
 * when the graph leaves it open, and an id from the source's folder name.
 */
export function userModelInfo(gm: GraphModel, source: string, given: Partial<ModelInfo> = {}, labels?: string[]): ModelInfo {
  const facts: GraphFacts = given.logits ? { logits: given.logits, probs: given.probs, inputSize: graphInputSize(gm) } : graphFacts(gm, source);
  return {
    // The model's folder name (a path or URL to model.json, or to its folder).
    id: given.id ?? source.replace(/[?#].*$/, '').replace(/\/+$/, '').replace(/\/[^/]*\.json$/, '').replace(/^.*\//, ''),
    inputSize: given.inputSize ?? facts.inputSize ?? DEFAULT_INPUT_SIZE,
    preprocessing: given.preprocessing ?? IMAGENET,
    logits: facts.logits,
    probs: given.probs ?? facts.probs,
    labels: labels ?? given.labels ?? [],
  };
}

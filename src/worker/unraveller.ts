// What the GPU path's frame driver asks of an unravelling: start it on a frame's activations, read its result
// (asynchronously, so the next frame can be encoded meanwhile), release it. The GPU and CPU unravellers implement it.
import type * as tf from '@tensorflow/tfjs-core';
import type { InputFixation, KeptLayer, Rules } from '../engine/types.ts';

export interface Unravelled {
  input: InputFixation[];
  layers?: KeptLayer[];
  bytes: number;
  truncated: boolean;
  /** The class unravelled ('top' resolved). */
  classIndex: number;
  /** The frame summary's values, when a summary tensor was given to run(). */
  summary?: Float32Array;
}

/** Work submitted to the GPU whose result is still on its way back (its readback is mapped asynchronously). */
export interface Pending<T> {
  result: Promise<T>;
}

export interface Unraveller {
  readonly kind: 'gpu' | 'cpu';
  /**
   * Start the unravelling of one class ('top': the argmax of the logits) on this frame's captured activations
   * (the 'unravel' stage). `summary` (the frame's top-5 tensor) comes back with the result of read().
   */
  run(tensors: Map<string, tf.Tensor>, classIndex: number | 'top', rules: Rules, summary?: tf.Tensor): Promise<void>;
  /**
   * The result of the last run (the 'readback' stage); per-layer kept sets only when asked: all, or named ones.
   * Resolves once the readback is submitted, so that the next frame may be encoded; `result` settles with the map.
   */
  read(layers: 'all' | string[] | null): Promise<Pending<Unravelled>>;
  destroy(): void;
}

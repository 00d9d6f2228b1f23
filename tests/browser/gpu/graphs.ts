// Graphs for GPU-only code paths the rule fixtures (tests/fixtures/graphs.ts) do not reach. Compared with the CPU
// reference only (their rule answers are covered by the fixtures).
import { GraphBuilder, kernel, type Fixture } from '../../fixtures/graphs.ts';

const F = { T: { type: 'DT_FLOAT' } };

/** Deterministic values in [-1, 1) (a small LCG), so that ties are rare and both signs occur. */
function noise(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 31 - 1);
}

function local(name: string, checks: string, g: GraphBuilder, logits: string, input: Float32Array): Fixture {
  return {
    name,
    checks,
    artifacts: g.artifacts(),
    logits,
    input,
    logitValues: {},
    expected: [],
    info: g.info(name, logits),
  };
}

/**
 * A ReLU whose input has a second consumer: the ReLU cannot share its input's weight buffer, so the copy kernel runs.
 * input -> relu -> conv a;  input -> conv b;  add(a, b).
 */
export function sharedInputIdentity(): Fixture {
  const g = new GraphBuilder(4);
  g.op('relu', 'Relu', ['input'], F);
  g.conv(
    'a',
    'relu',
    kernel([3, 3, 3, 3], (u, v, k, c) => ((u * 7 + v * 5 + k * 3 + c) % 5) - 2),
  );
  g.conv(
    'b',
    'input',
    kernel([1, 1, 3, 3], (_u, _v, k, c) => (k === c ? 1 : -0.5)),
  );
  g.op('add', 'AddV2', ['a', 'b'], F);
  return local(
    'sharedInputIdentity',
    'identity step with a shared input (copy kernel), merges from two consumers',
    g,
    'add',
    noise(48, 7),
  );
}

/**
 * 512x512 input, 1x1 conv to 17 channels: 4.46M output neurons, more than 65535 workgroups of 64 (the dispatch wraps
 * into y), and under gap 'positive' far more kept input neurons than the compact list holds (truncation reported).
 */
export function wideMap(): Fixture {
  const g = new GraphBuilder(512);
  g.conv(
    'conv',
    'input',
    kernel([1, 1, 3, 17], (_u, _v, k, c) => ((k + c) % 3) - 0.5),
  );
  g.op('relu', 'Relu', ['conv'], F);
  g.op('gap', 'Mean', ['relu', g.ints('gap/axes', [1, 2])], {
    ...F,
    Tidx: { type: 'DT_INT32' },
    keep_dims: { b: false },
  });
  return local('wideMap', 'dispatch past 65535 workgroups; fixation list overflow', g, 'gap', noise(512 * 512 * 3, 11));
}

/**
 * A 1-channel 9x14 input through the kernels that index the input map: conv 3x3 stride 2 SAME (Cin = 1), a depthwise
 * conv (multiplier 2) on the input, a max pool, concat, 1x1 conv, global mean.
 */
export function grayNonSquare(): Fixture {
  const g = new GraphBuilder([9, 14, 1]);
  g.conv(
    'a',
    'input',
    kernel([3, 3, 1, 4], (u, v, _k, c) => ((u * 5 + v * 3 + c * 7) % 7) - 3),
    { stride: 2 },
  );
  g.conv(
    'd',
    'input',
    kernel([3, 3, 1, 2], (u, v, _k, m) => ((u + 2 * v + 3 * m) % 5) - 2),
    { stride: 2, depthwise: true },
  );
  g.op('cat', 'ConcatV2', ['a', 'd', g.ints('cat/axis', [-1], [])], {
    ...F,
    N: { i: '2' },
    Tidx: { type: 'DT_INT32' },
  });
  g.op('relu', 'Relu', ['cat'], F);
  g.pool('pool', 'MaxPool', 'relu', 2, 1, 'SAME');
  g.conv(
    'head',
    'pool',
    kernel([1, 1, 6, 3], (_u, _v, k, c) => ((k * 3 + c * 5) % 4) - 1.5),
  );
  g.op('gap', 'Mean', ['head', g.ints('gap/axes', [1, 2])], {
    ...F,
    Tidx: { type: 'DT_INT32' },
    keep_dims: { b: false },
  });
  return local(
    'grayNonSquare',
    '1-channel non-square input: conv, depthwise, pool, concat on a 9x14x1 map',
    g,
    'gap',
    noise(9 * 14, 5),
  );
}

export const GPU_GRAPHS: Record<string, () => Fixture> = { sharedInputIdentity, wideMap, grayNonSquare };

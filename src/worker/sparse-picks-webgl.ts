// The picks of a 1x1 conv step (see pointwise() in sparse-unravel.ts) as two WebGL programs instead of some thirty
// tf ops: on WebGL every op is a draw call, and thirty small draw calls a step can cost more than the reads they
// save. Same output, row for row, as the tf-ops version there: [channels P | exact values P | largest
// product | largest product left | values alongside (P each) | depthwise windows (taps x P)]. Only candidates: the
// CPU settles every row on exact values, so a different tie order or rounding here can only cost a whole-row read.
import * as tf from '@tensorflow/tfjs-core';

/** The part of tfjs-backend-webgl's GPGPUProgram these programs use. */
interface Program {
  variableNames: string[];
  outputShape: number[];
  userCode: string;
}
interface WebGLBackend {
  compileAndRun(program: Program, inputs: tf.TensorInfo[]): tf.TensorInfo;
}

export const WEBGL_PICKS = 4;

/** Whether the current backend runs these programs (tfjs-backend-webgl). */
export function webglPicks(): boolean {
  return (
    tf.getBackend() === 'webgl' &&
    typeof (tf.backend() as unknown as Partial<WebGLBackend>).compileAndRun === 'function'
  );
}

/**
 * Per row r (input position Q[r,0], output channel Q[r,1]): the 5 largest products A[pos,k]·R[c,k] in one scan over k
 * (ties keep the lower k first), giving the first 4 channels, their activation values, the largest and the fifth.
 */
function picksProgram(Kp: number, Cin: number): Program {
  const swap = (a: number, b: number) =>
    `if (v${b} > v${a}) { float tv = v${a}; v${a} = v${b}; v${b} = tv; int ti = i${a}; i${a} = i${b}; i${b} = ti; `;
  return {
    variableNames: ['A', 'R', 'Q'],
    outputShape: [Kp, 2 * WEBGL_PICKS + 2],
    userCode: `
      void main() {
        ivec2 rc = getOutputCoords();
        int r = rc.x;
        int col = rc.y;
        int p = int(getQ(r, 0));
        int c = int(getQ(r, 1));
        float v0 = -3.0e38; float v1 = -3.0e38; float v2 = -3.0e38; float v3 = -3.0e38; float v4 = -3.0e38;
        int i0 = 0; int i1 = 0; int i2 = 0; int i3 = 0; int i4 = 0;
        for (int k = 0; k < ${Cin}; k++) {
          float s = getA(p, k) * getR(c, k);
          if (s > v4) {
            v4 = s; i4 = k;
            ${swap(3, 4)}${swap(2, 3)}${swap(1, 2)}${swap(0, 1)}}}}}
          }
        }
        int pick = col == 0 || col == 4 ? i0 : col == 1 || col == 5 ? i1 : col == 2 || col == 6 ? i2 : i3;
        if (col < 4) setOutput(float(pick));
        else if (col < 8) setOutput(getA(p, pick));
        else if (col == 8) setOutput(v0);
        else setOutput(v4);
      }`,
  };
}

/**
 * Read ahead at the picks: per row, the values of each `along` activation at (pos, pick j), then each depthwise
 * window tap t (flat index B[r,t] + pick / mult in D) at pick j.
 */
function aheadProgram(Kp: number, along: number, taps: number, mult: number): Program {
  const P = WEBGL_PICKS;
  const names = Array.from({ length: along }, (_, m) => `L${m}`);
  const alongCode = names.map((n, m) => `if (m == ${m}) { setOutput(get${n}(p, k)); return; }`).join('\n');
  return {
    variableNames: ['K', 'Q', ...names, ...(taps ? ['B', 'D'] : [])],
    outputShape: [Kp, (along + taps) * P],
    userCode: `
      void main() {
        ivec2 rc = getOutputCoords();
        int r = rc.x;
        int m = rc.y / ${P};
        int j = rc.y - m * ${P};
        int p = int(getQ(r, 0));
        int k = int(getK(r, j));
        ${alongCode}
        ${taps ? `setOutput(getD(int(getB(r, m - ${along})) + k / ${mult}));` : 'setOutput(0.0);'}
      }`,
  };
}

/**
 * The picks of one 1x1 conv step on WebGL: `acts` its input as [H·W, Cin], `rows` its weight rows [Cout, Cin],
 * `pos`/`cs` each row's position and output channel; `along` activations as [H·W, Cin]; `windows` the depthwise
 * conv's input (flat) with each row's tap bases. Returns the [Kp, stride] tensor of pointwise().
 */
export function picksWebgl(
  acts: tf.Tensor2D,
  rows: tf.Tensor2D,
  pos: Int32Array,
  cs: Int32Array,
  along: tf.Tensor2D[],
  windows: { input: tf.Tensor1D; base: Int32Array; taps: number; mult: number } | null,
): tf.Tensor2D {
  const backend = tf.backend() as unknown as WebGLBackend;
  const Kp = pos.length,
    Cin = acts.shape[1];
  const run = (p: Program, inputs: tf.Tensor[]) =>
    tf.engine().makeTensorFromTensorInfo(backend.compileAndRun(p, inputs)) as tf.Tensor2D;
  return tf.tidy(() => {
    const q = tf.tensor2d(
      Float32Array.from({ length: Kp * 2 }, (_, i) => (i % 2 ? cs[i >> 1] : pos[i >> 1])),
      [Kp, 2],
    );
    const picks = run(picksProgram(Kp, Cin), [acts, rows, q]);
    const taps = windows?.taps ?? 0;
    if (!along.length && !taps) return picks;
    const inputs: tf.Tensor[] = [picks, q, ...along];
    if (windows) inputs.push(tf.tensor2d(Float32Array.from(windows.base), [Kp, taps]), windows.input);
    return tf.concat([picks, run(aheadProgram(Kp, along.length, taps, windows?.mult ?? 1), inputs)], 1);
  });
}

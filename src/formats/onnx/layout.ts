// NCHW (ONNX) <-> NHWC (TF) helpers of the ONNX importer.
import type { Tensor } from './proto.ts';

/** NCHW_TO_NHWC[i] = the ONNX axis stored at NHWC position i; indexOf(a) = where ONNX axis a is stored. */
export const NCHW_TO_NHWC = [0, 2, 3, 1];

/** Transpose a constant (row-major) by perm (an odometer over the output: no divisions per element). */
export function permute(t: Tensor, perm: number[]): Tensor {
  const r = perm.length;
  const shape = perm.map((p) => t.shape[p]);
  const inStrides = strides(t.shape);
  const step = perm.map((p) => inStrides[p]);
  const out = new (t.data.constructor as Float32ArrayConstructor | Int32ArrayConstructor)(t.data.length);
  const idx = new Array(r).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = t.data[src];
    for (let d = r - 1; d >= 0; d--) {
      idx[d]++;
      src += step[d];
      if (idx[d] < shape[d]) break;
      src -= step[d] * shape[d];
      idx[d] = 0;
    }
  }
  return { data: out, shape };
}

export function strides(shape: number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1] * shape[d + 1];
  return s;
}

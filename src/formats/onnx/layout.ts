// NCHW (ONNX) <-> NHWC (TF) helpers of the ONNX importer.
import type { Tensor } from './proto.ts';

/** NCHW_TO_NHWC[i] = the ONNX axis stored at NHWC position i; indexOf(a) = where ONNX axis a is stored. */
export const NCHW_TO_NHWC = [0, 2, 3, 1];

/** Transpose a constant (row-major) by perm. */
export function permute(t: Tensor, perm: number[]): Tensor {
  const shape = perm.map((p) => t.shape[p]);
  const inStrides = strides(t.shape);
  const out = new (t.data.constructor as Float32ArrayConstructor | Int32ArrayConstructor)(t.data.length);
  const outStrides = strides(shape);
  const idx = new Array(shape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let rem = o, src = 0;
    for (let d = 0; d < shape.length; d++) {
      idx[d] = Math.floor(rem / outStrides[d]);
      rem -= idx[d] * outStrides[d];
      src += idx[d] * inStrides[perm[d]];
    }
    out[o] = t.data[src];
  }
  return { data: out, shape };
}

export function strides(shape: number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1] * shape[d + 1];
  return s;
}


// The unravelling's fixed-point weights read back as f32: the WGSL fixedWeight() (integer round-to-nearest-even, no
// f32(u32) conversion above 2^24, whose rounding WGSL leaves to the implementation) on a real WebGPU device in Node
// (Dawn) against its CPU twin fixedWeight(), on words chosen at every rounding case: exact, just below, at and above
// half an f32 step, ties to even both ways, carries into the next power of two, and the high word in use.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXED_WEIGHT_WGSL, fixedWeight, fixedWeightOf } from '../../src/engine/ops/common.ts';
import { bindGroupLayout, bufferWith, computePipeline } from '../../src/gpu/kernels.ts';
import { nodeWebGpuUnavailable } from '../../src/node/webgpu.ts';

const why = await nodeWebGpuUnavailable();
if (why) console.log(`fixed-weight.test.ts skipped: ${why}`);

const KEPT = 0x80000000;
/** (hi, lo) word pairs: hand-picked rounding cases, then seeded random ones over every magnitude. */
function cases(): [number, number][] {
  const out: [number, number][] = [
    [0, 0],
    [0, 1],
    [0, 0xffffff],
    [0, 0x1000000],
    [0, 0x1000001], // exact up to 2^24; 2^24 + 1 is a tie (to even: down)
    [0, 0x1000003], // tie between ...2 and ...4: to even (up)
    [0, 0x2000002],
    [0, 0x2000003],
    [0, 0x2000006], // s = 2: below half, above half, tie to even
    [0, 0xffffffff], // rounds up to 2^32: the carry makes m = 2^24
    [1, 0],
    [1, 0x80],
    [1, 0x81],
    [1, 0x180], // s = 9: 2^32 + a tie (to even: down), above half, tie (up)
    [0x10000, 0],
    [0x10000, 1], // weight 1.0, and 1.0 + one unit (rounds to 1.0)
    [0xffffff, 0xffffffff],
    [0x1000000, 0x80000000],
    [0x1000001, 0x80000000], // s = 32 (t = 0): ties on the lo word
    [0x7fffffff, 0xffffffff],
    [0x40000001, 0],
    [0x40000003, 0x7fffffff], // s = 39 (t = 7)
  ];
  let s = 20261206;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  for (let i = 0; i < 4000; i++) {
    const bits = rnd() % 31; // the high word's magnitude
    out.push([bits === 0 ? 0 : rnd() >>> (32 - bits), rnd()]);
  }
  return out.map(([hi, lo]) => [hi, lo]);
}

describe('fixedWeight (CPU): units * 2^-48 rounded once, ties to even', () => {
  it('on hand-worked words', () => {
    expect(fixedWeight(0x1000001)).toBe(2 ** 24 * 2 ** -48); // tie: to even (down)
    expect(fixedWeight(0x1000003)).toBe((2 ** 24 + 4) * 2 ** -48); // tie: to even (up)
    expect(fixedWeight(0x2000003)).toBe((2 ** 25 + 4) * 2 ** -48); // 3 of 4 is above half a step of 4
    expect(fixedWeight(2 ** 32 - 1)).toBe(2 ** -16); // carries into the next power of two
    expect(fixedWeightOf(0x10000 | KEPT, 0)).toBe(1); // the kept bit is not part of the weight
  });
});

describe.skipIf(!!why)('fixedWeight: WGSL on Dawn = the CPU twin, bit for bit', () => {
  let device: GPUDevice;
  beforeAll(async () => {
    const adapter = await navigator.gpu.requestAdapter();
    device = await adapter!.requestDevice();
  });
  afterAll(() => device?.destroy());

  it(`on ${cases().length} word pairs at every rounding case`, async () => {
    const words = cases();
    const n = words.length;
    const U = GPUBufferUsage;
    const input = bufferWith(
      device,
      'words',
      Uint32Array.from(words.flatMap(([hi, lo], i) => [(hi | (i % 2 ? KEPT : 0)) >>> 0, lo])),
      U.STORAGE,
    );
    const output = device.createBuffer({ size: n * 4, usage: U.STORAGE | U.COPY_SRC });
    const read = device.createBuffer({ size: n * 4, usage: U.MAP_READ | U.COPY_DST });
    const code = /* wgsl */ `
@group(0) @binding(0) var<storage, read> words: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${FIXED_WEIGHT_WGSL}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x < arrayLength(&out)) { out[gid.x] = fixedWeight(words[2u * gid.x], words[2u * gid.x + 1u]); }
}`;
    const bindings = ['read', 'write'] as const;
    const group = device.createBindGroup({
      layout: bindGroupLayout(device, [...bindings]),
      entries: [
        { binding: 0, resource: { buffer: input } },
        { binding: 1, resource: { buffer: output } },
      ],
    });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(computePipeline(device, 'fixed weight test', code, [...bindings]));
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(Math.ceil(n / 64));
    pass.end();
    enc.copyBufferToBuffer(output, 0, read, 0, n * 4);
    device.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const got = new Float32Array(read.getMappedRange().slice(0));
    read.unmap();
    const bad = words.map(([hi, lo], i) => [hi, lo, got[i], fixedWeightOf(hi, lo)]).filter(([, , g, w]) => g !== w);
    expect(bad.slice(0, 5), `${bad.length} of ${n} differ`).toEqual([]);
    for (const b of [input, output, read]) b.destroy();
  });
});

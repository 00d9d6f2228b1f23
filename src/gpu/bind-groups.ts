// Bind groups kept across frames, keyed by the buffers they bind. tfjs's buffer pool hands an activation a buffer
// from a small set (two frames in flight alternate between them), so each frame finds its bind group made already:
// no createBindGroup per frame after the first few. A step binding two activations (a residual add) sees every pair
// of their pool buffers, so the bound is generous. Bounded: the oldest goes past `max` keys (buffers destroyed by
// tfjs's pool are never asked for again).

const ids = new WeakMap<GPUBuffer, number>();
let nextId = 1;
function idOf(b: GPUBuffer): number {
  let id = ids.get(b);
  if (id === undefined) ids.set(b, (id = nextId++));
  return id;
}

export class BindGroupCache {
  private groups = new Map<string, GPUBindGroup>();
  constructor(private max = 32) {}

  /** The bind group made by `make` for these buffers (made now if it is not kept). */
  get(buffers: GPUBuffer[], make: () => GPUBindGroup): GPUBindGroup {
    const key = buffers.map(idOf).join(',');
    let g = this.groups.get(key);
    if (!g) {
      g = make();
      this.groups.set(key, g);
      if (this.groups.size > this.max) this.groups.delete(this.groups.keys().next().value!);
    }
    return g;
  }

  clear() { this.groups.clear(); }
}

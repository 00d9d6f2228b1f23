// Bind groups kept across frames, so that a frame creates none once warm.
// * ActivationGroups: an activation tfjs's buffer pool owns is bound in a bind group of its own (one read-only
//   storage buffer), kept per buffer. The pool gives a layer's output one of many same-sized buffers, varying from
//   frame to frame (two frames in flight release them in varying order): a bind group per step keyed by its buffers
//   kept missing for as long as new (step, buffer) pairs turned up (MobileNetV2: 6 a frame after 5 frames). Per
//   buffer, every step shares them: at most one per pool buffer, ever.
// * BindGroupCache: bind groups keyed by the few buffers they bind (the seed's logits, the overlay's heat and rects),
//   bounded: the oldest goes past `max` keys.
import { bindGroupLayout, type Binding } from './kernels.ts';

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

/**
 * One bind group per activation buffer (layout: binding 0, read-only storage, the whole buffer), shared by every
 * kernel that binds an activation as a group of its own. Weakly held: a buffer tfjs drops takes its group with it.
 */
export class ActivationGroups {
  private groups = new WeakMap<GPUBuffer, GPUBindGroup>();
  private readonly layout: GPUBindGroupLayout;
  constructor(private readonly device: GPUDevice) {
    this.layout = bindGroupLayout(device, ACTIVATION_GROUP);
  }

  get(buffer: GPUBuffer): GPUBindGroup {
    let g = this.groups.get(buffer);
    if (!g) {
      g = this.device.createBindGroup({ label: `activation ${buffer.label}`, layout: this.layout, entries: [{ binding: 0, resource: { buffer } }] });
      this.groups.set(buffer, g);
    }
    return g;
  }
}
/** The layout of an activation's own bind group. */
export const ACTIVATION_GROUP: Binding[] = ['read'];

// Bind groups kept across frames, so that a frame creates none once warm.
// * ActivationGroups: an activation tfjs's buffer pool owns is bound in a bind group of its own (one read-only
//   storage buffer), kept per buffer. The pool gives a layer's output one of its same-sized buffers, a different one
//   from frame to frame (two frames in flight release them in varying order): keyed per step and buffers, MobileNetV2
//   still made 6 a frame after 5 frames. Kept per buffer, and made at once for every live buffer of the same size and
//   usage (trackBuffers), they are made only in a frame that binds a new size or creates buffers: the warm-up.
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

  clear() {
    this.groups.clear();
  }
}

/** Live storage buffers on a device by size and usage (tfjs's pool among them); `version` counts creations. */
interface LiveBuffers {
  version: number;
  kinds: Map<string, Set<GPUBuffer>>;
}
const live = new WeakMap<GPUDevice, LiveBuffers>();
const kindOf = (b: GPUBuffer) => `${b.size}_${b.usage}`;

/** Track the storage buffers created on `device` from now on (before tfjs's backend uses it), until destroyed. */
export function trackBuffers(device: GPUDevice) {
  const t: LiveBuffers = { version: 0, kinds: new Map() };
  live.set(device, t);
  const create = device.createBuffer.bind(device);
  device.createBuffer = (desc: GPUBufferDescriptor) => {
    const buf = create(desc);
    if (buf.usage & GPUBufferUsage.STORAGE) {
      const key = kindOf(buf);
      let set = t.kinds.get(key);
      if (!set) t.kinds.set(key, (set = new Set()));
      set.add(buf);
      t.version++;
      const destroy = buf.destroy.bind(buf);
      buf.destroy = () => {
        set.delete(buf);
        destroy();
      };
    }
    return buf;
  };
}

/**
 * One bind group per activation buffer (layout: binding 0, read-only storage, the whole buffer), shared by every
 * kernel that binds an activation as a group of its own. On a device with trackBuffers(), a new buffer, or a buffer
 * created since, makes them for every live buffer of each size and usage bound so far: the pool's other buffers are
 * the ones later frames get. Weakly held: a buffer dropped takes its group with it.
 */
export class ActivationGroups {
  private groups = new WeakMap<GPUBuffer, GPUBindGroup>();
  private readonly layout: GPUBindGroupLayout;
  private readonly kinds = new Set<string>();
  private version = -1;
  constructor(private readonly device: GPUDevice) {
    this.layout = bindGroupLayout(device, ACTIVATION_GROUP);
  }

  get(buffer: GPUBuffer): GPUBindGroup {
    const t = live.get(this.device);
    if (t && (t.version !== this.version || !this.groups.has(buffer))) {
      this.version = t.version;
      this.kinds.add(kindOf(buffer));
      for (const k of this.kinds) for (const b of t.kinds.get(k) ?? []) if (!this.groups.has(b)) this.make(b);
    }
    return this.groups.get(buffer) ?? this.make(buffer);
  }

  private make(buffer: GPUBuffer): GPUBindGroup {
    const g = this.device.createBindGroup({
      label: `activation ${buffer.label}`,
      layout: this.layout,
      entries: [{ binding: 0, resource: { buffer } }],
    });
    this.groups.set(buffer, g);
    return g;
  }
}
/** The layout of an activation's own bind group. */
export const ACTIVATION_GROUP: Binding[] = ['read'];

// One place for WebGPU compute plumbing: explicit bind-group layouts (so that bind groups stay valid across
// pipelines that differ only in override constants, e.g. the unravelling rules), a per-device cache of shader
// modules and pipelines, and buffer creation.

/**
 * Test-only faults (the worker's InitOptions.__gpuFaultsForTest): a kernel whose WGSL is corrupted, so that the
 * error handling on the way to the CPU unravelling can be shown in a real browser. `kernel` is a pipeline label
 * (e.g. 'unravel conv'; 'post', 'heatmap', 'overlay' for those shaders); 'compile' makes its WGSL invalid, 'wrong' makes it keep the neighbouring neuron (valid
 * WGSL, wrong answer: what the start-up self-check is for). `unravelLimit` lowers the storage binding limit the
 * unravelling plans for (the device's own cannot be lowered under the WebGPU default of 128 MiB).
 */
export interface GpuFaults {
  kernel?: string;
  /** 'lazy': like 'compile', but only once start-up is over (`started`): a rules variant first used later. */
  mode?: 'compile' | 'wrong' | 'lazy';
  unravelLimit?: number;
  /** Set when the GPU path's start-up (compile and self-check of the default rules) is done. */
  started?: boolean;
}
export const gpuFaults: GpuFaults = {};
export function setGpuFaults(f: GpuFaults | undefined) {
  for (const k of Object.keys(gpuFaults) as (keyof GpuFaults)[]) delete gpuFaults[k];
  Object.assign(gpuFaults, f ?? {});
}
function faulty(label: string, code: string): string {
  if (gpuFaults.kernel !== label || (gpuFaults.mode === 'lazy' && !gpuFaults.started)) return code;
  if (gpuFaults.mode === 'wrong')
    return code.replace('fn keep(i: i32, w: f32) {', 'fn keep(i0: i32, w: f32) {\n  let i = i0 ^ 1;');
  return `${code}\nthis is not WGSL (test fault)\n`;
}

/** A shader module made directly (post, heatmap, overlay), with the test fault for `label` ('compile') applied. */
export function shaderModule(device: GPUDevice, label: string, code: string): GPUShaderModule {
  return device.createShaderModule({ label, code: faulty(label, code) });
}

/** Binding kinds, in binding-number order. */
export type Binding = 'uniform' | 'uniform-dynamic' | 'read' | 'write';
/** A pipeline's bind groups: the bindings of group 0 alone, or of groups 0, 1, ... in turn. */
export type Layout = Binding[] | Binding[][];
const groupsOf = (l: Layout): Binding[][] => (Array.isArray(l[0]) ? (l as Binding[][]) : [l as Binding[]]);

interface Cache {
  layouts: Map<string, GPUBindGroupLayout>;
  modules: Map<string, GPUShaderModule>;
  pipelines: Map<string, GPUComputePipeline>;
}
const caches = new WeakMap<GPUDevice, Cache>();
function cache(device: GPUDevice): Cache {
  let c = caches.get(device);
  if (!c) caches.set(device, (c = { layouts: new Map(), modules: new Map(), pipelines: new Map() }));
  return c;
}

export function bindGroupLayout(device: GPUDevice, bindings: Binding[]): GPUBindGroupLayout {
  const c = cache(device);
  const key = bindings.join();
  let layout = c.layouts.get(key);
  if (!layout) {
    layout = device.createBindGroupLayout({
      label: `layout(${key})`,
      entries: bindings.map((b, binding) => ({
        binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer:
          b === 'uniform'
            ? { type: 'uniform' }
            : b === 'uniform-dynamic'
              ? { type: 'uniform', hasDynamicOffset: true }
              : { type: b === 'read' ? 'read-only-storage' : 'storage' },
      })),
    });
    c.layouts.set(key, layout);
  }
  return layout;
}

/** A compute pipeline (entry point `main`) over the given bind groups; cached per device. */
export function computePipeline(
  device: GPUDevice,
  label: string,
  code: string,
  bindings: Layout,
  constants: Record<string, number> = {},
): GPUComputePipeline {
  const c = cache(device);
  code = faulty(label, code);
  const key = pipelineKey(code, bindings, constants);
  let pipeline = c.pipelines.get(key);
  if (pipeline) return pipeline;
  pipeline = device.createComputePipeline(pipelineDescriptor(device, label, code, bindings, constants));
  c.pipelines.set(key, pipeline);
  return pipeline;
}

/**
 * computePipeline compiled ahead (createComputePipelineAsync, e.g. at model load, so that the first frame does not
 * compile), into the same cache; a validation error (WGSL, layout, constants) rejects with an Error naming `label`.
 */
export async function compilePipeline(
  device: GPUDevice,
  label: string,
  code: string,
  bindings: Layout,
  constants: Record<string, number> = {},
): Promise<void> {
  const c = cache(device);
  code = faulty(label, code);
  const key = pipelineKey(code, bindings, constants);
  if (c.pipelines.has(key)) return;
  const filters: GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];
  for (const f of filters) device.pushErrorScope(f);
  let made: Promise<GPUComputePipeline>;
  try {
    made = device.createComputePipelineAsync(pipelineDescriptor(device, label, code, bindings, constants));
  } catch (e) {
    made = Promise.reject(e);
  }
  const scope = Promise.all(filters.map(() => device.popErrorScope())).then((e) => e.find(Boolean) ?? null);
  // One line naming the kernel, with the WGSL compiler's first error when there is one (else the driver's message).
  const fail = async (message: string) => {
    const info = await c.modules
      .get(code)
      ?.getCompilationInfo()
      .catch(() => null);
    const m = info?.messages.find((x) => x.type === 'error');
    const why = m ? `WGSL error at line ${m.lineNum}:${m.linePos}: ${m.message}` : message;
    return new Error(`GPU kernel '${label}': ${why.replace(/\s+/g, ' ').trim()}`);
  };
  const [pipeline, error] = await Promise.all([made.catch((e: unknown) => e as Error), scope]);
  if (error) throw await fail(error.message);
  if (pipeline instanceof Error || !pipeline)
    throw await fail(`pipeline creation failed (${(pipeline as Error)?.message ?? pipeline})`);
  c.pipelines.set(key, pipeline);
}

const pipelineKey = (code: string, bindings: Layout, constants: Record<string, number>) =>
  `${JSON.stringify(groupsOf(bindings))}|${JSON.stringify(declaredConstants(code, constants))}|${code}`;

/** The names of the pipeline-overridable constants WGSL `code` declares (`override NAME`, with or without `@id`). */
export function overrideNames(code: string): Set<string> {
  const noComments = code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  return new Set([...noComments.matchAll(/\boverride\s+([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]));
}

/**
 * Only the constants `code` declares: the WebGPU spec makes a constant the shader does not declare a validation
 * error (WebKit enforces it; Chromium of this era ignored it), and the caller sets rule constants for every kernel.
 */
export function declaredConstants(code: string, constants: Record<string, number>): Record<string, number> {
  const names = overrideNames(code);
  return Object.fromEntries(Object.entries(constants).filter(([k]) => names.has(k)));
}

function pipelineDescriptor(
  device: GPUDevice,
  label: string,
  code: string,
  bindings: Layout,
  constants: Record<string, number>,
): GPUComputePipelineDescriptor {
  const c = cache(device);
  let module = c.modules.get(code);
  if (!module) {
    module = device.createShaderModule({ label, code });
    // Compile errors otherwise only surface as an invalid pipeline far from their cause.
    void module.getCompilationInfo().then((info) => {
      for (const m of info.messages) {
        if (m.type === 'error')
          console.error(`WGSL error in '${label}' at line ${m.lineNum}:${m.linePos}: ${m.message}`);
      }
    });
    c.modules.set(code, module);
  }
  return {
    label,
    layout: device.createPipelineLayout({
      bindGroupLayouts: groupsOf(bindings).map((b) => bindGroupLayout(device, b)),
    }),
    compute: { module, entryPoint: 'main', constants: declaredConstants(code, constants) },
  };
}

/** A buffer with initial contents (at least 4 bytes; storage bindings cannot be empty). */
export function bufferWith(
  device: GPUDevice,
  label: string,
  data: Float32Array | Int32Array | Uint32Array,
  usage: number,
): GPUBuffer {
  const size = Math.max(4, Math.ceil(data.byteLength / 4) * 4);
  const buffer = device.createBuffer({ label, size, usage, mappedAtCreation: true });
  new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  buffer.unmap();
  return buffer;
}

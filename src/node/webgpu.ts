// WebGPU in Node through the optional `webgpu` package (Dawn): navigator.gpu and the WebGPU globals
// (GPUBufferUsage...) installed before tfjs-backend-webgpu is imported, so that tfjs and the WGSL unravelling run
// without a browser. Dawn needs a Vulkan driver: a real GPU's, or SwiftShader's (Debian's chromium ships its ICD:
// VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json); Dawn also wants XDG_RUNTIME_DIR set.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExplainOptions } from '../engine/explain.ts';
import { resolveRules, type Graph, type KeptLayer, type Rules } from '../engine/types.ts';
import type { GpuContext } from '../gpu/device.ts';

/** Debian's chromium package ships SwiftShader's Vulkan driver here. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

let installed: Promise<GPU> | undefined;

/**
 * Install navigator.gpu from the `webgpu` package (once). Without an adapter from the system's Vulkan drivers, and
 * VK_ICD_FILENAMES unset, it tries SwiftShader's ICD where it exists (CI, machines without a GPU). A clear error when
 * the package or any adapter is missing.
 */
export function installNodeWebGpu(): Promise<GPU> {
  installed ??= (async () => {
    const g = globalThis as unknown as { navigator?: { gpu?: GPU } };
    if (g.navigator?.gpu) return g.navigator.gpu;
    let mod: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
    try {
      mod = await import(/* @vite-ignore */ 'webgpu' as string);
    } catch (e) {
      throw new Error(
        `WebGPU in Node needs the optional package 'webgpu' (npm install webgpu): ${(e as Error).message}`,
      );
    }
    process.env.XDG_RUNTIME_DIR ??= mkdtempSync(join(tmpdir(), 'cnnfix-xdg-'));
    Object.assign(globalThis, mod.globals);
    let gpu = mod.create([]);
    if (!(await gpu.requestAdapter()) && !process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) {
      process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD; // read by the Vulkan loader at each new instance
      gpu = mod.create([]);
    }
    if (!(await gpu.requestAdapter())) {
      throw new Error(
        `the 'webgpu' package found no adapter: no Vulkan driver (VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? ''}; ` +
          `Debian's chromium package ships SwiftShader's at ${SWIFTSHADER_ICD})`,
      );
    }
    if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    return gpu;
  })();
  return installed;
}

/** Why WebGPU cannot run in this Node process, or null if it can. */
export async function nodeWebGpuUnavailable(): Promise<string | null> {
  try {
    await installNodeWebGpu();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

let context: Promise<GpuContext> | undefined;

/**
 * tfjs's webgpu backend on a Node WebGPU device, made the active backend. tfjs-backend-webgpu (and the code that
 * uses GPU globals) is imported only after navigator.gpu is installed. `count`: the bench's per-call counters.
 */
export function initNodeWebGpu(opts: { count?: boolean } = {}): Promise<GpuContext> {
  context ??= (async () => {
    await installNodeWebGpu();
    await import('@tensorflow/tfjs-backend-webgpu');
    const { createGpuContext } = await import('../gpu/device.ts');
    return createGpuContext(opts);
  })();
  return context;
}

/**
 * explain()'s `unravel` option for the webgpu backend: the WGSL walker (src/gpu/unravel.ts) on the forward pass's
 * own GPU buffers; it reads back every layer's kept set (the library returns them; the input's are the fixations).
 * Its kernels for the model's default rules (`modelRules`: the catalog's "rules", else the default preset) are
 * compiled here, at load, not at the first explain (rejects naming the kernel).
 */
export async function webGpuUnravel(
  ctx: GpuContext,
  graph: Graph,
  modelRules?: Rules,
): Promise<NonNullable<ExplainOptions['unravel']>> {
  const [{ GpuUnraveller }, { flushTf, tensorBuffer }] = await Promise.all([
    import('../gpu/unravel.ts'),
    import('../gpu/device.ts'),
  ]);
  const unraveller = GpuUnraveller.create(ctx.device, graph);
  await unraveller.compile(resolveRules('default', {}, modelRules));
  return async (tensors, classIndex, rules) => {
    const encoder = ctx.device.createCommandEncoder({ label: 'unravel' });
    unraveller.encode(
      encoder,
      (name) => {
        const t = tensors.get(name);
        if (!t) throw new Error(`activation '${name}' was not captured by the forward pass`);
        return tensorBuffer(ctx.backend, t);
      },
      classIndex,
      rules,
    );
    flushTf(ctx.backend);
    ctx.device.queue.submit([encoder.finish()]);
    const layers = await unraveller.readLayers();
    return { layers, inputFixations: inputFixationsOf(graph, layers[layers.length - 1]) };
  };
}

/** The input layer's kept neurons as fixations (as unravelCpu: sorted by flat index). */
function inputFixationsOf(graph: Graph, input: KeptLayer) {
  const [, W, C] = graph.input.shape;
  return Array.from(input.indices, (idx, i) => ({
    x: Math.floor(idx / C) % W,
    y: Math.floor(idx / C / W),
    c: idx % C,
    w: input.weights[i],
  }));
}

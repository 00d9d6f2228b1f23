// The GPU path's unravelling with its failures caught: WebGPU reports pipeline, validation, out-of-memory and
// internal errors asynchronously and hands back invalid objects (frames would "succeed" with no fixations), so the
// WGSL walker is set up inside error scopes, compiled ahead, checked once against the CPU reference on tiny graphs
// (src/gpu/selfcheck.ts), and every frame's calls run inside error scopes of their own part: the forward pass's
// flush (tfjs) in one, the unravelling's encode and submission in another, so that neither is blamed for the other
// (nor for the post, heatmap or overlay: GpuPath scopes those). An unravelling failure switches this path to the CPU
// unravelling (CpuUnraveller) for good, and `reason` says why (the readout's path note); a forward failure loses
// that frame only, with an error naming the forward pass.
import type * as tf from '@tensorflow/tfjs-core';
import type { FixationModel } from '../engine/model.ts';
import type { Rules } from '../engine/types.ts';
import type { GpuContext } from '../gpu/device.ts';
import { gpuFaults } from '../gpu/kernels.ts';
import { gpuSelfCheck } from '../gpu/selfcheck.ts';
import { pipelinesKey } from '../gpu/unravel.ts';
import { CpuUnraveller } from './cpu-unraveller.ts';
import { GpuPathUnraveller } from './gpu-unraveller.ts';
import type { Pending, Unravelled, Unraveller } from './unraveller.ts';

/** Frames counted as "the first frames" in the reason (where a bad pipeline or buffer usually shows). */
const FIRST_FRAMES = 3;

/** Every error filter WebGPU has: a scope catches only its own filter's errors. */
const FILTERS: GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];

/**
 * Run `f` (synchronous GPU calls of one part) inside one error scope per filter, closed before returning: errors
 * that f's calls generate (an invalid pipeline used at finish(), a submission) are caught here and nowhere else.
 * `error` settles with the first one ('filter: message'), or null.
 */
export function partScope<T>(
  device: GPUDevice,
  f: () => T,
): { value?: T; thrown?: unknown; error: Promise<string | null> } {
  for (const filter of FILTERS) device.pushErrorScope(filter);
  let value: T | undefined;
  let thrown: unknown;
  try {
    value = f();
  } catch (e) {
    thrown = e;
  }
  const popped = FILTERS.map(() => device.popErrorScope()).reverse(); // popped innermost first: back in FILTERS order
  const error = Promise.all(
    popped.map((p) => p.catch((e: Error) => ({ message: `error scope: ${e.message}` }) as GPUError)),
  ).then((errs) => {
    const i = errs.findIndex(Boolean);
    return i < 0 ? null : `${FILTERS[i]}: ${oneLine(errs[i]!.message)}`;
  });
  return { value, thrown, error };
}

/** Run async `f` inside the three error scopes; rejects with the first error the scopes caught (set-up only). */
export async function scoped<T>(device: GPUDevice, what: string, f: () => Promise<T>): Promise<T> {
  for (const filter of FILTERS) device.pushErrorScope(filter);
  let result: T | undefined;
  let thrown: unknown = null;
  try {
    result = await f();
  } catch (e) {
    thrown = e;
  }
  const errs = (await Promise.all(FILTERS.map(() => device.popErrorScope()))).reverse();
  const i = errs.findIndex(Boolean);
  if (i >= 0)
    throw new Error(
      `${what}: GPU ${FILTERS[i] === 'out-of-memory' ? 'out of memory' : `${FILTERS[i]} error`} (${oneLine(errs[i]!.message)})`,
    );
  if (thrown) throw thrown;
  return result as T;
}

/** Driver messages span lines; the readout shows one. */
export const oneLine = (m: string) => m.replace(/\s+/g, ' ').trim();

interface Frame {
  tensors: Map<string, tf.Tensor>;
  classIndex: number | 'top';
  rules: Rules;
  summary?: tf.Tensor;
  /** The errors of the frame's forward flush and of its unravelling, as partScope reports them. */
  forward: Promise<string | null>;
  unravel: Promise<string | null>;
}

export class GuardedUnraveller implements Unraveller {
  private inner: Unraveller | null = null;
  /** Why the CPU unravelling is in use, when it is. */
  reason?: string;
  private frames = 0;
  private last: Frame | null = null;
  /** Kernel variants (pipelinesKey of the rules) compiled and self-checked on this device. */
  private checked = new Set<string>();
  /** The last prepare()'s parts, ms: the WGSL kernels' compile, the self-check (InitInfo.startup). */
  readonly timings: { kernelCompileMs?: number; selfCheckMs?: number } = {};

  constructor(
    private gpu: GpuContext,
    private fm: FixationModel,
  ) {}

  get kind() {
    return this.inner?.kind ?? 'gpu';
  }

  /** The WGSL walker's compact fixation list; null while the CPU unravelling is in use (it has no GPU list). */
  get fixationList(): GPUBuffer | null {
    return this.inner instanceof GpuPathUnraveller ? this.inner.fixationList : null;
  }

  /**
   * Build the WGSL walker (buffers inside error scopes), compile its kernels for `rules` and run the self-check;
   * on any failure use the CPU unravelling. Never rejects.
   */
  async prepare(rules: Rules): Promise<void> {
    if (this.inner) return;
    let walker: GpuPathUnraveller | null = null;
    try {
      await scoped(this.gpu.device, 'WGSL unravelling set-up', async () => {
        const t0 = performance.now();
        walker = GpuPathUnraveller.create(this.gpu.backend, this.fm);
        await walker.compile(rules);
        const t1 = performance.now();
        this.timings.kernelCompileMs = t1 - t0;
        await gpuSelfCheck(this.gpu.device, rules, this.fm.graph);
        this.timings.selfCheckMs = performance.now() - t1;
      });
      this.inner = walker;
      this.checked.add(pipelinesKey(rules));
      gpuFaults.started = true;
    } catch (e) {
      (walker as GpuPathUnraveller | null)?.destroy();
      this.toCpu((e as Error).message);
    }
  }

  async run(tensors: Map<string, tf.Tensor>, classIndex: number | 'top', rules: Rules, summary?: tf.Tensor) {
    if (!this.inner) await this.prepare(rules);
    let inner = this.inner!;
    if (inner instanceof GpuPathUnraveller && !this.checked.has(pipelinesKey(rules))) {
      // A rules variant first used now (the UI's rules or method switch): its kernels are compiled and self-checked
      // in their own error scopes before a frame uses them.
      const walker = inner;
      try {
        await scoped(this.gpu.device, `rules ${pipelinesKey(rules)} first used`, async () => {
          await walker.compile(rules);
          await gpuSelfCheck(this.gpu.device, rules, this.fm.graph, false); // the compaction was checked at start-up
        });
        this.checked.add(pipelinesKey(rules));
      } catch (e) {
        walker.destroy();
        const m = (e as Error).message;
        this.toCpu(m.startsWith('rules ') ? m : `rules ${pipelinesKey(rules)} first used: ${m}`);
      }
      inner = this.inner!;
    }
    if (!(inner instanceof GpuPathUnraveller)) return inner.run(tensors, classIndex, rules, summary);
    const device = this.gpu.device;
    this.frames++;
    const fwd = partScope(device, () => inner.forward(tensors, classIndex));
    if (fwd.thrown) throw fwd.thrown;
    const unr = partScope(device, () => inner.submit(fwd.value!, classIndex, rules, summary));
    this.last = { tensors, classIndex, rules, summary, forward: fwd.error, unravel: unr.error };
    if (unr.thrown) {
      // An exception before its submission (e.g. a buffer limit): this frame's unravelling did not run.
      this.last.unravel = unr.error.then((e) => e ?? (unr.thrown as Error).message);
    }
  }

  /** The last run's result, checked by its parts' error scopes when its readback lands. */
  async read(layers: 'all' | string[] | null): Promise<Pending<Unravelled>> {
    const last = this.last;
    if (!last) return this.inner!.read(layers);
    this.last = null;
    let pending: Pending<Unravelled>;
    try {
      pending = await this.inner!.read(layers);
    } catch (e) {
      pending = { result: Promise.reject(e) };
    }
    return { result: this.settle(last, pending.result, layers) };
  }

  destroy() {
    this.inner?.destroy();
    this.inner = null;
  }

  /** The frame's result, or, when its unravelling failed, the CPU reference's on the same activations (from now on). */
  private async settle(last: Frame, result: Promise<Unravelled>, layers: 'all' | string[] | null): Promise<Unravelled> {
    let out: Unravelled | null = null;
    let thrown: unknown = null;
    try {
      out = await result;
    } catch (e) {
      thrown = e;
    }
    const [forward, error] = await Promise.all([last.forward, last.unravel]);
    // The forward pass is tfjs's: its error loses this frame, and the unravelling is not to blame.
    if (forward) throw new Error(`explain: a GPU error in the forward pass (${forward}); this frame is lost`);
    if (!error && !thrown) return out!;
    if (!error) throw thrown;
    // This frame's unravelling failed: from now on the CPU reference unravels, this frame too while its activations
    // are still there (a pipelined frame has released them: it is reported as failed, the next one is on the CPU).
    if (this.inner!.kind === 'gpu') {
      this.inner!.destroy();
      this.toCpu(`a GPU error in ${this.frames <= FIRST_FRAMES ? 'the first frames' : 'a frame'} (${error})`);
    }
    if ([...last.tensors.values()].some((t) => t.isDisposed)) {
      throw new Error(`explain: ${this.reason}; this frame is lost, the next ones unravel on the CPU`);
    }
    await this.inner!.run(last.tensors, last.classIndex, last.rules, last.summary);
    return (await this.inner!.read(layers)).result;
  }

  private toCpu(why: string) {
    this.reason = `WGSL unravelling unavailable (${why}); using the CPU reference`;
    console.warn(this.reason);
    this.inner = new CpuUnraveller(this.fm);
  }
}

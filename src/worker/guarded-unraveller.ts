// The GPU path's unravelling with its failures caught: WebGPU reports pipeline, validation and out-of-memory errors
// asynchronously and hands back invalid objects (frames would "succeed" with no fixations), so the WGSL walker is
// set up inside error scopes, compiled ahead, checked once against the CPU reference on a tiny graph
// (src/gpu/selfcheck.ts), and its first frames run inside error scopes too. Any failure switches this path to the
// CPU unravelling (CpuUnraveller) for good, and `reason` says why (the readout's path note).
import type * as tf from '@tensorflow/tfjs-core';
import type { FixationModel } from '../engine/model.ts';
import type { Rules } from '../engine/types.ts';
import type { GpuContext } from '../gpu/device.ts';
import { gpuSelfCheck } from '../gpu/selfcheck.ts';
import { CpuUnraveller } from './cpu-unraveller.ts';
import { GpuPathUnraveller } from './gpu-unraveller.ts';
import type { Pending, Unravelled, Unraveller } from './unraveller.ts';

/** Frames run inside error scopes after set-up: the first submissions are where a bad pipeline or buffer shows. */
const GUARDED_FRAMES = 3;

/** Run `f` inside validation and out-of-memory error scopes; rejects with the first error the scopes caught. */
export async function scoped<T>(device: GPUDevice, what: string, f: () => Promise<T>): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result: T | undefined;
  let thrown: unknown = null;
  try { result = await f(); } catch (e) { thrown = e; }
  const validation = await device.popErrorScope();
  const oom = await device.popErrorScope();
  if (oom) throw new Error(`${what}: GPU out of memory (${oneLine(oom.message)})`);
  if (validation) throw new Error(`${what}: GPU validation error (${oneLine(validation.message)})`);
  if (thrown) throw thrown;
  return result as T;
}

/** Driver messages span lines; the readout shows one. */
const oneLine = (m: string) => m.replace(/\s+/g, ' ').trim();

export class GuardedUnraveller implements Unraveller {
  private inner: Unraveller | null = null;
  /** Why the CPU unravelling is in use, when it is. */
  reason?: string;
  private guarded = GUARDED_FRAMES;
  /** The two error scopes run() opened for a guarded frame, closed by read(). */
  private scopesOpen = false;
  /** The last prepare()'s parts, ms: the WGSL kernels' compile, the self-check (InitInfo.startup). */
  readonly timings: { kernelCompileMs?: number; selfCheckMs?: number } = {};
  private last: { tensors: Map<string, tf.Tensor>; classIndex: number | 'top'; rules: Rules; summary?: tf.Tensor; uncaptured: number } | null = null;

  constructor(private gpu: GpuContext, private fm: FixationModel) {}

  get kind() { return this.inner?.kind ?? 'gpu'; }

  /** The WGSL walker's compact fixation list; null while the CPU unravelling is in use (it has no GPU list). */
  get fixationList(): GPUBuffer | null { return this.inner instanceof GpuPathUnraveller ? this.inner.fixationList : null; }

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
    } catch (e) {
      (walker as GpuPathUnraveller | null)?.destroy();
      this.toCpu((e as Error).message);
    }
  }

  async run(tensors: Map<string, tf.Tensor>, classIndex: number | 'top', rules: Rules, summary?: tf.Tensor) {
    if (!this.inner) await this.prepare(rules);
    if (this.scopesOpen) {
      // A run without its read (the caller gave up on that frame): close its scopes before opening new ones.
      this.scopesOpen = false;
      const error = await this.closeScopes();
      if (error) {
        this.inner!.destroy();
        this.toCpu(`a GPU error in the first frames (${error})`);
      }
    }
    if (this.inner!.kind === 'cpu') return this.inner!.run(tensors, classIndex, rules, summary);
    this.last = { tensors, classIndex, rules, summary, uncaptured: this.gpu.uncaptured.count };
    if (this.guarded <= 0) return this.inner!.run(tensors, classIndex, rules, summary);
    // The scopes stay open until read(): the frame's errors come from its submission, reported asynchronously.
    this.gpu.device.pushErrorScope('out-of-memory');
    this.gpu.device.pushErrorScope('validation');
    this.scopesOpen = true;
    try {
      await this.inner!.run(tensors, classIndex, rules, summary);
    } catch (e) {
      this.scopesOpen = false;
      await this.closeScopes();
      throw e;
    }
  }

  /**
   * The last run's result, checked: a guarded frame (the first ones) by its error scopes, popped as soon as its
   * readback is submitted (so they cover this frame's own calls, and the next frame may be submitted meanwhile);
   * later frames by the count of uncaptured errors when their readback lands.
   */
  async read(layers: 'all' | string[] | null): Promise<Pending<Unravelled>> {
    const last = this.last;
    if (!last) return this.inner!.read(layers);
    this.last = null;
    const scopes = this.scopesOpen;
    this.scopesOpen = false;
    this.guarded--;
    let pending: Pending<Unravelled>;
    try { pending = await this.inner!.read(layers); } catch (e) { pending = { result: Promise.reject(e) }; }
    const closed = scopes ? this.closeScopes() : Promise.resolve(null);
    return { result: this.settle(last, closed, pending.result, layers) };
  }

  destroy() {
    this.inner?.destroy();
    this.inner = null;
  }

  /** The frame's result, or, when its GPU work failed, the CPU reference's on the same activations (from now on). */
  private async settle(last: NonNullable<GuardedUnraveller['last']>, closed: Promise<string | null>,
    result: Promise<Unravelled>, layers: 'all' | string[] | null): Promise<Unravelled> {
    let out: Unravelled | null = null;
    let thrown: unknown = null;
    try { out = await result; } catch (e) { thrown = e; }
    let error = await closed;
    let when = 'the first frames';
    // Past the first frames no scope is open: a GPU error during the frame arrives as an uncaptured error.
    if (!error && this.gpu.uncaptured.count > last.uncaptured) {
      error = `uncaptured: ${oneLine(this.gpu.uncaptured.last ?? '')}`;
      when = 'a frame';
    }
    if (!error && !thrown) return out!;
    if (!error) throw thrown;
    // This frame's GPU work failed: from now on the CPU reference unravels, this frame too while its activations
    // are still there (a pipelined frame has released them: it is reported as failed, the next one is on the CPU).
    if (this.inner!.kind === 'gpu') {
      this.inner!.destroy();
      this.toCpu(`a GPU error in ${when} (${error})`);
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
    this.guarded = 0;
  }

  /** Pop the frame's two scopes; the first error's message, if any. */
  private async closeScopes(): Promise<string | null> {
    const validation = await this.gpu.device.popErrorScope();
    const oom = await this.gpu.device.popErrorScope();
    return oom ? `out of memory: ${oneLine(oom.message)}` : validation ? `validation: ${oneLine(validation.message)}` : null;
  }
}

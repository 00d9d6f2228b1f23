// Device recovery and its state: a lost GPUDevice is recovered in the background (status 'recovering' -> 'ready':
// new device, model reloaded, GPU resources rebuilt, canvas reconfigured), with bounded attempts and backoff, only
// while the page is visible; when that fails the status says what the page must do (WorkerStatus.next). A stuck
// readback loses the device on purpose. Also the readback time limit: the first frame after a (re)start gets longer.
import type { GpuContext } from '../gpu/device.ts';
import {
  FIRST_READBACK_TIMEOUT_MS,
  READBACK_TIMEOUT_MS,
  ReadbackTimeoutError,
  setReadbackTimeout,
} from '../gpu/readback.ts';
import type { RequestQueue } from './queue.ts';
import type { Session } from './startup.ts';

/**
 * At most RECOVERY_ATTEMPTS attempts until a frame is explained again (successful recoveries count too, so a device
 * lost again and again, or lost at the first frame, ends in an error instead of a loop), the n-th after
 * BACKOFF_MS * 2^(n-1).
 */
const RECOVERY_ATTEMPTS = 3;
const BACKOFF_MS = 500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** WebGPU is there to be had: an adapter is given (after a loss, a missing one means it is gone for good). */
async function webgpuAvailable(): Promise<boolean> {
  try {
    return !!(await navigator.gpu?.requestAdapter());
  } catch {
    return false;
  }
}

export class Recovery {
  /** The recovery under way, if any (frames wait for it). */
  recovering: Promise<void> | null = null;
  /** When the attempts since the last explained frame began (Date.now()). */
  attempts: number[] = [];
  /** A frame was explained since the last (re)start: readbacks have the normal limit, not the first frame's. */
  private warm = false;
  /** The page's visibility (setVisible); a hidden page gets no recovery attempt until it is shown again. */
  private visible = true;
  private wakers: (() => void)[] = [];
  /** Bumped by init and dispose: a recovery begun under an older epoch stops. */
  private epoch = 0;

  constructor(
    private s: Session,
    private q: RequestQueue,
  ) {
    s.onDevice = (g) => this.watch(g);
  }

  /** A new start (init, the user's restart) or dispose: any recovery stops, the full number of attempts again. */
  restart(clearAttempts: boolean) {
    this.epoch++;
    this.recovering = null;
    if (clearAttempts) this.attempts = [];
    this.wake();
  }

  /** A path is (re)started: the next readback is a first frame's. */
  started() {
    this.warm = false;
    setReadbackTimeout(FIRST_READBACK_TIMEOUT_MS);
  }

  /** A frame was explained: a later loss gets the full number of attempts again, readbacks the normal limit. */
  explained() {
    this.attempts = [];
    if (!this.warm) {
      this.warm = true;
      setReadbackTimeout(READBACK_TIMEOUT_MS);
    }
  }

  setVisible(v: boolean) {
    this.visible = v;
    if (v) this.wake();
  }

  /** What a failed frame tells the page. */
  failed(e: unknown): unknown {
    const s = this.s;
    // A stuck readback leaves its buffer mapping pending: the device is unusable. Lose it on purpose (recovery
    // follows); on the fallback path the page restarts the worker.
    if (e instanceof ReadbackTimeoutError) {
      if (!s.gpu) {
        s.status = { state: 'error', message: e.message };
        return e;
      }
      // Said at once: the lost handler runs only when device.lost settles.
      s.status = { state: 'recovering', message: `${e.message}; resetting the GPU device`, attempt: 0 };
      s.gpu.device.destroy();
      return new Error(`explain: ${e.message}; the GPU device is being reset and recovered, send the next frame`);
    }
    if (this.recovering || s.status.state === 'recovering') {
      return new Error(
        `explain: the GPU device was lost during this frame; the worker is recovering, send the next frame (${(e as Error).message})`,
      );
    }
    return e;
  }

  private watch(g: GpuContext) {
    void g.device.lost.then((info) => {
      if (this.s.gpu !== g) return; // released on purpose (teardown, dispose, new init)
      const why = `GPU device lost (${info.reason || 'unknown'}: ${info.message})`;
      this.s.status = { state: 'recovering', message: `${why}; recovering`, attempt: 0 };
      const e0 = this.epoch;
      this.recovering = this.recover(why, e0).finally(() => {
        if (this.epoch === e0) this.recovering = null;
      });
    });
  }

  /** Resolves when the page is visible (at once if it is) or the epoch changes. */
  private whenVisible() {
    return this.visible ? Promise.resolve() : new Promise<void>((r) => this.wakers.push(r));
  }

  private wake() {
    const w = this.wakers;
    this.wakers = [];
    for (const f of w) f();
  }

  private async recover(why: string, e0: number): Promise<void> {
    const s = this.s;
    // After the frame that met the loss (its readbacks fail at once on a lost device, or time out): the dead device goes.
    await this.q.serial(async () => {
      if (this.epoch === e0) s.teardown();
    });
    let last = why;
    let gone = false;
    for (;;) {
      if (this.attempts.length >= RECOVERY_ATTEMPTS) break;
      const n = this.attempts.length + 1;
      // Back off, then wait for the page to be visible: a hidden tab (or a phone's locked screen) gets no attempt.
      await sleep(BACKOFF_MS * 2 ** (n - 1));
      while (!this.visible && this.epoch === e0) {
        s.status = { state: 'recovering', message: `${why}; waiting for the page to be visible`, attempt: 0 };
        await this.whenVisible();
      }
      if (this.epoch !== e0) return;
      this.attempts.push(Date.now());
      s.status = { state: 'recovering', message: `${why}; recovery attempt ${n} of ${RECOVERY_ATTEMPTS}`, attempt: n };
      try {
        await this.q.serial(async () => {
          if (this.epoch !== e0) return;
          try {
            await s.startGpu({ ...s.opts!, backend: 'webgpu' }, s.canvas);
          } catch (e) {
            s.teardown();
            throw e;
          }
        });
        if (this.epoch === e0) {
          this.started();
          s.status = { state: 'ready' };
        }
        return;
      } catch (e) {
        last = (e as Error).message;
        gone = !(await webgpuAvailable());
        if (gone) break; // no adapter: more attempts would not bring WebGPU back
      }
    }
    if (this.epoch !== e0) return;
    s.status = gone
      ? {
          state: 'error',
          next: 'fallback',
          message: `The GPU device was lost and WebGPU is no longer available (${last})`,
        }
      : {
          state: 'error',
          next: 'restart',
          message: `The GPU device was lost and could not be recovered (${RECOVERY_ATTEMPTS} attempts without an explained frame; last: ${last}). Restart to try again.`,
        };
  }
}

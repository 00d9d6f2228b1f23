// Motion sampling for exhibit mode's attract screen: every MOTION_SAMPLE_MS a tiny grey thumbnail of the live video
// is compared with the previous one (MotionMeter); with the top-1 class it feeds the IdleTracker (idle.ts). The page
// only asks for the thumbnail (createImageBitmap, which does not wait); its pixels are read on the motion worker.
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { H, IdleTracker, MotionMeter, W } from './idle.ts';

const MOTION_SAMPLE_MS = 500;

export interface MotionSource {
  /** The live camera video, or undefined while none is shown, it is frozen or the page is hidden. */
  liveVideo(): HTMLVideoElement | undefined;
  /** The class the latest result names first. */
  top(): number | undefined;
}

export class MotionWatch implements ReactiveController {
  /** Nothing has changed for idleMs: the attract screen shows. */
  idle = false;
  private readonly tracker: IdleTracker;
  private worker?: Worker;
  /** Without a worker (it could not start): the pixels are read here. */
  private meter?: MotionMeter;
  /** A sample is on its way: the next tick does not queue another. */
  private sampling = false;
  private answer?: (motion: number) => void;
  private timer?: ReturnType<typeof setInterval>;
  private lastMotion = Infinity;

  constructor(
    private readonly host: ReactiveControllerHost,
    idleMs: number,
    private readonly src: MotionSource,
  ) {
    this.tracker = new IdleTracker(idleMs);
    host.addController(this);
  }

  hostConnected() {
    try {
      this.worker ??= new Worker(new URL('./motion.worker.ts', import.meta.url), { type: 'module', name: 'motion' });
      this.worker.onmessage = (e: MessageEvent<number>) => this.answer?.(e.data);
      // A worker that cannot start (or fails): the pixels are read here from then on.
      this.worker.onerror = (e) => {
        e.preventDefault();
        this.worker?.terminate();
        this.worker = undefined;
        this.answer?.(Infinity);
      };
    } catch {
      this.worker = undefined;
    }
    this.timer = setInterval(() => this.sample(), MOTION_SAMPLE_MS);
  }

  hostDisconnected() {
    clearInterval(this.timer);
    this.worker?.terminate();
    this.worker = undefined;
  }

  /** The camera (re)started or the page came back: the idle time counts from now. */
  reset() {
    this.tracker.reset(Date.now());
    this.set(false);
  }

  /** A result came: a new top-1 class ends the idle state. Before the first label there is nothing to attract to. */
  update() {
    const top = this.src.top();
    this.set(this.tracker.update(top, this.lastMotion, Date.now()) && top !== undefined);
  }

  private sample() {
    const v = this.src.liveVideo();
    if (v && v.readyState >= 2 && !this.sampling) {
      this.sampling = true;
      // A frame that cannot be read (camera stopping) counts as no sample.
      void this.measure(v)
        .then(
          (m) => (this.lastMotion = m),
          () => {},
        )
        .finally(() => (this.sampling = false));
    }
    this.update();
  }

  private async measure(v: HTMLVideoElement): Promise<number> {
    const thumb = await createImageBitmap(v, { resizeWidth: W, resizeHeight: H, resizeQuality: 'medium' });
    const worker = this.worker;
    if (!worker) {
      const m = (this.meter ??= new MotionMeter()).sample(thumb);
      thumb.close();
      return m;
    }
    return new Promise<number>((done) => {
      this.answer = (m) => {
        this.answer = undefined;
        done(m);
      };
      worker.postMessage(thumb, [thumb]);
    });
  }

  private set(idle: boolean) {
    if (idle === this.idle) return;
    this.idle = idle;
    this.host.requestUpdate();
  }
}

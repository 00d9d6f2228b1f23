// Motion sampling for exhibit mode's attract screen: every MOTION_SAMPLE_MS a tiny grey thumbnail of the live video
// is compared with the previous one (MotionMeter); with the top-1 class it feeds the IdleTracker (idle.ts).
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { IdleTracker, MotionMeter } from './idle.ts';

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
  private meter?: MotionMeter;
  private timer?: ReturnType<typeof setInterval>;
  private lastMotion = Infinity;

  constructor(private readonly host: ReactiveControllerHost, idleMs: number, private readonly src: MotionSource) {
    this.tracker = new IdleTracker(idleMs);
    host.addController(this);
  }

  hostConnected() {
    this.meter ??= new MotionMeter();
    this.timer = setInterval(() => this.sample(), MOTION_SAMPLE_MS);
  }

  hostDisconnected() { clearInterval(this.timer); }

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
    if (v && v.readyState >= 2) this.lastMotion = this.meter!.sample(v);
    this.update();
  }

  private set(idle: boolean) {
    if (idle === this.idle) return;
    this.idle = idle;
    this.host.requestUpdate();
  }
}

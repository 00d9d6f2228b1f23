// Exhibit mode (?kiosk): the camera starts by itself, the first touch asks for full screen, and the attract screen
// shows once nothing has changed for a while (MotionWatch). The app renders its kiosk layout from `active` and `idle`.
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { MotionWatch, type MotionSource } from './motion-watch.ts';
import type { PageParams } from './page-params.ts';

export interface KioskHost extends ReactiveControllerHost, HTMLElement {
  startCamera(): Promise<void>;
}

export class Kiosk implements ReactiveController {
  readonly active: boolean;
  private readonly motion?: MotionWatch;

  constructor(private readonly host: KioskHost, params: PageParams, src: MotionSource) {
    this.active = params.kiosk;
    if (this.active) this.motion = new MotionWatch(host, params.idleMs, src);
    host.addController(this);
  }

  /** Whether the attract screen shows. */
  get idle() { return this.motion?.idle ?? false; }

  hostConnected() {
    this.host.classList.toggle('kiosk', this.active);
  }

  /** After the first render: start the camera, and ask for full screen on the first touch (it needs a gesture). */
  begin() {
    if (!this.active) return;
    this.host.addEventListener('pointerdown', () => void document.documentElement.requestFullscreen?.().catch(() => {}), { once: true });
    void this.host.startCamera();
  }

  /** A result or a camera (re)start: the idle rule hears of it. */
  onResult() { this.motion?.update(); }
  resetIdle() { this.motion?.reset(); }
}

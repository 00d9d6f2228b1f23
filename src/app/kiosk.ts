// Exhibit mode (?kiosk), for a day on a stand: the camera starts by itself, the first touch asks for full screen,
// the screen stays awake (Screen Wake Lock, asked again whenever the page is shown again: the browser releases it
// on hiding), the attract screen shows once nothing has changed for a while (MotionWatch), the settings open only
// after a long press, and the page reloads itself once a day at a quiet hour (?reload=HH:MM, default 03:30).
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { MotionWatch, type MotionSource } from './motion-watch.ts';
import type { PageParams } from './page-params.ts';

/** A press held this long opens the settings. */
export const LONG_PRESS_MS = 1500;
/** A press that moves further than this (px) is not a long press. */
const PRESS_SLOP = 12;

export interface KioskHost extends ReactiveControllerHost, HTMLElement {
  startCamera(): Promise<void>;
}

/** Milliseconds from `now` to the next `hh:mm` local time (tomorrow's if it has passed today). */
export function msUntil(hhmm: string, now: Date): number {
  const [h, m] = hhmm.split(':').map(Number);
  const at = new Date(now);
  at.setHours(h, m, 0, 0);
  if (at.getTime() <= now.getTime()) at.setDate(at.getDate() + 1);
  return at.getTime() - now.getTime();
}

interface WakeLockSentinelLike extends EventTarget {
  released: boolean;
  release(): Promise<void>;
}

export class Kiosk implements ReactiveController {
  readonly active: boolean;
  /** The settings were opened by a long press. */
  settingsOpen = false;
  /** When the page will reload itself (Date.now() time), for the readout and tests. */
  reloadAt?: number;
  /** Whether the screen is held awake now. */
  awake = false;
  private readonly motion?: MotionWatch;
  private wakeLock?: WakeLockSentinelLike;
  private pressTimer?: ReturnType<typeof setTimeout>;
  private pressAt?: [number, number];
  private reloadTimer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly host: KioskHost,
    private readonly params: PageParams,
    src: MotionSource,
  ) {
    this.active = params.kiosk;
    if (this.active) this.motion = new MotionWatch(host, params.idleMs, src);
    host.addController(this);
  }

  /** Whether the attract screen shows. */
  get idle() {
    return this.motion?.idle ?? false;
  }

  hostConnected() {
    this.host.classList.toggle('kiosk', this.active);
    if (!this.active) return;
    document.addEventListener('visibilitychange', this.onVisibility);
    this.host.addEventListener('pointerdown', this.onPress);
    for (const t of ['pointerup', 'pointercancel', 'pointerleave'] as const)
      this.host.addEventListener(t, this.endPress);
    this.host.addEventListener('pointermove', this.onMove);
    this.scheduleReload();
  }

  hostDisconnected() {
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.host.removeEventListener('pointerdown', this.onPress);
    for (const t of ['pointerup', 'pointercancel', 'pointerleave'] as const)
      this.host.removeEventListener(t, this.endPress);
    this.host.removeEventListener('pointermove', this.onMove);
    clearTimeout(this.reloadTimer);
    void this.wakeLock?.release().catch(() => {});
  }

  /** After the first render: start the camera, hold the screen awake, and ask for full screen on the first touch. */
  begin() {
    if (!this.active) return;
    this.host.addEventListener(
      'pointerdown',
      () => void document.documentElement.requestFullscreen?.().catch(() => {}),
      { once: true },
    );
    void this.keepAwake();
    void this.host.startCamera();
  }

  /** A result or a camera (re)start: the idle rule hears of it. */
  onResult() {
    this.motion?.update();
  }
  resetIdle() {
    this.motion?.reset();
  }

  closeSettings() {
    this.settingsOpen = false;
    this.host.requestUpdate();
  }

  private async keepAwake() {
    const wl = (navigator as Navigator & { wakeLock?: { request(type: 'screen'): Promise<WakeLockSentinelLike> } })
      .wakeLock;
    if (!wl || document.hidden || (this.wakeLock && !this.wakeLock.released)) return;
    try {
      const lock = await wl.request('screen');
      this.wakeLock = lock;
      this.setAwake(true);
      lock.addEventListener('release', () => {
        if (this.wakeLock === lock) this.setAwake(false);
      });
    } catch (err) {
      console.warn('exhibit mode: the screen cannot be kept awake', err);
    }
  }

  private setAwake(a: boolean) {
    this.awake = a;
    this.host.requestUpdate();
  }

  private onVisibility = () => {
    if (document.hidden) return;
    this.resetIdle();
    void this.keepAwake();
  };

  private onPress = (e: PointerEvent) => {
    if (this.settingsOpen) return;
    this.pressAt = [e.clientX, e.clientY];
    clearTimeout(this.pressTimer);
    this.pressTimer = setTimeout(() => {
      this.settingsOpen = true;
      this.host.requestUpdate();
    }, LONG_PRESS_MS);
  };

  private onMove = (e: PointerEvent) => {
    if (this.pressAt && Math.hypot(e.clientX - this.pressAt[0], e.clientY - this.pressAt[1]) > PRESS_SLOP)
      this.endPress();
  };

  private endPress = () => {
    clearTimeout(this.pressTimer);
    this.pressAt = undefined;
  };

  private scheduleReload() {
    const at = this.params.reloadAt;
    if (!at) return;
    const ms = msUntil(at, new Date());
    this.reloadAt = Date.now() + ms;
    // Timers drift over a day (and stop while the machine sleeps): check each minute whether the hour has come.
    const tick = () => {
      if (Date.now() >= this.reloadAt!) return location.reload();
      this.reloadTimer = setTimeout(tick, Math.min(60_000, this.reloadAt! - Date.now()));
    };
    this.reloadTimer = setTimeout(tick, Math.min(60_000, ms));
  }
}

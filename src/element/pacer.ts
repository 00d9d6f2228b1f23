// Frame pacing of the camera loop: camera frames go to the worker at a frame-rate target (30 fps unless set; the
// app asks 15 in exhibit mode), halved on battery (where the Battery API exists) or when the user picks "save
// power". When the worker cannot keep up (frames due while two are in flight), the camera's capture size is lowered
// first, a step at a time, before frames are left to drop. Still pictures are not paced (one frame per change).

export const DEFAULT_FPS = 30;
/**
 * Capture heights the back-off steps down through (the width follows the camera's aspect ratio); never below 480
 * lines: the picture on screen would look poor, and the model's own input (224 or so) costs the same anyway.
 */
export const CAPTURE_STEPS = [1080, 720, 480] as const;
/** Frames due while the worker was full, within DROP_WINDOW_MS, that make the loop lower the capture size. */
const DROP_SHARE = 0.25;
const DROP_WINDOW_MS = 1000;
/** After a change of capture size, the next one waits this long (the camera and the worker settle). */
const COOLDOWN_MS = 2000;

export type Offer = 'send' | 'wait' | 'busy';

export class Pacer {
  /** The frame-rate target asked for. */
  target = DEFAULT_FPS;
  /** The user asked to save power. */
  savePower = false;
  /** The device runs on its battery (Battery API). */
  onBattery = false;
  private next = -Infinity;
  private drops: number[] = [];
  private changed = -Infinity;

  /** The target in force: halved when saving power or on battery. */
  get fps() {
    const t = this.target > 0 ? this.target : DEFAULT_FPS;
    return this.savePower || this.onBattery ? t / 2 : t;
  }

  get intervalMs() {
    return 1000 / this.fps;
  }

  /**
   * A camera frame arrived at `now` (ms): 'send' it, 'wait' (not due yet: the target is lower than the camera's
   * rate), or 'busy' (due, but the worker has its frames in flight: this frame is dropped and counted).
   */
  offer(now: number, busy: boolean): Offer {
    const interval = this.intervalMs;
    // A quarter interval of slack: camera frames jitter around their period.
    if (now < this.next - interval / 4) return 'wait';
    if (busy) {
      this.drops.push(now);
      return 'busy';
    }
    // The next slot one interval on, but never more than one interval behind now: after a late frame the next may go
    // at once (one frame's credit, no more). Camera frames reach the page unevenly (a late paint delivers two
    // together): without the credit, a camera slower than the target on average lost the second of each pair.
    this.next = Math.max(this.next + interval, now);
    return 'send';
  }

  /** Whether frames have been dropping enough to lower the capture size now (once per cool-down). */
  shouldLower(now: number): boolean {
    this.drops = this.drops.filter((t) => now - t < DROP_WINDOW_MS);
    if (now - this.changed < COOLDOWN_MS || this.drops.length < Math.max(2, this.fps * DROP_SHARE)) return false;
    this.changed = now;
    this.drops = [];
    return true;
  }
}

/** The next capture size below `width x height` (same aspect ratio), or null at the smallest step. */
export function lowerSize(width: number, height: number): { width: number; height: number } | null {
  const short = Math.min(width, height);
  const step = CAPTURE_STEPS.find((s) => s < short - 8);
  if (!step || !width || !height) return null;
  const k = step / short;
  return { width: Math.round(width * k), height: Math.round(height * k) };
}

/** Ask the camera for the next smaller capture size; false when it is at the smallest already. */
export async function lowerCapture(track: MediaStreamTrack | undefined): Promise<boolean> {
  const s = track?.getSettings();
  const next = s?.width && s.height ? lowerSize(s.width, s.height) : null;
  if (!track || !next) return false;
  await track.applyConstraints({
    ...track.getConstraints(),
    width: { ideal: next.width },
    height: { ideal: next.height },
  });
  return true;
}

interface BatteryManager extends EventTarget {
  charging: boolean;
}

/** Keep `pacer.onBattery` up to date where the Battery API exists; `changed` is called on each change. */
export function watchBattery(pacer: Pacer, changed: () => void): () => void {
  const nav = navigator as Navigator & { getBattery?: () => Promise<BatteryManager> };
  if (!nav.getBattery) return () => {};
  let battery: BatteryManager | undefined;
  let stopped = false;
  const update = () => {
    pacer.onBattery = !!battery && !battery.charging;
    changed();
  };
  void nav
    .getBattery()
    .then((b) => {
      if (stopped) return;
      battery = b;
      b.addEventListener('chargingchange', update);
      update();
    })
    .catch(() => {});
  return () => {
    stopped = true;
    battery?.removeEventListener('chargingchange', update);
  };
}

// Exhibit mode's attract screen: "idle" once the top-1 class has not changed and the picture has hardly moved for
// a while. Motion is the mean absolute difference of tiny grey thumbnails of successive frames.

/** The thumbnail's size (motion-watch.ts scales the video down to it). */
export const W = 32,
  H = 24;
/** Mean absolute grey-level difference (0..255) under which two thumbnails count as the same scene. */
export const STILL_THRESHOLD = 6;

export class MotionMeter {
  private ctx = new OffscreenCanvas(W, H).getContext('2d', { willReadFrequently: true });
  private prev?: Float32Array;

  /**
   * Difference to the previous sample, or Infinity for the first one. Reading the pixels waits for the GPU: called
   * on the motion worker (motion.worker.ts), not on the page's thread.
   */
  sample(src: ImageBitmap): number {
    if (!this.ctx) return 0;
    this.ctx.drawImage(src, 0, 0, W, H);
    const px = this.ctx.getImageData(0, 0, W, H).data;
    const grey = new Float32Array(W * H);
    for (let i = 0; i < grey.length; i++) grey[i] = 0.299 * px[4 * i] + 0.587 * px[4 * i + 1] + 0.114 * px[4 * i + 2];
    const prev = this.prev;
    this.prev = grey;
    if (!prev) return Infinity;
    let s = 0;
    for (let i = 0; i < grey.length; i++) s += Math.abs(grey[i] - prev[i]);
    return s / grey.length;
  }
}

export class IdleTracker {
  private since?: number;
  private top?: number;

  constructor(readonly idleMs: number) {}

  /** Feed the latest top-1 class and motion; returns whether the scene has been idle for idleMs. */
  update(top: number | undefined, motion: number, now: number): boolean {
    if (top !== this.top || motion > STILL_THRESHOLD || this.since === undefined) {
      this.top = top;
      this.since = now;
    }
    return now - this.since! >= this.idleMs;
  }

  reset(now: number) {
    this.since = now;
  }
}

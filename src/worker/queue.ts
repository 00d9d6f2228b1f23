// The worker's request queue: init/dispose and the frames' submissions run one at a time (the paths reuse their GPU
// buffers frame to frame), and the frames' second halves (readback, heatmap, overlay) finish in submission order.
export class RequestQueue {
  private queue: Promise<unknown> = Promise.resolve();
  /** The frames' second halves, in submission order: settles when the last one queued has. */
  finishing: Promise<unknown> = Promise.resolve();

  /** Run `f` after everything queued before it (whether that succeeded or not). */
  serial<T>(f: () => Promise<T>): Promise<T> {
    const r = this.queue.then(f, f);
    this.queue = r.catch(() => undefined);
    return r;
  }

  /** Run a frame's second half after the previous frame's. */
  inOrder<T>(f: () => Promise<T>): Promise<T> {
    const r = this.finishing.then(f, f);
    this.finishing = r.catch(() => undefined);
    return r;
  }
}

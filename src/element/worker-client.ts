// The page's side of the explain worker (contract: src/worker/api.ts): starts it with a fresh overlay canvas, restarts
// it when it crashes, restarts it on the fallback path (a fresh canvas: a WebGPU canvas cannot give a 2D context)
// when WebGPU is gone, stops with an error when the worker's device recovery gave up (the user restarts), tells it
// whether the page is visible (no recovery in a hidden tab), and drops stale answers from a worker that was replaced.
import * as Comlink from 'comlink';
import type {
  ExplainRequest,
  ExplainWorkerApi,
  FrameResult,
  InitInfo,
  InitOptions,
  LoadProgress,
  WorkerStatus,
} from '../worker/api.ts';

export type EngineOptions = Omit<InitOptions, 'canvas' | 'visible'>;

export type EngineEvent =
  | { type: 'loading' }
  | { type: 'progress'; progress: LoadProgress }
  | { type: 'ready'; info: InitInfo }
  | { type: 'status'; status: WorkerStatus }
  | { type: 'failed'; message: string; during: 'init' | 'run' }
  | { type: 'restarting'; reason: string };

/** More crashes than this within RESTART_WINDOW_MS: stop restarting and let the user decide. */
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 60_000;
const STATUS_POLL_MS = 2000;

export class Engine {
  info?: InitInfo;
  /** Overlay canvas of the current worker; a transferred canvas cannot be transferred again, so each start makes one. */
  canvas?: HTMLCanvasElement;
  restarts = 0;
  private worker?: Worker;
  private api?: Comlink.Remote<ExplainWorkerApi>;
  private generation = 0;
  private crashes: number[] = [];
  private opts: EngineOptions = {};
  private poll?: ReturnType<typeof setInterval>;
  private size?: [number, number];
  /** Settles calls in flight when their worker is stopped: a terminated worker never answers them. */
  private stopped = deferred();
  private visible = typeof document === 'undefined' || !document.hidden;

  constructor(
    private readonly mount: (canvas: HTMLCanvasElement) => void,
    private readonly emit: (e: EngineEvent) => void,
  ) {}

  get ready() {
    return !!this.api && !!this.info;
  }

  /** (Re)start the worker with these options; resolves when the model is loaded, or with null when it failed. */
  async start(opts: EngineOptions = this.opts): Promise<InitInfo | null> {
    this.stop();
    this.opts = opts;
    const gen = ++this.generation;
    this.emit({ type: 'loading' });
    const worker = new Worker(new URL('../worker/explain.worker.ts', import.meta.url), {
      type: 'module',
      name: 'explain',
    });
    worker.addEventListener('error', (e) => {
      e.preventDefault();
      if (gen === this.generation) void this.crashed(e.message || 'the explain worker stopped (error event)');
    });
    this.worker = worker;
    this.api = Comlink.wrap<ExplainWorkerApi>(worker);
    const canvas = document.createElement('canvas');
    canvas.className = 'overlay';
    canvas.setAttribute('aria-hidden', 'true');
    this.canvas = canvas;
    this.mount(canvas);
    const offscreen = canvas.transferControlToOffscreen();
    try {
      const progress = Comlink.proxy((p: LoadProgress) => {
        if (gen === this.generation) this.emit({ type: 'progress', progress: p });
      });
      const info = await this.api.init(
        Comlink.transfer({ ...opts, canvas: offscreen, visible: this.visible }, [offscreen]),
        progress,
      );
      if (gen !== this.generation) return null;
      this.info = info;
      if (this.size) await this.api.resize(...this.size);
      this.poll = setInterval(() => void this.checkStatus(gen), STATUS_POLL_MS);
      this.emit({ type: 'ready', info });
      return info;
    } catch (err) {
      if (gen !== this.generation) return null;
      // WebGPU failed after the canvas became WebGPU's: the fallback needs a new worker and a new canvas.
      if ((err as Error)?.name === 'FreshCanvasNeeded' && opts.backend !== 'fallback')
        return this.startFallback(messageOf(err));
      this.emit({ type: 'failed', message: messageOf(err), during: 'init' });
      this.stop();
      return null;
    }
  }

  /**
   * Explain one frame (transferred); null when the worker was replaced meanwhile or failed (reported as an event).
   * `submitted` is called when the worker has submitted the frame's GPU work (the next frame may be sent then).
   */
  async explain(
    frame: ImageBitmap | VideoFrame,
    req: ExplainRequest,
    submitted?: () => void,
  ): Promise<FrameResult | null> {
    const gen = this.generation;
    if (!this.api) {
      frame.close();
      return null;
    }
    try {
      const call = this.api.explain(
        Comlink.transfer(frame, [frame as Transferable]),
        req,
        submitted && Comlink.proxy(submitted),
      );
      const r = await Promise.race([call, this.stopped.promise]);
      return gen === this.generation ? r : null;
    } catch (err) {
      if (gen !== this.generation) return null;
      // A lost GPU device shows as a failing call and a 'recovering' status; anything else is reported once.
      const status = await this.api.status().catch(() => ({ state: 'error', message: messageOf(err) }) as WorkerStatus);
      if (gen !== this.generation) return null;
      if (status.state === 'recovering') this.emit({ type: 'status', status });
      else if (status.state === 'error') void this.workerError(status, messageOf(err));
      else this.emit({ type: 'failed', message: messageOf(err), during: 'run' });
      return null;
    }
  }

  /** The page was shown or hidden: the worker recovers a lost GPU device only while it is visible. */
  setVisible(visible: boolean) {
    if (visible === this.visible) return;
    this.visible = visible;
    void this.api?.setVisible(visible).catch(() => {});
  }

  /** Overlay backing size in device pixels (the worker owns the canvas). Remembered across restarts. */
  async resize(width: number, height: number) {
    if (this.size?.[0] === width && this.size?.[1] === height) return;
    this.size = [width, height];
    if (this.ready) await this.api!.resize(width, height).catch(() => {});
  }

  stop() {
    this.generation++;
    this.stopped.resolve(null);
    this.stopped = deferred();
    clearInterval(this.poll);
    this.poll = undefined;
    if (this.api) {
      void this.api.dispose().catch(() => {});
      this.api[Comlink.releaseProxy]();
    }
    this.worker?.terminate();
    this.worker = undefined;
    this.api = undefined;
    this.info = undefined;
  }

  /** The worker reported an error state: do what it asks (WorkerStatus.next), else treat it as a crash. */
  private async workerError(status: WorkerStatus, fallbackMessage: string) {
    const message = status.message ?? fallbackMessage;
    if (status.next === 'fallback') return void this.startFallback(message);
    if (status.next === 'restart') {
      this.stop();
      this.emit({ type: 'failed', message, during: 'run' });
      return;
    }
    await this.crashed(message);
  }

  /** A new worker on the fallback path, with a fresh canvas, saying why. */
  private startFallback(reason: string) {
    this.restarts++;
    this.emit({ type: 'restarting', reason });
    return this.start({ ...this.opts, backend: 'fallback', fallbackReason: reason });
  }

  /** The worker died (error event) or reported a fatal state: start a new one unless it keeps dying. */
  private async crashed(reason: string) {
    const now = Date.now();
    this.crashes = this.crashes.filter((t) => now - t < RESTART_WINDOW_MS);
    if (this.crashes.length >= MAX_RESTARTS) {
      this.stop();
      this.emit({ type: 'failed', message: `the explain worker keeps failing (${reason})`, during: 'run' });
      return;
    }
    this.crashes.push(now);
    this.restarts++;
    this.emit({ type: 'restarting', reason });
    await this.start();
  }

  private async checkStatus(gen: number) {
    if (!this.api || gen !== this.generation) return;
    const status = await this.api
      .status()
      .catch((err) => ({ state: 'error', message: messageOf(err) }) as WorkerStatus);
    if (gen !== this.generation) return;
    if (status.state === 'error') void this.workerError(status, 'the explain worker reported an error');
    else this.emit({ type: 'status', status });
  }
}

function deferred() {
  let resolve!: (v: null) => void;
  const promise = new Promise<null>((r) => (resolve = r));
  return { promise, resolve };
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// <cnn-fixations>: a picture (an image URL or the camera), the explain worker, and its overlay laid exactly over the
// picture. One module import and one tag:
//   <script type="module" src=".../element/cnn-fixations.js"></script>
//   <cnn-fixations source="photo.jpg" method="fixations"></cnn-fixations>
// Each explained frame fires `result` (detail: the worker's FrameResult); state changes (model loading, ready,
// failed; camera started, stopped, refused; paused) fire `statechange`; passing problems fire `problem`.
// The worker is resolved relative to this module (new URL(..., import.meta.url)), catalog models from the models/
// folder of the site that serves it.
import { LitElement, css, html, type PropertyValues } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import type { Colormap, ExplainRequest, FrameResult, InitInfo, Method, WorkerStatus } from '../worker/api.ts';
import { COLORMAPS } from '../engine/colormap.ts';
import { METHODS as ENGINE_METHODS } from '../engine/methods.ts';
import type { PresetName } from '../engine/types.ts';
import { CameraError, RESOLUTIONS, cameraError, openCamera, stopStream, type Resolution } from '../camera/camera.ts';
import { Engine, messageOf, type EngineEvent, type EngineOptions } from './worker-client.ts';
import { canvasSize, containRect, pictureSize } from './fit.ts';
import { DEFAULTS, explainRequest, type Settings } from './settings.ts';
import { compositePng } from './snapshot.ts';
import { modelSource, parseClasses, parseFlag } from './attributes.ts';
import { FrameLoop, type Picture } from './frame-loop.ts';

export type Showing = 'none' | 'camera' | 'image';
export type EngineState = 'loading' | 'ready' | 'failed';

const METHODS = ENGINE_METHODS.filter((m): m is Method => m !== 'center');
const RULES: readonly PresetName[] = ['default', 'reference', 'dense'];
const FITS: readonly Settings['fit'][] = ['crop', 'letterbox'];
const BACKENDS = ['auto', 'webgpu', 'fallback'] as const;

// The classes attribute's text is kept as is and parsed in willUpdate, where a bad list can be named (problem event).
const classList = { fromAttribute: (v: string | null) => v as unknown as number[] };
const flag = { fromAttribute: parseFlag };

declare global {
  interface HTMLElementTagNameMap { 'cnn-fixations': CnnFixations }
  interface HTMLElementEventMap {
    result: CustomEvent<FrameResult>;
    problem: CustomEvent<{ message: string }>;
  }
}

@customElement('cnn-fixations')
export class CnnFixations extends LitElement {
  static override styles = css`
    :host { display: block; position: relative; overflow: hidden; background: #000; aspect-ratio: var(--picture-ar, 4 / 3); }
    [hidden] { display: none !important; }
    video, img { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: contain; }
    .mirror { transform: scaleX(-1); }
    .overlay-host { position: absolute; pointer-events: none; }
    .overlay-host canvas { width: 100%; height: 100%; display: block; }
  `;

  /** A catalog model id (served under the site's models/), or the URL of a TF.js graph model's model.json. */
  @property() model?: string;
  /** A user model's files (model.json, shards, optional labels.json); wins over `model` while set. */
  @property({ attribute: false }) modelFiles?: File[];
  /** What a user model's files do not say (preprocessing, logits, labels); a new value loads the model again. */
  @property({ attribute: false }) modelFacts?: Pick<EngineOptions, 'info' | 'labels'>;
  /** '' (nothing), 'camera', or the URL of an image (other origins must allow CORS). */
  @property() source = '';
  @property() method: Method = DEFAULTS.method;
  /**
   * The classes to explain; empty: the top-1 class, whatever it is. Attribute: "top", "335" or "879,335". Several:
   * each class's heatmap, points and box in its colour (CLASS_COLORS, in the result's `color`).
   */
  @property({ converter: classList }) classes: number[] = DEFAULTS.classes;
  @property() rules: PresetName = DEFAULTS.rules;
  @property() fit: Settings['fit'] = DEFAULTS.fit;
  /** The heatmap's colours for one class (several classes draw theirs in their class colours). */
  @property() colormap: Colormap = DEFAULTS.colormap;
  /** Overlay opacity, 0..1. */
  @property({ type: Number }) opacity = DEFAULTS.opacity;
  @property({ converter: flag }) points = DEFAULTS.points;
  @property({ converter: flag }) heatmap = DEFAULTS.heatmap;
  @property({ converter: flag }) box = DEFAULTS.box;
  /** Smooth the heatmap over camera frames. */
  @property({ converter: flag }) smooth = DEFAULTS.smooth;
  /** Layer view: the kept neurons of this layer instead of the fixations (method fixations only). */
  @property() layer?: string;
  /**
   * Read only: which box the last frame drew (its first class): 'fixations' (the paper's box around the fixations),
   * 'map' (the CAM protocol on the method's heatmap), or null (none: too few points). Reflected as box-source.
   */
  @property({ attribute: 'box-source', reflect: true }) boxSource: 'fixations' | 'map' | null = null;
  @property() backend: (typeof BACKENDS)[number] = 'auto';
  /** Camera: hold the current frame (a setting change explains it again); false resumes. */
  @property({ type: Boolean, reflect: true }) frozen = false;
  @property({ attribute: 'facing-mode' }) facingMode: Settings['facingMode'] = DEFAULTS.facingMode;
  @property() resolution: Resolution = DEFAULTS.resolution;
  @property({ attribute: 'device-id' }) deviceId?: string;
  /** Alternative text of the shown image. */
  @property() alt = '';

  /** The model's state; `message` says what is happening or what failed. */
  @state() status: EngineState = 'loading';
  @state() message = '';
  /** status 'failed': the model did not load ('load'), or the worker stopped for good while running ('run'). */
  @state() failure?: 'load' | 'run';
  @state() info?: InitInfo;
  /** The worker's own trouble (e.g. recovering from a lost GPU device), undefined when all is well. */
  @state() workerStatus?: WorkerStatus;
  /** What is on show: the camera may be requested but refused, or have stopped. */
  @state() showing: Showing = 'none';
  @state() cameraError?: CameraError;
  /** The page is hidden: no frames are sent. */
  @state() paused = false;
  @state() pictureSize = { width: 0, height: 0 };
  /** The latest result (also the `result` event's detail). */
  @state() result?: FrameResult;

  @query('video') video!: HTMLVideoElement;
  @query('img') img!: HTMLImageElement;
  @query('.overlay-host') private overlayHost!: HTMLElement;

  readonly engine = new Engine((c) => this.overlayHost?.replaceChildren(c), (e) => this.onEngine(e));
  readonly loop = new FrameLoop(this);
  stream?: MediaStream;
  private still?: ImageBitmap;
  private cameraToken = 0;
  private engineStarted = false;
  private resizeObs = new ResizeObserver(() => this.layout());

  /** Results received so far. */
  get results() { return this.loop.results; }
  get inFlight() { return this.loop.inFlight; }
  get framesInFlight() { return this.loop.framesInFlight; }

  override connectedCallback() {
    super.connectedCallback();
    document.addEventListener('visibilitychange', this.onVisibility);
    window.addEventListener('orientationchange', this.layoutSoon);
    this.resizeObs.observe(this);
    // Moved in the page: the worker and the camera were stopped on leaving; start them again.
    if (this.hasUpdated) {
      this.requestUpdate();
      if (this.source.trim() === 'camera') void this.updateComplete.then(() => this.startCamera());
    }
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    document.removeEventListener('visibilitychange', this.onVisibility);
    window.removeEventListener('orientationchange', this.layoutSoon);
    this.resizeObs.disconnect();
    this.engine.stop();
    this.engineStarted = false;
    this.closeCamera();
  }

  // ---------------------------------------------------------------- properties in

  protected override willUpdate(changed: PropertyValues<this>) {
    // A value the worker does not know is named, and the default is used instead of sending it on.
    const check = <K extends 'method' | 'rules' | 'fit' | 'colormap' | 'backend'>(k: K, allowed: readonly string[], fallback: this[K]) => {
      if (changed.has(k) && !allowed.includes(this[k] as string)) {
        this.problem(`cnn-fixations: ${k} '${this[k]}' is not one of ${allowed.join(', ')}; using '${fallback}'`);
        this[k] = fallback;
      }
    };
    check('method', METHODS, DEFAULTS.method);
    check('rules', RULES, DEFAULTS.rules);
    check('fit', FITS, DEFAULTS.fit);
    check('colormap', COLORMAPS, DEFAULTS.colormap);
    check('backend', BACKENDS, 'auto');
    if (changed.has('classes') && !Array.isArray(this.classes)) {
      // From the attribute (a string): "top" or indices.
      try {
        this.classes = parseClasses(this.classes as unknown as string | null);
      } catch (err) {
        this.problem(`cnn-fixations: ${messageOf(err)}; using the top-1 class`);
        this.classes = [];
      }
    }
    if (changed.has('classes') && this.classes.some((c) => !Number.isInteger(c) || c < 0)) {
      this.problem(`cnn-fixations: classes [${this.classes.join(', ')}] must be class indices; using the top-1 class`);
      this.classes = [];
    }
    if (changed.has('opacity') && !(this.opacity >= 0 && this.opacity <= 1)) {
      this.problem(`cnn-fixations: opacity '${this.opacity}' must be a number from 0 to 1; using ${DEFAULTS.opacity}`);
      this.opacity = DEFAULTS.opacity;
    }
  }

  protected override updated(changed: PropertyValues<this>) {
    if (!this.engineStarted || changed.has('model') || changed.has('modelFiles') || changed.has('modelFacts') || changed.has('backend')) {
      this.engineStarted = true;
      void this.engine.start(this.engineOptions());
    }
    if (changed.has('source')) this.showSource();
    if (changed.has('frozen')) void this.applyFreeze();
    const explain: (keyof CnnFixations)[] = ['method', 'classes', 'rules', 'fit', 'colormap', 'opacity', 'points', 'heatmap', 'box', 'smooth', 'layer'];
    if (explain.some((k) => changed.has(k))) this.loop.invalidate();
    if (changed.has('showing')) this.layout();
    const reported: (keyof CnnFixations)[] = ['status', 'message', 'failure', 'info', 'workerStatus', 'showing', 'cameraError', 'paused', 'frozen', 'pictureSize'];
    if (reported.some((k) => changed.has(k))) this.dispatchEvent(new Event('statechange'));
  }

  private engineOptions(): EngineOptions {
    const backend = this.backend;
    const facts = this.modelFacts ?? {};
    if (this.modelFiles?.length) return { backend, modelFiles: this.modelFiles, ...facts };
    return { backend, ...modelSource(this.model, document.baseURI), ...facts };
  }

  /** Start the worker and load the model again with the same options (Retry / Restart after a failure). */
  reload() {
    return this.engine.start(this.engineOptions());
  }

  private onEngine(e: EngineEvent) {
    switch (e.type) {
      case 'loading':
        this.status = 'loading';
        this.message = 'Loading the model…';
        this.failure = undefined;
        this.info = undefined;
        this.result = undefined;
        break;
      case 'ready':
        this.status = 'ready';
        this.message = '';
        this.workerStatus = undefined;
        this.info = e.info;
        this.layout();
        this.loop.invalidate();
        break;
      case 'status': {
        const recovered = this.workerStatus?.state === 'recovering' && e.status.state === 'ready';
        this.workerStatus = e.status.state === 'ready' || e.status.state === 'idle' ? undefined : e.status;
        if (recovered) this.loop.invalidate(); // a still picture whose frame was lost is explained again
        break;
      }
      case 'restarting':
        this.status = 'loading';
        this.message = `The explain worker stopped (${e.reason}); restarting it…`;
        break;
      case 'failed':
        if (e.during === 'init') {
          this.status = 'failed';
          this.failure = 'load';
          this.message = `The model could not be loaded: ${e.message}`;
        } else if (!this.engine.ready) {
          this.status = 'failed';
          this.failure = 'run';
          this.workerStatus = undefined;
          this.message = e.message;
        } else {
          this.problem(`Explaining this frame failed: ${e.message}`);
        }
        break;
    }
  }

  // ---------------------------------------------------------------- the frame loop's host

  picture(): Picture {
    if (this.showing === 'image') return this.still ? { still: this.still } : null;
    if (this.showing !== 'camera') return null;
    if (this.frozen) return this.still ? { still: this.still } : null;
    return { video: this.video };
  }

  request(still: boolean): ExplainRequest {
    const { method, classes, rules, fit, colormap, opacity, points, heatmap, box, smooth, layer } = this;
    return explainRequest({ ...DEFAULTS, method, classes, rules, fit, colormap, opacity, points, heatmap, box, smooth, layer }, still);
  }

  onResult(r: FrameResult) {
    this.result = r;
    this.boxSource = r.explained[0]?.boxSource ?? null;
    this.dispatchEvent(new CustomEvent('result', { detail: r }));
  }

  onProblem(message: string) { this.problem(message); }

  private problem(message: string) {
    console.warn(message);
    this.dispatchEvent(new CustomEvent('problem', { detail: { message } }));
  }

  // ---------------------------------------------------------------- pictures

  private showSource() {
    const src = this.source.trim();
    if (src === 'camera') return void this.startCamera();
    this.closeCamera();
    if (!src) {
      this.showing = 'none';
      return;
    }
    this.cameraError = undefined;
    // The <img> loads it (@load / @error below); other origins must allow CORS, or the frame could not be read.
    this.img.src = new URL(src, document.baseURI).href;
  }

  private async onImageLoad() {
    const url = this.img.src;
    let bmp: ImageBitmap;
    try {
      bmp = await createImageBitmap(this.img);
    } catch (err) {
      return this.problem(`The image ${url} could not be read (${messageOf(err)}).`);
    }
    if (this.img.src !== url || this.source.trim() === 'camera') return bmp.close(); // replaced meanwhile
    this.setStill(bmp);
    this.showing = 'image';
    this.frozen = false;
    this.layout();
    this.loop.invalidate();
  }

  private onImageError() {
    if (!this.img.getAttribute('src') || this.source.trim() === 'camera' || !this.source.trim()) return;
    this.showing = 'none';
    this.problem(`The image ${this.img.src} could not be loaded (missing, not an image, or another origin without CORS).`);
  }

  private setStill(bmp?: ImageBitmap) {
    this.still?.close();
    this.still = bmp;
  }

  /** Open the camera (facingMode, resolution, deviceId) and explain its frames; also to reconnect after a stop. */
  async startCamera() {
    const token = ++this.cameraToken;
    this.cameraError = undefined;
    this.closeCamera(false);
    try {
      const stream = await openCamera({ deviceId: this.deviceId, facingMode: this.facingMode, resolution: this.resolution in RESOLUTIONS ? this.resolution : DEFAULTS.resolution });
      if (token !== this.cameraToken) return stopStream(stream);
      this.stream = stream;
      stream.getVideoTracks()[0]?.addEventListener('ended', () => {
        if (this.stream !== stream) return;
        this.closeCamera();
        this.showing = 'none';
        this.cameraError = new CameraError('ended', 'The camera was disconnected or stopped.');
      });
      this.video.srcObject = stream;
      await this.video.play();
      if (token !== this.cameraToken) return;
      this.setStill(undefined);
      this.showing = 'camera';
      this.frozen = false;
      this.loop.watch(this.video);
    } catch (err) {
      if (token !== this.cameraToken) return;
      this.closeCamera();
      if (this.showing === 'camera') this.showing = 'none';
      this.cameraError = cameraError(err);
    }
  }

  private closeCamera(cancel = true) {
    if (cancel) this.cameraToken++;
    this.loop.stop();
    stopStream(this.stream);
    this.stream = undefined;
  }

  private async applyFreeze() {
    if (this.showing !== 'camera') {
      if (this.frozen) this.frozen = false; // only the camera freezes
      return;
    }
    if (this.frozen) {
      this.video.pause();
      this.setStill(await createImageBitmap(this.video));
      void this.loop.pump(); // a setting changed while the frame was being grabbed
    } else {
      this.setStill(undefined);
      if (!this.paused) await this.video.play();
    }
  }

  private onVisibility = () => {
    this.paused = document.hidden;
    this.engine.setVisible(!document.hidden);
    if (this.showing === 'camera' && !this.frozen) {
      if (this.paused) this.video.pause();
      else void this.video.play();
    }
    if (!this.paused) void this.loop.pump();
  };

  /** The shown picture with its overlay, as a PNG at the picture's own size. */
  snapshot(): Promise<Blob> {
    return compositePng(this.showing === 'image' ? this.img : this.video, this.engine.canvas);
  }

  // ---------------------------------------------------------------- layout

  private layoutSoon = () => setTimeout(() => this.layout(), 250);

  /** Lay the overlay canvas exactly over the picture's content box (object-fit: contain) and size its backing store. */
  layout() {
    const host = this.overlayHost;
    if (!host) return;
    const pic = this.showing === 'image' ? this.img : this.video;
    const { width: w, height: h } = pictureSize(pic);
    if (!w || !h) return;
    if (w !== this.pictureSize.width || h !== this.pictureSize.height) {
      this.pictureSize = { width: w, height: h };
      this.style.setProperty('--picture-ar', `${w} / ${h}`);
    }
    const box = pic.getBoundingClientRect();
    const own = this.getBoundingClientRect();
    const r = containRect(w, h, box.width, box.height);
    Object.assign(host.style, {
      left: `${box.left - own.left + r.left}px`, top: `${box.top - own.top + r.top}px`,
      width: `${r.width}px`, height: `${r.height}px`,
    });
    const size = canvasSize(r, devicePixelRatio);
    void this.engine.resize(size.width, size.height);
  }

  /** The user-facing camera is shown mirrored, as people expect of a selfie view; the overlay follows. */
  get mirrored() {
    return this.showing === 'camera' && this.stream?.getVideoTracks()[0]?.getSettings().facingMode === 'user';
  }

  override render() {
    const m = this.mirrored ? 'mirror' : '';
    return html`
      <video class=${m} playsinline muted ?hidden=${this.showing !== 'camera'}
        @loadedmetadata=${() => this.layout()} @resize=${() => this.layout()}></video>
      <img class="still" crossorigin="anonymous" alt=${this.alt} ?hidden=${this.showing !== 'image'}
        @load=${() => void this.onImageLoad()} @error=${() => this.onImageError()} />
      <div class="overlay-host ${m}" ?hidden=${this.showing === 'none'}></div>`;
  }
}

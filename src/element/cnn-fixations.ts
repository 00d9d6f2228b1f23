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
import type { Colormap, ExplainRequest, FrameResult, InitInfo, LoadProgress, WorkerStatus } from '../worker/api.ts';
import { COLORMAPS } from '../engine/colormap.ts';
import type { PresetName } from '../engine/types.ts';
import type { CameraError, Resolution } from '../camera/camera.ts';
import { messageOf, type Engine, type EngineOptions } from './worker-client.ts';
import { DEFAULTS, explainRequest, type MethodChoice, type Settings } from './settings.ts';
import { compositePng } from './snapshot.ts';
import { recordClip } from './recorder.ts';
import { CHOICES, modelSource, parseClasses, parseFlag } from './attributes.ts';
import { FrameLoop, type Picture as LoopPicture } from './frame-loop.ts';
import { Picture, type Showing } from './picture.ts';
import { WorkerState, type EngineState } from './worker-state.ts';
import { OverlayLayout } from './overlay-layout.ts';
import { DEFAULT_FPS, lowerCapture, watchBattery } from './pacer.ts';

export type { Showing, EngineState };
export type Progress = LoadProgress | { step: 'first' };

// The classes attribute's text is kept as is and parsed in willUpdate, where a bad list can be named (problem event).
const classList = { fromAttribute: (v: string | null) => v as unknown as number[] };
const flag = { fromAttribute: parseFlag };

declare global {
  interface HTMLElementTagNameMap {
    'cnn-fixations': CnnFixations;
  }
  interface HTMLElementEventMap {
    result: CustomEvent<FrameResult>;
    problem: CustomEvent<{ message: string }>;
  }
}

@customElement('cnn-fixations')
export class CnnFixations extends LitElement {
  static override styles = css`
    :host {
      display: block;
      position: relative;
      overflow: hidden;
      background: #000;
      aspect-ratio: var(--picture-ar, 4 / 3);
    }
    [hidden] {
      display: none !important;
    }
    video,
    img {
      position: absolute;
      inset: 0;
      width: 100%;
      height: 100%;
      object-fit: contain;
    }
    .mirror {
      transform: scaleX(-1);
    }
    .overlay-host {
      position: absolute;
      pointer-events: none;
    }
    .overlay-host canvas {
      width: 100%;
      height: 100%;
      display: block;
    }
  `;

  /** A catalog model id (served under the site's models/), or the URL of a TF.js graph model's model.json. */
  @property() model?: string;
  /** A user model's files (model.json, shards, optional labels.json); wins over `model` while set. */
  @property({ attribute: false }) modelFiles?: File[];
  /** What a user model's files do not say (preprocessing, logits, labels); a new value loads the model again. */
  @property({ attribute: false }) modelFacts?: Pick<EngineOptions, 'info' | 'labels'>;
  /** '' (nothing), 'camera', or the URL of an image (other origins must allow CORS). */
  @property() source = '';
  /** 'auto' (default): the model's own (its catalog "method"; `info.method`); or fixations, guided, cam, gradcam. */
  @property() method: MethodChoice = DEFAULTS.method;
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
  @property() backend: (typeof CHOICES.backend)[number] = 'auto';
  /** Camera: hold the current frame (a setting change explains it again); false resumes. */
  @property({ type: Boolean, reflect: true }) frozen = false;
  @property({ attribute: 'facing-mode' }) facingMode: Settings['facingMode'] = DEFAULTS.facingMode;
  @property() resolution: Resolution = DEFAULTS.resolution;
  @property({ attribute: 'device-id' }) deviceId?: string;
  /** Alternative text of the shown image. */
  @property() alt = '';
  /** Camera frames per second sent to the worker at most (default 30); halved on battery or with `save-power`. */
  @property({ type: Number }) fps = DEFAULT_FPS;
  /** Halve the frame-rate target (the user's "save power"). */
  @property({ type: Boolean, attribute: 'save-power' }) savePower = false;

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
  /**
   * From load to the first result: the model's bytes ('model'), shader compiles and trial frames ('compile'), then
   * the first picture on its way ('first'); undefined once a result has come (or on failure).
   */
  @state() progress?: Progress;

  @query('video') video!: HTMLVideoElement;
  @query('img') img!: HTMLImageElement;
  @query('.overlay-host') overlayHost!: HTMLElement | null;

  readonly loop: FrameLoop = new FrameLoop(this);
  private readonly pictures: Picture = new Picture(this);
  private readonly worker: WorkerState = new WorkerState(this);
  private readonly overlay: OverlayLayout = new OverlayLayout(this);

  get engine(): Engine {
    return this.worker.engine;
  }
  get stream() {
    return this.pictures.stream;
  }
  /** Results received so far. */
  get results() {
    return this.loop.results;
  }
  get inFlight() {
    return this.loop.inFlight;
  }
  get framesInFlight() {
    return this.loop.framesInFlight;
  }

  private unwatchBattery?: () => void;

  override connectedCallback() {
    super.connectedCallback();
    document.addEventListener('visibilitychange', this.onVisibility);
    this.unwatchBattery = watchBattery(this.loop.pacer, () => this.dispatchEvent(new Event('statechange')));
    // Moved in the page: the worker and the camera were stopped on leaving; start them again.
    if (this.hasUpdated) {
      this.requestUpdate();
      if (this.source.trim() === 'camera') void this.updateComplete.then(() => this.startCamera());
    }
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.unwatchBattery?.();
  }

  // ---------------------------------------------------------------- properties in

  protected override willUpdate(changed: PropertyValues<this>) {
    // A value the worker does not know is named, and the default is used instead of sending it on.
    const check = <K extends 'method' | 'rules' | 'fit' | 'colormap' | 'backend'>(
      k: K,
      allowed: readonly string[],
      fallback: this[K],
    ) => {
      if (changed.has(k) && !allowed.includes(this[k] as string)) {
        this.problem(`cnn-fixations: ${k} '${this[k]}' is not one of ${allowed.join(', ')}; using '${fallback}'`);
        this[k] = fallback;
      }
    };
    check('method', CHOICES.method, DEFAULTS.method);
    check('rules', CHOICES.rules, DEFAULTS.rules);
    check('fit', CHOICES.fit, DEFAULTS.fit);
    check('colormap', COLORMAPS, DEFAULTS.colormap);
    check('backend', CHOICES.backend, 'auto');
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
    if (
      this.worker.needsStart ||
      changed.has('model') ||
      changed.has('modelFiles') ||
      changed.has('modelFacts') ||
      changed.has('backend')
    ) {
      void this.worker.start(this.engineOptions());
    }
    if (changed.has('fps') || changed.has('savePower'))
      Object.assign(this.loop.pacer, { target: this.fps, savePower: this.savePower });
    if (changed.has('source')) this.pictures.show();
    if (changed.has('frozen')) void this.pictures.applyFreeze();
    const explain: (keyof CnnFixations)[] = [
      'method',
      'classes',
      'rules',
      'fit',
      'colormap',
      'opacity',
      'points',
      'heatmap',
      'box',
      'smooth',
      'layer',
    ];
    if (explain.some((k) => changed.has(k))) this.loop.invalidate();
    if (changed.has('showing')) this.layout();
    const reported: (keyof CnnFixations)[] = [
      'status',
      'message',
      'failure',
      'info',
      'workerStatus',
      'showing',
      'cameraError',
      'paused',
      'frozen',
      'pictureSize',
      'progress',
    ];
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
    return this.worker.start(this.engineOptions());
  }

  /** The worker's overlay canvas goes over the picture (WorkerState). */
  mount(canvas: HTMLCanvasElement) {
    this.overlayHost?.replaceChildren(canvas);
  }

  // ---------------------------------------------------------------- the frame loop's host

  picture(): LoopPicture {
    const still = this.pictures.still;
    if (this.showing === 'image') return still ? { still } : null;
    if (this.showing !== 'camera') return null;
    if (this.frozen) return still ? { still } : null;
    return { video: this.video };
  }

  request(still: boolean): ExplainRequest {
    const { method, classes, rules, fit, colormap, opacity, points, heatmap, box, smooth, layer } = this;
    return explainRequest(
      { ...DEFAULTS, method, classes, rules, fit, colormap, opacity, points, heatmap, box, smooth, layer },
      still,
      this.info?.method,
    );
  }

  onResult(r: FrameResult) {
    this.result = r;
    this.progress = undefined;
    this.boxSource = r.explained[0]?.boxSource ?? null;
    this.dispatchEvent(new CustomEvent('result', { detail: r }));
  }

  onProblem(message: string) {
    this.problem(message);
  }

  lowerCapture() {
    const track = this.stream?.getVideoTracks()[0];
    void lowerCapture(track)
      .then((lowered) => {
        if (lowered) this.dispatchEvent(new CustomEvent('capturechange', { detail: track?.getSettings() }));
      })
      .catch((err) => this.problem(`The camera could not lower its resolution: ${messageOf(err)}`));
  }

  /** The frame-rate target in force (the `fps` property, halved on battery or with `save-power`). */
  get targetFps() {
    return this.loop.pacer.fps;
  }

  problem(message: string) {
    console.warn(message);
    this.dispatchEvent(new CustomEvent('problem', { detail: { message } }));
  }

  // ---------------------------------------------------------------- pictures

  /** Open the camera (facingMode, resolution, deviceId) and explain its frames; also to reconnect after a stop. */
  startCamera() {
    return this.pictures.startCamera();
  }

  private onVisibility = () => {
    this.paused = document.hidden;
    this.engine.setVisible(!document.hidden);
    this.pictures.setPaused(this.paused);
    if (!this.paused) void this.loop.pump();
  };

  /** The shown picture with its overlay (and a caption band, if given), as a PNG at the picture's own size. */
  snapshot(caption?: string): Promise<Blob> {
    return compositePng(this.showing === 'image' ? this.img : this.video, this.engine.canvas, caption);
  }

  /** A clip of the shown picture with its overlay (and the caption as it changes), WebM or MP4; nothing leaves the page. */
  record(ms = 5000, caption: () => string | undefined = () => undefined): Promise<Blob> {
    return recordClip(this.showing === 'image' ? this.img : this.video, () => this.engine.canvas, ms, caption);
  }

  /** Lay the overlay canvas exactly over the picture's content box and size its backing store. */
  layout() {
    this.overlay.layout();
  }

  /** The user-facing camera is shown mirrored, as people expect of a selfie view; the overlay follows. */
  get mirrored() {
    return this.pictures.mirrored;
  }

  override render() {
    const m = this.mirrored ? 'mirror' : '';
    return html` <video
        class=${m}
        playsinline
        muted
        ?hidden=${this.showing !== 'camera'}
        @loadedmetadata=${() => this.layout()}
        @resize=${() => this.layout()}
      ></video>
      <img
        class="still"
        crossorigin="anonymous"
        alt=${this.alt}
        ?hidden=${this.showing !== 'image'}
        @load=${() => void this.pictures.onImageLoad()}
        @error=${() => this.pictures.onImageError()}
      />
      <div class="overlay-host ${m}" ?hidden=${this.showing === 'none'}></div>`;
  }
}

// <cnnfix-app>: the live camera (or a still image), the worker's overlay laid over it, and the controls.
// Exhibit mode (?kiosk) renders the same stage with large type, a legend and an attract screen, and no controls.
import { LitElement, html, nothing, type PropertyValues } from 'lit';
import { customElement, query, state } from 'lit/decorators.js';
import { CLASS_COLORS, type FrameResult, type InitInfo, type WorkerStatus } from '../../workers/api.ts';
import { COLORMAPS } from '../engine/colormap.ts';
import { CameraError, RESOLUTIONS, cameraError, listCameras, openCamera, stopStream, type Resolution } from './camera.ts';
import { availability, loadCatalog, type Availability, type CatalogModel } from './catalog.ts';
import { Engine, messageOf, type EngineOptions } from './engine.ts';
import { canvasSize, containRect, pictureSize } from './fit.ts';
import { IdleTracker, MotionMeter } from './idle.ts';
import { setupPwa } from './pwa.ts';
import { DEFAULTS, explainRequest, pageParams, type Settings } from './settings.ts';
import { compositePng, download, resultJson, stamp } from './snapshot.ts';
import { appStyles } from './styles.ts';
import { choiceOptions, loadChoice, type FactsChoice } from './model-facts.ts';

const MAX_CLASSES = CLASS_COLORS.length;
const MOTION_SAMPLE_MS = 500;
const STILL_RETRIES = 3;
const STILL_RETRY_MS = 2000;

declare global {
  interface Window {
    /** The latest FrameResult, for tests and the console; results never leave the page. */
    __lastResult?: FrameResult;
    __cnnfix?: CnnfixApp;
  }
}

type Source = 'none' | 'camera' | 'image';

@customElement('cnnfix-app')
export class CnnfixApp extends LitElement {
  static override styles = appStyles;

  readonly params = pageParams();
  @state() s: Settings = { ...DEFAULTS, ...this.params.settings };
  @state() info?: InitInfo;
  @state() engineState: 'loading' | 'ready' | 'failed' = 'loading';
  @state() engineMessage = '';
  @state() workerStatus?: WorkerStatus;
  @state() result?: FrameResult;
  @state() source: Source = 'none';
  @state() cameraProblem?: CameraError;
  @state() cameras: MediaDeviceInfo[] = [];
  @state() frozen = false;
  @state() paused = false;
  @state() idle = false;
  @state() imageUrl?: string;
  @state() imageName = '';
  @state() models: CatalogModel[] = [];
  @state() modelAvailability: Record<string, Availability> = {};
  @state() modelId?: string;
  /** A user model (URL or files) and its key for the remembered facts (<cnnfix-model-facts>). */
  @state() ownModel?: { source: EngineOptions; key: string };
  @state() classQuery = '';
  @state() fps = 0;
  @state() toast = '';
  @state() updateReady?: () => void;
  @state() install: (() => Promise<void>) | null = null;
  @state() dragging = false;

  @query('video') video!: HTMLVideoElement;
  @query('img.still') img!: HTMLImageElement;
  @query('.stage') stage!: HTMLElement;
  @query('.overlay-host') overlayHost!: HTMLElement;
  @query('input[type=file].image-input') fileInput!: HTMLInputElement;

  stream?: MediaStream;
  /** Results received so far (performance readout, tests). */
  results = 0;
  readonly engine = new Engine((c) => this.overlayHost?.replaceChildren(c), (e) => this.onEngine(e));
  private busy = false;
  /** Whether a frame is with the worker now (tests wait for a quiet moment). */
  get inFlight() { return this.busy; }
  private stillDirty = false;
  private still?: ImageBitmap;
  private stillRetries = 0;
  private loopToken = 0;
  private resultTimes: number[] = [];
  private readonly idleTracker = new IdleTracker(this.params.idleMs);
  private motion?: MotionMeter;
  private motionTimer?: ReturnType<typeof setInterval>;
  private lastMotion = Infinity;
  private resizeObs = new ResizeObserver(() => this.layout());

  override connectedCallback() {
    super.connectedCallback();
    window.__cnnfix = this;
    this.classList.toggle('kiosk', this.params.kiosk);
    document.addEventListener('visibilitychange', this.onVisibility);
    window.addEventListener('orientationchange', this.layoutSoon);
    this.addEventListener('dragover', this.onDragOver);
    this.addEventListener('dragleave', this.onDragLeave);
    this.addEventListener('drop', this.onDrop);
    setupPwa({
      onUpdate: (apply) => (this.updateReady = apply),
      onOfflineReady: () => this.say('Ready to work offline.'),
      onInstallable: (install) => (this.install = install),
    });
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    document.removeEventListener('visibilitychange', this.onVisibility);
    window.removeEventListener('orientationchange', this.layoutSoon);
    this.resizeObs.disconnect();
    clearInterval(this.motionTimer);
    this.engine.stop();
    stopStream(this.stream);
  }

  override async firstUpdated() {
    this.resizeObs.observe(this.stage);
    if (this.params.kiosk) {
      // Full screen needs a user gesture: the first touch anywhere (e.g. whoever sets the exhibit up) asks for it.
      this.addEventListener('pointerdown', () => void document.documentElement.requestFullscreen?.().catch(() => {}), { once: true });
      this.motion = new MotionMeter();
      this.motionTimer = setInterval(() => this.sampleMotion(), MOTION_SAMPLE_MS);
      void this.startCamera();
    }
    let catalogDefault: string | undefined;
    try {
      const cat = await loadCatalog();
      this.models = cat.models;
      catalogDefault = cat.default;
      void this.refreshAvailability();
    } catch (err) {
      this.say(`The model catalog could not be read (${messageOf(err)}); using the default model.`);
    }
    this.modelId = this.params.model ?? catalogDefault;
    void this.startEngine({ modelId: this.modelId });
  }

  protected override updated(changed: PropertyValues<this>) {
    if (changed.has('source') || changed.has('imageUrl')) this.layout();
  }

  // ---------------------------------------------------------------- engine

  startEngine(opts: EngineOptions) {
    this.result = undefined;
    return this.engine.start({ backend: this.params.backend, ...opts });
  }

  private onEngine(e: Parameters<ConstructorParameters<typeof Engine>[1]>[0]) {
    switch (e.type) {
      case 'loading':
        this.engineState = 'loading';
        this.engineMessage = 'Loading the model…';
        this.info = undefined;
        this.busy = false;
        break;
      case 'ready':
        this.engineState = 'ready';
        this.engineMessage = '';
        this.workerStatus = undefined;
        this.info = e.info;
        if (this.s.layer && !e.info.layers.some((l) => l.name === this.s.layer)) this.s = { ...this.s, layer: undefined };
        this.layout();
        this.stillDirty = true;
        void this.pump();
        void this.refreshAvailability();
        break;
      case 'status':
        this.workerStatus = e.status.state === 'ready' || e.status.state === 'idle' ? undefined : e.status;
        break;
      case 'restarting':
        this.engineState = 'loading';
        this.engineMessage = `The explain worker stopped (${e.reason}); restarting it…`;
        break;
      case 'failed':
        if (e.during === 'init') {
          this.engineState = 'failed';
          this.engineMessage = `The model could not be loaded: ${e.message}`;
        } else if (!this.engine.ready) {
          this.engineState = 'failed';
          this.engineMessage = e.message;
        } else {
          this.say(`Explaining this frame failed: ${e.message}`);
        }
        break;
    }
  }

  /** Send the next picture to the worker: a fresh camera frame, or the still picture after a change. At most one in flight. */
  private async pump(): Promise<void> {
    if (this.busy || !this.engine.ready || this.paused) return;
    const still = this.source === 'image' || this.frozen;
    if (still ? !this.still || !this.stillDirty : this.source !== 'camera' || this.video.readyState < 2) return;
    this.busy = true;
    this.stillDirty = false;
    try {
      const frame = await createImageBitmap(still ? this.still! : this.video);
      const r = await this.engine.explain(frame, explainRequest(this.s, still));
      if (r) {
        this.stillRetries = 0;
        this.onResult(r);
      } else if (still && this.stillRetries++ < STILL_RETRIES) {
        // A still picture gets no next frame: try again once the worker is back (lost device, restart).
        setTimeout(() => { this.stillDirty = true; void this.pump(); }, STILL_RETRY_MS);
      }
    } catch (err) {
      this.say(`Could not read the picture: ${messageOf(err)}`);
    } finally {
      this.busy = false;
    }
    if (this.stillDirty) void this.pump();
  }

  private onResult(r: FrameResult) {
    this.result = r;
    this.results++;
    window.__lastResult = r;
    const now = performance.now();
    this.resultTimes = [...this.resultTimes.slice(-9), now];
    const n = this.resultTimes.length;
    this.fps = n > 1 ? (1000 * (n - 1)) / (now - this.resultTimes[0]) : 0;
    if (this.params.kiosk) this.idle = this.idleTracker.update(r.top[0]?.index, this.lastMotion, Date.now());
  }

  /** A setting changed: the next camera frame uses it; a still picture is explained again. */
  set(patch: Partial<Settings>) {
    this.s = { ...this.s, ...patch };
    this.stillDirty = true;
    this.stillRetries = 0;
    void this.pump();
  }

  // ---------------------------------------------------------------- camera and pictures

  async startCamera(choice: Partial<Settings> = {}) {
    this.s = { ...this.s, ...choice };
    this.cameraProblem = undefined;
    stopStream(this.stream);
    this.stream = undefined;
    try {
      const stream = await openCamera(this.s);
      this.stream = stream;
      stream.getVideoTracks()[0]?.addEventListener('ended', () => {
        if (this.stream !== stream) return;
        stopStream(stream);
        this.stream = undefined;
        this.source = 'none';
        this.cameraProblem = new CameraError('ended', 'The camera was disconnected or stopped.');
      });
      this.video.srcObject = stream;
      await this.video.play();
      this.source = 'camera';
      this.frozen = false;
      this.idleTracker.reset(Date.now());
      this.armLoop();
      this.cameras = await listCameras();
    } catch (err) {
      stopStream(this.stream);
      this.stream = undefined;
      if (this.source === 'camera') this.source = 'none';
      this.cameraProblem = cameraError(err);
    }
  }

  /** A chain of requestVideoFrameCallback: each new video frame offers itself to pump(), which drops it if busy. */
  private armLoop() {
    const token = ++this.loopToken;
    const onFrame = () => {
      if (token !== this.loopToken || this.source !== 'camera') return;
      this.video.requestVideoFrameCallback(onFrame);
      void this.pump();
    };
    this.video.requestVideoFrameCallback(onFrame);
  }

  private switchCamera() {
    const current = this.stream?.getVideoTracks()[0]?.getSettings().deviceId;
    if (this.cameras.length > 1) {
      const i = this.cameras.findIndex((c) => c.deviceId === current);
      void this.startCamera({ deviceId: this.cameras[(i + 1) % this.cameras.length].deviceId });
    } else {
      void this.startCamera({ deviceId: undefined, facingMode: this.s.facingMode === 'user' ? 'environment' : 'user' });
    }
  }

  async toggleFreeze() {
    if (this.source !== 'camera') return;
    if (this.frozen) {
      this.frozen = false;
      await this.video.play();
      return;
    }
    this.video.pause();
    this.still?.close();
    this.still = await createImageBitmap(this.video);
    this.frozen = true;
  }

  /** Show and explain a still image (file picker or drop). */
  async openImage(file: File) {
    if (!file.type.startsWith('image/')) {
      this.say(`'${file.name}' is not an image (${file.type || 'unknown type'}).`);
      return;
    }
    let bmp: ImageBitmap;
    try {
      bmp = await createImageBitmap(file);
    } catch (err) {
      this.say(`'${file.name}' could not be decoded as an image (${messageOf(err)}).`);
      return;
    }
    stopStream(this.stream);
    this.stream = undefined;
    this.loopToken++;
    this.still?.close();
    this.still = bmp;
    this.stillRetries = 0;
    if (this.imageUrl) URL.revokeObjectURL(this.imageUrl);
    this.imageUrl = URL.createObjectURL(file);
    this.imageName = file.name;
    this.source = 'image';
    this.frozen = false;
    this.stillDirty = true;
    void this.pump();
  }

  private onDragOver = (e: DragEvent) => {
    if (this.params.kiosk) return;
    e.preventDefault();
    this.dragging = true;
  };
  private onDragLeave = () => (this.dragging = false);
  private onDrop = (e: DragEvent) => {
    if (this.params.kiosk) return;
    e.preventDefault();
    this.dragging = false;
    const file = [...(e.dataTransfer?.files ?? [])].find((f) => f.type.startsWith('image/')) ?? e.dataTransfer?.files[0];
    if (file) void this.openImage(file);
  };

  private onVisibility = () => {
    this.paused = document.hidden;
    if (this.source !== 'camera' || this.frozen) return;
    if (this.paused) this.video.pause();
    else {
      void this.video.play();
      this.idleTracker.reset(Date.now());
    }
  };

  private sampleMotion() {
    if (this.source === 'camera' && !this.paused && this.video.readyState >= 2) this.lastMotion = this.motion!.sample(this.video);
    this.idle = this.idleTracker.update(this.result?.top[0]?.index, this.lastMotion, Date.now());
  }

  async snapshot() {
    const picture = this.source === 'image' ? this.img : this.video;
    const r = this.result;
    if (!r || this.source === 'none') return this.say('Nothing to snapshot yet.');
    try {
      const name = `cnnfix-${stamp()}`;
      download(await compositePng(picture, this.engine.canvas), `${name}.png`);
      const json = resultJson(r, { info: this.info, rules: this.s.rules, method: this.s.method, source: this.source });
      download(new Blob([json], { type: 'application/json' }), `${name}.json`);
    } catch (err) {
      this.say(`Snapshot failed: ${messageOf(err)}`);
    }
  }

  // ---------------------------------------------------------------- layout

  private layoutSoon = () => setTimeout(() => this.layout(), 250);

  /** Lay the overlay canvas exactly over the picture's content box (object-fit: contain) and size its backing store. */
  layout() {
    const host = this.overlayHost;
    if (!host || !this.stage) return;
    const pic = this.source === 'image' ? this.img : this.video;
    const { width: w, height: h } = pictureSize(pic);
    const box = pic?.getBoundingClientRect();
    const stageBox = this.stage.getBoundingClientRect();
    if (!box || !w || !h) return;
    // Narrow layouts size the stage to the picture's aspect ratio (no letterbox bars under a landscape photo).
    this.stage.style.setProperty('--ar', `${w} / ${h}`);
    const r = containRect(w, h, box.width, box.height);
    Object.assign(host.style, {
      left: `${box.left - stageBox.left + r.left}px`, top: `${box.top - stageBox.top + r.top}px`,
      width: `${r.width}px`, height: `${r.height}px`,
    });
    const size = canvasSize(r, devicePixelRatio);
    void this.engine.resize(size.width, size.height);
  }

  private get mirrored() {
    return this.source === 'camera' && this.stream?.getVideoTracks()[0]?.getSettings().facingMode === 'user';
  }

  private say(msg: string) {
    this.toast = msg;
    setTimeout(() => { if (this.toast === msg) this.toast = ''; }, 6000);
  }

  private async refreshAvailability() {
    const entries = await Promise.all(this.models.map(async (m) => [m.id, await availability(m.id)] as const));
    this.modelAvailability = Object.fromEntries(entries);
  }

  // ---------------------------------------------------------------- rendering

  override render() {
    const k = this.params.kiosk;
    return html`
      ${k ? nothing : this.renderHeader()}
      <main class="layout">
        ${this.renderStage()}
        ${k ? nothing : this.renderPanel()}
      </main>
      ${k ? this.renderKioskFooter() : nothing}
      <div class="toast" role="status" aria-live="polite">${this.toast}</div>`;
  }

  private renderHeader() {
    return html`<header class="bar">
      <h1>CNN Fixations <span class="sub">live</span></h1>
      <div class="bar-actions">
        ${this.updateReady ? html`<button class="accent" @click=${() => this.updateReady?.()}>Update to the new version</button>` : nothing}
        ${this.install ? html`<button @click=${() => this.install?.()}>Install app</button>` : nothing}
      </div>
    </header>`;
  }

  private renderStage() {
    const top = this.result?.top[0];
    const explainedNames = this.result?.explained.map((e) => e.class.label) ?? [];
    return html`<section class="stage ${this.dragging ? 'dragging' : ''}" aria-label="Picture and its explanation" data-testid="stage">
      <video class=${this.mirrored ? 'mirror' : ''} playsinline muted ?hidden=${this.source !== 'camera'}
        @loadedmetadata=${() => this.layout()} @resize=${() => this.layout()}></video>
      <img class="still" alt=${this.imageName ? `Still image ${this.imageName}` : ''} src=${this.imageUrl ?? ''}
        ?hidden=${this.source !== 'image'} @load=${() => this.layout()} />
      <div class="overlay-host ${this.mirrored ? 'mirror' : ''}" ?hidden=${this.source === 'none'}></div>
      ${this.source === 'none' ? this.renderStart() : nothing}
      ${this.engineState !== 'ready' && this.source !== 'none' ? html`<div class="veil">${this.engineMessage}</div>` : nothing}
      <div class="caption" aria-live="polite">
        <span class="top1" data-testid="top1">${top ? splitLabel(top.label) : ''}</span>
        ${top ? html`<span class="prob">${pct(top.prob)}</span>` : nothing}
        ${explainedNames.length && (this.s.classes.length || this.s.method !== 'fixations')
          ? html`<span class="explaining">${this.s.method === 'fixations' ? 'fixations' : this.s.method === 'cam' ? 'CAM' : 'Grad-CAM'} for ${explainedNames.join(', ')}</span>`
          : nothing}
        ${this.frozen ? html`<span class="badge">frozen</span>` : nothing}
        ${this.paused ? html`<span class="badge">paused</span>` : nothing}
      </div>
      ${this.params.kiosk ? nothing : this.renderNotices()}
      ${this.params.kiosk && this.idle ? this.renderAttract() : nothing}
      ${this.dragging ? html`<div class="drop-hint">Drop an image to explain it</div>` : nothing}
    </section>`;
  }

  private renderStart() {
    const p = this.cameraProblem;
    const k = this.params.kiosk;
    return html`<div class="start" data-testid="start">
      ${p ? html`<p class="problem" role="alert" data-testid="camera-error">${p.message}</p>` : nothing}
      ${k
        ? html`<button class="big" @click=${() => this.startCamera()}>Tap to start the camera</button>`
        : html`
          <p class="lead">See which pixels a neural network's guess rests on.</p>
          <div class="row">
            <button class="accent big" data-testid="start-camera" @click=${() => this.startCamera()}>
              ${p ? (p.kind === 'ended' ? 'Reconnect the camera' : 'Try the camera again') : 'Start the camera'}</button>
            <button class="big" @click=${() => this.fileInput.click()}>Open an image</button>
          </div>
          <p class="hint">…or drop an image here. Nothing you show leaves this device.</p>`}
      ${k && this.engineState === 'failed' ? html`<p class="problem" role="alert">${this.engineMessage}</p>` : nothing}
    </div>`;
  }

  private renderAttract() {
    return html`<div class="attract" data-testid="attract">
      <p class="attract-title">Show me something!</p>
      <p>Hold an object up to the camera. The colours will show which pixels the network's guess rests on.</p>
    </div>`;
  }

  private renderKioskFooter() {
    return html`<footer class="legend">
      <span><span class="ramp ${this.s.colormap}" aria-hidden="true"></span> warm = strongest evidence for the guess</span>
      <span><span class="dot" style="--c:${CLASS_COLORS[0]}" aria-hidden="true"></span> pixels it kept</span>
      <span><span class="boxmark" style="--c:${CLASS_COLORS[0]}" aria-hidden="true"></span> their extent</span>
      <span class="caveat">The network's evidence, not what it "sees".</span>
    </footer>`;
  }

  private renderPanel() {
    return html`<aside class="panel" aria-label="Controls">
      ${this.renderTop5()}
      ${this.renderSource()}
      ${this.renderClasses()}
      ${this.renderOverlay()}
      ${this.renderMethod()}
      ${this.renderLayers()}
      ${this.renderModel()}
      ${this.renderPerf()}
      <input class="image-input" type="file" accept="image/*" hidden aria-label="Image file"
        @change=${(e: Event) => { const f = (e.target as HTMLInputElement).files?.[0]; if (f) void this.openImage(f); (e.target as HTMLInputElement).value = ''; }} />
    </aside>`;
  }

  private renderNotices() {
    const i = this.info;
    const st = this.workerStatus;
    return html`<div class="notices" role="status" aria-live="polite" data-testid="status">
      ${this.engineState === 'loading' ? html`<p class="note">${this.engineMessage}</p>` : nothing}
      ${this.engineState === 'failed' ? html`<div class="problem" role="alert" data-testid="model-error">
          <p>${this.engineMessage}</p>
          <button @click=${() => this.startEngine({ modelId: this.modelId })}>Retry</button>
          <span>or pick another model below.</span></div>` : nothing}
      ${st?.state === 'recovering' ? html`<p class="note warn">The GPU was reset; recovering… ${st.message ?? ''}</p>` : nothing}
      ${i?.path === 'fallback' ? html`<p class="note warn" data-testid="fallback-note">
          No WebGPU path: running ${i.backend} inference with the unravelling on the CPU (slower).
          ${i.fallbackReason ? html`<br /><small>${i.fallbackReason}</small>` : nothing}</p>` : nothing}
    </div>`;
  }

  private renderTop5() {
    const top = this.result?.top ?? [];
    return html`<section aria-labelledby="h-top">
      <h2 id="h-top">Top 5</h2>
      ${top.length === 0 ? html`<p class="muted">No prediction yet.</p>` : nothing}
      <ol class="top5">
        ${top.map((t) => {
          const pinned = this.s.classes.includes(t.index);
          return html`<li>
            <button class="top-row" aria-pressed=${pinned} title=${pinned ? 'Stop explaining this class' : 'Explain this class'}
              @click=${() => this.toggleClass(t.index)}>
              <span class="bar-fill" style="width:${(t.prob * 100).toFixed(1)}%"></span>
              <span class="label">${t.label}</span><span class="pct">${pct(t.prob)}</span>
            </button></li>`;
        })}
      </ol>
    </section>`;
  }

  toggleClass(index: number) {
    const has = this.s.classes.includes(index);
    if (!has && this.s.classes.length >= MAX_CLASSES) return this.say(`At most ${MAX_CLASSES} classes at once.`);
    this.set({ classes: has ? this.s.classes.filter((c) => c !== index) : [...this.s.classes, index] });
  }

  private renderClasses() {
    const labels = this.info?.labels ?? [];
    const q = this.classQuery.trim().toLowerCase();
    const hits = q ? labels.map((l, i) => [l, i] as const).filter(([l]) => l.toLowerCase().includes(q)).slice(0, 8) : [];
    return html`<section aria-labelledby="h-classes">
      <h2 id="h-classes">Explain</h2>
      <p class="muted">${this.s.classes.length ? 'These classes, one colour each:' : 'The top-1 class, whatever it is. Or ask where it would look for:'}</p>
      <ul class="chips">
        ${this.s.classes.map((c, i) => html`<li class="chip" style="--c:${CLASS_COLORS[i]}">
          <span class="swatch" aria-hidden="true"></span>${labels[c] ?? `class ${c}`}
          <button class="x" aria-label="Remove ${labels[c] ?? c}" @click=${() => this.toggleClass(c)}>×</button></li>`)}
      </ul>
      ${this.s.classes.length ? html`<button @click=${() => this.set({ classes: [] })}>Back to the top-1 class</button>` : nothing}
      <label class="field">Find a class
        <input type="search" placeholder="e.g. umbrella" .value=${this.classQuery} ?disabled=${!labels.length}
          @input=${(e: Event) => (this.classQuery = (e.target as HTMLInputElement).value)} />
      </label>
      ${q ? html`<ul class="hits" aria-label="Matching classes">
          ${hits.length ? hits.map(([l, i]) => html`<li><button @click=${() => { this.toggleClass(i); this.classQuery = ''; }}>
            ${this.s.classes.includes(i) ? '✓ ' : '+ '}${l}</button></li>`) : html`<li class="muted">No class matches.</li>`}
        </ul>` : nothing}
    </section>`;
  }

  private renderOverlay() {
    const s = this.s;
    return html`<section aria-labelledby="h-overlay">
      <h2 id="h-overlay">Overlay</h2>
      <div class="checks">
        <label><input type="checkbox" .checked=${s.heatmap} @change=${(e: Event) => this.set({ heatmap: checked(e) })} /> heatmap</label>
        <label><input type="checkbox" .checked=${s.points} @change=${(e: Event) => this.set({ points: checked(e) })} /> points</label>
        <label><input type="checkbox" .checked=${s.box} @change=${(e: Event) => this.set({ box: checked(e) })} /> box</label>
        <label><input type="checkbox" .checked=${s.smooth} @change=${(e: Event) => this.set({ smooth: checked(e) })} /> smooth over frames</label>
      </div>
      <label class="field">Colours
        <select @change=${(e: Event) => this.set({ colormap: value(e) as Settings['colormap'] })}>
          ${COLORMAPS.map((c) => html`<option value=${c} ?selected=${c === s.colormap}>${c}</option>`)}
        </select>
      </label>
      <label class="field"><span>Opacity <span class="val">${Math.round(s.opacity * 100)}%</span></span>
        <input type="range" min="0" max="1" step="0.05" .value=${String(s.opacity)} aria-valuetext="${Math.round(s.opacity * 100)}%"
          @input=${(e: Event) => this.set({ opacity: Number(value(e)) })} />
      </label>
    </section>`;
  }

  private renderMethod() {
    const s = this.s;
    const methods = [['fixations', 'Fixations'], ['cam', 'CAM'], ['gradcam', 'Grad-CAM']] as const;
    return html`<section aria-labelledby="h-method">
      <h2 id="h-method">Method</h2>
      <div class="seg" role="radiogroup" aria-labelledby="h-method">
        ${methods.map(([m, name]) => html`<label><input type="radio" name="method" .checked=${s.method === m}
          @change=${() => this.set({ method: m })} /> ${name}</label>`)}
      </div>
      <label class="field">Rules
        <select ?disabled=${s.method !== 'fixations'} @change=${(e: Event) => this.set({ rules: value(e) as Settings['rules'] })}>
          <option value="default" ?selected=${s.rules === 'default'}>default (measured best)</option>
          <option value="reference" ?selected=${s.rules === 'reference'}>reference (the authors')</option>
        </select>
      </label>
      <label class="field">Network input
        <select @change=${(e: Event) => this.set({ fit: value(e) as Settings['fit'] })}>
          <option value="crop" ?selected=${s.fit === 'crop'}>centre square</option>
          <option value="letterbox" ?selected=${s.fit === 'letterbox'}>whole picture (letterbox)</option>
        </select>
      </label>
    </section>`;
  }

  private renderLayers() {
    const stops = layerStops(this.info);
    const i = this.s.layer === undefined ? stops.length : Math.max(0, stops.findIndex((l) => l.name === this.s.layer));
    const kept = this.s.layer ? this.result?.layers.find((l) => l.name === this.s.layer) : undefined;
    const fix = this.result?.explained.reduce((n, e) => n + e.fixations.length, 0);
    return html`<section aria-labelledby="h-layers">
      <h2 id="h-layers">Layer view</h2>
      <label class="field">From the class down to the pixels
        <input type="range" min="0" max=${stops.length} step="1" .value=${String(i)} ?disabled=${!stops.length || this.s.method !== 'fixations'}
          aria-valuetext=${this.s.layer ?? 'pixels'}
          @input=${(e: Event) => { const k = Number(value(e)); this.set({ layer: k >= stops.length ? undefined : stops[k].name }); }} />
      </label>
      <p class="layer-readout" data-testid="layer">
        <strong>${this.s.layer ?? 'pixels (fixations)'}</strong>
        ${this.s.layer ? html` · ${kept ? `${kept.count} kept neurons` : '…'} · shape ${stops[i]?.shape.join('×')}`
          : fix !== undefined ? html` · ${fix} fixations` : nothing}
      </p>
    </section>`;
  }

  private renderSource() {
    const cam = this.source === 'camera';
    return html`<section aria-labelledby="h-source">
      <h2 id="h-source">Picture</h2>
      <div class="row wrap">
        ${cam
          ? html`<button @click=${() => this.toggleFreeze()} aria-pressed=${this.frozen}>${this.frozen ? 'Resume' : 'Freeze'}</button>
                 <button @click=${() => this.switchCamera()}>Switch camera</button>`
          : html`<button data-testid="start-camera-panel" @click=${() => this.startCamera()}>${this.source === 'image' ? 'Back to the camera' : 'Start the camera'}</button>`}
        <button data-testid="open-image" @click=${() => this.fileInput.click()}>Open an image…</button>
        <button data-testid="snapshot" ?disabled=${!this.result || this.source === 'none'} @click=${() => this.snapshot()}>Snapshot</button>
      </div>
      ${this.cameras.length > 1 ? html`<label class="field">Camera
          <select @change=${(e: Event) => this.startCamera({ deviceId: value(e) })}>
            ${this.cameras.map((c, n) => html`<option value=${c.deviceId} ?selected=${c.deviceId === this.stream?.getVideoTracks()[0]?.getSettings().deviceId}>${c.label || `Camera ${n + 1}`}</option>`)}
          </select></label>` : nothing}
      <label class="field">Resolution
        <select @change=${(e: Event) => { const r = value(e) as Resolution; if (cam) void this.startCamera({ resolution: r }); else this.s = { ...this.s, resolution: r }; }}>
          ${Object.keys(RESOLUTIONS).map((r) => html`<option ?selected=${r === this.s.resolution}>${r}</option>`)}
        </select>
      </label>
      ${cam && this.video?.videoWidth ? html`<p class="muted">Camera: ${this.video.videoWidth}×${this.video.videoHeight}</p>` : nothing}
    </section>`;
  }

  private renderModel() {
    return html`<section aria-labelledby="h-model">
      <h2 id="h-model">Model</h2>
      <label class="field">Network
        <select @change=${(e: Event) => { this.modelId = value(e); this.ownModel = undefined; void this.startEngine({ modelId: this.modelId }); }}>
          ${this.models.map((m) => html`<option value=${m.id} ?selected=${m.id === this.modelId}>${m.name ?? m.id}${availabilityNote(this.modelAvailability[m.id])}</option>`)}
          ${this.modelId && !this.models.some((m) => m.id === this.modelId) ? html`<option selected value=${this.modelId}>${this.modelId}</option>` : nothing}
        </select>
      </label>
      <details>
        <summary>Load your own TF.js graph model or layers model (e.g. Teachable Machine)</summary>
        <form class="own" @submit=${(e: Event) => this.loadOwnUrl(e)}>
          <label class="field">model.json URL (this site, or a host the page's policy allows)
            <input name="url" type="url" placeholder="https://…/model.json" required /></label>
          <button type="submit">Load from URL</button>
        </form>
        <label class="field">…or its files (model.json, weight shards, optional labels.json, metadata.json or cnnfix.json)
          <input type="file" multiple accept=".json,.bin,.onnx,.txt,application/json,application/octet-stream" @change=${(e: Event) => this.loadOwnFiles(e)} />
        </label>
      </details>
      ${this.ownModel ? html`<cnnfix-model-facts .modelKey=${this.ownModel.key} .info=${this.info}
        @facts-change=${(e: CustomEvent<FactsChoice>) => this.startOwn(this.ownModel!.source, this.ownModel!.key, e.detail)}></cnnfix-model-facts>` : nothing}
    </section>`;
  }

  /** Load a user model with the facts remembered for it. */
  private startOwn(source: EngineOptions, key: string, choice = loadChoice(key)) {
    this.modelId = undefined;
    this.ownModel = { source, key };
    void this.startEngine({ ...source, ...choiceOptions(choice) });
  }

  private loadOwnUrl(e: Event) {
    e.preventDefault();
    const url = new URL(new FormData(e.target as HTMLFormElement).get('url') as string, location.href).href;
    this.startOwn({ modelUrl: url }, url);
  }

  private loadOwnFiles(e: Event) {
    const files = [...((e.target as HTMLInputElement).files ?? [])];
    if (!files.some((f) => (f.name.endsWith('.json') && f.name !== 'labels.json') || f.name.endsWith('.onnx'))) {
      this.say('Pick model.json together with its weight files (.bin).');
      return;
    }
    this.startOwn({ modelFiles: files }, files.map((f) => `${f.name}:${f.size}`).sort().join('|'));
  }

  private renderPerf() {
    const r = this.result;
    const i = this.info;
    return html`<section aria-labelledby="h-perf">
      <h2 id="h-perf">Performance</h2>
      <dl class="perf" data-testid="perf">
        <dt>speed</dt><dd>${!this.fps ? '–' : this.fps >= 1 ? `${this.fps.toFixed(1)} frames/s` : `${(1 / this.fps).toFixed(1)} s/frame`}</dd>
        <dt>path</dt><dd>${i ? `${i.path} (${i.backend})` : '–'}</dd>
        <dt>model</dt><dd>${i?.modelId ?? '–'}</dd>
        ${r ? Object.entries(r.timings).map(([k, v]) => html`<dt>${k}</dt><dd>${v.toFixed(1)} ms</dd>`) : nothing}
        ${r ? html`<dt>bytes read back</dt><dd>${(r.readbackBytes / 1024).toFixed(1)} KiB</dd>` : nothing}
      </dl>
    </section>`;
  }
}

/** The layer view's stops, from the class (logits) down towards the input; the input itself is the "pixels" end. */
export function layerStops(info?: InitInfo): InitInfo['layers'] {
  if (!info) return [];
  const isInput = (l: InitInfo['layers'][number]) =>
    l.shape.length === 3 && l.shape.every((d, i) => d === info.inputShape[i]);
  const layers = info.layers.filter((l) => !isInput(l));
  // Forward order starts with big maps and ends with the class vector: show it the other way round.
  const first = info.layers[0];
  return first && isInput(first) ? layers.reverse() : layers;
}

/** "fox squirrel, eastern fox squirrel, Sciurus niger": the first name large, the synonyms small. */
function splitLabel(label: string) {
  const i = label.indexOf(', ');
  return i < 0 ? label : html`${label.slice(0, i)}<span class="syn">${label.slice(i)}</span>`;
}

const pct = (p: number) => `${(p * 100).toFixed(p >= 0.995 ? 0 : 1)}%`;
const checked = (e: Event) => (e.target as HTMLInputElement).checked;
const value = (e: Event) => (e.target as HTMLInputElement | HTMLSelectElement).value;
const availabilityNote = (a?: Availability) =>
  a === 'offline' ? ' — offline ready' : a === 'missing' ? ' — not installed here (try to load)' : a === 'unknown' ? ' — not available offline' : '';

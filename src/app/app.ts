// <cnnfix-app>: the page. The stage is <cnn-fixations> (picture or camera, worker, overlay; see src/element/) with the
// app's captions and notices over it; the panel is made of small controls (controls.ts, sources.ts). Properties go
// down (the settings, the source, the model), events come up (settings, picked classes, camera and model actions,
// the element's results and state). Exhibit mode (?kiosk) shows the same stage with large type, a legend and an
// attract screen, and no controls.
import { LitElement, html, nothing } from 'lit';
import { customElement, query, state } from 'lit/decorators.js';
import { CLASS_COLORS, type BoxSource, type FrameResult, type InitInfo, type WorkerStatus } from '../worker/api.ts';
import { MIN_BOX_POINTS } from '../engine/post.ts';
import type { CnnFixations, EngineState, Showing } from '../element/cnn-fixations.ts';
import '../element/cnn-fixations.ts';
import { listCameras, type CameraError } from '../camera/camera.ts';
import { availability, loadCatalog, type Availability, type CatalogModel } from './catalog.ts';
import { messageOf } from '../element/worker-client.ts';
import { IdleTracker, MotionMeter } from './idle.ts';
import { setupPwa } from './pwa.ts';
import { DEFAULTS, type Settings } from '../element/settings.ts';
import { pageParams } from './page-params.ts';
import { download, resultJson, stamp } from '../element/snapshot.ts';
import { appStyles } from './styles.ts';
import { pct } from './control.ts';
import './controls.ts';
import { choiceOptions, loadChoice, type FactsChoice } from './model-facts.ts';
import type { ModelChoice } from './sources.ts';
import './sources.ts';

const MAX_CLASSES = CLASS_COLORS.length;
const MOTION_SAMPLE_MS = 500;

declare global {
  interface Window {
    /** The latest FrameResult, for tests and the console; results never leave the page. */
    __lastResult?: FrameResult;
    __cnnfix?: CnnfixApp;
  }
}

@customElement('cnnfix-app')
export class CnnfixApp extends LitElement {
  static override styles = appStyles;

  readonly params = pageParams();
  @state() s: Settings = { ...DEFAULTS, ...this.params.settings };
  /** What <cnn-fixations> shows: '' nothing yet, 'camera', or the object URL of an opened image. */
  @state() private src = '';
  /** The model <cnn-fixations> loads: a catalog id or model.json URL (undefined: the catalog's default), or files. */
  @state() private engineModel = this.params.model;
  @state() private modelFiles?: File[];
  @state() private modelFacts?: ReturnType<typeof choiceOptions>;
  /** A user model (URL or files) and its key for the remembered facts (<cnnfix-model-facts>). */
  @state() ownModel?: { source: Exclude<ModelChoice, { modelId: string }>; key: string };
  @state() frozen = false;
  // Mirrors of the element's state (its `statechange` event), for rendering and tests.
  @state() info?: InitInfo;
  @state() engineState: EngineState = 'loading';
  @state() engineMessage = '';
  @state() workerStatus?: WorkerStatus;
  @state() source: Showing = 'none';
  @state() cameraProblem?: CameraError;
  @state() paused = false;
  @state() result?: FrameResult;
  @state() fps = 0;
  @state() cameras: MediaDeviceInfo[] = [];
  @state() idle = false;
  @state() imageName = '';
  @state() models: CatalogModel[] = [];
  @state() modelAvailability: Record<string, Availability> = {};
  /** The catalog model chosen in the picker; undefined for a user's own model. */
  @state() modelId?: string;
  @state() toast = '';
  @state() updateReady?: () => void;
  @state() install: (() => Promise<void>) | null = null;
  @state() dragging = false;

  @query('cnn-fixations') fix!: CnnFixations;
  @query('.stage') stage!: HTMLElement;
  @query('input[type=file].image-input') fileInput!: HTMLInputElement;

  private imageUrl?: string;
  private readonly idleTracker = new IdleTracker(this.params.idleMs);
  private motion?: MotionMeter;
  private motionTimer?: ReturnType<typeof setInterval>;
  private lastMotion = Infinity;

  // Stable hooks for tests and the console: the element's video, worker, stream and counters.
  get video() { return this.fix?.video; }
  get engine() { return this.fix?.engine; }
  get stream() { return this.fix?.stream; }
  /** Results received so far. */
  get results() { return this.fix?.results ?? 0; }
  /** Whether a frame is with the worker now (tests wait for a quiet moment). */
  get inFlight() { return this.fix?.inFlight ?? false; }
  get framesInFlight() { return this.fix?.framesInFlight ?? 0; }

  override connectedCallback() {
    super.connectedCallback();
    window.__cnnfix = this;
    this.classList.toggle('kiosk', this.params.kiosk);
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
    clearInterval(this.motionTimer);
  }

  override async firstUpdated() {
    if (this.params.kiosk) {
      // Full screen needs a user gesture: the first touch anywhere (e.g. whoever sets the exhibit up) asks for it.
      this.addEventListener('pointerdown', () => void document.documentElement.requestFullscreen?.().catch(() => {}), { once: true });
      this.motion = new MotionMeter();
      this.motionTimer = setInterval(() => this.sampleMotion(), MOTION_SAMPLE_MS);
      void this.startCamera();
    }
    // The element loads the model meanwhile (the catalog's default unless ?model= names one).
    try {
      const cat = await loadCatalog();
      this.models = cat.models;
      this.modelId = this.params.model ?? cat.default;
      void this.refreshAvailability();
    } catch (err) {
      this.modelId = this.params.model;
      this.say(`The model catalog could not be read (${messageOf(err)}); using the default model.`);
    }
  }

  // ---------------------------------------------------------------- events from <cnn-fixations>

  private onState() {
    const f = this.fix;
    const newModel = f.info !== this.info && f.info;
    const cameraStarted = f.showing === 'camera' && this.source !== 'camera';
    this.engineState = f.status;
    this.engineMessage = f.message;
    this.info = f.info;
    this.workerStatus = f.workerStatus;
    this.cameraProblem = f.cameraError;
    this.frozen = f.frozen;
    this.result = f.result;
    if (this.paused && !f.paused && f.showing === 'camera') this.idleTracker.reset(Date.now());
    this.paused = f.paused;
    this.source = f.showing;
    // Narrow layouts size the stage to the picture's aspect ratio (no letterbox bars under a landscape photo).
    if (f.pictureSize.width) this.stage?.style.setProperty('--ar', `${f.pictureSize.width} / ${f.pictureSize.height}`);
    if (cameraStarted) {
      this.idleTracker.reset(Date.now());
      void listCameras().then((c) => (this.cameras = c));
    }
    if (newModel) {
      if (this.s.layer && !newModel.layers.some((l) => l.name === this.s.layer)) this.s = { ...this.s, layer: undefined };
      void this.refreshAvailability();
    }
  }

  private onResult(r: FrameResult) {
    this.result = r;
    window.__lastResult = r;
    this.fps = this.fix.loop.fps;
    if (this.params.kiosk) this.idle = this.idleTracker.update(r.top[0]?.index, this.lastMotion, Date.now());
  }

  // ---------------------------------------------------------------- what the user asks for

  /** A setting changed: <cnn-fixations> uses it for the next camera frame, or explains a still picture again. */
  set(patch: Partial<Settings>) {
    this.s = { ...this.s, ...patch };
  }

  toggleClass(index: number) {
    const has = this.s.classes.includes(index);
    if (!has && this.s.classes.length >= MAX_CLASSES) return this.say(`At most ${MAX_CLASSES} classes at once.`);
    this.set({ classes: has ? this.s.classes.filter((c) => c !== index) : [...this.s.classes, index] });
  }

  async startCamera(choice: Partial<Settings> = {}) {
    this.s = { ...this.s, ...choice };
    if (this.src !== 'camera') {
      this.src = 'camera';
      this.forgetImage();
      return;
    }
    await this.updateComplete; // the element has the new camera choice
    await this.fix.startCamera();
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

  toggleFreeze() {
    if (this.source === 'camera') this.frozen = !this.frozen;
  }

  /** Show and explain a still image (file picker or drop). */
  async openImage(file: File) {
    if (!file.type.startsWith('image/')) {
      this.say(`'${file.name}' is not an image (${file.type || 'unknown type'}).`);
      return;
    }
    try {
      (await createImageBitmap(file)).close(); // decodable: only then does it replace the picture on show
    } catch (err) {
      this.say(`'${file.name}' could not be decoded as an image (${messageOf(err)}).`);
      return;
    }
    this.forgetImage();
    this.imageUrl = URL.createObjectURL(file);
    this.imageName = file.name;
    this.src = this.imageUrl;
  }

  private forgetImage() {
    // Revoked once the element has moved on: the <img> may still be reading it.
    const old = this.imageUrl;
    if (old) setTimeout(() => URL.revokeObjectURL(old), 10_000);
    this.imageUrl = undefined;
  }

  private pickModel(c: ModelChoice) {
    if ('modelId' in c) {
      this.ownModel = this.modelFiles = this.modelFacts = undefined;
      this.modelId = this.engineModel = c.modelId;
    } else {
      this.startOwn(c, 'modelUrl' in c ? c.modelUrl : c.modelFiles.map((f) => `${f.name}:${f.size}`).sort().join('|'));
    }
  }

  /** Load a user model with the facts remembered for it (a new facts object: the element loads it again). */
  private startOwn(source: Exclude<ModelChoice, { modelId: string }>, key: string, choice = loadChoice(key)) {
    this.modelId = undefined;
    this.ownModel = { source, key };
    this.modelFiles = 'modelFiles' in source ? source.modelFiles : undefined;
    if ('modelUrl' in source) this.engineModel = source.modelUrl;
    this.modelFacts = choiceOptions(choice);
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
    const files = [...(e.dataTransfer?.files ?? [])];
    // A model dropped (an .onnx file, or model.json with its weights, labels and facts files) becomes the user's model.
    if (files.some((f) => /\.onnx$/i.test(f.name) || f.name === 'model.json')) return this.pickModel({ modelFiles: files });
    const file = files.find((f) => f.type.startsWith('image/')) ?? files[0];
    if (file) void this.openImage(file);
  };

  private sampleMotion() {
    if (this.source === 'camera' && !this.paused && this.video.readyState >= 2) this.lastMotion = this.motion!.sample(this.video);
    this.idle = this.idleTracker.update(this.result?.top[0]?.index, this.lastMotion, Date.now());
  }

  async snapshot() {
    const r = this.result;
    if (!r || this.source === 'none') return this.say('Nothing to snapshot yet.');
    try {
      const name = `cnnfix-${stamp()}`;
      download(await this.fix.snapshot(), `${name}.png`);
      const json = resultJson(r, { info: this.info, rules: this.s.rules, method: this.s.method, source: this.source });
      download(new Blob([json], { type: 'application/json' }), `${name}.json`);
    } catch (err) {
      this.say(`Snapshot failed: ${messageOf(err)}`);
    }
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
    const s = this.s;
    const top = this.result?.top[0];
    const explained = this.result?.explained ?? [];
    return html`<section class="stage ${this.dragging ? 'dragging' : ''}" aria-label="Picture and its explanation" data-testid="stage">
      <cnn-fixations .model=${this.engineModel} .modelFiles=${this.modelFiles} .modelFacts=${this.modelFacts} .backend=${this.params.backend}
        .source=${this.src} .frozen=${this.frozen} alt=${this.imageName ? `Still image ${this.imageName}` : ''}
        .classes=${s.classes} .method=${s.method} .rules=${s.rules} .fit=${s.fit} .colormap=${s.colormap} .opacity=${s.opacity}
        .points=${s.points} .heatmap=${s.heatmap} .box=${s.box} .smooth=${s.smooth} .layer=${s.layer}
        .facingMode=${s.facingMode} .resolution=${s.resolution} .deviceId=${s.deviceId}
        @statechange=${() => this.onState()} @result=${(e: CustomEvent<FrameResult>) => this.onResult(e.detail)}
        @problem=${(e: CustomEvent<{ message: string }>) => this.say(e.detail.message)}></cnn-fixations>
      ${this.source === 'none' ? this.renderStart() : nothing}
      ${this.engineState !== 'ready' && this.source !== 'none' ? html`<div class="veil">${this.engineMessage}</div>` : nothing}
      <div class="caption" aria-live="polite">
        <span class="top1" data-testid="top1">${top ? splitLabel(top.label) : ''}</span>
        ${top ? html`<span class="prob">${pct(top.prob)}</span>` : nothing}
        ${explained.length && (s.classes.length || s.method !== 'fixations')
          ? html`<span class="explaining">${METHOD_NAMES[s.method]} for ${explained.map((e, i) =>
            // Several classes: each name with its colour, the legend of the per-class heatmaps, points and boxes.
            html`${i ? ', ' : ''}${explained.length > 1 ? html`<span class="swatch" style="--c:${e.color}" aria-hidden="true"></span>` : nothing}${e.class.label}`)}</span>`
          : nothing}
        ${explained.length && s.box ? html`<span class="box-source" data-testid="box-source">${boxNote(explained[0].boxSource)}</span>` : nothing}
        ${this.frozen ? html`<span class="badge">frozen</span>` : nothing}
        ${this.paused ? html`<span class="badge">paused</span>` : nothing}
      </div>
      ${this.params.kiosk ? nothing : this.renderNotices()}
      ${this.params.kiosk && this.idle ? this.renderAttract() : nothing}
      ${this.dragging ? html`<div class="drop-hint">Drop an image to explain it, or a model (.onnx, or model.json with its files)</div>` : nothing}
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

  private renderNotices() {
    const i = this.info;
    const st = this.workerStatus;
    return html`<div class="notices" role="status" aria-live="polite" data-testid="status">
      ${this.engineState === 'loading' ? html`<p class="note">${this.engineMessage}</p>` : nothing}
      ${this.engineState === 'failed' ? html`<div class="problem" role="alert" data-testid="model-error">
          <p>${this.engineMessage}</p>
          <button @click=${() => this.fix.reload()}>${this.fix.failure === 'run' ? 'Restart' : 'Retry'}</button>
          <span>or pick another model below.</span></div>` : nothing}
      ${st?.state === 'recovering' ? html`<p class="note warn">The GPU was reset; recovering… ${st.message ?? ''}</p>` : nothing}
      ${i?.path === 'fallback' ? html`<p class="note warn" data-testid="fallback-note">
          ${i.auto ? html`The fallback path was faster here: running ${i.backend} inference with the unravelling on the CPU.`
            : html`No WebGPU path: running ${i.backend}${i.wasm ? ` (${i.wasm.simd ? 'SIMD, ' : ''}${i.wasm.threads} thread${i.wasm.threads === 1 ? '' : 's'})` : ''}
              inference with the unravelling on the CPU (slower).`}
          ${i.fallbackReason ? html`<br /><small>${i.fallbackReason}</small>` : nothing}</p>` : nothing}
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
    const s = this.s;
    const video = this.source === 'camera' ? this.fix?.video : undefined;
    return html`<aside class="panel" aria-label="Controls"
      @settings=${(e: CustomEvent<Partial<Settings>>) => this.set(e.detail)}
      @toggle-class=${(e: CustomEvent<number>) => this.toggleClass(e.detail)}
      @start-camera=${(e: CustomEvent<Partial<Settings>>) => void this.startCamera(e.detail)}
      @freeze=${() => this.toggleFreeze()} @switch-camera=${() => this.switchCamera()}
      @open-image=${() => this.fileInput.click()} @snapshot=${() => void this.snapshot()}
      @pick-model=${(e: CustomEvent<ModelChoice>) => this.pickModel(e.detail)}
      @facts-change=${(e: CustomEvent<FactsChoice>) => this.ownModel && this.startOwn(this.ownModel.source, this.ownModel.key, e.detail)}
      @say=${(e: CustomEvent<string>) => this.say(e.detail)}>
      <cnnfix-top5 .top=${this.result?.top ?? []} .pinned=${s.classes}></cnnfix-top5>
      <cnnfix-picture .source=${this.source} .frozen=${this.frozen} .canSnapshot=${!!this.result && this.source !== 'none'}
        .cameras=${this.cameras} .deviceId=${this.stream?.getVideoTracks()[0]?.getSettings().deviceId} .resolution=${s.resolution}
        .videoSize=${video ? { width: video.videoWidth, height: video.videoHeight } : undefined}></cnnfix-picture>
      <cnnfix-classes .labels=${this.info?.labels ?? []} .classes=${s.classes}></cnnfix-classes>
      <cnnfix-overlay-controls .s=${s}></cnnfix-overlay-controls>
      <cnnfix-method .s=${s}></cnnfix-method>
      <cnnfix-layers .s=${s} .info=${this.info} .result=${this.result}></cnnfix-layers>
      <cnnfix-model .models=${this.models} .availability=${this.modelAvailability} .modelId=${this.modelId}
        .ownModelKey=${this.ownModel?.key} .info=${this.info}></cnnfix-model>
      <cnnfix-perf .info=${this.info} .result=${this.result} .fps=${this.fps}></cnnfix-perf>
      <input class="image-input" type="file" accept="image/*" hidden aria-label="Image file"
        @change=${(e: Event) => { const f = (e.target as HTMLInputElement).files?.[0]; if (f) void this.openImage(f); (e.target as HTMLInputElement).value = ''; }} />
    </aside>`;
  }
}

/** "fox squirrel, eastern fox squirrel, Sciurus niger": the first name large, the synonyms small. */
/** The methods' names in the caption. */
const METHOD_NAMES: Record<Settings['method'], string> = { fixations: 'fixations', guided: 'guided (class map x fixations)', cam: 'CAM', gradcam: 'Grad-CAM' };

/** Which box the overlay shows (the first class's), in the caption. */
function boxNote(source: BoxSource | null): string {
  return source === 'fixations' ? 'box: the fixations\' (the paper\'s)' : source === 'map' ? 'box: the map\'s (CAM protocol)'
    : `no box (fewer than ${MIN_BOX_POINTS} points)`;
}

function splitLabel(label: string) {
  const i = label.indexOf(', ');
  return i < 0 ? label : html`${label.slice(0, i)}<span class="syn">${label.slice(i)}</span>`;
}

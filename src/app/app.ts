// <cnnfix-app>: the page. The stage is <cnn-fixations> (picture or camera, worker, overlay; see src/element/) with the
// app's captions and notices over it; the panel is made of small controls (controls.ts, sources.ts). Properties go
// down (the settings, the source, the model), events come up (settings, picked classes, camera and model actions,
// the element's results and state). The picture is covered only by an error the user must act on: loading shows in
// the caption's place (status.ts), how it runs in a chip that opens. The main actions (actions.ts) sit within a
// thumb's reach on phones. Exhibit mode (?kiosk, kiosk.ts) shows the same stage with large type, a legend and an
// attract screen, and its settings only after a long press.
import { LitElement, html, nothing } from 'lit';
import { customElement, query, state } from 'lit/decorators.js';
import { CLASS_COLORS, type BoxSource, type FrameResult, type InitInfo, type WorkerStatus } from '../worker/api.ts';
import { MIN_BOX_POINTS } from '../engine/post.ts';
import type { CnnFixations, EngineState, Progress, Showing } from '../element/cnn-fixations.ts';
import type { CameraError } from '../camera/camera.ts';
import '../element/cnn-fixations.ts';
import { listCameras } from '../camera/camera.ts';
import { availability, loadCatalog, type Availability, type CatalogModel } from './catalog.ts';
import { messageOf } from '../element/worker-client.ts';
import { Kiosk } from './kiosk.ts';
import { DropTarget } from './drop.ts';
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
import './actions.ts';
import './status.ts';
import { clipExtension, shareOrDownload } from './share.ts';
import { clipType } from '../element/recorder.ts';

const MAX_CLASSES = CLASS_COLORS.length;

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
  /** The freeze the user asked for (the element may end it: a new picture is never frozen). */
  @state() frozen = false;
  @state() cameras: MediaDeviceInfo[] = [];
  @state() imageName = '';
  @state() models: CatalogModel[] = [];
  @state() modelAvailability: Record<string, Availability> = {};
  /** The catalog model chosen in the picker; undefined for a user's own model. */
  @state() modelId?: string;
  @state() toast = '';
  @state() updateReady?: () => void;
  @state() install: (() => Promise<void>) | null = null;
  /** Seconds left of the clip being recorded (0: none). */
  @state() recording = 0;

  @query('cnn-fixations') fix!: CnnFixations;
  @query('.stage') stage!: HTMLElement;
  @query('input[type=file].image-input') fileInput!: HTMLInputElement;

  private imageUrl?: string;
  private readonly kiosk = new Kiosk(this, this.params, {
    liveVideo: () => (this.source === 'camera' && !this.paused && !this.frozen ? this.video : undefined),
    top: () => this.result?.top[0]?.index,
  });
  private readonly drop = new DropTarget(this, {
    enabled: () => !this.params.kiosk,
    openImage: (f) => void this.openImage(f),
    openModel: (files) => this.pickModel({ modelFiles: files }),
  });
  /**
   * From the page's start to the first label: when each loading step began (performance.now() ms; 'model' with the
   * bytes at its last report). Shown in the info panel; tests check that no step was skipped.
   */
  readonly timeline: { step: 'model' | 'compile' | 'first' | 'label'; at: number; loaded?: number; total?: number }[] =
    [];
  /** What the element showed at its last statechange (to see what changed). */
  private seen: { info?: InitInfo; source: Showing; paused: boolean } = { source: 'none', paused: false };

  // The element's state, read where it lives (re-rendered on its statechange and result events); stable hooks for
  // tests and the console.
  get info() {
    return this.fix?.info;
  }
  get engineState(): EngineState {
    return this.fix?.status ?? 'loading';
  }
  get engineMessage() {
    return this.fix?.message ?? '';
  }
  get workerStatus(): WorkerStatus | undefined {
    return this.fix?.workerStatus;
  }
  get source(): Showing {
    return this.fix?.showing ?? 'none';
  }
  get cameraProblem(): CameraError | undefined {
    return this.fix?.cameraError;
  }
  get paused() {
    return this.fix?.paused ?? false;
  }
  get result(): FrameResult | undefined {
    return this.fix?.result;
  }
  get fps() {
    return this.fix?.loop.fps ?? 0;
  }
  get idle() {
    return this.kiosk.idle;
  }
  get video() {
    return this.fix?.video;
  }
  get engine() {
    return this.fix?.engine;
  }
  get stream() {
    return this.fix?.stream;
  }
  /** Results received so far. */
  get results() {
    return this.fix?.results ?? 0;
  }
  /** Whether a frame is with the worker now (tests wait for a quiet moment). */
  get inFlight() {
    return this.fix?.inFlight ?? false;
  }
  get framesInFlight() {
    return this.fix?.framesInFlight ?? 0;
  }

  override connectedCallback() {
    super.connectedCallback();
    window.__cnnfix = this;
    setupPwa({
      onUpdate: (apply) => (this.updateReady = apply),
      onOfflineReady: () => this.say('Ready to work offline.'),
      onInstallable: (install) => (this.install = install),
    });
  }

  override async firstUpdated() {
    this.kiosk.begin();
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
    this.note(f.progress);
    const newModel = f.info !== this.seen.info && f.info;
    const cameraStarted = f.showing === 'camera' && this.seen.source !== 'camera';
    if (this.seen.paused && !f.paused && f.showing === 'camera') this.kiosk.resetIdle();
    this.seen = { info: f.info, source: f.showing, paused: f.paused };
    this.frozen = f.frozen;
    this.requestUpdate();
    // Narrow layouts size the stage to the picture's aspect ratio (no letterbox bars under a landscape photo).
    if (f.pictureSize.width) this.stage?.style.setProperty('--ar', `${f.pictureSize.width} / ${f.pictureSize.height}`);
    if (cameraStarted) {
      this.kiosk.resetIdle();
      void listCameras().then((c) => (this.cameras = c));
    }
    if (newModel) {
      if (this.s.layer && !newModel.layers.some((l) => l.name === this.s.layer))
        this.s = { ...this.s, layer: undefined };
      void this.refreshAvailability();
    }
  }

  private onResult(r: FrameResult) {
    window.__lastResult = r;
    if (!this.timeline.some((t) => t.step === 'label')) this.timeline.push({ step: 'label', at: performance.now() });
    this.kiosk.onResult();
    this.requestUpdate();
  }

  private note(p: Progress | undefined) {
    if (!p || this.timeline.some((t) => t.step === 'label')) return;
    const last = this.timeline.at(-1);
    if (p.step === 'model' && last?.step === 'model') Object.assign(last, { loaded: p.loaded, total: p.total });
    else if (p.step !== last?.step)
      this.timeline.push({
        step: p.step,
        at: performance.now(),
        ...(p.step === 'model' ? { loaded: p.loaded, total: p.total } : {}),
      });
  }

  /** When the reload at a quiet hour is due (exhibit mode), Date.now() time. */
  get reloadAt() {
    return this.kiosk.reloadAt;
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
      this.startOwn(
        c,
        'modelUrl' in c
          ? c.modelUrl
          : c.modelFiles
              .map((f) => `${f.name}:${f.size}`)
              .sort()
              .join('|'),
      );
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

  async snapshot() {
    const r = this.result;
    if (!r || this.source === 'none') return this.say('Nothing to snapshot yet.');
    try {
      const name = `cnnfix-${stamp()}`;
      download(await this.fix.snapshot(), `${name}.png`);
      const json = resultJson(r, { info: this.info, rules: this.s.rules, method: r.method, source: this.source });
      download(new Blob([json], { type: 'application/json' }), `${name}.json`);
    } catch (err) {
      this.say(`Snapshot failed: ${messageOf(err)}`);
    }
  }

  /** The label as the caption of a shared picture or clip. */
  private captionText() {
    const top = this.result?.top[0];
    return top ? `${top.label.split(', ')[0]} (${pct(top.prob)})` : undefined;
  }

  /** The picture with its overlay and label, through the share sheet where the device shares files, else downloaded. */
  async share() {
    if (!this.result || this.source === 'none') return this.say('Nothing to share yet.');
    try {
      const caption = this.captionText();
      const how = await shareOrDownload(await this.fix.snapshot(caption), `cnnfix-${stamp()}.png`, caption ?? '');
      if (how === 'downloaded') this.say('Saved the picture to your downloads.');
    } catch (err) {
      this.say(`Sharing failed: ${messageOf(err)}`);
    }
  }

  /** A 5-second clip of the view (picture, overlay, label), shared or downloaded like a picture. */
  async record() {
    if (this.recording || !this.result || this.source === 'none') return;
    const seconds = 5;
    this.recording = seconds;
    const tick = setInterval(() => (this.recording = Math.max(1, this.recording - 1)), 1000);
    try {
      const clip = await this.fix.record(seconds * 1000, () => this.captionText());
      const how = await shareOrDownload(
        clip,
        `cnnfix-${stamp()}.${clipExtension(clip.type)}`,
        this.captionText() ?? '',
      );
      if (how === 'downloaded') this.say('Saved the clip to your downloads.');
    } catch (err) {
      this.say(`Recording failed: ${messageOf(err)}`);
    } finally {
      clearInterval(tick);
      this.recording = 0;
    }
  }

  private say(msg: string) {
    this.toast = msg;
    setTimeout(() => {
      if (this.toast === msg) this.toast = '';
    }, 6000);
  }

  private async refreshAvailability() {
    const entries = await Promise.all(this.models.map(async (m) => [m.id, await availability(m.id)] as const));
    this.modelAvailability = Object.fromEntries(entries);
  }

  // ---------------------------------------------------------------- rendering

  override render() {
    const k = this.params.kiosk;
    return html` ${k ? nothing : this.renderHeader()}
      <main class="layout">
        ${this.renderStage()}
        ${!k ? this.renderPanel() : this.kiosk.settingsOpen ? this.renderKioskSettings() : nothing}
      </main>
      ${k ? this.renderKioskFooter() : nothing}
      <div class="toast" role="status" aria-live="polite">${this.toast}</div>`;
  }

  private renderHeader() {
    return html`<header class="bar">
      <h1>CNN Fixations <span class="sub">live</span></h1>
      <div class="bar-actions">
        ${this.updateReady ? html`<button class="accent" @click=${() => this.updateReady?.()}>Update to the new version</button>` : nothing}
        ${this.install && this.results > 0 ? html`<button data-testid="install" @click=${() => this.install?.()}>Install app</button>` : nothing}
        <cnnfix-status
          .info=${this.info}
          .workerStatus=${this.workerStatus}
          .fps=${this.fps}
          .targetFps=${this.fix?.targetFps ?? 0}
          .timeline=${this.timeline}
        ></cnnfix-status>
      </div>
    </header>`;
  }

  private renderStage() {
    const s = this.s;
    const top = this.result?.top[0];
    const explained = this.result?.explained ?? [];
    const loading = !top && this.engineState !== 'failed';
    return html`<section
      class="stage ${this.drop.dragging ? 'dragging' : ''}"
      aria-label="Picture and its explanation"
      data-testid="stage"
    >
      <cnn-fixations
        .model=${this.engineModel}
        .modelFiles=${this.modelFiles}
        .modelFacts=${this.modelFacts}
        .backend=${this.params.backend}
        .source=${this.src}
        .frozen=${this.frozen}
        alt=${this.imageName ? `Still image ${this.imageName}` : ''}
        .classes=${s.classes}
        .method=${s.method}
        .rules=${s.rules}
        .fit=${s.fit}
        .colormap=${s.colormap}
        .opacity=${s.opacity}
        .points=${s.points}
        .heatmap=${s.heatmap}
        .box=${s.box}
        .smooth=${s.smooth}
        .layer=${s.layer}
        .facingMode=${s.facingMode}
        .resolution=${s.resolution}
        .deviceId=${s.deviceId}
        .fps=${this.params.fps}
        .savePower=${s.savePower}
        @statechange=${() => this.onState()}
        @result=${(e: CustomEvent<FrameResult>) => this.onResult(e.detail)}
        @problem=${(e: CustomEvent<{ message: string }>) => this.say(e.detail.message)}
      ></cnn-fixations>
      ${this.source === 'none' ? this.renderStart() : nothing}
      <div class="caption" aria-live="polite">
        <div class="caption-label">
          ${loading ? html`<cnnfix-loading .progress=${this.fix?.progress} .state=${this.engineState} .message=${this.engineMessage} .showing=${this.source}></cnnfix-loading>` : nothing}
          <span class="top1" data-testid="top1">${top ? splitLabel(top.label) : ''}</span>
          ${top ? html`<span class="prob">${pct(top.prob)}</span>` : nothing}
          ${this.frozen ? html`<span class="badge">frozen</span>` : nothing}
          ${this.paused ? html`<span class="badge">paused</span>` : nothing}
        </div>
        <div class="caption-notes">
          ${
            explained.length && this.result && (s.classes.length || this.result.method !== this.info?.method)
              ? // The method is named when it is not the model's default (or classes were chosen).
                html`<span class="explaining"
                  >${METHOD_NAMES[this.result.method]} for
                  ${explained.map(
                    (e, i) =>
                      // Several classes: each name with its colour, the legend of the per-class heatmaps, points and boxes.
                      html`${i ? ', ' : ''}${explained.length > 1 ? html`<span class="swatch" style="--c:${e.color}" aria-hidden="true"></span>` : nothing}${e.class.label}`,
                  )}</span
                >`
              : nothing
          }
          ${explained.length && s.box ? html`<span class="box-source" data-testid="box-source">${boxNote(explained[0].boxSource)}</span>` : nothing}
        </div>
      </div>
      ${this.params.kiosk ? nothing : this.renderNotices()}
      ${this.kiosk.active && this.kiosk.idle ? this.renderAttract() : nothing}
      ${this.drop.dragging ? html`<div class="drop-hint">Drop an image to explain it, or a model (.onnx, or model.json with its files)</div>` : nothing}
    </section>`;
  }

  private renderStart() {
    const p = this.cameraProblem;
    const k = this.params.kiosk;
    const camera = html`<button
      class="big ${this.params.openImage ? '' : 'accent'}"
      data-testid="start-camera"
      @click=${() => this.startCamera()}
    >
      ${p ? (p.kind === 'ended' ? 'Reconnect the camera' : 'Try the camera again') : 'Start the camera'}
    </button>`;
    const image = html`<button
      class="big ${this.params.openImage ? 'accent' : ''}"
      data-testid="start-open-image"
      @click=${() => this.fileInput.click()}
    >
      Open an image
    </button>`;
    return html`<div class="start" data-testid="start">
      ${p ? html`<p class="problem" role="alert" data-testid="camera-error">${p.message}</p>` : nothing}
      ${
        k
          ? html`<button class="big" @click=${() => this.startCamera()}>Tap to start the camera</button>`
          : html` <p class="lead">See which pixels a neural network's guess rests on.</p>
              <div class="row">${this.params.openImage ? html`${image}${camera}` : html`${camera}${image}`}</div>
              <p class="hint">…or drop an image here. Nothing you show leaves this device.</p>`
      }
      ${k && this.engineState === 'failed' ? html`<p class="problem" role="alert">${this.engineMessage}</p>` : nothing}
    </div>`;
  }

  /** Over the picture only what the user must act on: a model that failed to load, a worker that stopped. */
  private renderNotices() {
    return html`<div class="notices" role="status" aria-live="polite" data-testid="status">
      ${
        this.engineState === 'failed'
          ? html`<div class="problem" role="alert" data-testid="model-error">
              <p>${this.engineMessage}</p>
              <button @click=${() => this.fix.reload()}>${this.fix.failure === 'run' ? 'Restart' : 'Retry'}</button>
              <span>or pick another model below.</span>
            </div>`
          : nothing
      }
    </div>`;
  }

  private renderAttract() {
    return html`<div class="attract" data-testid="attract">
      <p class="attract-title">Show me something!</p>
      <p>
        Hold an object up to the camera. A neural network will guess what it is, and the colours will show which pixels
        its guess rests on.
      </p>
      <p class="attract-small">Warm colours: the strongest evidence. The network's evidence, not what it "sees".</p>
    </div>`;
  }

  private renderKioskFooter() {
    return html`<footer class="legend" data-testid="legend">
      <span
        ><span class="ramp ${this.s.colormap}" aria-hidden="true"></span> warm = strongest evidence for the guess</span
      >
      <span><span class="dot" style="--c:${CLASS_COLORS[0]}" aria-hidden="true"></span> pixels it kept</span>
      <span><span class="boxmark" style="--c:${CLASS_COLORS[0]}" aria-hidden="true"></span> their extent</span>
      <span class="caveat">The network's evidence, not what it "sees".</span>
    </footer>`;
  }

  /** Exhibit mode's settings, opened by a long press: the panel in a dialog, with a way back. */
  private renderKioskSettings() {
    return html`<div class="kiosk-settings" role="dialog" aria-label="Exhibit settings" data-testid="kiosk-settings">
      <div class="row">
        <strong>Exhibit settings</strong>
        <button class="accent" @click=${() => this.kiosk.closeSettings()}>Close</button>
      </div>
      <p class="muted">
        ${this.kiosk.awake ? 'The screen is kept awake.' : 'The screen may sleep (no wake lock).'}
        ${this.kiosk.reloadAt ? ` Reloads at ${new Date(this.kiosk.reloadAt).toLocaleString()}.` : ''} Frame rate:
        ${this.fps.toFixed(1)} of ${this.fix?.targetFps ?? this.params.fps} frames/s.
      </p>
      ${this.renderPanel()}
    </div>`;
  }

  private renderPanel() {
    const s = this.s;
    const video = this.source === 'camera' ? this.fix?.video : undefined;
    return html`<aside
      class="panel"
      aria-label="Controls"
      @settings=${(e: CustomEvent<Partial<Settings>>) => this.set(e.detail)}
      @toggle-class=${(e: CustomEvent<number>) => this.toggleClass(e.detail)}
      @start-camera=${(e: CustomEvent<Partial<Settings>>) => void this.startCamera(e.detail)}
      @freeze=${() => this.toggleFreeze()}
      @switch-camera=${() => this.switchCamera()}
      @share=${() => void this.share()}
      @record=${() => void this.record()}
      @open-image=${() => this.fileInput.click()}
      @snapshot=${() => void this.snapshot()}
      @pick-model=${(e: CustomEvent<ModelChoice>) => this.pickModel(e.detail)}
      @facts-change=${(e: CustomEvent<FactsChoice>) => this.ownModel && this.startOwn(this.ownModel.source, this.ownModel.key, e.detail)}
      @say=${(e: CustomEvent<string>) => this.say(e.detail)}
    >
      <cnnfix-top5 .top=${this.result?.top ?? []} .pinned=${s.classes}></cnnfix-top5>
      <cnnfix-actions
        .source=${this.source}
        .frozen=${this.frozen}
        .ready=${!!this.result && this.source !== 'none'}
        .recording=${this.recording}
        .canRecord=${!!clipType()}
      ></cnnfix-actions>
      <cnnfix-picture
        .source=${this.source}
        .frozen=${this.frozen}
        .canSnapshot=${!!this.result && this.source !== 'none'}
        .cameras=${this.cameras}
        .deviceId=${this.stream?.getVideoTracks()[0]?.getSettings().deviceId}
        .resolution=${s.resolution}
        .savePower=${s.savePower}
        .videoSize=${video ? { width: video.videoWidth, height: video.videoHeight } : undefined}
      ></cnnfix-picture>
      <cnnfix-classes .labels=${this.info?.labels ?? []} .classes=${s.classes}></cnnfix-classes>
      <cnnfix-overlay-controls .s=${s}></cnnfix-overlay-controls>
      <cnnfix-method .s=${s} .info=${this.info}></cnnfix-method>
      <cnnfix-layers .s=${s} .info=${this.info} .result=${this.result}></cnnfix-layers>
      <cnnfix-model
        .models=${this.models}
        .availability=${this.modelAvailability}
        .modelId=${this.modelId}
        .ownModelKey=${this.ownModel?.key}
        .info=${this.info}
      ></cnnfix-model>
      <cnnfix-perf .info=${this.info} .result=${this.result} .fps=${this.fps}></cnnfix-perf>
      <input
        class="image-input"
        type="file"
        accept="image/*"
        hidden
        aria-label="Image file"
        @change=${(e: Event) => {
          const f = (e.target as HTMLInputElement).files?.[0];
          if (f) void this.openImage(f);
          (e.target as HTMLInputElement).value = '';
        }}
      />
    </aside>`;
  }
}

/** The methods' names in the caption. */
const METHOD_NAMES: Record<FrameResult['method'], string> = {
  fixations: 'fixations',
  guided: 'guided (class map x fixations)',
  cam: 'CAM',
  gradcam: 'Grad-CAM',
};

/** Which box the overlay shows (the first class's), in the caption. */
function boxNote(source: BoxSource | null): string {
  return source === 'fixations'
    ? "box: the fixations' (the paper's)"
    : source === 'map'
      ? "box: the map's (CAM protocol)"
      : `no box (fewer than ${MIN_BOX_POINTS} points)`;
}

/** "fox squirrel, eastern fox squirrel, Sciurus niger": the first name large, the synonyms small. */
function splitLabel(label: string) {
  const i = label.indexOf(', ');
  return i < 0
    ? html`<span class="name">${label}</span>`
    : html`<span class="name">${label.slice(0, i)}</span><span class="syn">${label.slice(i)}</span>`;
}

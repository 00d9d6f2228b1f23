// The panel's picture and model controls. Events up: `start-camera` (a Partial<Settings> camera choice),
// `open-image`, `snapshot`, `settings`; `pick-model` ({ modelId } | { modelUrl } | { modelFiles })
// and `say` (a message for the toast); <cnnfix-model-facts> inside sends `facts-change` for a user's own model.
import { html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { RESOLUTIONS, type Resolution } from '../camera/camera.ts';
import type { Availability, CatalogModel } from './catalog.ts';
import { Control, value } from './control.ts';
import type { InitInfo } from '../worker/api.ts';
import './model-facts.ts';
import type { Settings } from '../element/settings.ts';

export type ModelChoice = { modelId: string } | { modelUrl: string } | { modelFiles: File[] };

@customElement('cnnfix-picture')
export class PictureControls extends Control {
  @property() source: 'none' | 'camera' | 'image' = 'none';
  @property({ type: Boolean }) frozen = false;
  @property({ type: Boolean }) canSnapshot = false;
  @property({ attribute: false }) cameras: MediaDeviceInfo[] = [];
  /** The device the camera stream comes from now. */
  @property() deviceId?: string;
  @property() resolution: Resolution = '720p';
  @property({ attribute: false }) videoSize?: { width: number; height: number };
  @property({ type: Boolean }) savePower = false;

  override render() {
    const cam = this.source === 'camera';
    return html`<section aria-labelledby="h-source">
      <h2 id="h-source">Picture</h2>
      <div class="row wrap">
        ${cam ? '' : html`<button data-testid="start-camera-panel" @click=${() => this.emit('start-camera', {})}>${this.source === 'image' ? 'Back to the camera' : 'Start the camera'}</button>`}
        <button data-testid="open-image" @click=${() => this.emit('open-image')}>Open an image…</button>
        <button data-testid="snapshot" ?disabled=${!this.canSnapshot} @click=${() => this.emit('snapshot')}>
          Snapshot
        </button>
      </div>
      ${
        this.cameras.length > 1
          ? html`<label class="field"
              >Camera
              <select @change=${(e: Event) => this.emit<Partial<Settings>>('start-camera', { deviceId: value(e) })}>
                ${this.cameras.map((c, n) => html`<option value=${c.deviceId} ?selected=${c.deviceId === this.deviceId}>${c.label || `Camera ${n + 1}`}</option>`)}
              </select></label
            >`
          : nothing
      }
      <label class="field"
        >Resolution
        <select
          @change=${(e: Event) => {
            const r = value(e) as Resolution;
            this.emit<Partial<Settings>>(cam ? 'start-camera' : 'settings', { resolution: r });
          }}
        >
          ${Object.keys(RESOLUTIONS).map((r) => html`<option ?selected=${r === this.resolution}>${r}</option>`)}
        </select>
      </label>
      ${cam && this.videoSize?.width ? html`<p class="muted">Camera: ${this.videoSize.width}×${this.videoSize.height}</p>` : nothing}
      <label class="check"
        ><input
          type="checkbox"
          .checked=${this.savePower}
          @change=${(e: Event) => this.emit<Partial<Settings>>('settings', { savePower: (e.target as HTMLInputElement).checked })}
        />
        Save power (half the frame rate)</label
      >
    </section>`;
  }
}

@customElement('cnnfix-model')
export class ModelPicker extends Control {
  @property({ attribute: false }) models: CatalogModel[] = [];
  @property({ attribute: false }) availability: Record<string, Availability> = {};
  /** The catalog model chosen, undefined for a user's own model. */
  @property() modelId?: string;
  /** A user's own model: the key its facts are remembered under (<cnnfix-model-facts>). */
  @property() ownModelKey?: string;
  @property({ attribute: false }) info?: InitInfo;

  override render() {
    return html`<section aria-labelledby="h-model">
      <h2 id="h-model">Model</h2>
      <label class="field"
        >Network
        <select @change=${(e: Event) => this.emit<ModelChoice>('pick-model', { modelId: value(e) })}>
          ${this.models.map((m) => html`<option value=${m.id} ?selected=${m.id === this.modelId}>${m.name ?? m.id}${availabilityNote(this.availability[m.id])}</option>`)}
          ${this.modelId && !this.models.some((m) => m.id === this.modelId) ? html`<option selected value=${this.modelId}>${this.modelId}</option>` : nothing}
        </select>
      </label>
      <details>
        <summary>Load your own TF.js graph model or layers model (e.g. Teachable Machine)</summary>
        <form class="own" @submit=${(e: Event) => this.ownUrl(e)}>
          <label class="field"
            >model.json URL (this site, or a host the page's policy allows)
            <input name="url" type="url" placeholder="https://…/model.json" required
          /></label>
          <button type="submit">Load from URL</button>
        </form>
        <label class="field"
          >…or its files (model.json, weight shards, optional labels.json, metadata.json or cnnfix.json)
          <input
            type="file"
            multiple
            accept=".json,.bin,.onnx,.txt,application/json,application/octet-stream"
            @change=${(e: Event) => this.ownFiles(e)}
          />
        </label>
      </details>
      ${this.ownModelKey ? html`<cnnfix-model-facts .modelKey=${this.ownModelKey} .info=${this.info}></cnnfix-model-facts>` : nothing}
    </section>`;
  }

  private ownUrl(e: Event) {
    e.preventDefault();
    const url = new FormData(e.target as HTMLFormElement).get('url') as string;
    this.emit<ModelChoice>('pick-model', { modelUrl: new URL(url, location.href).href });
  }

  private ownFiles(e: Event) {
    const files = [...((e.target as HTMLInputElement).files ?? [])];
    if (!files.some((f) => (f.name.endsWith('.json') && f.name !== 'labels.json') || f.name.endsWith('.onnx'))) {
      this.emit('say', 'Pick model.json together with its weight files (.bin).');
      return;
    }
    this.emit<ModelChoice>('pick-model', { modelFiles: files });
  }
}

const availabilityNote = (a?: Availability) =>
  a === 'offline'
    ? ' — offline ready'
    : a === 'missing'
      ? ' — not installed here (try to load)'
      : a === 'unknown'
        ? ' — not available offline'
        : '';

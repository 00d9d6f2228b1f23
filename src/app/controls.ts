// The panel's explanation controls: top 5, classes to explain, overlay, method, layer view, performance readout.
// Each takes what it shows as properties and sends changes up as `settings` (a Partial<Settings>) or
// `toggle-class` (a class index) events; <cnnfix-app> owns the settings and passes them to <cnn-fixations>.
import { html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { CLASS_COLORS, type FrameResult, type InitInfo } from '../worker/api.ts';
import { COLORMAPS } from '../engine/colormap.ts';
import type { TopClass } from '../engine/types.ts';
import { Control, checked, pct, value } from './control.ts';
import { effectiveMethod, type Settings } from '../element/settings.ts';

@customElement('cnnfix-top5')
export class Top5 extends Control {
  @property({ attribute: false }) top: TopClass[] = [];
  @property({ attribute: false }) pinned: number[] = [];

  override render() {
    return html`<section aria-labelledby="h-top">
      <h2 id="h-top">Top 5</h2>
      ${this.top.length === 0 ? html`<p class="muted">No prediction yet.</p>` : nothing}
      <ol class="top5">
        ${this.top.map((t) => {
          const pinned = this.pinned.includes(t.index);
          return html`<li>
            <button
              class="top-row"
              aria-pressed=${pinned}
              title=${pinned ? 'Stop explaining this class' : 'Explain this class'}
              @click=${() => this.emit('toggle-class', t.index)}
            >
              <span class="bar-fill" style="width:${(t.prob * 100).toFixed(1)}%"></span>
              <span class="label">${t.label}</span><span class="pct">${pct(t.prob)}</span>
            </button>
          </li>`;
        })}
      </ol>
    </section>`;
  }
}

@customElement('cnnfix-classes')
export class Classes extends Control {
  @property({ attribute: false }) labels: string[] = [];
  @property({ attribute: false }) classes: number[] = [];
  @state() query = '';

  override render() {
    const labels = this.labels;
    const q = this.query.trim().toLowerCase();
    const hits = q
      ? labels
          .map((l, i) => [l, i] as const)
          .filter(([l]) => l.toLowerCase().includes(q))
          .slice(0, 8)
      : [];
    return html`<section aria-labelledby="h-classes">
      <h2 id="h-classes">Explain</h2>
      <p class="muted">
        ${this.classes.length ? 'These classes, one colour each (heatmap, points, box):' : 'The top-1 class, whatever it is. Or ask where it would look for:'}
      </p>
      <ul class="chips">
        ${this.classes.map(
          (c, i) =>
            html`<li class="chip" style="--c:${CLASS_COLORS[i]}">
              <span class="swatch" aria-hidden="true"></span>${labels[c] ?? `class ${c}`}
              <button class="x" aria-label="Remove ${labels[c] ?? c}" @click=${() => this.emit('toggle-class', c)}>
                ×
              </button>
            </li>`,
        )}
      </ul>
      ${this.classes.length ? html`<button @click=${() => this.emit<Partial<Settings>>('settings', { classes: [] })}>Back to the top-1 class</button>` : nothing}
      <label class="field"
        >Find a class
        <input
          type="search"
          placeholder="e.g. umbrella"
          .value=${this.query}
          ?disabled=${!labels.length}
          @input=${(e: Event) => (this.query = value(e))}
        />
      </label>
      ${
        q
          ? html`<ul class="hits" aria-label="Matching classes">
              ${
                hits.length
                  ? hits.map(
                      ([l, i]) =>
                        html`<li>
                          <button
                            @click=${() => {
                              this.emit('toggle-class', i);
                              this.query = '';
                            }}
                          >
                            ${this.classes.includes(i) ? '✓ ' : '+ '}${l}
                          </button>
                        </li>`,
                    )
                  : html`<li class="muted">No class matches.</li>`
              }
            </ul>`
          : nothing
      }
    </section>`;
  }
}

@customElement('cnnfix-overlay-controls')
export class OverlayControls extends Control {
  @property({ attribute: false }) s!: Settings;

  override render() {
    const s = this.s;
    const set = (patch: Partial<Settings>) => this.emit('settings', patch);
    return html`<section aria-labelledby="h-overlay">
      <h2 id="h-overlay">Overlay</h2>
      <div class="checks">
        <label
          ><input type="checkbox" .checked=${s.heatmap} @change=${(e: Event) => set({ heatmap: checked(e) })} />
          heatmap</label
        >
        <label
          ><input type="checkbox" .checked=${s.points} @change=${(e: Event) => set({ points: checked(e) })} />
          points</label
        >
        <label><input type="checkbox" .checked=${s.box} @change=${(e: Event) => set({ box: checked(e) })} /> box</label>
        <label
          ><input type="checkbox" .checked=${s.smooth} @change=${(e: Event) => set({ smooth: checked(e) })} /> smooth
          over frames</label
        >
      </div>
      <label class="field"
        >Colours
        <select
          ?disabled=${s.classes.length > 1}
          @change=${(e: Event) => set({ colormap: value(e) as Settings['colormap'] })}
        >
          ${COLORMAPS.map((c) => html`<option value=${c} ?selected=${c === s.colormap}>${c}</option>`)}
        </select>
      </label>
      ${s.classes.length > 1 ? html`<p class="muted">Several classes: each heatmap in its class's colour, the strongest on top.</p>` : nothing}
      <label class="field"
        ><span>Opacity <span class="val">${Math.round(s.opacity * 100)}%</span></span>
        <input
          type="range"
          min="0"
          max="1"
          step="0.05"
          .value=${String(s.opacity)}
          aria-valuetext="${Math.round(s.opacity * 100)}%"
          @input=${(e: Event) => set({ opacity: Number(value(e)) })}
        />
      </label>
    </section>`;
  }
}

@customElement('cnnfix-method')
export class MethodControls extends Control {
  @property({ attribute: false }) s!: Settings;
  /** The loaded model: its default method is the one 'auto' runs. */
  @property({ attribute: false }) info?: InitInfo;

  override render() {
    const s = this.s;
    const set = (patch: Partial<Settings>) => this.emit('settings', patch);
    const methods = [
      ['fixations', 'Fixations'],
      ['guided', 'Guided'],
      ['cam', 'CAM'],
      ['gradcam', 'Grad-CAM'],
    ] as const;
    const running = effectiveMethod(s.method, this.info?.method);
    return html`<section aria-labelledby="h-method">
      <h2 id="h-method">Method</h2>
      <div class="seg" role="radiogroup" aria-labelledby="h-method">
        ${methods.map(
          ([m, name]) =>
            html`<label
              ><input type="radio" name="method" .checked=${running === m} @change=${() => set({ method: m })} />
              ${name}${m === this.info?.method ? html`<small> (model's default)</small>` : nothing}</label
            >`,
        )}
      </div>
      <label class="field"
        >Rules
        <select
          ?disabled=${running !== 'fixations'}
          @change=${(e: Event) => set({ rules: value(e) as Settings['rules'] })}
        >
          <option value="default" ?selected=${s.rules === 'default'}>default (measured best)</option>
          <option value="reference" ?selected=${s.rules === 'reference'}>reference (the authors')</option>
          <option value="dense" ?selected=${s.rules === 'dense'}>
            dense (reference, every positive pool position)
          </option>
        </select>
      </label>
      <label class="field"
        >Network input
        <select @change=${(e: Event) => set({ fit: value(e) as Settings['fit'] })}>
          <option value="crop" ?selected=${s.fit === 'crop'}>centre square</option>
          <option value="letterbox" ?selected=${s.fit === 'letterbox'}>whole picture (letterbox)</option>
        </select>
      </label>
    </section>`;
  }
}

@customElement('cnnfix-layers')
export class LayerView extends Control {
  @property({ attribute: false }) info?: InitInfo;
  @property({ attribute: false }) result?: FrameResult;
  @property({ attribute: false }) s!: Settings;

  override render() {
    const { layer } = this.s;
    const method = effectiveMethod(this.s.method, this.info?.method);
    const stops = layerStops(this.info);
    const i =
      layer === undefined
        ? stops.length
        : Math.max(
            0,
            stops.findIndex((l) => l.name === layer),
          );
    const kept = layer ? this.result?.layers.find((l) => l.name === layer) : undefined;
    const fix = this.result?.explained.reduce((n, e) => n + e.fixations.length, 0);
    return html`<section aria-labelledby="h-layers">
      <h2 id="h-layers">Layer view</h2>
      <label class="field"
        >From the class down to the pixels
        <input
          type="range"
          min="0"
          max=${stops.length}
          step="1"
          .value=${String(i)}
          ?disabled=${!stops.length || method !== 'fixations'}
          aria-valuetext=${layer ?? 'pixels'}
          @input=${(e: Event) => {
            const k = Number(value(e));
            this.emit<Partial<Settings>>('settings', { layer: k >= stops.length ? undefined : stops[k].name });
          }}
        />
      </label>
      <p class="layer-readout" data-testid="layer">
        <strong>${layer ?? 'pixels (fixations)'}</strong>
        ${
          layer
            ? html` · ${kept ? `${kept.count} kept neurons` : '…'} · shape ${stops[i]?.shape.join('×')}`
            : fix !== undefined
              ? html` · ${fix} fixations`
              : nothing
        }
      </p>
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

@customElement('cnnfix-perf')
export class PerfReadout extends Control {
  @property({ attribute: false }) info?: InitInfo;
  @property({ attribute: false }) result?: FrameResult;
  @property({ type: Number }) fps = 0;

  override render() {
    const { result: r, info: i, fps } = this;
    return html`<section aria-labelledby="h-perf">
      <h2 id="h-perf">Performance</h2>
      <dl class="perf" data-testid="perf">
        <dt>speed</dt>
        <dd>${!fps ? '–' : fps >= 1 ? `${fps.toFixed(1)} frames/s` : `${(1 / fps).toFixed(1)} s/frame`}</dd>
        <dt>path</dt>
        <dd>${i ? `${i.path} (${i.backend})` : '–'}</dd>
        ${i?.auto ? this.renderAuto(i.auto) : nothing}
        <dt>model</dt>
        <dd>${i?.modelId ?? '–'}</dd>
        ${
          i?.startup
            ? html`<dt>start-up</dt>
                <dd data-testid="perf-startup">
                  ${Object.entries(i.startup)
                    .map(([k, v]) => `${k.replace(/Ms$/, '')} ${(v / 1000).toFixed(1)} s`)
                    .join(', ')}
                </dd>`
            : nothing
        }
        ${
          r
            ? Object.entries(r.timings).map(
                ([k, v]) =>
                  html`<dt>${k}</dt>
                    <dd>${v.toFixed(1)} ms</dd>`,
              )
            : nothing
        }
        ${
          r
            ? html`<dt>bytes read back</dt>
                <dd>${(r.readbackBytes / 1024).toFixed(1)} KiB</dd>`
            : nothing
        }
      </dl>
    </section>`;
  }

  /** 'auto' chose from the adapter: the choice, why, and links that force either path (?backend=). */
  private renderAuto(a: NonNullable<InitInfo['auto']>) {
    const force = (b: string) => {
      const u = new URL(location.href);
      u.searchParams.set('backend', b);
      return u.href;
    };
    return html`<dt>auto</dt>
      <dd data-testid="perf-auto">
        kept the ${a.chosen === 'gpu' ? 'GPU path' : 'fallback'}:
        ${a.adapter === null ? 'no WebGPU adapter' : a.software ? `software WebGPU adapter (${a.adapter})` : `GPU ${a.adapter}`};
        force <a href=${force('webgpu')}>GPU path</a> / <a href=${force('fallback')}>fallback</a>
      </dd>`;
  }
}

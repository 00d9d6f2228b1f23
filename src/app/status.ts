// What the app says about itself, out of the picture's way: <cnnfix-loading> (one loading state with real progress,
// from the model's bytes to the first label, in the caption's place so that nothing moves when the label comes) and
// <cnnfix-status> (a small chip, "Running on the graphics chip", that opens the path, back-end, timings and reasons).
import { html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { InitInfo, WorkerStatus } from '../worker/api.ts';
import type { EngineState, Progress, Showing } from '../element/cnn-fixations.ts';
import { Control } from './control.ts';

/** An "i" in a circle, drawn (no font has to carry the glyph: headless and some phone fonts lack U+24D8). */
const INFO_ICON = html`<svg
  class="icon"
  data-testid="info-icon"
  viewBox="0 0 16 16"
  width="16"
  height="16"
  aria-hidden="true"
  fill="none"
  stroke="currentColor"
  stroke-width="1.6"
>
  <circle cx="8" cy="8" r="6.8" />
  <path d="M8 7v4.5" stroke-linecap="round" />
  <circle cx="8" cy="4.6" r="0.4" fill="currentColor" />
</svg>`;

const mb = (n: number) => (n / 1e6).toFixed(n >= 1e7 ? 0 : 1);

/** The loading line's words and share done (undefined: no bar to fill, an ongoing step). */
export function loadingText(
  p: Progress | undefined,
  state: EngineState,
  message: string,
  showing: Showing,
): { text: string; done?: number } | null {
  if (state === 'failed') return null;
  if (message && state === 'loading' && !p) return { text: message };
  if (!p) return null;
  switch (p.step) {
    case 'model':
      if (message && message !== 'Loading the model…') return { text: message }; // a restart says why
      return p.total > 0
        ? { text: `Downloading the model… ${mb(p.loaded)} of ${mb(p.total)} MB`, done: Math.min(1, p.loaded / p.total) }
        : { text: 'Downloading the model…', done: 0 };
    case 'compile':
      return { text: 'Preparing the graphics chip…' };
    case 'first':
      return showing === 'none' ? null : { text: 'Looking at the picture…' };
  }
}

@customElement('cnnfix-loading')
export class Loading extends Control {
  @property({ attribute: false }) progress?: Progress;
  @property() state: EngineState = 'loading';
  @property() message = '';
  @property() showing: Showing = 'none';

  override render() {
    const t = loadingText(this.progress, this.state, this.message, this.showing);
    if (!t) return nothing;
    const step = this.progress?.step ?? 'model';
    return html`<div
      class="loading"
      role="progressbar"
      data-testid="loading"
      data-step=${step}
      aria-label=${t.text}
      aria-valuemin="0"
      aria-valuemax="100"
      aria-valuenow=${t.done === undefined ? nothing : Math.round(t.done * 100)}
    >
      <span class="loading-text">${t.text}</span>
      <span class="loading-bar ${t.done === undefined ? 'ongoing' : ''}"
        ><span style="width:${((t.done ?? 0) * 100).toFixed(1)}%"></span
      ></span>
    </div>`;
  }
}

/** People's words for the path a model runs on. */
export function pathWords(info: InitInfo | undefined, st?: WorkerStatus): string {
  if (st?.state === 'recovering') return 'Restarting the graphics chip…';
  if (!info) return 'Starting…';
  return info.path === 'gpu' ? 'Running on the graphics chip' : 'Running without the graphics chip (slower)';
}

/** "first label": seconds from the page's start, and each step's share. */
function firstLabel(t: { step: string; at: number }[]) {
  const label = t.find((s) => s.step === 'label');
  if (!label) return nothing;
  const words: Record<string, string> = { model: 'model', compile: 'graphics chip', first: 'first picture' };
  const parts = t
    .slice(0, -1)
    .map((s, i) => `${words[s.step] ?? s.step} ${((t[i + 1].at - s.at) / 1000).toFixed(1)} s`);
  return html`<dt>first label</dt>
    <dd data-testid="first-label">after ${(label.at / 1000).toFixed(1)} s (${parts.join(', ')})</dd>`;
}

@customElement('cnnfix-status')
export class StatusChip extends Control {
  @property({ attribute: false }) info?: InitInfo;
  @property({ attribute: false }) workerStatus?: WorkerStatus;
  @property({ type: Number }) fps = 0;
  @property({ type: Number }) targetFps = 0;
  @property({ attribute: false }) timeline: { step: string; at: number }[] = [];
  @state() open = false;

  override render() {
    const i = this.info;
    const st = this.workerStatus;
    const slow = i?.path === 'fallback' || st?.state === 'recovering';
    return html`<div class="status">
      <button
        class="chip-info ${slow ? 'slow' : ''}"
        data-testid="path-chip"
        aria-expanded=${this.open}
        aria-controls="info-panel"
        @click=${() => (this.open = !this.open)}
      >
        ${INFO_ICON} ${pathWords(i, st)}
      </button>
      <div
        id="info-panel"
        class="info-panel"
        data-testid="info-panel"
        ?hidden=${!this.open}
        role="region"
        aria-label="How it runs"
      >
        <dl class="perf">
          <dt>path</dt>
          <dd>${i ? `${i.path === 'gpu' ? 'GPU path' : 'fallback'} (${i.backend})` : '–'}</dd>
          <dt>model</dt>
          <dd>${i?.modelId ?? '–'}</dd>
          <dt>frame rate</dt>
          <dd>${this.fps ? `${this.fps.toFixed(1)} of ${this.targetFps} frames/s` : '–'}</dd>
          ${firstLabel(this.timeline)}
        </dl>
        ${st?.state === 'recovering' ? html`<p class="note warn">The GPU was reset; recovering… ${st.message ?? ''}</p>` : nothing}
        ${
          i?.path === 'fallback'
            ? html`<p class="note" data-testid="fallback-note">
                ${
                  i.auto?.software
                    ? html`WebGPU runs on the CPU here (a software adapter): running the faster ${i.backend} inference
                      with the unravelling on the CPU.`
                    : html`No WebGPU path: running
                      ${i.backend}${i.wasm ? ` (${i.wasm.simd ? 'SIMD, ' : ''}${i.wasm.threads} thread${i.wasm.threads === 1 ? '' : 's'})` : ''}
                      inference with the unravelling on the CPU (slower).`
                }
                ${i.fallbackReason ? html`<br /><small>${i.fallbackReason}</small>` : nothing}
              </p>`
            : nothing
        }
        <p class="muted">The full readout is under Performance in the panel.</p>
      </div>
    </div>`;
  }
}

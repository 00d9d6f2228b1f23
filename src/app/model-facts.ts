// <cnnfix-model-facts>: what the user says about their own model where its files are silent: the input range
// (presets), the logits node, a labels file. Remembered per model in localStorage; each change asks the app to load
// the model again with these facts (event 'facts-change', detail: FactsChoice).
import { LitElement, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { InitInfo } from '../worker/api.ts';
import type { ModelInfo } from '../engine/model.ts';
import { RANGE_PRESETS as PRESETS } from '../engine/facts.ts';

export type RangePreset = keyof typeof PRESETS;
export const RANGE_LABELS: Record<RangePreset, string> = {
  unit: '[0, 1]',
  signed: '[-1, 1] (Teachable Machine, Keras MobileNet)',
  imagenet: '[0, 1], ImageNet mean/std',
  bytes: '[0, 255]',
};

/** The user's choices for one model; absent fields: what the model's files (or the defaults) say. */
export interface FactsChoice {
  range?: RangePreset;
  logits?: string;
  labels?: string[];
  labelsName?: string;
}

const STORE = 'cnnfix.modelFacts.';

export function loadChoice(key: string): FactsChoice {
  try {
    return JSON.parse(localStorage.getItem(STORE + key) ?? '{}') as FactsChoice;
  } catch {
    return {};
  }
}
function saveChoice(key: string, c: FactsChoice) {
  try {
    localStorage.setItem(STORE + key, JSON.stringify(c));
  } catch {
    /* private mode: not remembered */
  }
}

/** What the worker takes (InitOptions.info / labels) for a choice. */
export function choiceOptions(c: FactsChoice): { info?: Partial<Omit<ModelInfo, 'labels'>>; labels?: string[] } {
  const info: Partial<Omit<ModelInfo, 'labels'>> = {};
  if (c.range) info.preprocessing = PRESETS[c.range];
  if (c.logits) info.logits = c.logits;
  return { ...(Object.keys(info).length ? { info } : {}), ...(c.labels ? { labels: c.labels } : {}) };
}

/** The preset a preprocessing equals, if any. */
function presetOf(p?: ModelInfo['preprocessing']): RangePreset | undefined {
  return (Object.keys(PRESETS) as RangePreset[]).find((k) => JSON.stringify(PRESETS[k]) === JSON.stringify(p));
}

/** A labels file: a JSON array of strings, or plain text with one label per line. */
export function parseLabels(text: string, name: string): string[] {
  const t = text.trim();
  if (t.startsWith('[')) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch (e) {
      throw new Error(`${name}: not JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string'))
      throw new Error(`${name}: expected a JSON array of strings`);
    return v;
  }
  const lines = t
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  if (!lines.length) throw new Error(`${name}: no labels in it`);
  return lines;
}

@customElement('cnnfix-model-facts')
export class ModelFacts extends LitElement {
  /** Identifies the model for remembering (its URL, or its files' names and sizes). */
  @property() modelKey = '';
  /** The loaded model, for the facts in effect and the logits choices. */
  @property({ attribute: false }) info?: InitInfo;
  @state() private error = '';

  // Light DOM: the app's styles (.field) apply.
  protected override createRenderRoot() {
    return this;
  }

  private get choice(): FactsChoice {
    return loadChoice(this.modelKey);
  }

  private change(patch: Partial<FactsChoice>) {
    const c = { ...this.choice, ...patch };
    for (const k of Object.keys(c) as (keyof FactsChoice)[]) if (c[k] === undefined || c[k] === '') delete c[k];
    saveChoice(this.modelKey, c);
    this.error = '';
    this.dispatchEvent(new CustomEvent<FactsChoice>('facts-change', { detail: c, bubbles: true, composed: true }));
  }

  private async labelsFile(e: Event) {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (!file) return;
    try {
      this.change({ labels: parseLabels(await file.text(), file.name), labelsName: file.name });
    } catch (err) {
      this.error = (err as Error).message;
    }
  }

  override render() {
    if (!this.modelKey) return nothing;
    const c = this.choice;
    const inEffect = presetOf(this.info?.preprocessing);
    const layers = (this.info?.layers ?? []).filter(
      (l) => l.shape.length === 1 || (l.shape.length === 3 && l.shape[0] === 1 && l.shape[1] === 1),
    );
    const value = (e: Event) => (e.target as HTMLSelectElement).value;
    return html`<fieldset class="model-facts" data-testid="model-facts">
      <legend>This model's facts</legend>
      <label class="field"
        >Input range
        <select
          data-testid="facts-range"
          @change=${(e: Event) => this.change({ range: (value(e) || undefined) as RangePreset | undefined })}
        >
          <option value="" ?selected=${!c.range}>
            From the model's files${inEffect && !c.range ? ` — ${RANGE_LABELS[inEffect]}` : ''}
          </option>
          ${(Object.keys(RANGE_LABELS) as RangePreset[]).map((k) => html`<option value=${k} ?selected=${c.range === k}>${RANGE_LABELS[k]}</option>`)}
        </select></label
      >
      <label class="field"
        >Logits node
        <select data-testid="facts-logits" @change=${(e: Event) => this.change({ logits: value(e) || undefined })}>
          <option value="" ?selected=${!c.logits}>
            From the graph${this.info && !c.logits ? ` — ${this.info.logits}` : ''}
          </option>
          ${layers.map((l) => html`<option value=${l.name} ?selected=${c.logits === l.name}>${l.name} [${l.shape}]</option>`)}
        </select></label
      >
      <label class="field"
        >Labels file (JSON array, or one label per line)${c.labelsName ? html` — ${c.labelsName}` : ''}
        <input
          data-testid="facts-labels"
          type="file"
          accept=".json,.txt,application/json,text/plain"
          @change=${(e: Event) => this.labelsFile(e)}
      /></label>
      ${c.labels ? html`<button type="button" @click=${() => this.change({ labels: undefined, labelsName: undefined })}>Use the model's own labels</button>` : nothing}
      ${
        this.info
          ? html`<p class="muted" data-testid="facts-summary">
              ${this.info.labels.length} labels; input
              ${this.info.inputShape[1]}×${this.info.inputShape[0]}${this.info.inputShape[2] === 1 ? ' (gray)' : ''},
              range [${this.info.preprocessing.range.join(', ')}]; logits ${this.info.logits}
            </p>`
          : nothing
      }
      ${this.error ? html`<p role="alert">${this.error}</p>` : nothing}
    </fieldset>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'cnnfix-model-facts': ModelFacts;
  }
}

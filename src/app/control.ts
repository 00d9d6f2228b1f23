// The base of the app's controls: small elements that take their state as properties and send what the user asks
// for up as events (bubbling and composed, so that <cnnfix-app> hears them wherever they sit).
import { LitElement } from 'lit';

export abstract class Control extends LitElement {
  // Rendered into the app's own shadow root: one stylesheet (styles.ts) styles the whole panel.
  protected override createRenderRoot() {
    return this;
  }

  protected emit<T>(type: string, detail?: T) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }
}

export const checked = (e: Event) => (e.target as HTMLInputElement).checked;
export const value = (e: Event) => (e.target as HTMLInputElement | HTMLSelectElement).value;
export const pct = (p: number) => `${(p * 100).toFixed(p >= 0.995 ? 0 : 1)}%`;

// The main actions within a thumb's reach: freeze, switch camera, share, record. On a phone held upright they sit
// in a bar at the bottom of the screen; elsewhere at the top of the panel. Events up: `freeze`, `switch-camera`,
// `share`, `record`.
import { html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { Control } from './control.ts';

@customElement('cnnfix-actions')
export class Actions extends Control {
  @property() source: 'none' | 'camera' | 'image' = 'none';
  @property({ type: Boolean }) frozen = false;
  /** A result is on show: there is something to share or record. */
  @property({ type: Boolean }) ready = false;
  /** Seconds left of a recording under way (0: none). */
  @property({ type: Number }) recording = 0;
  @property({ type: Boolean }) canRecord = true;

  override render() {
    const cam = this.source === 'camera';
    return html`<section class="actions" aria-label="Actions" ?hidden=${this.source === 'none'}>
      <button data-testid="freeze" ?disabled=${!cam} @click=${() => this.emit('freeze')} aria-pressed=${this.frozen}>
        ${this.frozen ? 'Resume' : 'Freeze'}
      </button>
      <button data-testid="switch-camera" ?disabled=${!cam} @click=${() => this.emit('switch-camera')}>
        Switch camera
      </button>
      <button data-testid="share" ?disabled=${!this.ready} @click=${() => this.emit('share')}>Share</button>
      <button
        data-testid="record"
        ?disabled=${!this.ready || !this.canRecord || this.recording > 0}
        @click=${() => this.emit('record')}
        aria-live="polite"
      >
        ${this.recording > 0 ? `Recording… ${this.recording}` : 'Record 5\u00a0s'}
      </button>
    </section>`;
  }
}

// Lays <cnn-fixations>'s overlay canvas exactly over the picture's content box (object-fit: contain) and sizes the
// worker's backing store, whenever the element, the picture or the orientation changes.
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { canvasSize, containRect, pictureSize } from './fit.ts';
import type { Engine } from './worker-client.ts';

export interface LayoutHost extends ReactiveControllerHost, HTMLElement {
  readonly showing: 'none' | 'camera' | 'image';
  readonly video: HTMLVideoElement;
  readonly img: HTMLImageElement;
  readonly overlayHost: HTMLElement | null;
  readonly engine: Engine;
  pictureSize: { width: number; height: number };
}

export class OverlayLayout implements ReactiveController {
  private readonly resizeObs = new ResizeObserver(() => this.layout());
  private readonly soon = () => setTimeout(() => this.layout(), 250);

  constructor(private readonly host: LayoutHost) {
    host.addController(this);
  }

  hostConnected() {
    window.addEventListener('orientationchange', this.soon);
    this.resizeObs.observe(this.host);
  }

  hostDisconnected() {
    window.removeEventListener('orientationchange', this.soon);
    this.resizeObs.disconnect();
  }

  layout() {
    const h = this.host;
    const overlay = h.overlayHost;
    if (!overlay) return;
    const pic = h.showing === 'image' ? h.img : h.video;
    const { width: w, height: ht } = pictureSize(pic);
    if (!w || !ht) return;
    if (w !== h.pictureSize.width || ht !== h.pictureSize.height) {
      h.pictureSize = { width: w, height: ht };
      h.style.setProperty('--picture-ar', `${w} / ${ht}`);
    }
    const box = pic.getBoundingClientRect();
    const own = h.getBoundingClientRect();
    const r = containRect(w, ht, box.width, box.height);
    Object.assign(overlay.style, {
      left: `${box.left - own.left + r.left}px`,
      top: `${box.top - own.top + r.top}px`,
      width: `${r.width}px`,
      height: `${r.height}px`,
    });
    const size = canvasSize(r, devicePixelRatio);
    void h.engine.resize(size.width, size.height);
  }
}

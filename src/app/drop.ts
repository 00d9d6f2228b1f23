// Drag and drop onto the app: an image is shown and explained; a model (.onnx, or model.json with its files)
// becomes the user's model. A reactive controller: `dragging` while something is held over the page.
import type { ReactiveController, ReactiveControllerHost } from 'lit';

export interface DropHost extends ReactiveControllerHost, HTMLElement {}

export interface DropActions {
  /** Whether drops are taken now (not in exhibit mode). */
  enabled(): boolean;
  openImage(file: File): void;
  openModel(files: File[]): void;
}

/** A model among dropped files: an .onnx file, or model.json (with its weights, labels and facts files). */
export const isModelDrop = (files: File[]) => files.some((f) => /\.onnx$/i.test(f.name) || f.name === 'model.json');

export class DropTarget implements ReactiveController {
  dragging = false;

  constructor(
    private readonly host: DropHost,
    private readonly on: DropActions,
  ) {
    host.addController(this);
  }

  hostConnected() {
    this.host.addEventListener('dragover', this.over);
    this.host.addEventListener('dragleave', this.leave);
    this.host.addEventListener('drop', this.drop);
  }

  hostDisconnected() {
    this.host.removeEventListener('dragover', this.over);
    this.host.removeEventListener('dragleave', this.leave);
    this.host.removeEventListener('drop', this.drop);
  }

  private setDragging(d: boolean) {
    this.dragging = d;
    this.host.requestUpdate();
  }

  private over = (e: DragEvent) => {
    if (!this.on.enabled()) return;
    e.preventDefault();
    this.setDragging(true);
  };

  private leave = () => this.setDragging(false);

  private drop = (e: DragEvent) => {
    if (!this.on.enabled()) return;
    e.preventDefault();
    this.setDragging(false);
    const files = [...(e.dataTransfer?.files ?? [])];
    if (isModelDrop(files)) return this.on.openModel(files);
    const file = files.find((f) => f.type.startsWith('image/')) ?? files[0];
    if (file) this.on.openImage(file);
  };
}

// Snapshot: the frame with its overlay as one PNG, and the FrameResult as JSON, both downloaded locally.
import type { FrameResult, InitInfo } from '../worker/api.ts';
import { pictureSize } from './fit.ts';

type Pic = HTMLVideoElement | HTMLImageElement;

/**
 * Draw the picture at its own resolution and the overlay canvas (a placeholder of the worker's OffscreenCanvas,
 * laid over the picture) scaled onto it; with a caption (the label), a band at the bottom that names it.
 */
export function drawComposite(
  ctx: CanvasRenderingContext2D,
  picture: Pic,
  overlay: HTMLCanvasElement | undefined,
  w: number,
  h: number,
  caption?: string,
) {
  ctx.drawImage(picture, 0, 0, w, h);
  if (overlay && overlay.width && overlay.height) ctx.drawImage(overlay, 0, 0, w, h);
  if (!caption) return;
  const size = Math.max(12, Math.round(h / 18));
  ctx.fillStyle = 'rgb(0 0 0 / 0.6)';
  ctx.fillRect(0, h - size * 1.8, w, size * 1.8);
  ctx.fillStyle = '#fff';
  ctx.font = `600 ${size}px system-ui, sans-serif`;
  ctx.textBaseline = 'middle';
  ctx.fillText(caption, size * 0.6, h - size * 0.9, w - size * 1.2);
}

export async function compositePng(
  picture: Pic,
  overlay: HTMLCanvasElement | undefined,
  caption?: string,
): Promise<Blob> {
  const { width: w, height: h } = pictureSize(picture);
  if (!w || !h) throw new Error('nothing to snapshot yet: no picture is shown');
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  drawComposite(c.getContext('2d')!, picture, overlay, w, h, caption);
  return new Promise((resolve, reject) =>
    c.toBlob((b) => (b ? resolve(b) : reject(new Error('the browser could not encode the PNG'))), 'image/png'),
  );
}

export interface SnapshotMeta {
  info?: InitInfo;
  rules: string;
  method: string;
  source: 'camera' | 'image';
}

/** FrameResult as plain JSON (typed arrays as arrays), with what produced it. */
export function resultJson(r: FrameResult, m: SnapshotMeta): string {
  const doc = {
    app: 'cnnfix',
    time: new Date().toISOString(),
    model: m.info?.modelId ?? null,
    rules: m.rules,
    method: m.method,
    source: m.source,
    path: r.path,
    backend: r.backend,
    frameSize: r.frameSize,
    top: r.top,
    explained: r.explained,
    layers: r.layers.map((l) => ({
      name: l.name,
      count: l.count,
      shape: l.shape,
      ...(l.indices ? { indices: Array.from(l.indices) } : {}),
    })),
    timings: r.timings,
    readbackBytes: r.readbackBytes,
  };
  return JSON.stringify(doc, null, 1);
}

export function download(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function stamp(d = new Date()): string {
  return d.toISOString().replace(/[:T]/g, '-').replace(/\..*/, '');
}

// A short clip of the composited view (picture, overlay and label) recorded on the device: a canvas redrawn every
// animation frame, captured as a stream and encoded by MediaRecorder (WebM, or MP4 where only that exists).
import { pictureSize } from './fit.ts';
import { drawComposite } from './snapshot.ts';

const TYPES = ['video/webm;codecs=vp9', 'video/webm;codecs=vp8', 'video/webm', 'video/mp4;codecs=avc1', 'video/mp4'];
/** Clips are scaled so that their long side is at most this (encoders are slow on large frames). */
const MAX_SIDE = 1280;

/** The container the browser records into, or undefined where it records neither WebM nor MP4. */
export function clipType(): string | undefined {
  if (typeof MediaRecorder === 'undefined') return undefined;
  return TYPES.find((t) => MediaRecorder.isTypeSupported(t));
}

export async function recordClip(
  picture: HTMLVideoElement | HTMLImageElement,
  overlay: () => HTMLCanvasElement | undefined,
  ms: number,
  caption: () => string | undefined,
): Promise<Blob> {
  const type = clipType();
  if (!type) throw new Error('this browser cannot record video (MediaRecorder has neither WebM nor MP4)');
  const { width, height } = pictureSize(picture);
  if (!width || !height) throw new Error('nothing to record yet: no picture is shown');
  const k = Math.min(1, MAX_SIDE / Math.max(width, height));
  const c = document.createElement('canvas');
  // Even sizes: video encoders want them.
  c.width = 2 * Math.round((width * k) / 2);
  c.height = 2 * Math.round((height * k) / 2);
  const ctx = c.getContext('2d')!;
  let raf = 0;
  const draw = () => {
    drawComposite(ctx, picture, overlay(), c.width, c.height, caption());
    raf = requestAnimationFrame(draw);
  };
  draw();
  const stream = c.captureStream(30);
  const rec = new MediaRecorder(stream, { mimeType: type });
  const chunks: Blob[] = [];
  rec.ondataavailable = (e) => {
    if (e.data.size) chunks.push(e.data);
  };
  const stopped = new Promise<void>((resolve, reject) => {
    rec.onstop = () => resolve();
    rec.onerror = (e) => reject(new Error(`recording failed: ${(e as ErrorEvent).message ?? 'MediaRecorder error'}`));
  });
  rec.start(1000);
  await new Promise((r) => setTimeout(r, ms));
  rec.stop();
  try {
    await stopped;
  } finally {
    cancelAnimationFrame(raf);
    stream.getTracks().forEach((t) => t.stop());
  }
  return new Blob(chunks, { type: type.split(';')[0] });
}

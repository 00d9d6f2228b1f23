// Geometry of `object-fit: contain`: where a W x H picture lands inside a box, so that the overlay canvas can be
// laid exactly over the picture (any aspect ratio, either orientation), and the inverse map for points.

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The rectangle a `srcW x srcH` picture occupies inside a `boxW x boxH` box under object-fit: contain. */
export function containRect(srcW: number, srcH: number, boxW: number, boxH: number): Rect {
  if (!(srcW > 0 && srcH > 0 && boxW > 0 && boxH > 0)) return { left: 0, top: 0, width: 0, height: 0 };
  const scale = Math.min(boxW / srcW, boxH / srcH);
  const width = srcW * scale,
    height = srcH * scale;
  return { left: (boxW - width) / 2, top: (boxH - height) / 2, width, height };
}

/** Backing-store size of a canvas covering `r` CSS pixels at `dpr`, capped so that a 4K screen stays cheap. */
export function canvasSize(r: Rect, dpr: number, maxSide = 2048): { width: number; height: number } {
  const k = Math.min(dpr, maxSide / Math.max(r.width, r.height, 1));
  return { width: Math.max(1, Math.round(r.width * k)), height: Math.max(1, Math.round(r.height * k)) };
}

/** A picture element's own size in pixels (0 x 0 until it has loaded). */
export function pictureSize(el: HTMLVideoElement | HTMLImageElement | undefined): { width: number; height: number } {
  if (!el) return { width: 0, height: 0 };
  return 'videoWidth' in el
    ? { width: el.videoWidth, height: el.videoHeight }
    : { width: el.naturalWidth, height: el.naturalHeight };
}

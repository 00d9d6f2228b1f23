// What both paths share after the unravelling: network-input fixations -> frame pixels
// (outliers removed, box), receptive-field boxes for the layer view, and the overlay geometry as rectangles
// (the GPU path draws them with a render pass, the fallback with a 2D context: the same geometry).
import { receptiveField } from '../engine/baselines.ts';
import { FAINT } from '../engine/guided.ts';
import type { FixationModel } from '../engine/model.ts';
import { fixationBox, removeOutliers, toImagePoints, type Box } from '../engine/post.ts';
import type { Fixation, Graph, InputFixation, PixelTransform } from '../engine/types.ts';
import { boxOutline, overlayUnit, pointRect, type Rect } from '../gpu/overlay.ts';
import { CLASS_COLORS, type OverlayOptions } from './api.ts';

/**
 * Network-input fixations -> frame-pixel fixations (outliers removed, the authors' rule) and their box (the paper's
 * tight box; none from fewer than MIN_BOX_POINTS points: fixationBox).
 */
export function framePoints(input: InputFixation[], t: PixelTransform): { fixations: Fixation[]; box: Box | null } {
  const fixations = removeOutliers(toImagePoints(input, t), t.srcWidth, t.srcHeight);
  return { fixations, box: fixationBox(fixations) };
}

/** Receptive-field boxes (frame pixels) of kept neurons of a spatial layer; none for vectors (after a pool/FC). */
export function layerCells(graph: Graph, layer: string, indices: ArrayLike<number>, t: PixelTransform): Box[] {
  const node = graph.byName.get(layer);
  if (!node) throw new Error(`overlay.layer: no layer '${layer}' in the model`);
  if (node.shape.length !== 3) return [];
  let rf: ReturnType<typeof receptiveField>;
  try {
    rf = receptiveField(graph, layer);
  } catch {
    return [];
  }
  const extent = receptiveExtent(graph, layer);
  const [, W, C] = node.shape;
  const boxes: Box[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < indices.length; i++) {
    const cell = Math.floor(indices[i] / C);
    if (seen.has(cell)) continue;
    seen.add(cell);
    const cx = rf.offset[1] + rf.scale[1] * (cell % W),
      cy = rf.offset[0] + rf.scale[0] * Math.floor(cell / W);
    const clip = (v: number, n: number) => Math.min(Math.max(v, 0), n - 1);
    const x0 = clip(cx - (extent[1] - 1) / 2, t.inputWidth),
      x1 = clip(cx + (extent[1] - 1) / 2, t.inputWidth);
    const y0 = clip(cy - (extent[0] - 1) / 2, t.inputHeight),
      y1 = clip(cy + (extent[0] - 1) / 2, t.inputHeight);
    boxes.push([x0 * t.stepX + t.startX, y0 * t.stepY + t.startY, x1 * t.stepX + t.startX, y1 * t.stepY + t.startY]);
  }
  return boxes;
}

/** Receptive-field size (network pixels, per axis) of one cell of `layer`, down the first-input path. */
function receptiveExtent(graph: Graph, layer: string): [number, number] {
  const size: [number, number] = [1, 1];
  for (let n = graph.byName.get(layer); n && n.kind !== 'input'; n = graph.byName.get(n.inputs[0])) {
    if (n.kind !== 'conv' && n.kind !== 'pool') continue;
    const dil = n.kind === 'conv' ? n.dilations : [1, 1];
    for (const i of [0, 1] as const) size[i] = (size[i] - 1) * n.strides[i] + (n.kernel[i] - 1) * dil[i] + 1;
  }
  return size;
}

export interface ClassScene {
  color: [number, number, number];
  fixations: Fixation[];
  /** Method 'guided': per fixation, whether its map backs it (backedPoints); the others are drawn faint. */
  backed?: boolean[];
  box: Box | null;
  /** Layer view: receptive-field boxes (frame pixels) instead of the points. */
  cells?: Box[];
}

/** The overlay's points, boxes and cells as rectangles in overlay pixels (frame pixels scaled). */
export function sceneRects(
  classes: ClassScene[],
  frame: { width: number; height: number },
  overlay: { width: number; height: number },
  o: OverlayOptions,
): Rect[] {
  const sx = overlay.width / frame.width,
    sy = overlay.height / frame.height;
  const unit = overlayUnit(overlay);
  const rects: Rect[] = [];
  for (const c of classes) {
    if (c.cells) {
      for (const b of c.cells) rects.push(...boxOutline(b, sx, sy, unit, [...c.color, 0.7]));
    } else if (o.points) {
      c.fixations.forEach((p, k) =>
        rects.push(pointRect(p.x, p.y, sx, sy, unit, [...c.color, c.backed && !c.backed[k] ? FAINT : 1])),
      );
    }
    if (o.box && c.box) rects.push(...boxOutline(c.box, sx, sy, 2 * unit, [...c.color, 1]));
  }
  return rects;
}

/** CLASS_COLORS[i] ('#rrggbb') as 0..1 floats. */
export function classColor(i: number): [number, number, number] {
  const h = CLASS_COLORS[i % CLASS_COLORS.length];
  return [1, 3, 5].map((k) => parseInt(h.slice(k, k + 2), 16) / 255) as [number, number, number];
}

export function labelOf(fm: FixationModel, i: number): string {
  return fm.info.labels[i] ?? `class ${i}`;
}

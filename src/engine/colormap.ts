// Heatmap colours: turbo, jet and viridis, with a transparent low end and an overall opacity.
// The CPU functions (2D-canvas fallback, tests) and the WGSL twin (WebGPU overlay) use the same formulas,
// so that the two overlays agree within 1/255 per channel.

export type ColormapName = 'turbo' | 'jet' | 'viridis';
export const COLORMAPS: ColormapName[] = ['turbo', 'jet', 'viridis'];

/** Heat below LOW is fully transparent; alpha ramps to `opacity` over the next RAMP. */
export const ALPHA_LOW = 0.05;
export const ALPHA_RAMP = 0.25;

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);

// Turbo: Google's polynomial approximation (A. Mikhailov, 2019), degree 5 per channel.
const TURBO = [
  [0.13572138, 4.6153926, -42.66032258, 132.13108234, -152.94239396, 59.28637943],
  [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604],
  [0.1066733, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973],
];
// Viridis: degree-6 polynomial fit (M. Zucker), per channel.
const VIRIDIS = [
  [
    0.2777273272234177, 0.1050930431085774, -0.3308618287255563, -4.634230498983486, 6.228269936347081,
    4.776384997670288, -5.435455855934631,
  ],
  [
    0.005407344544966578, 1.404613529898575, 0.214847559468213, -5.799100973351585, 14.17993336680509,
    -13.74514537774601, 4.645852612178535,
  ],
  [
    0.3340998053353061, 1.384590162594685, 0.09509516302823659, -19.33244095627987, 56.69055260068105,
    -65.35303263337234, 26.3124352495832,
  ],
];

function poly(c: number[], t: number): number {
  let s = 0;
  for (let i = c.length - 1; i >= 0; i--) s = s * t + c[i];
  return s;
}

/** Colour of heat `v` (0..1) as [r, g, b] in 0..1. */
export function colormap(name: ColormapName, v: number): [number, number, number] {
  const t = clamp01(v);
  switch (name) {
    case 'jet':
      return [
        clamp01(1.5 - Math.abs(4 * t - 3)),
        clamp01(1.5 - Math.abs(4 * t - 2)),
        clamp01(1.5 - Math.abs(4 * t - 1)),
      ];
    case 'viridis':
      return [clamp01(poly(VIRIDIS[0], t)), clamp01(poly(VIRIDIS[1], t)), clamp01(poly(VIRIDIS[2], t))];
    case 'turbo':
      return [clamp01(poly(TURBO[0], t)), clamp01(poly(TURBO[1], t)), clamp01(poly(TURBO[2], t))];
    default:
      throw new Error(`unknown colormap '${String(name)}' (known: ${COLORMAPS.join(', ')})`);
  }
}

export function overlayAlpha(v: number, opacity: number): number {
  return clamp01(opacity) * clamp01((v - ALPHA_LOW) / ALPHA_RAMP);
}

/**
 * Heatmap (max 1) -> RGBA8. Straight alpha for ImageData (2D canvas); premultiplied to compare with a
 * WebGPU canvas (alphaMode 'premultiplied').
 */
export function colorize(
  map: Float32Array,
  name: ColormapName,
  opacity: number,
  premultiplied = false,
): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(map.length * 4);
  for (let i = 0; i < map.length; i++) {
    const [r, g, b] = colormap(name, map[i]);
    const a = overlayAlpha(map[i], opacity);
    const m = premultiplied ? a : 1;
    out[4 * i] = Math.round(r * m * 255);
    out[4 * i + 1] = Math.round(g * m * 255);
    out[4 * i + 2] = Math.round(b * m * 255);
    out[4 * i + 3] = Math.round(a * 255);
  }
  return out;
}

export function colormapIndex(name: ColormapName): number {
  const i = COLORMAPS.indexOf(name);
  if (i < 0) throw new Error(`unknown colormap '${String(name)}' (known: ${COLORMAPS.join(', ')})`);
  return i;
}

const vec = (c: number[]) => c.map((x) => x.toPrecision(10)).join(', ');
const polyWgsl = (name: string, rows: number[][]) => {
  const n = rows[0].length;
  // Horner's rule on vec3f, the same evaluation order as poly() above.
  let body = `var s = vec3f(${rows.map((r) => r[n - 1].toPrecision(10)).join(', ')});\n`;
  for (let i = n - 2; i >= 0; i--) body += `  s = s * t + vec3f(${vec(rows.map((r) => r[i]))});\n`;
  return `fn ${name}(t: f32) -> vec3f {\n  ${body}  return clamp(s, vec3f(0.0), vec3f(1.0));\n}\n`;
};

/** WGSL twin of colormap() and overlayAlpha(): `colormap(which, v)` with which = colormapIndex(name). */
export const COLORMAP_WGSL = /* wgsl */ `
${polyWgsl('cm_turbo', TURBO)}
${polyWgsl('cm_viridis', VIRIDIS)}
fn cm_jet(t: f32) -> vec3f {
  return clamp(vec3f(1.5) - abs(vec3f(4.0 * t - 3.0, 4.0 * t - 2.0, 4.0 * t - 1.0)), vec3f(0.0), vec3f(1.0));
}
fn colormap(which: u32, v: f32) -> vec3f {
  let t = clamp(v, 0.0, 1.0);
  if (which == 1u) { return cm_jet(t); }
  if (which == 2u) { return cm_viridis(t); }
  return cm_turbo(t);
}
fn overlay_alpha(v: f32, opacity: f32) -> f32 {
  return clamp(opacity, 0.0, 1.0) * clamp((v - ${ALPHA_LOW}) / ${ALPHA_RAMP}, 0.0, 1.0);
}
`;

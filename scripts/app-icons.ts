// Draws the PWA icons into public/icons/ (committed; rerun after a design change: `npx tsx scripts/app-icons.ts`):
// a turbo-coloured heat blob with white fixation dots on a dark tile. The maskable icon keeps the drawing inside
// the central 80% safe zone.
import { writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { colormap } from '../src/engine/colormap.ts';

const BG = [16, 20, 28];
// Fixations in units of the drawing's size, relative to its centre; the blob is their Gaussian.
const DOTS = [
  [-0.17, -0.1],
  [0.08, -0.2],
  [0.2, 0.06],
  [-0.06, 0.17],
  [0, 0],
  [-0.24, 0.1],
  [0.13, 0.24],
  [0.03, -0.05],
];

function icon(size: number, scale: number, file: string) {
  const png = new PNG({ width: size, height: size });
  const k = size * scale;
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const u = (x + 0.5 - size / 2) / k,
        v = (y + 0.5 - size / 2) / k;
      let heat = 0;
      for (const [dx, dy] of DOTS) heat += Math.exp(-((u - dx) ** 2 + (v - dy) ** 2) / (2 * 0.12 ** 2));
      heat = Math.min(1, heat / 3.4);
      const a = Math.min(1, Math.max(0, (heat - 0.05) / 0.3)) * 0.95;
      const c = colormap('turbo', heat).map((c) => c * 255);
      let px = BG.map((b, i) => b * (1 - a) + c[i] * a);
      for (const [dx, dy] of DOTS) {
        const d = Math.hypot(u - dx, v - dy) * k;
        const r = k * 0.026;
        if (d < r + 1) {
          const t = Math.min(1, r + 1 - d);
          px = px.map((p) => p * (1 - t) + 255 * t);
        }
      }
      const o = 4 * (y * size + x);
      png.data[o] = px[0];
      png.data[o + 1] = px[1];
      png.data[o + 2] = px[2];
      png.data[o + 3] = 255;
    }
  writeFileSync(new URL(`../public/icons/${file}`, import.meta.url), PNG.sync.write(png));
}

icon(192, 1, 'icon-192.png');
icon(512, 1, 'icon-512.png');
icon(512, 0.8, 'maskable-512.png');
icon(180, 1, 'apple-touch-icon.png');

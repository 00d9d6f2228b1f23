// The page's URL options: kiosk mode, idle time, back-end, model, and settings chosen by link.
import type { Settings } from '../element/settings.ts';
import { METHODS } from '../engine/methods.ts';

/**
 * Options of the URL: ?kiosk, ?idle=SECONDS, ?fps=N, ?reload=HH:MM|off, ?open=image, ?backend=auto|webgpu|fallback,
 * ?model=ID, ?method=..., ?rules=...
 */
export interface PageParams {
  kiosk: boolean;
  idleMs: number;
  /** Camera frames per second at most: ?fps=, else 15 in exhibit mode and 30 otherwise. */
  fps: number;
  /** Exhibit mode: the daily reload at a quiet hour ('HH:MM', local time; default 03:30), or null (?reload=off). */
  reloadAt: string | null;
  /** The app was opened to show an image (the manifest's "Open an image" shortcut). */
  openImage: boolean;
  backend: 'auto' | 'webgpu' | 'fallback';
  model?: string;
  settings: Partial<Settings>;
}

export function pageParams(search = location.search): PageParams {
  const q = new URLSearchParams(search);
  const idle = Number(q.get('idle'));
  const backend = q.get('backend');
  const settings: Partial<Settings> = {};
  const method = q.get('method');
  if (method !== 'center' && (METHODS as readonly string[]).includes(method ?? ''))
    settings.method = method as Settings['method'];
  const rules = q.get('rules');
  if (rules === 'default' || rules === 'reference' || rules === 'dense') settings.rules = rules;
  const kiosk = q.has('kiosk');
  const fps = Number(q.get('fps'));
  const reload = q.get('reload');
  return {
    kiosk,
    fps: fps > 0 && fps <= 120 ? fps : kiosk ? 15 : 30,
    reloadAt: reload === 'off' ? null : reload && /^\d{1,2}:\d{2}$/.test(reload) ? reload : '03:30',
    openImage: q.get('open') === 'image',
    idleMs: (idle > 0 ? idle : 60) * 1000,
    backend: backend === 'webgpu' || backend === 'fallback' ? backend : 'auto',
    model: q.get('model') ?? undefined,
    settings,
  };
}

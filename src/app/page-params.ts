// The page's URL options: kiosk mode, idle time, back-end, model, and settings chosen by link.
import type { Settings } from '../element/settings.ts';
import { METHODS } from '../engine/methods.ts';

/** Options of the URL: ?kiosk, ?idle=SECONDS, ?backend=auto|webgpu|fallback, ?model=ID, ?method=..., ?rules=... */
export interface PageParams {
  kiosk: boolean;
  idleMs: number;
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
  if (method !== 'center' && (METHODS as readonly string[]).includes(method ?? '')) settings.method = method as Settings['method'];
  const rules = q.get('rules');
  if (rules === 'default' || rules === 'reference' || rules === 'dense') settings.rules = rules;
  return {
    kiosk: q.has('kiosk'),
    idleMs: (idle > 0 ? idle : 60) * 1000,
    backend: backend === 'webgpu' || backend === 'fallback' ? backend : 'auto',
    model: q.get('model') ?? undefined,
    settings,
  };
}

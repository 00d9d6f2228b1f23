// The model catalog as the page sees it: which entries this server has installed and which are cached offline.

export interface CatalogModel {
  id: string;
  name?: string;
  licence?: string;
  inputSize?: number;
}
export interface Catalog {
  default: string;
  models: CatalogModel[];
}
/** 'offline': in the service worker's caches; 'installed': served here; 'missing': not installed on this server. */
export type Availability = 'offline' | 'installed' | 'missing' | 'unknown';

export const base = import.meta.env.BASE_URL;
export const modelJsonUrl = (id: string) => `${base}models/${encodeURIComponent(id)}/model.json`;

export async function loadCatalog(): Promise<Catalog> {
  const res = await fetch(`${base}models/catalog.json`);
  if (!res.ok) throw new Error(`models/catalog.json: HTTP ${res.status}`);
  const cat = (await res.json()) as Catalog;
  if (!Array.isArray(cat.models)) throw new Error('models/catalog.json has no "models" list');
  return cat;
}

export async function availability(id: string): Promise<Availability> {
  const url = modelJsonUrl(id);
  try {
    if ('caches' in window && (await caches.match(url, { ignoreSearch: true }))) return 'offline';
    // An SPA server answers unknown paths with index.html: only JSON counts as installed.
    const res = await fetch(url, { method: 'HEAD' });
    return res.ok && (res.headers.get('content-type') ?? '').includes('json') ? 'installed' : 'missing';
  } catch {
    return 'unknown';
  }
}

// The page's Content-Security-Policy, in one place: used for the <meta> tag of index.html and the preview server's
// header (vite.config.ts). Network only to this origin (and the origins of catalog models fetched from elsewhere),
// wasm compilation for the wasm backend, workers from this origin or blob:. Nothing the camera sees can be sent away.

export interface CatalogLike { models: { modelUrl?: string }[] }

/** Origins of catalog models that the browser loads from another host (entries with an absolute `modelUrl`). */
export function catalogOrigins(catalog: CatalogLike): string[] {
  const out = new Set<string>();
  for (const m of catalog.models) {
    if (m.modelUrl && /^https:\/\//.test(m.modelUrl)) out.add(new URL(m.modelUrl).origin);
  }
  return [...out];
}

export function contentSecurityPolicy(connect: string[] = []): string {
  return [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "worker-src 'self' blob:",
    // blob: is local (a user's model files); no other origin unless the catalog names it.
    ['connect-src', "'self'", 'blob:', ...connect].join(' '),
    "img-src 'self' blob: data:",
    "media-src 'self' blob: mediastream:",
    "style-src 'self' 'unsafe-inline'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
  ].join('; ');
}

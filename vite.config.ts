import { createReadStream, existsSync, statSync, cpSync, mkdirSync } from 'node:fs';
import { join, normalize, resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

const MODELS = resolve(__dirname, 'models');

/** Serve the installed models (git-ignored models/<id>/) at /models/ in dev and preview, and copy them into dist/. */
function models(): Plugin {
  const serve = (req: any, res: any, next: () => void) => {
    const url = decodeURIComponent((req.url ?? '').split('?')[0]);
    if (!url.startsWith('/models/')) return next();
    const file = normalize(join(MODELS, url.slice('/models/'.length)));
    if (!file.startsWith(MODELS) || !existsSync(file) || !statSync(file).isFile()) return next();
    res.setHeader('Content-Type', file.endsWith('.json') ? 'application/json' : 'application/octet-stream');
    createReadStream(file).pipe(res);
  };
  return {
    name: 'cnnfix-models',
    configureServer: (s) => void s.middlewares.use(serve),
    configurePreviewServer: (s) => void s.middlewares.use(serve),
    closeBundle() {
      const out = resolve(__dirname, 'dist/models');
      mkdirSync(out, { recursive: true });
      cpSync(MODELS, out, { recursive: true, filter: (src) => !src.includes('testvectors') });
    },
  };
}

export default defineConfig({
  plugins: [models()],
  worker: { format: 'es' },
  build: { target: 'es2022' },
});

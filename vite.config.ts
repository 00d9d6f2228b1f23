import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync, cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join, normalize, resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { ISOLATION_HEADERS, catalogOrigins, contentSecurityPolicy, isolationServiceWorker } from './src/app/csp.ts';

const MODELS = resolve(__dirname, 'models');

/** Serve the installed models (git-ignored models/<id>/) at /models/ in dev and preview, and copy them into dist/. */
function models(): Plugin {
  const serve = (req: any, res: any, next: () => void) => {
    const url = decodeURIComponent((req.url ?? '').split('?')[0]);
    if (!url.startsWith('/models/')) return next();
    const file = normalize(join(MODELS, url.slice('/models/'.length)));
    if (!file.startsWith(MODELS) || !existsSync(file) || !statSync(file).isFile()) return next();
    res.setHeader('Content-Type', file.endsWith('.json') ? 'application/json' : 'application/octet-stream');
    res.setHeader('Content-Length', String(statSync(file).size)); // the app's loading state shows bytes of the total
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

// ---- The app: one Content-Security-Policy (meta tag and preview header), and the PWA (manifest, service worker).
// The app, and the example page of the embeddable element <cnn-fixations> (src/element/), which is also built as
// its own entry at a stable address, element/cnn-fixations.js, for other pages to import.
const PAGES = ['/index.html', '/examples/element.html'];
const ELEMENT_ENTRY = 'cnn-fixations';

const catalogText = readFileSync(join(MODELS, 'catalog.json'), 'utf8');
const catalog = JSON.parse(catalogText);
const CSP = contentSecurityPolicy(catalogOrigins(catalog));

function csp(): Plugin {
  return {
    name: 'cnnfix-csp',
    // Only the app's pages: the test pages other suites serve through the dev server keep their inline scripts.
    transformIndexHtml: (_html, ctx) =>
      PAGES.includes(ctx.path)
        ? [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: CSP }, injectTo: 'head-prepend' }]
        : undefined,
  };
}

/** The service worker's cross-origin isolation script (src/app/csp.ts), emitted beside it and imported by it. */
const ISOLATION_SW = 'coi-sw.js';
function isolationSw(): Plugin {
  return {
    name: 'cnnfix-isolation-sw',
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: ISOLATION_SW, source: isolationServiceWorker() });
    },
  };
}

/**
 * Precache entries for the default model and the catalog (the models plugin copies them into dist/ after the
 * bundle, so they are listed here, with the catalog's sha256 as revision). Models not installed here are left out,
 * or the service worker would fail to install.
 */
function defaultModelEntries(): { url: string; revision: string }[] {
  const id: string = catalog.default;
  const entry = catalog.models.find((m: { id: string }) => m.id === id);
  const out: { url: string; revision: string }[] = [
    { url: 'models/catalog.json', revision: createHash('sha256').update(catalogText).digest('hex') },
  ];
  for (const [file, sha] of Object.entries<string>(entry?.files ?? {})) {
    if (existsSync(join(MODELS, id, file))) out.push({ url: `models/${id}/${file}`, revision: sha });
    else console.warn(`pwa: models/${id}/${file} is not installed (npm run models): the app will not work offline`);
  }
  return out;
}

const https = process.env.HTTPS
  ? { key: readFileSync(resolve(__dirname, '.cert/key.pem')), cert: readFileSync(resolve(__dirname, '.cert/cert.pem')) }
  : undefined;

export default defineConfig({
  // The dev server pre-bundles every dependency the pages and the worker import before the first request: a dependency
  // found later (the worker's, the test harnesses') makes Vite re-bundle and answer the pages in flight with 504s.
  optimizeDeps: {
    entries: ['index.html', 'examples/*.html', 'tests/browser/**/*.html', 'src/worker/explain.worker.ts'],
  },
  plugins: [
    models(),
    csp(),
    isolationSw(),
    VitePWA({
      registerType: 'prompt',
      injectRegister: false, // src/app/pwa.ts registers it, with the update prompt
      includeAssets: ['icons/*.png', 'screenshots/*.png'],
      manifest: {
        name: 'CNN Fixations, live',
        short_name: 'CNN Fixations',
        description: "See which pixels a neural network's guess rests on, live on the camera, on the device.",
        theme_color: '#0e1118',
        background_color: '#0e1118',
        display: 'standalone',
        // A stable identity for the installed app, whatever start_url becomes (resolved against it).
        id: './',
        start_url: '.',
        scope: '.',
        // Shown by install dialogs: taken from the app (a fake camera on the squirrel photo) by
        // tests/browser/app/shots.spec.ts with MANIFEST_SHOTS=1.
        screenshots: [
          {
            src: 'screenshots/narrow.png',
            sizes: '390x844',
            type: 'image/png',
            form_factor: 'narrow',
            label: 'The camera view on a phone: the guess, its top 5 and the pixels it rests on',
          },
          {
            src: 'screenshots/wide.png',
            sizes: '1280x800',
            type: 'image/png',
            form_factor: 'wide',
            label: 'The camera view on a laptop, with the controls',
          },
        ],
        shortcuts: [
          {
            name: 'Exhibit mode (kiosk)',
            short_name: 'Kiosk',
            url: './?kiosk',
            description: 'Full screen, large type, starts the camera by itself',
            icons: [{ src: 'icons/icon-192.png', sizes: '192x192', type: 'image/png' }],
          },
          {
            name: 'Open an image',
            short_name: 'Open image',
            url: './?open=image',
            description: 'Explain a photo from this device',
            icons: [{ src: 'icons/icon-192.png', sizes: '192x192', type: 'image/png' }],
          },
        ],
        icons: [
          { src: 'icons/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: 'icons/icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: 'icons/maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      workbox: {
        // App shell, the worker bundle and any tfjs wasm it emits; the models are listed below.
        globPatterns: ['**/*.{js,css,html,wasm,png,svg,webmanifest}'],
        globIgnores: ['models/**', 'screenshots/**'],
        additionalManifestEntries: defaultModelEntries(),
        maximumFileSizeToCacheInBytes: 64 * 1024 * 1024,
        navigateFallback: 'index.html',
        navigateFallbackDenylist: [/\/models\//],
        clientsClaim: true,
        cleanupOutdatedCaches: true,
        // Other catalog models (and a user's URL model on this site) are kept once fetched.
        runtimeCaching: [{ urlPattern: /\/models\//, handler: 'CacheFirst', options: { cacheName: 'cnnfix-models' } }],
        // Cross-origin isolation on static hosts that cannot set headers (threaded wasm); before the routes.
        importScripts: [ISOLATION_SW],
      },
    }),
  ],
  // Cross-origin isolation (threaded wasm) in development too, so that tests see what users get.
  server: { headers: { ...ISOLATION_HEADERS } },
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    rolldownOptions: {
      input: {
        index: resolve(__dirname, 'index.html'),
        'examples/element': resolve(__dirname, 'examples/element.html'),
        [ELEMENT_ENTRY]: resolve(__dirname, 'src/element/cnn-fixations.ts'),
      },
      output: {
        entryFileNames: (chunk) =>
          chunk.name === ELEMENT_ENTRY ? 'element/cnn-fixations.js' : 'assets/[name]-[hash].js',
      },
    },
  },
  preview: {
    headers: { 'Content-Security-Policy': CSP, 'Referrer-Policy': 'no-referrer', ...ISOLATION_HEADERS },
    https,
  },
});

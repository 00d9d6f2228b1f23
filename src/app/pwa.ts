/// <reference types="vite-plugin-pwa/vanillajs" />
// Service worker registration (offline use), the "new version" prompt and the install prompt.
import { registerSW } from 'virtual:pwa-register';

export interface PwaHooks {
  /** A new version is waiting; call the argument to switch to it (reloads the page). */
  onUpdate(apply: () => void): void;
  onOfflineReady(): void;
  /** The browser offers installation; call the argument from a click. */
  onInstallable(install: (() => Promise<void>) | null): void;
}

interface BeforeInstallPromptEvent extends Event {
  prompt(): Promise<void>;
  userChoice: Promise<{ outcome: 'accepted' | 'dismissed' }>;
}

export function setupPwa(h: PwaHooks) {
  if ('serviceWorker' in navigator) {
    const update = registerSW({
      immediate: true,
      // vite-plugin-pwa reloads on the new worker's 'controlling' event only when this page was controlled at load;
      // a first visit that finds an update later (workbox-window: "external", > 60 s after registration) would not
      // reload, so the page reloads itself once the new worker takes control.
      onNeedRefresh: () =>
        h.onUpdate(() => {
          navigator.serviceWorker.addEventListener('controllerchange', () => window.location.reload(), { once: true });
          void update(true);
        }),
      onOfflineReady: () => h.onOfflineReady(),
      onRegisterError: (e) => console.warn('service worker registration failed; the app works online only', e),
    });
  }
  window.addEventListener('beforeinstallprompt', (e) => {
    e.preventDefault();
    const ev = e as BeforeInstallPromptEvent;
    h.onInstallable(async () => {
      await ev.prompt();
      await ev.userChoice;
      h.onInstallable(null);
    });
  });
  window.addEventListener('appinstalled', () => h.onInstallable(null));
}

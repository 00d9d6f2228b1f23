// The fallback backend order per browser (src/worker/backend-choice.ts), on real user-agent strings.
import { describe, expect, it } from 'vitest';
import { chooseFallback } from '../../src/worker/backend-choice.ts';

const UA = {
  safariMac:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  safariIos:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  chromeIos:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/123.0.6312.52 Mobile/15E148 Safari/604.1',
  firefoxIos:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/124.0 Mobile/15E148 Safari/605.1.15',
  chromeLinux: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  chromeAndroid:
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
  edge: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
  firefox: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
};

describe('chooseFallback()', () => {
  it('sends Safari and every iOS browser (WebKit) straight to wasm, with the reason', () => {
    for (const ua of [UA.safariMac, UA.safariIos, UA.chromeIos, UA.firefoxIos]) {
      const c = chooseFallback(ua);
      expect(c.order, ua).toEqual(['wasm']);
      expect(c.reason, ua).toMatch(/Safari\/WebKit.*WebGL.*wasm SIMD/);
    }
  });
  it('keeps WebGL first on Blink and Gecko browsers', () => {
    for (const ua of [UA.chromeLinux, UA.chromeAndroid, UA.edge, UA.firefox]) {
      expect(chooseFallback(ua), ua).toEqual({ order: ['webgl', 'wasm'] });
    }
  });
});

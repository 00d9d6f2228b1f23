// Which tfjs backends the fallback path tries, in order, and why. One small function, so that the rule is in one
// place and testable with any user agent.

export type FallbackBackend = 'webgl' | 'wasm';

export interface FallbackChoice {
  order: FallbackBackend[];
  /** Why the order differs from the default (WebGL first, then wasm), for the readout; absent when it does not. */
  reason?: string;
}

/**
 * Safari, and every iOS browser (all are WebKit, e.g. Chrome for iOS, whose user agent says CriOS, not Chrome):
 * tfjs's WebGL backend fails inside Safari's workers (tfjs issues 8267 and 7803), so without WebGPU (iOS before 26)
 * the fallback goes straight to wasm, SIMD and, where the page is cross-origin isolated, threaded. Blink and Gecko
 * browsers keep WebGL first. Blink user agents say AppleWebKit too, but also Chrome/Chromium/Edg/OPR.
 */
export function chooseFallback(userAgent: string): FallbackChoice {
  const webkit = /AppleWebKit\//.test(userAgent) && !/(Chrome|Chromium|Edg|OPR)\//.test(userAgent);
  if (!webkit) return { order: ['webgl', 'wasm'] };
  return {
    order: ['wasm'],
    reason: "Safari/WebKit without WebGPU: tfjs's WebGL backend fails in Safari workers, so wasm SIMD",
  };
}

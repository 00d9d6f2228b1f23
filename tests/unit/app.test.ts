// The app's pure parts: object-fit contain geometry, the idle rule of exhibit mode, URL options, the explain request,
// and how <cnn-fixations> reads its attributes.
import { describe, expect, it } from 'vitest';
import { canvasSize, containRect } from '../../src/element/fit.ts';
import { IdleTracker, STILL_THRESHOLD } from '../../src/app/idle.ts';
import { DEFAULTS, SMOOTHING, explainRequest } from '../../src/element/settings.ts';
import { DEFAULT_METHOD } from '../../src/engine/methods.ts';
import { pageParams } from '../../src/app/page-params.ts';
import { msUntil } from '../../src/app/kiosk.ts';
import { CAPTURE_STEPS, Pacer, lowerSize } from '../../src/element/pacer.ts';
import { loadingText, pathWords } from '../../src/app/status.ts';
import { catalogOrigins, contentSecurityPolicy } from '../../src/app/csp.ts';
import { modelSource, parseClasses, parseFlag } from '../../src/element/attributes.ts';

describe('containRect', () => {
  it('fits a landscape frame into a wider box: full height, centred horizontally', () => {
    // 640x480 into 1000x500: scale = min(1000/640, 500/480) = 500/480; width 640*500/480 = 666.67, left (1000-666.67)/2.
    const r = containRect(640, 480, 1000, 500);
    expect(r.height).toBeCloseTo(500, 9);
    expect(r.width).toBeCloseTo(2000 / 3, 9);
    expect(r.left).toBeCloseTo(500 / 3, 9);
    expect(r.top).toBeCloseTo(0, 9);
  });
  it('fits a portrait frame (phone held upright) into a landscape box, and a landscape one into a portrait box', () => {
    expect(containRect(720, 1280, 800, 600)).toEqual({ left: (800 - 337.5) / 2, top: 0, width: 337.5, height: 600 });
    expect(containRect(1280, 720, 390, 520)).toEqual({
      left: 0,
      top: (520 - 219.375) / 2,
      width: 390,
      height: 219.375,
    });
  });
  it('is empty before the picture has a size', () => {
    expect(containRect(0, 0, 800, 600)).toEqual({ left: 0, top: 0, width: 0, height: 0 });
  });
  it('sizes the backing store in device pixels, capped at 2048 on the long side', () => {
    expect(canvasSize({ left: 0, top: 0, width: 300, height: 200 }, 2)).toEqual({ width: 600, height: 400 });
    expect(canvasSize({ left: 0, top: 0, width: 1600, height: 900 }, 2)).toEqual({ width: 2048, height: 1152 });
  });
});

describe('IdleTracker', () => {
  it('is idle once the top class and the picture stayed the same for idleMs', () => {
    const t = new IdleTracker(60_000);
    expect(t.update(335, 0, 1000)).toBe(false);
    expect(t.update(335, STILL_THRESHOLD / 2, 60_999)).toBe(false);
    expect(t.update(335, 1, 61_000)).toBe(true);
  });
  it('wakes on a new top class or on motion', () => {
    const t = new IdleTracker(10_000);
    t.update(1, 0, 0);
    expect(t.update(1, 0, 10_000)).toBe(true);
    expect(t.update(2, 0, 10_001)).toBe(false);
    expect(t.update(2, STILL_THRESHOLD + 1, 25_000)).toBe(false);
    expect(t.update(2, 0, 34_999)).toBe(false);
    expect(t.update(2, 0, 35_000)).toBe(true);
  });
});

describe('page options and the explain request', () => {
  it('reads ?kiosk, ?idle, ?backend, ?model, ?method and ignores nonsense', () => {
    expect(pageParams('?kiosk&idle=5&backend=fallback&model=m&method=gradcam')).toMatchObject({
      kiosk: true,
      idleMs: 5000,
      backend: 'fallback',
      model: 'm',
      settings: { method: 'gradcam' },
    });
    expect(pageParams('?idle=-3&backend=quantum&method=magic')).toMatchObject({
      kiosk: false,
      idleMs: 60_000,
      backend: 'auto',
      settings: {},
    });
    expect(pageParams('?method=guided&rules=dense').settings).toEqual({ method: 'guided', rules: 'dense' });
    expect(pageParams('?method=center').settings).toEqual({}); // the centre prior is the evaluation's, not the app's
  });
  it('the rules go with the fixations method; guided feeds its density with its own (GUIDED.rules)', () => {
    expect(explainRequest({ ...DEFAULTS, method: 'fixations', rules: 'reference' }, false)).toMatchObject({
      method: 'fixations',
      rules: 'reference',
    });
    const g = explainRequest({ ...DEFAULTS, method: 'guided', rules: 'reference' }, false);
    expect(g.method).toBe('guided');
    expect(g.rules).toBeUndefined();
  });
  it('frame-rate target: 30, 15 in exhibit mode, unless ?fps= sets it; the daily reload at 03:30 unless set or off', () => {
    expect(pageParams('').fps).toBe(30);
    expect(pageParams('?kiosk').fps).toBe(15);
    expect(pageParams('?kiosk&fps=24').fps).toBe(24);
    expect(pageParams('?fps=0').fps).toBe(30);
    expect(pageParams('?kiosk').reloadAt).toBe('03:30');
    expect(pageParams('?kiosk&reload=22:15').reloadAt).toBe('22:15');
    expect(pageParams('?kiosk&reload=off').reloadAt).toBeNull();
    expect(pageParams('?kiosk&reload=soon').reloadAt).toBe('03:30');
    expect(pageParams('?open=image').openImage).toBe(true);
  });
  it("method 'auto' (the default) runs the model's own (InitInfo.method); a chosen method wins; the layer view needs fixations", () => {
    expect(DEFAULTS.method).toBe('auto');
    expect(explainRequest(DEFAULTS, false, 'guided')).toMatchObject({ method: 'guided', rules: undefined });
    expect(explainRequest({ ...DEFAULTS, layer: 'conv10' }, false, 'guided')).toMatchObject({
      method: 'guided',
      withLayers: false,
      overlay: { layer: undefined },
    });
    expect(explainRequest({ ...DEFAULTS, layer: 'conv10' }, false, 'fixations')).toMatchObject({
      method: 'fixations',
      withLayers: true,
    });
    expect(explainRequest({ ...DEFAULTS, method: 'cam' }, false, 'guided').method).toBe('cam');
    // Before the model has said (no InitInfo yet), 'auto' is the project default.
    expect(explainRequest(DEFAULTS, false).method).toBe(DEFAULT_METHOD);
  });
  it('top-1 by default, one class as a number, several as a list; no smoothing for a still picture', () => {
    expect(explainRequest(DEFAULTS, false, 'fixations')).toMatchObject({
      classes: 'top',
      rules: 'default',
      method: 'fixations',
      withLayers: false,
      overlay: { colormap: 'turbo', smoothing: SMOOTHING, points: true, heatmap: true, box: true },
    });
    expect(explainRequest({ ...DEFAULTS, classes: [879] }, true)).toMatchObject({
      classes: 879,
      overlay: { smoothing: 0 },
    });
    expect(explainRequest({ ...DEFAULTS, classes: [879, 335] }, false).classes).toEqual([879, 335]);
    expect(explainRequest({ ...DEFAULTS, layer: 'conv10' }, false, 'fixations')).toMatchObject({
      withLayers: true,
      overlay: { layer: 'conv10' },
    });
    expect(explainRequest({ ...DEFAULTS, layer: 'conv10', method: 'cam' }, false)).toMatchObject({
      withLayers: false,
      overlay: { layer: undefined },
    });
  });
});

describe('content security policy', () => {
  it('allows network to this origin only, plus https origins of catalog models the browser fetches', () => {
    expect(contentSecurityPolicy()).toContain("connect-src 'self' blob:;");
    expect(
      catalogOrigins({
        models: [
          {},
          { modelUrl: 'https://models.example.org/a/model.json' },
          { modelUrl: 'http://insecure.example/x' },
        ],
      }),
    ).toEqual(['https://models.example.org']);
    expect(contentSecurityPolicy(['https://models.example.org'])).toContain(
      "connect-src 'self' blob: https://models.example.org;",
    );
    expect(contentSecurityPolicy()).toContain("script-src 'self' 'wasm-unsafe-eval' blob:;");
    expect(contentSecurityPolicy()).toContain("worker-src 'self' blob:");
  });
});

describe('<cnn-fixations> attributes', () => {
  it('classes: "top" or nothing is the top-1 class; indices in a list; anything else named', () => {
    expect(parseClasses(null)).toEqual([]);
    expect(parseClasses(' top ')).toEqual([]);
    expect(parseClasses('335')).toEqual([335]);
    expect(parseClasses('879, 335')).toEqual([879, 335]);
    // A one-logit sigmoid head's two classes by name.
    expect(parseClasses('absent')).toEqual([1]);
    expect(parseClasses('Present,absent')).toEqual([0, 1]);
    expect(() => parseClasses('879,umbrella')).toThrow(/classes '879,umbrella': 'umbrella' is not a class index/);
    expect(() => parseClasses('-1')).toThrow(/'-1' is not a class index/);
    expect(() => parseClasses('2.5')).toThrow(/'2.5'/);
  });
  it('overlay switches are on unless "false", "off" or "0"', () => {
    expect([null, '', 'true', 'on'].map(parseFlag)).toEqual([true, true, true, true]);
    expect(['false', 'OFF', '0'].map(parseFlag)).toEqual([false, false, false]);
  });
  it('model: a plain name is a catalog id; a path or URL is a model.json URL resolved against the page', () => {
    const page = 'https://example.org/demo/page.html';
    expect(modelSource(undefined, page)).toEqual({});
    expect(modelSource(' squeezenet1_1 ', page)).toEqual({ modelId: 'squeezenet1_1' });
    expect(modelSource('my/model.json', page)).toEqual({ modelUrl: 'https://example.org/demo/my/model.json' });
    expect(modelSource('model.json', page)).toEqual({ modelUrl: 'https://example.org/demo/model.json' });
    expect(modelSource('net.onnx', page)).toEqual({ modelUrl: 'https://example.org/demo/net.onnx' });
    expect(modelSource('https://models.example.com/m/model.json', page)).toEqual({
      modelUrl: 'https://models.example.com/m/model.json',
    });
  });
});

describe('exhibit mode: the reload at a quiet hour', () => {
  it('is later today when the hour has not come, else tomorrow at that hour', () => {
    const now = new Date(2026, 5, 1, 1, 0, 0);
    expect(msUntil('03:30', now)).toBe(2.5 * 3600_000);
    expect(msUntil('00:30', now)).toBe(23.5 * 3600_000);
    expect(msUntil('01:00', now)).toBe(24 * 3600_000);
  });
});

describe('frame pacing', () => {
  /** Camera frames every `period` ms for `ms`; the worker takes `work` ms per frame, two at most in flight. */
  function run(p: Pacer, period: number, ms: number, work = 0) {
    let sent = 0,
      lowered = 0;
    const busyUntil: number[] = [];
    for (let t = 0; t < ms; t += period) {
      const inFlight = busyUntil.filter((b) => b > t);
      busyUntil.splice(0, busyUntil.length, ...inFlight);
      const offer = p.offer(t, inFlight.length >= 2);
      if (offer === 'send') {
        sent++;
        busyUntil.push(Math.max(t, busyUntil.at(-1) ?? 0) + work);
      }
      if (offer === 'busy' && p.shouldLower(t)) lowered++;
    }
    return { fps: (sent * 1000) / ms, lowered };
  }
  it('sends at the target from a faster camera: 15 of 30 fps, 20 of 30, 30 of 60; halved to save power or on battery', () => {
    const at = (target: number, period: number, patch: Partial<Pacer> = {}) =>
      run(Object.assign(new Pacer(), { target }, patch), period, 10_000).fps;
    expect(at(15, 1000 / 30)).toBeCloseTo(15, 0);
    expect(at(20, 1000 / 30)).toBeGreaterThan(19);
    expect(at(20, 1000 / 30)).toBeLessThanOrEqual(20.1);
    expect(at(30, 1000 / 60)).toBeCloseTo(30, 0);
    expect(at(30, 1000 / 60, { savePower: true })).toBeCloseTo(15, 0);
    expect(at(15, 1000 / 30, { onBattery: true })).toBeCloseTo(7.5, 0);
    expect(at(30, 1000 / 30)).toBeGreaterThan(29); // a camera at the target: every frame
  });
  it('frames that reach the page in pairs: all sent when fewer than the target, never more than the target', () => {
    // Pairs 17 ms apart (a late paint delivers two camera frames together), a pair every `gap` ms, for 10 s.
    const pairs = (target: number, gap: number) => {
      const p = Object.assign(new Pacer(), { target });
      let sent = 0;
      for (let t = 0; t < 10_000; t += gap) for (const at of [t, t + 17]) if (p.offer(at, false) === 'send') sent++;
      return sent / 10;
    };
    expect(pairs(15, 250)).toBe(8); // 8 frames/s offered, all sent
    expect(pairs(15, 100)).toBeLessThanOrEqual(15.1); // 20 offered
    expect(pairs(15, 100)).toBeGreaterThan(14.5);
  });
  it('a worker slower than the target asks for a lower capture size, at most once per cool-down; a fast one never', () => {
    expect(run(Object.assign(new Pacer(), { target: 30 }), 1000 / 30, 10_000, 5).lowered).toBe(0);
    const slow = run(Object.assign(new Pacer(), { target: 30 }), 1000 / 30, 10_000, 200);
    expect(slow.lowered).toBeGreaterThanOrEqual(3);
    expect(slow.lowered).toBeLessThanOrEqual(5);
  });
  it('capture sizes step down keeping the aspect ratio, and stop at the smallest', () => {
    expect(lowerSize(1280, 720)).toEqual({ width: 853, height: 480 });
    expect(lowerSize(720, 1280)).toEqual({ width: 480, height: 853 });
    expect(lowerSize(1920, 1080)).toEqual({ width: 1280, height: 720 });
    expect(lowerSize(640, 480)).toBeNull(); // 480 lines is the floor
    expect(lowerSize(534, 426)).toBeNull();
    expect(CAPTURE_STEPS.at(-1)).toBe(480);
  });
});

describe('what the app says about itself', () => {
  it("in people's words: the graphics chip, or without it (slower)", () => {
    expect(pathWords({ path: 'gpu' } as never)).toBe('Running on the graphics chip');
    expect(pathWords({ path: 'fallback' } as never)).toBe('Running without the graphics chip (slower)');
  });
  it('one loading line from the model bytes to the first picture', () => {
    expect(
      loadingText({ step: 'model', loaded: 1.2e6, total: 4.8e6 }, 'loading', 'Loading the model…', 'none'),
    ).toEqual({ text: 'Downloading the model… 1.2 of 4.8 MB', done: 0.25 });
    expect(loadingText({ step: 'compile' }, 'loading', 'Loading the model…', 'none')?.text).toBe(
      'Preparing the graphics chip…',
    );
    expect(loadingText({ step: 'first' }, 'ready', '', 'camera')?.text).toBe('Looking at the picture…');
    expect(loadingText({ step: 'first' }, 'ready', '', 'none')).toBeNull();
    expect(loadingText(undefined, 'failed', 'boom', 'camera')).toBeNull();
  });
});

// The worker's test hooks (ExplainWorkerTestApi's `__...ForTest`): fault injection, the recovery's state, and the
// GPU path's drawing stages read back offscreen. Only test and bench builds include them (explain.worker.ts).
import { setReadbackTimeout } from '../gpu/readback.ts';
import type { ExplainWorkerTestApi } from './api.ts';
import { FallbackPath } from './fallback-path.ts';
import { GpuPath } from './gpu-path.ts';
import { overlayOptions } from './plan.ts';
import type { RequestQueue } from './queue.ts';
import type { Recovery } from './recovery.ts';
import type { Session } from './startup.ts';

type Hooks = Omit<ExplainWorkerTestApi, keyof import('./api.ts').ExplainWorkerApi>;

export function testHooks(s: Session, q: RequestQueue, recovery: Recovery): Hooks {
  return {
    async __loseDeviceForTest() {
      if (!s.gpu) throw new Error('__loseDeviceForTest: not on the GPU path');
      s.gpu.device.destroy();
      for (let i = 0; i < 500 && s.status.state !== 'recovering'; i++) await new Promise((r) => setTimeout(r, 10));
      return s.status;
    },

    async __gpuFaultForTest(fault) {
      const g = navigator.gpu as GPU & { requestAdapter: GPU['requestAdapter'] };
      if (!g) throw new Error('__gpuFaultForTest: no navigator.gpu');
      delete (g as Partial<typeof g>).requestAdapter; // the prototype's again
      if (!fault) return;
      const requestAdapter = g.requestAdapter.bind(g);
      g.requestAdapter = async (o) => {
        if (fault === 'no-adapter') return null;
        const a = await requestAdapter(o);
        if (!a) return a;
        const requestDevice = a.requestDevice.bind(a);
        a.requestDevice = async (d) => {
          if (fault === 'reject') throw new DOMException('requestDevice failed (test fault)', 'OperationError');
          const dev = await requestDevice(d);
          dev.destroy(); // as a driver reset between requestDevice and first use
          return dev;
        };
        return a;
      };
    },

    async __readbackTimeoutForTest(ms) {
      return setReadbackTimeout(ms);
    },

    async __recoveryAttemptsForTest() {
      return [...recovery.attempts];
    },

    __heatmapForTest(points, width, height, o) {
      return q.serial(async () => {
        if (!(s.path instanceof GpuPath)) throw new Error('__heatmapForTest: not on the GPU path');
        return s.path.heatmapPixels(points, width, height, o.colormap, o.opacity, o.sigma, o.guide);
      });
    },

    __overlayForTest() {
      return q.serial(async () => {
        await q.finishing;
        if (!(s.path instanceof GpuPath || s.path instanceof FallbackPath))
          throw new Error('__overlayForTest: no path');
        return s.path.lastOverlayPixels();
      });
    },

    __gpuPostForTest(list) {
      return q.serial(async () => {
        await q.finishing;
        if (!(s.path instanceof GpuPath)) throw new Error('__gpuPostForTest: not on the GPU path');
        return s.path.postPixels(list ? { ...list, o: overlayOptions(list.o) } : null);
      });
    },

    __pointsOverlayForTest(fixations, box, frame, overlay, o) {
      return q.serial(async () => {
        if (!(s.path instanceof GpuPath)) throw new Error('__pointsOverlayForTest: not on the GPU path');
        return s.path.pointsPixels(fixations, box, frame, overlay, overlayOptions(o));
      });
    },
  };
}

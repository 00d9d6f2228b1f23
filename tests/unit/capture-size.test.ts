// captureSize: a camera frame is scaled down at capture to what the network input samples (issue 20 item 7).
import { describe, expect, it } from 'vitest';
import { captureSize } from '../../src/camera/camera.ts';
import { pixelTransform } from '../../src/engine/model.ts';

describe('captureSize', () => {
  it('crop: the short side becomes the input side (1080p -> 399x224 for a 224 input), aspect kept', () => {
    expect(captureSize({ width: 1920, height: 1080 }, { width: 224, height: 224 }, 'crop')).toEqual({
      width: 399,
      height: 224,
    });
    expect(captureSize({ width: 640, height: 480 }, { width: 224, height: 224 }, 'crop')).toEqual({
      width: 299,
      height: 224,
    });
    // Portrait (a phone held upright).
    expect(captureSize({ width: 720, height: 1280 }, { width: 224, height: 224 }, 'crop')).toEqual({
      width: 224,
      height: 399,
    });
  });
  it('letterbox: the long side becomes the input side', () => {
    expect(captureSize({ width: 1920, height: 1080 }, { width: 224, height: 224 }, 'letterbox')).toEqual({
      width: 224,
      height: 126,
    });
  });
  it('never scales up', () => {
    expect(captureSize({ width: 200, height: 150 }, { width: 224, height: 224 }, 'crop')).toEqual({
      width: 200,
      height: 150,
    });
  });
  it('the input samples the captured frame at no less than its own resolution (step <= 1 captured pixel)', () => {
    for (const [w, h] of [
      [1920, 1080],
      [1280, 720],
      [640, 480],
      [1080, 1920],
    ]) {
      for (const fit of ['crop', 'letterbox'] as const) {
        const c = captureSize({ width: w, height: h }, { width: 224, height: 224 }, fit);
        expect(pixelTransform(c.width, c.height, 224, fit).stepX, `${w}x${h} ${fit}`).toBeLessThanOrEqual(1.0001);
      }
    }
  });
});

// Exhibit mode's motion meter (idle.ts) on its own thread. Reading a thumbnail's pixels back waits for the GPU:
// on the page's thread that held up the camera's frames (150-600 ms per sample under SwiftShader, twice a second).
import { MotionMeter } from './idle.ts';

const meter = new MotionMeter();
self.onmessage = (e: MessageEvent<ImageBitmap>) => {
  const motion = meter.sample(e.data);
  e.data.close();
  self.postMessage(motion);
};

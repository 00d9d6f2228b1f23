// The frame loop of <cnn-fixations>: offers each new camera frame (or a still picture after a change) to the explain
// worker. The next frame may go once the previous one is submitted (the worker submits it while the previous one's
// readback is in flight): at most two frames in flight, none waiting in a queue; frames that arrive meanwhile are
// dropped, so the one sent when a slot frees is the newest.
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { captureSize } from '../camera/camera.ts';
import type { ExplainRequest, FrameResult } from '../worker/api.ts';
import type { Engine } from './worker-client.ts';
import { messageOf } from './worker-client.ts';
import { Pacer } from './pacer.ts';

/** A still picture gets no next frame: when its explanation is lost (device lost, worker restart) try again. */
const STILL_RETRIES = 3;
const STILL_RETRY_MS = 2000;
/** Frames with the worker at once: one being read back while the next is computed (the worker has two staging buffers). */
const MAX_IN_FLIGHT = 2;

/** What the loop explains next: a still picture (shown image, frozen camera), the live video, or nothing yet. */
export type Picture = { still: ImageBitmap } | { video: HTMLVideoElement } | null;

export interface FrameLoopHost extends ReactiveControllerHost {
  readonly engine: Engine;
  /** Whether frames may be sent now (not while the page is hidden). */
  readonly paused: boolean;
  picture(): Picture;
  request(still: boolean): ExplainRequest;
  onResult(r: FrameResult): void;
  onProblem(message: string): void;
  /** Frames are dropping: lower the camera's capture size (pacer.ts). */
  lowerCapture(): void;
}

export class FrameLoop implements ReactiveController {
  /** Results received so far (performance readout, tests). */
  results = 0;
  /** Results per second over the last 10. */
  fps = 0;
  /** Camera frames go at its frame-rate target. */
  readonly pacer = new Pacer();
  /** The size of the last frame sent to the worker (a camera frame is scaled down at capture: captureSize). */
  lastSent: { width: number; height: number } | null = null;
  /** A frame is on its way to the worker and not yet submitted there: newer frames are dropped meanwhile. */
  private sending = false;
  /** Frames sent whose results have not come back yet. */
  private pending = 0;
  private dirty = false;
  private retries = 0;
  private token = 0;
  private times: number[] = [];

  constructor(private readonly host: FrameLoopHost) {
    host.addController(this);
  }

  /** Whether a frame is with the worker now (tests wait for a quiet moment). */
  get inFlight() {
    return this.sending || this.pending > 0;
  }
  /** Frames taken by the loop whose results have not come back (at most MAX_IN_FLIGHT; readout, tests). */
  get framesInFlight() {
    return this.pending;
  }

  hostDisconnected() {
    this.stop();
  }

  /** The still picture or a setting changed: explain the still picture again (camera frames pick it up anyway). */
  invalidate() {
    this.dirty = true;
    this.retries = 0;
    void this.pump();
  }

  /**
   * Offer every new frame of this video to pump(). requestVideoFrameCallback where the browser has it; else
   * requestAnimationFrame (e.g. Firefox ESR 128), skipping paints that show no new video time.
   */
  watch(video: HTMLVideoElement) {
    const token = ++this.token;
    const live = () => token === this.token;
    if (typeof video.requestVideoFrameCallback === 'function') {
      const onFrame = () => {
        if (!live()) return;
        video.requestVideoFrameCallback(onFrame);
        void this.pump();
      };
      video.requestVideoFrameCallback(onFrame);
    } else {
      let last = -1;
      const onPaint = () => {
        if (!live()) return;
        requestAnimationFrame(onPaint);
        if (video.currentTime === last) return;
        last = video.currentTime;
        void this.pump();
      };
      requestAnimationFrame(onPaint);
    }
  }

  /** Stop offering video frames (a still picture is explained on invalidate()). */
  stop() {
    this.token++;
  }

  /** Send the next picture to the worker: a fresh camera frame, or the still picture after a change. */
  async pump(): Promise<void> {
    const h = this.host;
    const busy = this.sending || this.pending >= MAX_IN_FLIGHT;
    if (!h.engine.ready || h.paused) return;
    const pic = h.picture();
    if (!pic) return;
    const still = 'still' in pic;
    if (still ? busy || !this.dirty : pic.video.readyState < 2 || !this.paced(busy)) return;
    this.sending = true;
    this.pending++;
    this.dirty = false;
    let handed = false; // this frame's, not the next one's: it may be sending by the time this one ends
    const submitted = () => {
      if (handed) return;
      handed = true;
      this.sending = false;
      if (this.dirty) void this.pump();
    };
    try {
      let req = h.request(still);
      let frame: ImageBitmap;
      if (still) {
        frame = await createImageBitmap(pic.still);
      } else {
        // Only what the preprocessing samples crosses to the worker; results come back in the video's pixels.
        const v = pic.video,
          src = { width: v.videoWidth, height: v.videoHeight };
        const shape = h.engine.info?.inputShape;
        const c = shape ? captureSize(src, { width: shape[1], height: shape[0] }, req.fit ?? 'crop') : src;
        if (c.width < src.width) {
          frame = await createImageBitmap(v, { resizeWidth: c.width, resizeHeight: c.height, resizeQuality: 'medium' });
          req = { ...req, sourceSize: src };
        } else {
          frame = await createImageBitmap(v);
        }
      }
      this.lastSent = { width: frame.width, height: frame.height };
      const r = await h.engine.explain(frame, req, submitted);
      if (r) {
        this.retries = 0;
        this.count();
        h.onResult(r);
      } else if (still && this.retries++ < STILL_RETRIES) {
        setTimeout(() => {
          this.dirty = true;
          void this.pump();
        }, STILL_RETRY_MS);
      }
    } catch (err) {
      h.onProblem(`Could not read the picture: ${messageOf(err)}`);
    } finally {
      this.pending--;
      submitted(); // a frame that failed before its submission
    }
    if (this.dirty) void this.pump();
  }

  /** A camera frame: whether it goes now (frame-rate target); frames dropping lower the capture size first. */
  private paced(busy: boolean): boolean {
    const now = performance.now();
    const offer = this.pacer.offer(now, busy);
    if (offer === 'busy' && this.pacer.shouldLower(now)) this.host.lowerCapture();
    return offer === 'send';
  }

  private count() {
    this.results++;
    const now = performance.now();
    this.times = [...this.times.slice(-9), now];
    const n = this.times.length;
    this.fps = n > 1 ? (1000 * (n - 1)) / (now - this.times[0]) : 0;
  }
}

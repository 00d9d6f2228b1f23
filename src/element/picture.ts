// What <cnn-fixations> shows: an image URL (loaded by its <img>), the camera (a stream in its <video>), a frozen camera
// frame, or nothing. A reactive controller: it writes what is on show (showing, cameraError, frozen) to the host,
// which reports it (statechange), and holds the still picture the frame loop explains.
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { CameraError, RESOLUTIONS, cameraError, openCamera, stopStream, type Resolution } from '../camera/camera.ts';
import { messageOf } from './worker-client.ts';
import { DEFAULTS, type Settings } from './settings.ts';
import type { FrameLoop } from './frame-loop.ts';

export type Showing = 'none' | 'camera' | 'image';

export interface PictureHost extends ReactiveControllerHost {
  source: string;
  frozen: boolean;
  readonly paused: boolean;
  showing: Showing;
  cameraError?: CameraError;
  readonly deviceId?: string;
  readonly facingMode: Settings['facingMode'];
  readonly resolution: Resolution;
  readonly video: HTMLVideoElement;
  readonly img: HTMLImageElement;
  readonly loop: FrameLoop;
  layout(): void;
  problem(message: string): void;
}

export class Picture implements ReactiveController {
  stream?: MediaStream;
  /** The shown image, or the frozen camera frame: what the frame loop explains when it is not the live video. */
  still?: ImageBitmap;
  private cameraToken = 0;

  constructor(private readonly host: PictureHost) {
    host.addController(this);
  }

  hostDisconnected() {
    this.close();
  }

  /** The `source` property changed: the camera, an image URL, or nothing. */
  show() {
    const h = this.host;
    const src = h.source.trim();
    if (src === 'camera') return void this.startCamera();
    this.close();
    if (!src) {
      h.showing = 'none';
      return;
    }
    h.cameraError = undefined;
    // The <img> loads it (onImageLoad / onImageError); other origins must allow CORS, or the frame could not be read.
    h.img.src = new URL(src, document.baseURI).href;
  }

  async onImageLoad() {
    const h = this.host;
    const url = h.img.src;
    let bmp: ImageBitmap;
    try {
      bmp = await createImageBitmap(h.img);
    } catch (err) {
      return h.problem(`The image ${url} could not be read (${messageOf(err)}).`);
    }
    if (h.img.src !== url || h.source.trim() === 'camera') return bmp.close(); // replaced meanwhile
    this.setStill(bmp);
    h.showing = 'image';
    h.frozen = false;
    h.layout();
    h.loop.invalidate();
  }

  onImageError() {
    const h = this.host;
    if (!h.img.getAttribute('src') || h.source.trim() === 'camera' || !h.source.trim()) return;
    h.showing = 'none';
    h.problem(`The image ${h.img.src} could not be loaded (missing, not an image, or another origin without CORS).`);
  }

  private setStill(bmp?: ImageBitmap) {
    this.still?.close();
    this.still = bmp;
  }

  /** Open the camera (facingMode, resolution, deviceId) and explain its frames; also to reconnect after a stop. */
  async startCamera() {
    const h = this.host;
    const token = ++this.cameraToken;
    h.cameraError = undefined;
    this.close(false);
    try {
      const stream = await openCamera({
        deviceId: h.deviceId,
        facingMode: h.facingMode,
        resolution: h.resolution in RESOLUTIONS ? h.resolution : DEFAULTS.resolution,
      });
      if (token !== this.cameraToken) return stopStream(stream);
      this.stream = stream;
      stream.getVideoTracks()[0]?.addEventListener('ended', () => {
        if (this.stream !== stream) return;
        this.close();
        h.showing = 'none';
        h.cameraError = new CameraError('ended', 'The camera was disconnected or stopped.');
      });
      h.video.srcObject = stream;
      await h.video.play();
      if (token !== this.cameraToken) return;
      this.setStill(undefined);
      h.showing = 'camera';
      h.frozen = false;
      h.loop.watch(h.video);
    } catch (err) {
      if (token !== this.cameraToken) return;
      this.close();
      if (h.showing === 'camera') h.showing = 'none';
      h.cameraError = cameraError(err);
    }
  }

  /** Stop the camera (and, unless `cancel` is false, a camera start under way). */
  close(cancel = true) {
    if (cancel) this.cameraToken++;
    this.host.loop.stop();
    stopStream(this.stream);
    this.stream = undefined;
  }

  /** The `frozen` property changed: hold the current camera frame as the still picture, or go live again. */
  async applyFreeze() {
    const h = this.host;
    if (h.showing !== 'camera') {
      if (h.frozen) h.frozen = false; // only the camera freezes
      return;
    }
    if (h.frozen) {
      h.video.pause();
      this.setStill(await createImageBitmap(h.video));
      void h.loop.pump(); // a setting changed while the frame was being grabbed
    } else {
      this.setStill(undefined);
      if (!h.paused) await h.video.play();
    }
  }

  /** The page was hidden or shown: a live camera's video pauses with it. */
  setPaused(paused: boolean) {
    const h = this.host;
    if (h.showing !== 'camera' || h.frozen) return;
    if (paused) h.video.pause();
    else void h.video.play();
  }

  /** The user-facing camera is shown mirrored, as people expect of a selfie view; the overlay follows. */
  get mirrored() {
    return this.host.showing === 'camera' && this.stream?.getVideoTracks()[0]?.getSettings().facingMode === 'user';
  }
}

// Camera access: rear camera by default on phones, a chosen device or resolution otherwise, and errors in words.

export const RESOLUTIONS = { '480p': [640, 480], '720p': [1280, 720], '1080p': [1920, 1080] } as const;
export type Resolution = keyof typeof RESOLUTIONS;

export interface CameraChoice {
  /** A specific device (from listCameras); otherwise the facing mode decides. */
  deviceId?: string;
  facingMode: 'environment' | 'user';
  resolution: Resolution;
}

export type CameraProblem = 'denied' | 'none' | 'busy' | 'insecure' | 'ended' | 'other';

export class CameraError extends Error {
  constructor(
    readonly kind: CameraProblem,
    message: string,
  ) {
    super(message);
  }
}

export async function openCamera(c: CameraChoice): Promise<MediaStream> {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new CameraError(
      window.isSecureContext ? 'none' : 'insecure',
      window.isSecureContext
        ? 'This browser gives no access to cameras.'
        : 'Cameras need a secure page: open the app over https:// or on localhost (npm run start:https).',
    );
  }
  const [width, height] = RESOLUTIONS[c.resolution];
  const video: MediaTrackConstraints = {
    width: { ideal: width },
    height: { ideal: height },
    ...(c.deviceId ? { deviceId: { exact: c.deviceId } } : { facingMode: { ideal: c.facingMode } }),
  };
  try {
    return await navigator.mediaDevices.getUserMedia({ video, audio: false });
  } catch (err) {
    throw cameraError(err);
  }
}

export function cameraError(err: unknown): CameraError {
  if (err instanceof CameraError) return err;
  const name = (err as { name?: string })?.name ?? '';
  const detail = (err as Error)?.message ? ` (${(err as Error).message})` : '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return new CameraError(
        'denied',
        'Camera access was denied. Allow the camera in the site settings and try again, or open a still image.',
      );
    case 'NotFoundError':
    case 'OverconstrainedError':
      return new CameraError('none', 'No camera was found. Connect one and try again, or open a still image.');
    case 'NotReadableError':
    case 'AbortError':
      return new CameraError('busy', `The camera could not be started; another app may be using it${detail}.`);
    default:
      return new CameraError('other', `The camera could not be started${detail}.`);
  }
}

/** Video inputs; labels are empty until the user has granted camera access once. */
export async function listCameras(): Promise<MediaDeviceInfo[]> {
  if (!navigator.mediaDevices?.enumerateDevices) return [];
  return (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
}

export function stopStream(s: MediaStream | undefined) {
  s?.getTracks().forEach((t) => t.stop());
}

/**
 * The size a camera frame is captured at for the explain worker (createImageBitmap's resizeWidth/resizeHeight): the
 * video scaled down, aspect kept, as far as the network input still samples it at no less than its own resolution
 * ('crop': the input fits inside; 'letterbox': the whole frame fits the input). Never scaled up. The overlay keeps
 * the video's resolution: the worker maps results back to it (ExplainRequest.sourceSize).
 */
export function captureSize(
  video: { width: number; height: number },
  input: { width: number; height: number },
  fit: 'crop' | 'letterbox',
) {
  const s =
    fit === 'crop'
      ? Math.max(input.width / video.width, input.height / video.height)
      : Math.min(input.width / video.width, input.height / video.height);
  if (!(s < 1)) return { width: video.width, height: video.height };
  return { width: Math.max(1, Math.ceil(video.width * s)), height: Math.max(1, Math.ceil(video.height * s)) };
}

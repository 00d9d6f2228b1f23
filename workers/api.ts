// The contract between the UI (src/app) and the explain worker (workers/explain.worker.ts), exposed with comlink.
// Frames go in as transferred ImageBitmap/VideoFrame; small results come back; the overlay is drawn by the worker
// into an OffscreenCanvas transferred from the page, so the heatmap never leaves the GPU.
import type { Fixation, InputFixation, PresetName, Rules, TopClass } from '../src/engine/types.ts';
import type { Box } from '../src/engine/post.ts';

export type Backend = 'webgpu' | 'webgl' | 'wasm' | 'cpu';
/** Which path ran: WebGPU inference + WGSL unravelling, or the fallback (WebGL/wasm inference + CPU unravelling). */
export type PathName = 'gpu' | 'fallback';
export type Colormap = 'turbo' | 'jet' | 'viridis';
export type Method = 'fixations' | 'cam' | 'gradcam';

export interface InitOptions {
  /** Catalog model id (served at /models/<id>/), or a user model given by URL of its model.json. */
  modelId?: string;
  modelUrl?: string;
  /** User model given as files (model.json + shards); labels optional. */
  modelFiles?: File[];
  /** 'auto' tries WebGPU first, then the fallback. */
  backend?: 'auto' | 'webgpu' | 'fallback';
  /** Overlay target, transferred from the page (comlink.transfer). */
  canvas?: OffscreenCanvas;
}

export interface InitInfo {
  modelId: string;
  labels: string[];
  path: PathName;
  backend: Backend;
  /** Why the fallback is in use, when it is. */
  fallbackReason?: string;
  inputSize: number;
  layers: { name: string; shape: number[] }[];
}

export interface OverlayOptions {
  points: boolean;
  heatmap: boolean;
  box: boolean;
  colormap: Colormap;
  /** 0..1 */
  opacity: number;
  /** EMA factor for the heatmap over frames: 0 = off, 0.5 = half old, half new. */
  smoothing: number;
  /** Layer view: draw the kept neurons of this layer (receptive-field boxes) instead of the input fixations. */
  layer?: string;
}

export interface ExplainRequest {
  /** 'top' = top-1; a class index; or several classes, drawn one colour each. */
  classes?: 'top' | number | number[];
  rules?: PresetName | Rules;
  method?: Method;
  fit?: 'crop' | 'letterbox';
  overlay?: Partial<OverlayOptions>;
  /** Return per-layer kept indices (layer view, tests); costs a larger readback. */
  withLayers?: boolean;
}

export interface ExplainedClass {
  class: TopClass;
  /** Network-input pixels. */
  inputFixations: InputFixation[];
  /** Frame pixels. */
  fixations: Fixation[];
  box: Box | null;
  /** Heatmap maximum in frame pixels. */
  peak: [number, number] | null;
}

export interface FrameResult {
  top: TopClass[];
  explained: ExplainedClass[];
  path: PathName;
  backend: Backend;
  frameSize: { width: number; height: number };
  layers: { name: string; count: number; indices?: Int32Array; shape: number[] }[];
  /** upload, preprocess, forward, unravel, heatmap, readback, total (ms). */
  timings: Record<string, number>;
  /** Bytes read back from the GPU for this frame. */
  readbackBytes: number;
}

export interface WorkerStatus {
  state: 'idle' | 'loading' | 'ready' | 'recovering' | 'error';
  message?: string;
}

export interface ExplainWorkerApi {
  init(opts: InitOptions): Promise<InitInfo>;
  explain(frame: ImageBitmap | VideoFrame, req?: ExplainRequest): Promise<FrameResult>;
  /** Resize the overlay canvas (CSS pixels x devicePixelRatio of the video box). */
  resize(width: number, height: number): Promise<void>;
  status(): Promise<WorkerStatus>;
  /** tf.memory() and the worker's own GPU buffers, for leak checks. */
  memory(): Promise<{ tensors: number; bytes: number; gpuBuffers: number; gpuBytes: number }>;
  dispose(): Promise<void>;
}

// The contract between the UI (src/app) and the explain worker (src/worker/explain.worker.ts), exposed with comlink.
// Frames go in as transferred ImageBitmap/VideoFrame; small results come back; the overlay is drawn by the worker
// into an OffscreenCanvas transferred from the page, so the heatmap never leaves the GPU.
import type { Fixation, InputFixation, PixelTransform, PresetName, Rules, TopClass } from '../engine/types.ts';
import type { Box, Size } from '../engine/post.ts';
import type { ModelInfo } from '../engine/model.ts';
import type { BoxSource, ExplainMethod, GuidedOptions } from '../engine/methods.ts';
import type { Counters } from '../gpu/counters.ts';
import type { GpuFaults } from '../gpu/kernels.ts';

/** Overlay colour of the i-th explained class (points, box, cells), also for the UI's legend (one list: src/engine/post.ts). */
export { CLASS_COLORS } from '../engine/post.ts';

export type Backend = 'webgpu' | 'webgl' | 'wasm' | 'cpu';
/** Which path ran: WebGPU inference + WGSL unravelling, or the fallback (WebGL/wasm inference + CPU unravelling). */
export type PathName = 'gpu' | 'fallback';
export type Colormap = 'turbo' | 'jet' | 'viridis';
/** The engine's methods but the centre prior (src/engine/methods.ts); the default is the model's (InitInfo.method). */
export type Method = Exclude<ExplainMethod, 'center'>;
export type { BoxSource, GuidedOptions };

export interface InitOptions {
  /** Catalog model id (served at /models/<id>/), or a user model given by URL of its model.json. */
  modelId?: string;
  modelUrl?: string;
  /** User model given as files (model.json + shards); labels optional (a JSON array file named *labels*.json). */
  modelFiles?: File[];
  /** Labels of a user model (else labels.json beside a URL model, else "class N"). */
  labels?: string[];
  /**
   * A user model's facts the graph cannot tell (defaults: logits = the output node, or its input when the output
   * is a Softmax; input height, width and channels from the input signature, else 224x224x3; ImageNet preprocessing,
   * range [0,1], or the luminance in [0,1] for a 1-channel input).
   */
  info?: Partial<Omit<ModelInfo, 'labels'>>;
  /**
   * 'auto': the GPU path on a real GPU; the fallback on a software WebGPU adapter (SwiftShader & co., where it is
   * faster) or without WebGPU (InitInfo.auto). One path is built, once. 'webgpu' / 'fallback' force a path.
   */
  backend?: 'auto' | 'webgpu' | 'fallback';
  /** Overlay target, transferred from the page (comlink.transfer). */
  canvas?: OffscreenCanvas;
  /** Tests only: injected GPU faults (a corrupted kernel, a lowered limit), see src/gpu/kernels.ts GpuFaults. */
  __gpuFaultsForTest?: GpuFaults;
  /** Why the page asks for the fallback (shown as fallbackReason); default 'requested'. */
  fallbackReason?: string;
  /** Whether the page is visible now (default true); later changes come through setVisible(). */
  visible?: boolean;
}

/**
 * How far init() has come, for a loading state with real progress: the model's bytes as they arrive ('model'; total
 * grows as each file's size becomes known), then the shader compiles and the first trial frames ('compile').
 */
export type LoadProgress = { step: 'model'; loaded: number; total: number } | { step: 'compile' };

export interface InitInfo {
  modelId: string;
  labels: string[];
  path: PathName;
  backend: Backend;
  /** Why the fallback is in use, when it is (and why its backend, e.g. wasm straight away on Safari). */
  fallbackReason?: string;
  /**
   * The wasm backend, when in use: SIMD; whether this context can run threaded wasm (tfjs's
   * WASM_HAS_MULTITHREAD_SUPPORT: SharedArrayBuffer, so a cross-origin isolated page); the threads it runs on.
   */
  wasm?: { simd: boolean; threadsSupported: boolean; threads: number };
  /** Height of the network input (its side when square). */
  inputSize: number;
  /** The facts in effect (user settings, else files beside the model, else defaults), for the UI's model settings. */
  preprocessing: ModelInfo['preprocessing'];
  logits: string;
  /** The network input [height, width, channels]. */
  inputShape: [number, number, number];
  layers: { name: string; shape: number[] }[];
  /** The model's default method (its catalog "method", else DEFAULT_METHOD): what a request without one runs. */
  method: Method;
  /** 'auto': the path kept, the WebGPU adapter's name (null: none) and whether it is a software one. */
  auto?: { chosen: PathName; adapter: string | null; software: boolean };
  /**
   * Where the start-up went, ms: deviceMs (adapter and device), downloadMs (model fetched and parsed), tfjsCompileMs
   * (tfjs's shaders for a frame, compiled in parallel), kernelCompileMs (the WGSL unravelling's), selfCheckMs.
   * The first frame's own time is its result's timings.total.
   */
  startup?: Record<string, number>;
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
  /** The fixations' rules (method 'guided': those feeding its density, default GUIDED.rules). */
  rules?: PresetName | Rules;
  method?: Method;
  /** Method 'guided': its knobs over GUIDED (src/engine/methods.ts). */
  guided?: Partial<GuidedOptions>;
  /** Where each class's box comes from: 'fixations' or 'map' (default BOX_SOURCE[method], src/engine/methods.ts). */
  box?: BoxSource;
  fit?: 'crop' | 'letterbox';
  /**
   * The frame was scaled down at capture (same aspect) from a picture of this size (src/camera/camera.ts
   * captureSize): the preprocessing reads the small frame, and the result (frameSize, fixations, boxes, peaks) is
   * in this picture's pixels, so the overlay keeps its full resolution.
   */
  sourceSize?: { width: number; height: number };
  overlay?: Partial<OverlayOptions>;
  /** Return per-layer kept indices (layer view, tests); costs a larger readback. */
  withLayers?: boolean;
  /**
   * Accurate per-stage GPU timings: wait for the queue between stages (serialises CPU and GPU; benchmarks only).
   * Without it, GPU stages show encode time and the waiting lands in 'readback'; 'total' is right either way.
   */
  timing?: boolean;
  /** Benchmarks: stop after the forward pass and the top-5 readback (what a plain classifier costs). */
  forwardOnly?: boolean;
}

/** A frame's cost in GPU calls (bench builds only, see src/gpu/counters.ts). */
export type FrameCounters = Omit<Counters, 'waitMs'> & {
  /** The frame's time minus the time spent awaiting maps and tensor reads. */
  workerCpuMs: number;
};

export interface ExplainedClass {
  class: TopClass;
  /**
   * Overlay colour, CLASS_COLORS[i] for the i-th requested class: its points and box and, with several classes, its
   * heatmap's hue (each overlay pixel in the colour of the strongest class there; one class: the colormap).
   */
  color: string;
  /** Network-input pixels. */
  inputFixations: InputFixation[];
  /** Frame pixels. */
  fixations: Fixation[];
  box: Box | null;
  /** Which box `box` is: the fixations' (the paper's box), the CAM protocol on the method's map, or none. */
  boxSource: BoxSource | null;
  /** This class's heatmap maximum in frame pixels. */
  peak: [number, number] | null;
}

export interface FrameResult {
  top: TopClass[];
  explained: ExplainedClass[];
  path: PathName;
  backend: Backend;
  frameSize: { width: number; height: number };
  /**
   * Kept neurons per layer of the first explained class. Fallback: every layer, always. GPU path: every layer with
   * withLayers, only the overlay.layer one in the layer view, none otherwise. `indices` only with withLayers.
   */
  layers: { name: string; count: number; indices?: Int32Array; shape: number[] }[];
  method: Method;
  /** Method 'guided': its knobs in effect and the class map used. */
  guided?: GuidedOptions & { classMap: 'cam' | 'gradcam' };
  /** upload, preprocess, forward, unravel, heatmap, readback, total (ms). */
  timings: Record<string, number>;
  /** Bytes read back from the GPU for this frame. */
  readbackBytes: number;
  /** Bench builds only. */
  counters?: FrameCounters;
}

export interface WorkerStatus {
  state: 'idle' | 'loading' | 'ready' | 'recovering' | 'error';
  message?: string;
  /** GPU errors no error scope caught since init (WebGPU 'uncapturederror'), with the last one's message. */
  gpuErrors?: { count: number; last?: string };
  /** Why the GPU path unravels on the CPU, when it does (also after a switch in the first frames). */
  unravelNote?: string;
  /** 'recovering': the recovery attempt under way (1-based), 0 while waiting for the page to be visible. */
  attempt?: number;
  /**
   * 'error' only, what the page should do. 'fallback': WebGPU is gone; start a new worker on the fallback path with a
   * fresh canvas (this one is WebGPU's and cannot get a 2D context). 'restart': recovery gave up; show the error
   * and let the user restart (restarting on its own could loop). Absent: restart the worker as after a crash.
   */
  next?: 'fallback' | 'restart';
}

export interface ExplainWorkerApi {
  /** Load the model and start a path; `progress` (a comlink proxy) hears how far it has come. */
  init(opts: InitOptions, progress?: (p: LoadProgress) => void): Promise<InitInfo>;
  /**
   * Explain one frame. `submitted` (a comlink proxy) is called once the frame's GPU work is submitted: the caller may
   * send the next frame then (it is submitted before this one's readback resolves); results come back in order.
   */
  explain(frame: ImageBitmap | VideoFrame, req?: ExplainRequest, submitted?: () => void): Promise<FrameResult>;
  /** Resize the overlay canvas (CSS pixels x devicePixelRatio of the video box). */
  resize(width: number, height: number): Promise<void>;
  status(): Promise<WorkerStatus>;
  /** The page's visibility: a lost GPU device is recovered only while the page is visible. */
  setVisible(visible: boolean): Promise<void>;
  /** tf.memory() and the worker's own GPU buffers, for leak checks. */
  memory(): Promise<{ tensors: number; bytes: number; gpuBuffers: number; gpuBytes: number }>;
  dispose(): Promise<void>;
}

/**
 * Test hook input: the guided method's heat from these points (one list per class) and class maps (width x height
 * each, max 1): classMap x (epsilon + density) on the GPU (GUIDED_WGSL). Compare with guidedMap() of heatmap().
 */
export interface GuideForTest {
  maps: Float32Array[];
  epsilon: number;
}

/** Test-only hooks of the worker (not for the UI). */
export interface ExplainWorkerTestApi extends ExplainWorkerApi {
  /** Destroy the GPUDevice as a driver reset would; resolves once the worker reports 'recovering'. */
  __loseDeviceForTest(): Promise<WorkerStatus>;
  /**
   * From now on, WebGPU in this worker fails as on a bad driver: 'no-adapter' (requestAdapter gives null: WebGPU
   * is gone), 'reject' (requestDevice rejects), 'lose' (requestDevice gives a device that is already lost); null: normal.
   */
  __gpuFaultForTest(fault: 'no-adapter' | 'reject' | 'lose' | null): Promise<void>;
  /** The readback time limit in ms (src/gpu/readback.ts); returns the previous one. */
  __readbackTimeoutForTest(ms: number): Promise<number>;
  /** When the recovery attempts since the last explained frame began (Date.now()). */
  __recoveryAttemptsForTest(): Promise<number[]>;
  /**
   * GPU path: the GPU heatmap of these points (overlay pixels) drawn offscreen through the overlay's colormap pass
   * and read back: premultiplied RGBA8, row-major width x height. Compare with colorize(heatmap(...), .., true).
   * Several point lists: one class each (slot i, CLASS_COLORS[i]); compare with classOverlay(maps, .., true).
   */
  __heatmapForTest(
    points: Fixation[] | Fixation[][],
    width: number,
    height: number,
    opts: { colormap: Colormap; opacity: number; sigma?: number; guide?: GuideForTest },
  ): Promise<Uint8Array>;
  /**
   * The last frame's overlay, premultiplied RGBA8: on the GPU path drawn again offscreen and read back; on the
   * fallback, the 2D canvas's pixels (premultiplied here; the canvas keeps 8-bit premultiplied values).
   */
  __overlayForTest(): Promise<{ width: number; height: number; pixels: Uint8Array }>;
  /**
   * GPU path: the overlay's GPU post (src/gpu/post.ts) — points in the photo, kept after outliers, their box. With
   * `list`, that hand-made list goes through it, drawn offscreen (pixels); without, the last frame's.
   */
  __gpuPostForTest(list?: {
    input: InputFixation[];
    transform: PixelTransform;
    frame: Size;
    overlay: Size;
    o?: Partial<OverlayOptions>;
  }): Promise<{
    stats: { points: number; kept: number; box: [number, number, number, number] | null };
    pixels?: Uint8Array;
  }>;
  /** GPU path: the CPU-points overlay of these frame fixations and box (sceneRects + CPU splat), offscreen. */
  __pointsOverlayForTest(
    fixations: Fixation[],
    box: [number, number, number, number] | null,
    frame: Size,
    overlay: Size,
    o?: Partial<OverlayOptions>,
  ): Promise<Uint8Array>;
}

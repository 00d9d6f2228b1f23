// Library entry, browser-safe (the package's "."; Node adds loading from disk in 'cnnfix/node').
// The public API, chosen on purpose: build a FixationModel from a tfjs GraphModel, explain an image, and the result's
// types and post-processing helpers. Internals (graph IR builders, WGSL sources, GPU runners, heatmap grids) are not
// exported; the app and the tests import those modules directly.

// A model: a tfjs GraphModel plus its facts (catalog entry, or read off the graph for a user's own model).
export {
  FixationModel,
  pixelTransform,
  inputShape,
  disposeForward,
  ABSENT,
  type Head,
  type ModelInfo,
  type InputShape,
  type Preprocessing,
  type Fit,
  type Forward,
} from './engine/model.ts';
export {
  graphFacts,
  userModelInfo,
  IMAGENET,
  GRAY,
  DEFAULT_INPUT_SIZE,
  readFacts,
  RANGE_PRESETS,
  FACTS_FILE,
  METADATA_FILE,
  type GraphFacts,
  type ModelFacts,
} from './engine/facts.ts';
// TF.js layers models (Keras topology, Teachable Machine): as graph-model artifacts, or an IOHandler that converts.
export { convertLayersModel, asGraphModel, isLayersModel, SUPPORTED_LAYERS } from './formats/layers/convert.ts';
// ONNX models (bytes): converted to a TF.js graph in memory, then a FixationModel like any other.
export { loadOnnx, convertOnnx, type OnnxOptions } from './formats/onnx/index.ts';

// Explaining: CNN Fixations (or a baseline), its rules and its result.
export {
  explain,
  type ClassExplanation,
  type ExplainOptions,
  type Explanation,
  type ExplainMethod,
} from './engine/explain.ts';
// The methods, their defaults (which box each draws) and the guided method's knobs; the guided map itself.
export {
  METHODS,
  DEFAULT_METHOD,
  BOX_SOURCE,
  GUIDED,
  methodFor,
  resolveGuided,
  type BoxSource,
  type ClassMapKind,
  type GuidedOptions,
} from './engine/methods.ts';
export { guidedMap } from './engine/guided.ts';
// The baselines: Grad-CAM's layer and its gradients (tf.grad needs loadGradients() once; explain() calls it).
export { gradCamLayer, loadGradients, type GradCamOptions } from './engine/baselines.ts';
export {
  PRESETS,
  resolveRules,
  BINARY_CLASSES,
  type Rules,
  type PresetName,
  type LocationRule,
  type GapRule,
  type WeightRule,
  type Fixation,
  type InputFixation,
  type KeptLayer,
  type PixelTransform,
  type TopClass,
} from './engine/types.ts';
export { unravelCpu, type UnravelResult, type Activations } from './engine/unravel.ts';

// Post-processing and drawing helpers the result is made with (to redo them with other settings).
export {
  toImagePoints,
  removeOutliers,
  heatmap,
  tightBox,
  fixationBox,
  chooseBox,
  MIN_BOX_POINTS,
  camBox,
  peak,
  DEFAULT_POST,
  CLASS_COLORS,
  classOverlay,
  type PostOptions,
  type Box,
} from './engine/post.ts';
export { colorize, colormap, COLORMAPS, type ColormapName } from './engine/colormap.ts';

// Node module resolution hook (registered by src/node/index.ts): tfjs-core's ES module build imports its own files
// without the '.js' extension, which Node's ESM loader refuses. Only the gradients come from that build (tfjs-core's
// Node bundle registers none; see loadGradients in src/engine/baselines.ts), loaded on the first Grad-CAM by tf.grad.
export async function resolve(specifier, context, next) {
  if (context.parentURL?.includes('/@tensorflow/tfjs-core/dist/') && specifier.startsWith('.') && !specifier.endsWith('.js')) {
    try {
      return await next(`${specifier}.js`, context);
    } catch { /* not a file: resolve as given */ }
  }
  return next(specifier, context);
}

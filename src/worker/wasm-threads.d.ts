// The threaded wasm module factory of tfjs-backend-wasm (CommonJS, untyped); see wasm-threads.ts.
declare module '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js' {
  const factory: (config: object) => Promise<unknown>;
  export default factory;
}

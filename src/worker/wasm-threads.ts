// Threaded wasm in a bundled worker. tfjs-backend-wasm starts each pthread worker from the text of its module
// factory (`"var WasmBackendModuleThreadedSimd = " + factory.toString()`, importScripts'ed from a blob:). Once
// bundled, that text refers to the bundle's own (renamed) variables, so every thread dies ("e is not defined") and
// the backend never starts. The package's file stands alone (it is made to be loaded by importScripts): the
// factory's text is replaced by it. Same function object as tfjs's (one module instance), so tfjs sees the change.
import * as threaded from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js';
import source from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js?raw';

const factory = ((threaded as { default?: unknown }).default ?? threaded) as { toString(): string };
factory.toString = () => `(() => {\n${source}\nreturn WasmBackendModuleThreadedSimd;\n})()`;

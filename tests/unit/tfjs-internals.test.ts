// src/gpu/device.ts reads tfjs-backend-webgpu internals that are not public API (issue 20, item 11): a tensor's
// GPUBuffer (backend.tensorMap.get(dataId).resource, after backend.uploadToGPU(dataId)) and the flush of tfjs's
// pending commands (ensureCommandEncoderReady, endComputePassEncoder, submitQueue). An upgrade that renames or moves
// any of them fails here, naming it, instead of silently breaking the GPU path. Reads the installed package.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';

const require = createRequire(import.meta.url);
const root = dirname(require.resolve('@tensorflow/tfjs-backend-webgpu/package.json'));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const source = readFileSync(join(root, 'dist/backend_webgpu.js'), 'utf8');
const ours = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));

/** The source of a WebGPUBackend method, up to the next method at the same indentation. */
function method(name: string): string {
  const start = source.indexOf(`\n    ${name}(`);
  if (start < 0) return '';
  const end = source.slice(start + 1).search(/\n {4}[A-Za-z_]+\([^)]*\) \{/);
  return source.slice(start, end < 0 ? undefined : start + 1 + end);
}

/** Each internal src/gpu/device.ts uses: where it must be, checked against the installed code. */
const PINNED: [string, () => boolean][] = [
  [
    'WebGPUBackend.prototype.uploadToGPU (tensorBuffer: moves a CPU-held tensor to a GPUBuffer)',
    () => typeof WebGPUBackend.prototype.uploadToGPU === 'function',
  ],
  ['WebGPUBackend.prototype.submitQueue (flushTf)', () => typeof WebGPUBackend.prototype.submitQueue === 'function'],
  [
    'WebGPUBackend.prototype.ensureCommandEncoderReady (flushTf)',
    () => typeof WebGPUBackend.prototype.ensureCommandEncoderReady === 'function',
  ],
  [
    'WebGPUBackend.prototype.endComputePassEncoder (flushTf)',
    () => typeof WebGPUBackend.prototype.endComputePassEncoder === 'function',
  ],
  [
    'backend.tensorMap, a DataStorage made in the constructor (tensorBuffer)',
    () => /this\.tensorMap = new DataStorage\(/.test(source),
  ],
  [
    'tensorMap.get(dataId).resource, the GPUBuffer uploadToGPU sets (tensorBuffer)',
    () =>
      /this\.tensorMap\.get\(dataId\)[\s\S]*tensorData\.resource != null[\s\S]*tensorData\.resource = buffer/.test(
        method('uploadToGPU'),
      ),
  ],
];

describe('tfjs-backend-webgpu internals used by src/gpu/device.ts', () => {
  it('the pinned version is installed (these internals were read from 4.22.0)', () => {
    expect(
      ours.dependencies['@tensorflow/tfjs-backend-webgpu'],
      'package.json must pin tfjs-backend-webgpu exactly',
    ).toBe('4.22.0');
    expect(pkg.version, 'installed @tensorflow/tfjs-backend-webgpu').toBe('4.22.0');
  });
  it('each internal is where src/gpu/device.ts reads it', () => {
    const missing = PINNED.filter(([, ok]) => !ok()).map(([name]) => name);
    expect(
      missing,
      `@tensorflow/tfjs-backend-webgpu ${pkg.version} moved internals src/gpu/device.ts relies on: ${missing.join('; ')}`,
    ).toEqual([]);
  });
});

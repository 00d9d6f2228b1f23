// The readback time limit (src/gpu/readback.ts): a stuck readback rejects naming what it read; others pass through.
import { describe, expect, it } from 'vitest';
import { readback, ReadbackTimeoutError, setReadbackTimeout, READBACK_TIMEOUT_MS } from '../../src/gpu/readback.ts';

describe('readback()', () => {
  it('rejects a readback that never completes after the limit, naming it', async () => {
    const t0 = performance.now();
    const err = await readback(new Promise<never>(() => {}), 'the frame summary', 80).catch((e: Error) => e);
    const waited = performance.now() - t0;
    expect(err).toBeInstanceOf(ReadbackTimeoutError);
    expect(err.name).toBe('ReadbackTimeoutError');
    expect(err.message).toBe(
      'readback of the frame summary did not complete within 0.08 s (the GPU may be hung or lost)',
    );
    expect(waited).toBeGreaterThanOrEqual(75);
    expect(waited).toBeLessThan(2000);
  });

  it('passes a value or an error through unchanged', async () => {
    await expect(readback(Promise.resolve(42), 'x', 50)).resolves.toBe(42);
    const boom = new Error('device lost');
    await expect(readback(Promise.reject(boom), 'x', 50)).rejects.toBe(boom);
    // A late value still wins within the limit.
    await expect(readback(new Promise((r) => setTimeout(() => r('late'), 20)), 'x', 500)).resolves.toBe('late');
  });

  it('uses the default limit, which tests can change', async () => {
    expect(READBACK_TIMEOUT_MS).toBe(30_000);
    const old = setReadbackTimeout(30);
    try {
      expect(old).toBe(READBACK_TIMEOUT_MS);
      await expect(readback(new Promise(() => {}), 'the unravelling results')).rejects.toThrow(/within 0.03 s/);
    } finally {
      setReadbackTimeout(old);
    }
    expect(() => setReadbackTimeout(0)).toThrow(/positive/);
  });
});

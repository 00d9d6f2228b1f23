// Every wait for data coming back from the GPU (or a WebGL/wasm backend) goes through here, so that a stuck readback
// (a hung driver, a device lost without its promise settling) rejects with a clear error instead of hanging the
// frame, and with it the worker's queue, for ever. A readback that timed out leaves its buffer mapping pending:
// the caller must treat the device as unusable (the worker destroys it and recovers).

/** Default limit; generous, as a frame's readback also waits for the forward pass queued before it. */
export const READBACK_TIMEOUT_MS = 30_000;
/**
 * The limit for the first frame after a (re)start, whose readback also waits for the backend compiling every
 * shader (minutes on a CPU-emulated GPU under load); the worker switches between the two.
 */
export const FIRST_READBACK_TIMEOUT_MS = 300_000;
let limitMs = READBACK_TIMEOUT_MS;

export class ReadbackTimeoutError extends Error {
  override name = 'ReadbackTimeoutError';
}

/** Change the limit (tests; a page could raise it for a slow device). Returns the previous one. */
export function setReadbackTimeout(ms: number): number {
  if (!(ms > 0)) throw new Error(`readback timeout must be a positive number of milliseconds, got ${ms}`);
  const old = limitMs;
  limitMs = ms;
  return old;
}

/** `p` (a mapAsync, a tensor's data()), or a ReadbackTimeoutError naming `what` after the limit. */
export function readback<T>(p: Promise<T>, what: string, ms = limitMs): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new ReadbackTimeoutError(
            `readback of ${what} did not complete within ${+(ms / 1000).toFixed(3)} s (the GPU may be hung or lost)`,
          ),
        ),
      ms,
    );
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

// Cancellation: main turns SIGTERM/SIGINT into an aborted AbortSignal; every
// long wait (registry requests, back-off sleeps, child processes) watches it,
// and no phase starts (no tag is written) once it is aborted.

/** Thrown when work stops because the run was cancelled. */
export class CancelledError extends Error {
  constructor(what: string) {
    super(`cancelled: ${what}`);
    this.name = 'CancelledError';
  }
}

export function throwIfCancelled(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new CancelledError(what);
}

/** Waits `ms`, or rejects with a CancelledError as soon as `signal` aborts. */
export function sleepUnlessCancelled(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new CancelledError(what));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new CancelledError(what));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// Bounded concurrency: a pool over a list (mapLimit), a semaphore for tasks
// that start anywhere (Semaphore), and a fail-late Promise.all (allOrFirstError).

/**
 * Runs async tasks with at most `limit` in flight (0 or less: all at once).
 * Every task runs to completion; results keep input order.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  const width = limit > 0 ? Math.min(limit, items.length) : items.length;
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await fn(items[i] as T, i) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  }
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}

/**
 * A counting semaphore: at most `limit` tasks run at once, the others wait
 * their turn in call order. After `stop(reason)` no task starts any more:
 * waiting and later ones reject with `reason` without running; running ones
 * finish.
 */
export class Semaphore {
  private running = 0;
  private readonly waiting: { start: () => void; skip: (reason: unknown) => void }[] = [];
  private halted: { reason: unknown } | undefined;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a semaphore needs a whole limit of at least 1, not ${limit}`);
  }

  /** The first stop's reason, once stopped. */
  get stopped(): { reason: unknown } | undefined {
    return this.halted;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /** Stops it; only the first reason counts. */
  stop(reason: unknown): void {
    if (this.halted) return;
    this.halted = { reason };
    for (const w of this.waiting.splice(0)) w.skip(reason);
  }

  private async acquire(): Promise<void> {
    this.throwIfStopped();
    if (this.running < this.limit) {
      this.running++;
      return;
    }
    await new Promise<void>((start, skip) => this.waiting.push({ start, skip }));
    this.throwIfStopped(); // handed a slot, but stopped before this task began (slots no longer matter)
  }

  /** A finished task's slot goes straight to the next waiting one. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next.start();
    else this.running--;
  }

  private throwIfStopped(): void {
    if (this.halted) throw this.halted.reason;
  }
}

/**
 * Like Promise.all, but settles only once every promise has: then it resolves
 * with the values in order, or rejects with the rejection that came first in
 * time (not the first in the list).
 */
export async function allOrFirstError<T extends readonly unknown[] | []>(values: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const failures: unknown[] = [];
  const settled = await Promise.allSettled(
    values.map(async (v) => {
      try {
        return await v;
      } catch (reason) {
        failures.push(reason);
        throw reason;
      }
    }),
  );
  if (failures.length > 0) throw failures[0];
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}

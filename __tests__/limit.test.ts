import { describe, expect, it, test } from '@jest/globals';
import { Semaphore, allOrFirstError, mapLimit } from '../src/util/limit.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs mapLimit over tasks that take `ms[i]` each, recording how many ran at once. */
async function track(ms: number[], limit: number): Promise<{ peak: number; order: number[]; results: PromiseSettledResult<number>[] }> {
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  const results = await mapLimit(ms, limit, async (d, i) => {
    running++;
    peak = Math.max(peak, running);
    order.push(i);
    await sleep(d);
    running--;
    return i * 10;
  });
  return { peak, order, results };
}

describe('mapLimit', () => {
  it('keeps results in input order whatever order the tasks finish in', async () => {
    const { results } = await track([30, 1, 15, 5], 0);
    expect(results).toEqual([0, 10, 20, 30].map((value) => ({ status: 'fulfilled', value })));
  });

  test.each<[number, number]>([
    [1, 1],
    [2, 2],
    [3, 3],
    [10, 5],
    [0, 5],
    [-1, 5],
  ])('limit %d runs at most %d of 5 at once', async (limit, want) => {
    const { peak, order } = await track([10, 10, 10, 10, 10], limit);
    expect(peak).toBe(want);
    // Tasks start in input order.
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('with limit 1 starts each task only after the previous one has finished', async () => {
    const events: string[] = [];
    await mapLimit(['a', 'b', 'c'], 1, async (x) => {
      events.push(`start ${x}`);
      await sleep(2);
      events.push(`end ${x}`);
    });
    expect(events).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('collects rejections in place and still runs every other task', async () => {
    const ran: number[] = [];
    const boom = new Error('build failed');
    const results = await mapLimit([1, 2, 3, 4], 2, async (n) => {
      ran.push(n);
      if (n === 2) throw boom;
      if (n === 3) throw 'not an Error';
      return n;
    });
    expect(ran.sort()).toEqual([1, 2, 3, 4]);
    expect(results).toEqual([
      { status: 'fulfilled', value: 1 },
      { status: 'rejected', reason: boom },
      { status: 'rejected', reason: 'not an Error' },
      { status: 'fulfilled', value: 4 },
    ]);
  });

  it('passes each item its index', async () => {
    expect(await mapLimit(['x', 'y'], 1, async (item, i) => `${i}:${item}`)).toEqual([
      { status: 'fulfilled', value: '0:x' },
      { status: 'fulfilled', value: '1:y' },
    ]);
  });

  it('returns no results for no items', async () => {
    expect(await mapLimit([], 3, async () => 1)).toEqual([]);
    expect(await mapLimit([], 0, async () => 1)).toEqual([]);
  });
});

/** A promise with its settling functions outside. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('Semaphore', () => {
  it('runs at most `limit` tasks at once, the others in call order as slots free up', async () => {
    const sem = new Semaphore(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const results = await Promise.all(
      [20, 5, 10, 1, 1].map((ms, i) =>
        sem.run(async () => {
          order.push(i);
          peak = Math.max(peak, ++running);
          await sleep(ms);
          running--;
          return i;
        }),
      ),
    );
    expect(results).toEqual([0, 1, 2, 3, 4]);
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it("a task's rejection reaches its caller and frees its slot", async () => {
    const sem = new Semaphore(1);
    const boom = new Error('upload failed');
    await expect(sem.run(async () => Promise.reject(boom))).rejects.toBe(boom);
    await expect(sem.run(async () => 'next')).resolves.toBe('next');
    expect(sem.stopped).toBeUndefined();
  });

  it('after stop, waiting and later tasks reject with the reason without running; the running one finishes', async () => {
    const sem = new Semaphore(1);
    const gate = deferred<string>();
    const ran: string[] = [];
    const running = sem.run(async () => {
      ran.push('running');
      return gate.promise;
    });
    const waiting = sem.run(async () => {
      ran.push('waiting');
    });
    const reason = new Error('first failure');
    sem.stop(reason);
    sem.stop(new Error('second failure'));
    await expect(waiting).rejects.toBe(reason);
    await expect(sem.run(async () => ran.push('later'))).rejects.toBe(reason);
    gate.resolve('done');
    await expect(running).resolves.toBe('done');
    expect(ran).toEqual(['running']);
    expect(sem.stopped).toEqual({ reason });
  });

  it('a task handed a slot but stopped before it began does not run', async () => {
    const sem = new Semaphore(1);
    const ran: string[] = [];
    const first = sem.run(async () => {
      ran.push('first');
      // Two microtasks on: after the first task's slot went to the second, before the second begins.
      void Promise.resolve().then(() => queueMicrotask(() => sem.stop('stopped')));
    });
    const second = sem.run(async () => ran.push('second'));
    await first;
    await expect(second).rejects.toBe('stopped');
    expect(ran).toEqual(['first']);
  });

  test.each([0, -1, 1.5, Number.NaN])('refuses a limit of %p', (limit) => {
    expect(() => new Semaphore(limit)).toThrow(RangeError);
  });
});

describe('allOrFirstError', () => {
  it('resolves with the values in order, typed as a tuple', async () => {
    const [n, s] = await allOrFirstError([sleep(5).then(() => 1), Promise.resolve('two')]);
    const typed: [number, string] = [n, s];
    expect(typed).toEqual([1, 'two']);
    expect(await allOrFirstError([])).toEqual([]);
  });

  it('rejects with the rejection that came first in time, not the first in the list, and only once all have settled', async () => {
    const events: string[] = [];
    const slow = sleep(30).then(() => events.push('slow settled'));
    const later = sleep(10).then(() => Promise.reject(new Error('later')));
    const first = sleep(1).then(() => Promise.reject(new Error('first')));
    await expect(allOrFirstError([slow, later, first])).rejects.toThrow('first');
    expect(events).toEqual(['slow settled']);
  });

  it('rejects with a non-Error reason as it is', async () => {
    await expect(allOrFirstError([Promise.reject('no'), sleep(1)])).rejects.toBe('no');
  });
});

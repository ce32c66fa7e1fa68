import { describe, expect, it, test } from '@jest/globals';
import { mapLimit } from '../src/util/limit.js';

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

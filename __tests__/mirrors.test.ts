import { describe, expect, it } from '@jest/globals';
import { firstThatServes, MirrorsFailedError } from '../src/util/mirrors.js';

describe('firstThatServes', () => {
  it('returns the first source that serves, without trying the rest', async () => {
    const tried: string[] = [];
    const r = await firstThatServes(
      ['a', 'b', 'c'],
      async (s) => {
        tried.push(s);
        if (s === 'a') throw new Error('a is down');
        return `from ${s}`;
      },
      { what: 'the thing' },
    );
    expect(r).toEqual({ value: 'from b', source: 'b', failed: [{ source: 'a', message: 'a is down' }] });
    expect(tried).toEqual(['a', 'b']);
  });

  it('tells of each fallback with the labelled source and the last line of its error', async () => {
    const told: string[] = [];
    await firstThatServes(
      ['', 'm'],
      async (s) => {
        if (s === '') throw new Error('exited 1:\nFATAL no route');
        return 1;
      },
      { what: 'the DB', label: (s) => s || 'the default', onFallback: (m) => told.push(m) },
    );
    expect(told).toEqual(['the default did not serve the DB (FATAL no route); trying m']);
  });

  it('throws one error naming every source in order when none serves', async () => {
    const err = await firstThatServes(
      ['a', 'b'],
      async (s) => {
        throw new Error(`${s} failed`);
      },
      { what: 'the thing' },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MirrorsFailedError);
    expect((err as Error).message).toBe('could not get the thing from any of 2 sources, tried in order:\n1. a: a failed\n2. b: b failed');
  });

  it('names the one source when a list of one fails', async () => {
    await expect(firstThatServes(['only'], () => Promise.reject(new Error('nope')), { what: 'x' })).rejects.toThrow(
      'could not get x from only: nope',
    );
  });

  it('refuses an empty list', async () => {
    await expect(firstThatServes([], async () => 1, { what: 'x' })).rejects.toThrow('no source given for x');
  });
});

// withDirLock on a real folder: runs sharing it take turns, a dead holder's
// lock is broken, a long wait gives up on the lock (not on the run), and a
// cancelled run stops waiting.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { withDirLock } from '../src/util/dir-lock.js';
import { CancelledError } from '../src/util/cancel.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dir-lock-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('withDirLock', () => {
  it('lets one run at a time in: three at once never overlap, and each waiting one says so once', async () => {
    const spans: [number, number][] = [];
    const waits: string[] = [];
    const work = async () => {
      const start = Date.now();
      await sleep(60);
      spans.push([start, Date.now()]);
    };
    await Promise.all([1, 2, 3].map(() => withDirLock(dir, 'db', work, { pollMs: 10, onWait: (m) => waits.push(m) })));
    spans.sort((a, b) => a[0] - b[0]);
    expect(spans).toHaveLength(3);
    for (let i = 1; i < spans.length; i++) expect(spans[i]?.[0]).toBeGreaterThanOrEqual(spans[i - 1]?.[1] ?? Infinity);
    expect(waits).toEqual([`another run holds ${dir}/db.lock; waiting for it`, `another run holds ${dir}/db.lock; waiting for it`]);
  });

  it('releases the lock when the work fails, and the failure reaches the caller', async () => {
    await expect(withDirLock(dir, 'db', async () => Promise.reject(new Error('trivy failed')))).rejects.toThrow('trivy failed');
    await expect(fs.stat(path.join(dir, 'db.lock'))).rejects.toThrow();
    expect(await withDirLock(dir, 'db', async () => 'second')).toBe('second');
  });

  it('breaks the lock of a holder that stopped refreshing it (died, maybe in another container)', async () => {
    const lock = path.join(dir, 'db.lock');
    await fs.mkdir(lock);
    const old = new Date(Date.now() - 60_000);
    await fs.utimes(lock, old, old);
    const waits: string[] = [];
    expect(await withDirLock(dir, 'db', async () => 'ran', { staleMs: 5000, onWait: (m) => waits.push(m) })).toBe('ran');
    expect(waits).toEqual([]);
  });

  it('after the longest wait, says so and runs without the lock', async () => {
    await fs.mkdir(path.join(dir, 'db.lock')); // fresh: a live holder
    const waits: string[] = [];
    expect(await withDirLock(dir, 'db', async () => 'ran', { maxWaitMs: 100, pollMs: 10, onWait: (m) => waits.push(m) })).toBe('ran');
    expect(waits.at(-1)).toBe(`${dir}/db.lock is still held after 0 s; going on without it`);
  });

  it('stops waiting when the run is cancelled', async () => {
    await fs.mkdir(path.join(dir, 'db.lock'));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    let ran = false;
    await expect(withDirLock(dir, 'db', async () => void (ran = true), { signal: ac.signal, pollMs: 10 })).rejects.toBeInstanceOf(CancelledError);
    expect(ran).toBe(false);
  });
});

// A lock on a folder shared by several runs (a self-hosted runner's tool
// cache, act's jobs, the legs of a distributed run on one machine): one run
// at a time does the work inside. proper-lockfile makes the lock a directory
// whose mtime its holder refreshes, so a holder that died (in another
// container too, where its pid means nothing) is seen as stale and broken.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { sleepUnlessCancelled } from './cancel.js';

export interface DirLockOptions {
  /** Told once when another run holds the lock and this one waits. */
  onWait?: (message: string) => void;
  signal?: AbortSignal | undefined;
  /** How long to wait in all before going on without the lock (default 10 min). */
  maxWaitMs?: number;
  /** A lock not refreshed for this long is stale (default 30 s; refreshed every third of it). */
  staleMs?: number;
  pollMs?: number;
}

/**
 * Runs `fn` holding the lock `<dir>/<name>.lock`, waiting while another run
 * holds it. After `maxWaitMs` it says so and runs `fn` anyway: a lock is
 * there to spare work and races, not to stop a run.
 */
export async function withDirLock<T>(dir: string, name: string, fn: () => Promise<T>, o: DirLockOptions = {}): Promise<T> {
  const lockfilePath = path.join(dir, `${name}.lock`);
  const maxWaitMs = o.maxWaitMs ?? 10 * 60_000;
  const deadline = Date.now() + maxWaitMs;
  let release: (() => Promise<void>) | undefined;
  let waited = false;
  while (!(release = await tryDirLock(dir, name, o.staleMs))) {
    if (Date.now() >= deadline) {
      o.onWait?.(`${lockfilePath} is still held after ${Math.round(maxWaitMs / 1000)} s; going on without it`);
      break;
    }
    if (!waited) o.onWait?.(`another run holds ${lockfilePath}; waiting for it`);
    waited = true;
    await sleepUnlessCancelled(o.pollMs ?? 250, o.signal, `waiting for ${lockfilePath}`);
  }
  try {
    return await fn();
  } finally {
    await release?.();
  }
}

/**
 * Takes the lock `<dir>/<name>.lock` when no other run holds it, without
 * waiting: the release, or undefined when it is held (the caller does without).
 */
export async function tryDirLock(dir: string, name: string, staleMs = 30_000): Promise<(() => Promise<void>) | undefined> {
  // A CommonJS package: its exports are the ESM default export (in the bundle as in Node).
  const { lock } = (await import(/* webpackMode: "eager" */ 'proper-lockfile')).default;
  await fs.mkdir(dir, { recursive: true });
  try {
    const release = await lock(dir, {
      lockfilePath: path.join(dir, `${name}.lock`),
      realpath: false,
      stale: staleMs,
      update: Math.floor(staleMs / 3),
      retries: 0,
    });
    return () => release().catch(() => undefined);
  } catch (err) {
    if ((err as { code?: string }).code === 'ELOCKED') return undefined;
    throw err;
  }
}

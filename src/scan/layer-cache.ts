// trivy's layer cache, kept between scans: each platform gets a cache dir of
// its own, `<trivy cache>/layers/<platform>`, whose `db` and `java-db` link
// back to the shared DBs. trivy's on-disk layer cache is one file it locks
// for the whole scan ("cache may be in use by another process: timeout"), so
// platforms scanned at once each need their own; a scan of the same platform
// by another run at the same time (a self-hosted runner's jobs, act's legs)
// finds the folder locked and keeps its layers in memory instead, as every
// scan did before. A layer seen before is not downloaded or analysed again:
// a re-scan of a Debian base went from 3.8 s to 0.23 s (three platforms at
// once, this machine).
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { tryDirLock } from '../util/dir-lock.js';

export interface LayerCache {
  cacheDir: string;
  cacheBackend: 'fs' | 'memory';
}

/** `<cacheDir>/layers/<slug>`: this platform's cache dir. */
export function layerCacheDir(cacheDir: string, slug: string): string {
  return path.join(cacheDir, 'layers', slug);
}

/** A symlink `link` -> `target` (relative), left alone when it is already there. */
async function linkTo(target: string, link: string): Promise<void> {
  if ((await fs.readlink(link).catch(() => undefined)) === target) return;
  await fs.rm(link, { recursive: true, force: true });
  await fs.symlink(target, link).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
}

/**
 * Runs `fn` with this platform's layer cache when no other run holds it, and
 * with the shared cache dir and an in-memory layer cache when one does (`onBusy` is told).
 */
export async function withLayerCache<T>(
  cacheDir: string,
  slug: string,
  fn: (c: LayerCache) => Promise<T>,
  onBusy: (message: string) => void,
): Promise<T> {
  const dir = layerCacheDir(cacheDir, slug);
  await fs.mkdir(dir, { recursive: true });
  const release = await tryDirLock(dir, 'scan');
  if (!release) {
    onBusy(`another run is scanning with ${dir}: this scan keeps its layers in memory`);
    return fn({ cacheDir, cacheBackend: 'memory' });
  }
  try {
    // Relative links, so the cache dir can be moved or restored elsewhere (actions/cache).
    await linkTo(path.join('..', '..', 'db'), path.join(dir, 'db'));
    await linkTo(path.join('..', '..', 'java-db'), path.join(dir, 'java-db'));
    return await fn({ cacheDir: dir, cacheBackend: 'fs' });
  } finally {
    await release();
  }
}

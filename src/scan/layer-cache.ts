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
//
// On a runner that starts with an empty trivy cache (a hosted runner) and has
// the Actions cache service, the platform's layer cache (`fanal/`, with the
// reports kept for reuse, `reports/`) is restored before its scan and saved
// after it, keyed by the image scanned
// (src/scan/cache-keys.ts), as trivy-action keeps its whole cache dir. A
// layer cache already on disk (a self-hosted runner's) is used as it is:
// neither restored over nor uploaded.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ActionsCache } from '../util/actions-cache.js';
import { errorMessage } from '../util/errors.js';
import { fileExists } from '../util/files.js';
import { tryDirLock } from '../util/dir-lock.js';
import { layerCacheKeys } from './cache-keys.js';
import { reportsDir } from './report-cache.js';

export interface LayerCache {
  cacheDir: string;
  cacheBackend: 'fs' | 'memory';
}

/** `<cacheDir>/layers/<slug>`: this platform's cache dir. */
export function layerCacheDir(cacheDir: string, slug: string): string {
  return path.join(cacheDir, 'layers', slug);
}

/** Keeping a platform's layer cache in the Actions cache between runs. */
export interface LayerSync {
  cache: ActionsCache;
  /** The scanned image's digest: what the saved entry is keyed by. */
  digest: string;
  /** For messages: `linux/arm64`. */
  platform: string;
  info(message: string): void;
  warning(message: string): void;
}

/** Where trivy keeps analysed layers in a cache dir (trivy v0.74 pkg/cache/fs.go: `fanal/fanal.db`). */
function fanalDir(dir: string): string {
  return path.join(dir, 'fanal');
}

/** What an Actions cache entry holds: the analysed layers and the platform's kept reports (src/scan/report-cache.ts). */
function cachedPaths(dir: string): string[] {
  return [fanalDir(dir), reportsDir(dir)];
}

/** What the layer cache started from: the key restored, `local` (already on disk), or nothing. */
type LayerStart = { restored: string } | 'local' | 'none';

async function restoreLayers(dir: string, slug: string, s: LayerSync): Promise<LayerStart> {
  if (await fileExists(path.join(fanalDir(dir), 'fanal.db'))) return 'local';
  const keys = layerCacheKeys(slug, s.digest);
  try {
    const restored = await s.cache.restore(cachedPaths(dir), keys.key, keys.restoreKeys);
    if (restored) {
      s.info(`${s.platform}: restored trivy's layer cache from the Actions cache (${restored})`);
      return { restored };
    }
    s.info(`${s.platform}: no layer cache in the Actions cache for ${keys.restoreKeys[0]}*`);
  } catch (err) {
    s.warning(`${s.platform}: could not restore trivy's layer cache from the Actions cache: ${errorMessage(err)}`);
  }
  return 'none';
}

async function saveLayers(dir: string, slug: string, s: LayerSync, start: LayerStart): Promise<void> {
  const { key } = layerCacheKeys(slug, s.digest);
  // On disk before this run (kept by the runner), or this image's own entry restored: nothing new to keep.
  if (start === 'local' || (typeof start === 'object' && start.restored === key)) return;
  try {
    if ((await s.cache.save(cachedPaths(dir), key)) === -1) {
      s.info(`${s.platform}: the Actions cache did not take trivy's layer cache (${key})`);
    } else {
      s.info(`${s.platform}: saved trivy's layer cache to the Actions cache (${key})`);
    }
  } catch (err) {
    s.warning(`${s.platform}: could not save trivy's layer cache to the Actions cache: ${errorMessage(err)}`);
  }
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
 * With `sync`, an empty layer cache is restored from the Actions cache first
 * and saved after `fn` succeeds, unless this image's own entry was restored.
 */
export async function withLayerCache<T>(
  cacheDir: string,
  slug: string,
  fn: (c: LayerCache) => Promise<T>,
  onBusy: (message: string) => void,
  sync?: LayerSync,
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
    if (!sync) return await fn({ cacheDir: dir, cacheBackend: 'fs' });
    const start = await restoreLayers(dir, slug, sync);
    const result = await fn({ cacheDir: dir, cacheBackend: 'fs' });
    await saveLayers(dir, slug, sync, start);
    return result;
  } finally {
    await release();
  }
}

import { describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { layerCacheDir, withLayerCache, type LayerCache } from '../src/scan/layer-cache.js';
import { tryDirLock } from '../src/util/dir-lock.js';

function cacheWithDb(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trivy-cache-'));
  fs.mkdirSync(path.join(dir, 'db'));
  fs.writeFileSync(path.join(dir, 'db', 'metadata.json'), '{"Version":2}');
  return dir;
}

/** The backend a scan of this platform gets right now (nothing else holding its cache). */
async function backendNow(cache: string, slug: string): Promise<LayerCache['cacheBackend']> {
  return (
    await withLayerCache(
      cache,
      slug,
      async (c) => c,
      () => undefined,
    )
  ).cacheBackend;
}

describe("withLayerCache gives each platform trivy's on-disk layer cache of its own", () => {
  it('a cache dir per platform whose db links back to the shared DB', async () => {
    const cache = cacheWithDb();
    const seen = await withLayerCache(
      cache,
      'linux-arm64',
      async (c) => ({ ...c, db: fs.readFileSync(path.join(c.cacheDir, 'db', 'metadata.json'), 'utf8') }),
      () => undefined,
    );
    expect(seen).toEqual({ cacheDir: layerCacheDir(cache, 'linux-arm64'), cacheBackend: 'fs', db: '{"Version":2}' });
    expect(fs.readlinkSync(path.join(seen.cacheDir, 'db'))).toBe(path.join('..', '..', 'db'));
    expect(fs.readlinkSync(path.join(seen.cacheDir, 'java-db'))).toBe(path.join('..', '..', 'java-db'));
  });

  it('the Java DB fetched later is seen through the link made before it existed', async () => {
    const cache = cacheWithDb();
    await withLayerCache(
      cache,
      'linux-amd64',
      async () => undefined,
      () => undefined,
    );
    fs.mkdirSync(path.join(cache, 'java-db'));
    fs.writeFileSync(path.join(cache, 'java-db', 'metadata.json'), 'java');
    expect(fs.readFileSync(path.join(layerCacheDir(cache, 'linux-amd64'), 'java-db', 'metadata.json'), 'utf8')).toBe('java');
  });

  it('platforms scanned at once each get their own, on disk', async () => {
    const cache = cacheWithDb();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const hold = (slug: string): Promise<LayerCache> =>
      withLayerCache(
        cache,
        slug,
        async (c) => {
          await gate;
          return c;
        },
        () => undefined,
      );
    const both = Promise.all([hold('linux-amd64'), hold('linux-arm64')]);
    setTimeout(release, 50);
    expect((await both).map((c) => c.cacheBackend)).toEqual(['fs', 'fs']);
  });

  it('the same platform held by another run: the shared dir and memory, said once; on disk again once it is free', async () => {
    const cache = cacheWithDb();
    const other = await tryDirLock(layerCacheDir(cache, 'linux-arm64'), 'scan');
    const notes: string[] = [];
    const busy = await withLayerCache(
      cache,
      'linux-arm64',
      async (c) => c,
      (m) => notes.push(m),
    );
    expect(busy).toEqual({ cacheDir: cache, cacheBackend: 'memory' });
    expect(notes).toEqual([`another run is scanning with ${layerCacheDir(cache, 'linux-arm64')}: this scan keeps its layers in memory`]);
    await other?.();
    expect(await backendNow(cache, 'linux-arm64')).toBe('fs');
  });

  it('releases the lock when the scan throws', async () => {
    const cache = cacheWithDb();
    await expect(
      withLayerCache(
        cache,
        'linux-amd64',
        async () => Promise.reject(new Error('trivy failed')),
        () => undefined,
      ),
    ).rejects.toThrow('trivy failed');
    expect(await backendNow(cache, 'linux-amd64')).toBe('fs');
  });

  it('a db entry that is not the link (left by hand) is replaced by it', async () => {
    const cache = cacheWithDb();
    const dir = layerCacheDir(cache, 'linux-amd64');
    fs.mkdirSync(path.join(dir, 'db'), { recursive: true });
    await withLayerCache(
      cache,
      'linux-amd64',
      async () => undefined,
      () => undefined,
    );
    expect(fs.readFileSync(path.join(dir, 'db', 'metadata.json'), 'utf8')).toBe('{"Version":2}');
  });
});

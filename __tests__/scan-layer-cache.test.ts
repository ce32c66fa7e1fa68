import { describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { layerCacheDir, withLayerCache, type LayerCache } from '../src/scan/layer-cache.js';
import { tryDirLock } from '../src/util/dir-lock.js';
import { layerCacheKeys } from '../src/scan/cache-keys.js';
import type { ActionsCache } from '../src/util/actions-cache.js';

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

/** An Actions cache in memory holding file contents by key: exact key first, then the newest key with a prefix. */
function memoryCache(answer: 'ok' | 'restore-throws' | 'save-throws' | 'refused' = 'ok') {
  const entries = new Map<string, string>();
  const calls: string[] = [];
  const cache: ActionsCache = {
    async restore(paths, key, restoreKeys) {
      calls.push(`restore ${key} ${restoreKeys.join(',')}`);
      if (answer === 'restore-throws') throw new Error('cache service unreachable');
      const hit = entries.has(key) ? key : [...entries.keys()].filter((k) => restoreKeys.some((p) => k.startsWith(p))).pop();
      if (!hit) return undefined;
      fs.mkdirSync(paths[0] as string, { recursive: true });
      fs.writeFileSync(path.join(paths[0] as string, 'fanal.db'), entries.get(hit) as string);
      return hit;
    },
    async save(paths, key) {
      calls.push(`save ${key}`);
      if (answer === 'save-throws') throw new Error('cache write denied');
      if (answer === 'refused') return -1;
      entries.set(key, fs.readFileSync(path.join(paths[0] as string, 'fanal.db'), 'utf8'));
      return entries.size;
    },
  };
  return { cache, entries, calls };
}

const AMD = 'sha256:' + 'a'.repeat(64);
const AMD2 = 'sha256:' + 'b'.repeat(64);

describe("withLayerCache keeps a platform's layer cache in the Actions cache on a runner that starts empty", () => {
  /** A scan as trivy does it: reads fanal.db when there, then adds this image's layers to it. */
  const scanInto =
    (layer: string, seen: string[] = []) =>
    async (c: LayerCache): Promise<void> => {
      const db = path.join(c.cacheDir, 'fanal', 'fanal.db');
      const before = fs.existsSync(db) ? fs.readFileSync(db, 'utf8') : '';
      seen.push(before);
      fs.mkdirSync(path.dirname(db), { recursive: true });
      fs.writeFileSync(db, before ? `${before},${layer}` : layer);
    };

  const withSync = (cache: string, store: ActionsCache, digest: string, fn: (c: LayerCache) => Promise<void>, logs: string[] = []) =>
    withLayerCache(cache, 'linux-amd64', fn, () => undefined, {
      cache: store,
      digest,
      platform: 'linux/amd64',
      info: (m) => logs.push(`info: ${m}`),
      warning: (m) => logs.push(`warning: ${m}`),
    });

  it('the first run finds nothing, scans, and saves under the image digest; its re-run restores that entry and saves nothing', async () => {
    const store = memoryCache();
    const logs: string[] = [];
    const { key, restoreKeys } = layerCacheKeys('linux-amd64', AMD);
    await withSync(cacheWithDb(), store.cache, AMD, scanInto('base'), logs);
    const seen: string[] = [];
    await withSync(cacheWithDb(), store.cache, AMD, scanInto('base', seen), logs);
    expect(store.calls).toEqual([`restore ${key} ${restoreKeys[0]}`, `save ${key}`, `restore ${key} ${restoreKeys[0]}`]);
    expect(seen).toEqual(['base']);
    expect(logs).toEqual([
      `info: linux/amd64: no layer cache in the Actions cache for ${restoreKeys[0]}*`,
      `info: linux/amd64: saved trivy's layer cache to the Actions cache (${key})`,
      `info: linux/amd64: restored trivy's layer cache from the Actions cache (${key})`,
    ]);
  });

  it("a new image of the platform starts from the platform's newest entry and is saved under its own key, with both images' layers", async () => {
    const store = memoryCache();
    await withSync(cacheWithDb(), store.cache, AMD, scanInto('base'));
    const seen: string[] = [];
    await withSync(cacheWithDb(), store.cache, AMD2, scanInto('app', seen));
    expect(seen).toEqual(['base']);
    expect(store.entries.get(layerCacheKeys('linux-amd64', AMD2).key)).toBe('base,app');
  });

  it('a layer cache already on disk (kept by a self-hosted runner) is neither restored over nor uploaded', async () => {
    const store = memoryCache();
    const cache = cacheWithDb();
    await withLayerCache(cache, 'linux-amd64', scanInto('local'), () => undefined);
    const seen: string[] = [];
    await withSync(cache, store.cache, AMD, scanInto('base', seen));
    expect({ seen, calls: store.calls }).toEqual({ seen: ['local'], calls: [] });
  });

  it('a scan that fails saves nothing', async () => {
    const store = memoryCache();
    await expect(withSync(cacheWithDb(), store.cache, AMD, async () => Promise.reject(new Error('trivy failed')))).rejects.toThrow('trivy failed');
    expect(store.calls.filter((c) => c.startsWith('save'))).toEqual([]);
  });

  it('cache trouble only warns: the scan runs and its result stands', async () => {
    for (const answer of ['restore-throws', 'save-throws'] as const) {
      const logs: string[] = [];
      const seen: string[] = [];
      await withSync(cacheWithDb(), memoryCache(answer).cache, AMD, scanInto('base', seen), logs);
      expect(seen).toEqual(['']);
      expect(logs.filter((l) => l.startsWith('warning:'))).toEqual([
        answer === 'restore-throws'
          ? "warning: linux/amd64: could not restore trivy's layer cache from the Actions cache: cache service unreachable"
          : "warning: linux/amd64: could not save trivy's layer cache to the Actions cache: cache write denied",
      ]);
    }
  });

  it('an entry the service did not take is not called saved', async () => {
    const logs: string[] = [];
    await withSync(cacheWithDb(), memoryCache('refused').cache, AMD, scanInto('base'), logs);
    expect(logs.at(-1)).toBe(`info: linux/amd64: the Actions cache did not take trivy's layer cache (${layerCacheKeys('linux-amd64', AMD).key})`);
  });

  it('a scan held off the platform cache by another run (memory backend) neither restores nor saves', async () => {
    const store = memoryCache();
    const cache = cacheWithDb();
    const other = await tryDirLock(layerCacheDir(cache, 'linux-amd64'), 'scan');
    await withSync(cache, store.cache, AMD, async (c) => {
      expect(c.cacheBackend).toBe('memory');
    });
    await other?.();
    expect(store.calls).toEqual([]);
  });
});

describe('layerCacheKeys', () => {
  it('one key per platform and image, restoring by the platform prefix', () => {
    const k = layerCacheKeys('linux-arm-v7', AMD);
    expect(k).toEqual({ key: expect.stringMatching(/^trivy-layers-linux-arm-v7-[0-9a-f]{12}$/), restoreKeys: ['trivy-layers-linux-arm-v7-'] });
    expect(layerCacheKeys('linux-arm-v7', AMD2).key).not.toBe(k.key);
    expect(layerCacheKeys('linux-arm64', AMD).restoreKeys).not.toEqual(k.restoreKeys);
  });
});

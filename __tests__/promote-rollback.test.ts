// A tag & promote phase that fails part-way leaves no tag of its own: what it
// created is deleted, what it moved is put back, content it copied is deleted;
// the error says what was written, not written and undone.
import { describe, expect, it } from '@jest/globals';
import { PromotionError, tagAndPromote } from '../src/pipeline/promote.js';
import { RegistryClient } from '../src/registry/client.js';
import { WriteLedger, describeWrites } from '../src/promote/ledger.js';
import type { Logger } from '../src/log.js';
import { MemoryRegistry, OCI_INDEX, OCI_MANIFEST, sha256, type HostOptions } from './support/memory-registry.js';

const A = 'a.test';
const B = 'b.test';
const log: Logger = { info: () => undefined, warning: () => undefined, debug: () => undefined, group: (_n, fn) => fn() };

function image(text: string) {
  const config = `{"architecture":"amd64","os":"linux","t":"${text}"}`;
  const layer = `layer ${text}`;
  const m = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
  });
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [{ mediaType: OCI_MANIFEST, digest: sha256(m), size: m.length, platform: { os: 'linux', architecture: 'amd64' } }],
  });
  return { config, layer, m, index };
}

function world(b: HostOptions = {}) {
  const registry = new MemoryRegistry().addHost(A).addHost(B, b);
  const img = image('new');
  registry.seedBlob(A, 'org/app', img.config);
  registry.seedBlob(A, 'org/app', img.layer);
  registry.seedManifest(A, 'org/app', img.m);
  const digest = registry.seedManifest(A, 'org/app', img.index);
  const client = new RegistryClient({
    auths: [],
    fetchImpl: registry.fetch,
    sleep: async () => undefined,
    retry: { attempts: 2, baseMs: 1, maxMs: 1 },
  });
  return { registry, client, digest, img };
}

const inputs = (tags: string[], promoteTo: string[]) => ({ image: `${A}/org/app`, tags, promoteTo, platformTags: '' });

async function failure(p: Promise<unknown>): Promise<PromotionError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof PromotionError)) throw new Error(`expected a PromotionError, got ${String(err)}`);
  return err;
}

describe('tag & promote rollback', () => {
  it('a 500 on the last tag PUT: the tags written before are deleted (with their manifest, where no other tag needs it) and B is left as it was', async () => {
    const { registry, client, digest } = world();
    registry.inject(B, { status: 500 }, 5, { method: 'PUT', path: /manifests\/stable$/ });
    const err = await failure(
      tagAndPromote(inputs([`${A}/org/app:1.0`], [`${B}/team/app:1.0`, `${B}/team/app:stable`]), digest, [], { log, registry: client }),
    );
    expect(err.message).toContain(`cannot write ${B}/team/app:stable: ${B} answered HTTP 500 (UNAVAILABLE) after 2 attempts`);
    expect(err.writes.wrote).toEqual([]);
    expect(err.writes.notWritten).toEqual([`${B}/team/app:stable`]);
    expect(err.writes.rolledBack).toEqual([
      `${B}/team/app:1.0 (deleted with its manifest ${digest})`,
      `${A}/org/app:1.0 (deleted with its manifest ${digest})`,
    ]);
    expect(registry.tags(A, 'org/app')).toEqual([]);
    expect(registry.tags(B, 'team/app')).toEqual([]);
    expect(registry.manifestDigests(B, 'team/app')).toEqual([]);
    expect(err.indexDeleted).toBe(true);
  });

  it('where the registry deletes tags, only the tags go; a tag that pointed elsewhere before is put back', async () => {
    const { registry, client, digest } = world({ tagDelete: true });
    const old = image('old');
    registry.seedBlob(B, 'team/app', old.config);
    registry.seedBlob(B, 'team/app', old.layer);
    registry.seedManifest(B, 'team/app', old.m);
    const oldDigest = registry.seedManifest(B, 'team/app', old.index, 'stable');
    registry.inject(B, { networkError: 'ECONNRESET' }, 5, { method: 'PUT', path: /manifests\/latest$/ });
    const err = await failure(
      tagAndPromote(inputs([], [`${B}/team/app:1.0`, `${B}/team/app:stable`, `${B}/team/app:latest`]), digest, [], { log, registry: client }),
    );
    expect(err.writes.rolledBack).toEqual([`${B}/team/app:stable (restored to ${oldDigest})`, `${B}/team/app:1.0 (deleted)`]);
    expect(err.writes.notWritten).toEqual([`${B}/team/app:latest`]);
    expect(registry.tags(B, 'team/app')).toEqual(['stable']);
    expect(registry.manifest(B, 'team/app', 'stable')?.toString()).toBe(old.index);
  });

  it('a failure while copying content deletes the manifests already copied and writes no tag', async () => {
    const { registry, client, digest } = world();
    registry.inject(B, { status: 503 }, 5, { method: 'PUT', path: new RegExp(`manifests/${digest}$`) });
    const err = await failure(tagAndPromote(inputs([`${A}/org/app:1.0`], [`${B}/team/app:1.0`]), digest, [], { log, registry: client }));
    expect(err.message).toContain(`\nwrote: none; not written: ${A}/org/app:1.0, ${B}/team/app:1.0`);
    expect(registry.manifestDigests(B, 'team/app')).toEqual([]);
    expect(registry.tags(A, 'org/app')).toEqual([]);
  });

  it('a cancelled run writes no tag, after the content copy', async () => {
    const { registry, client, digest } = world();
    const cancel = new AbortController();
    cancel.abort();
    const err = await failure(tagAndPromote(inputs([`${A}/org/app:1.0`], []), digest, [], { log, registry: client, signal: cancel.signal }));
    expect(err.message).toContain('cancelled: stopped before writing any tag');
    expect(registry.tags(A, 'org/app')).toEqual([]);
  });

  it('a created tag whose manifest another tag still needs (distribution 2.x deletes tags only with it) is left in place, and the error says it is still written', async () => {
    const { registry, client, digest, img } = world();
    registry.seedManifest(A, 'org/app', img.index, 'keep');
    registry.inject(A, { status: 500 }, 5, { method: 'PUT', path: /manifests\/2\.0$/ });
    const err = await failure(tagAndPromote(inputs([`${A}/org/app:1.0`, `${A}/org/app:2.0`], []), digest, [], { log, registry: client }));
    expect(err.writes.unchanged).toEqual([]);
    expect(err.writes.wrote).toEqual([`${A}/org/app:1.0`]);
    expect(err.message).toContain(`\nwrote: ${A}/org/app:1.0; not written: ${A}/org/app:2.0`);
    expect(registry.tags(A, 'org/app')).toEqual(['1.0', 'keep']);
  });
});

/** The client over `registry`, with requests matching `hold` answered only after `ms` (a slow round trip). */
function slowed(registry: MemoryRegistry, hold: (method: string, url: string) => boolean, ms: number): RegistryClient {
  const fetchImpl: typeof fetch = async (input, init = {}) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (hold((init.method ?? 'GET').toUpperCase(), url)) await new Promise((r) => setTimeout(r, ms));
    return registry.fetch(input, init);
  };
  return new RegistryClient({ auths: [], fetchImpl, sleep: async () => undefined, retry: { attempts: 2, baseMs: 1, maxMs: 1 } });
}

describe('tags written at once, one repository after another', () => {
  const repoOf = (url: string): string => new URL(url).pathname.replace(/^\/v2\//, '').replace(/\/(manifests|blobs)\/.*$/, '');
  const tagOf = (url: string): string | undefined => /\/manifests\/([^/]+)$/.exec(new URL(url).pathname)?.[1];

  it('reports what it wrote in plan order, though the first write finished last', async () => {
    const { registry, digest } = world();
    const client = slowed(registry, (method, url) => method === 'PUT' && url.endsWith('/org/app/manifests/1.0'), 30);
    const result = await tagAndPromote(inputs([`${A}/org/app:1.0`], [`${A}/org/two:1.0`, `${A}/org/three:1.0`]), digest, [], {
      log,
      registry: client,
    });
    expect(result.writes.wrote).toEqual([`${A}/org/app:1.0`, `${A}/org/two:1.0`, `${A}/org/three:1.0`]);
    expect(result.rows.map((r) => r.ref)).toEqual([`${A}/org/two:1.0`, `${A}/org/three:1.0`]);
    const tagPuts = registry.requestsTo(A, 'PUT').filter((r) => r.path.endsWith('/manifests/1.0'));
    expect(tagPuts.at(-1)?.path).toBe('/v2/org/app/manifests/1.0');
  });

  it("never has two of one repository's tag requests in flight (distribution rewrites a manifest's link file in place)", async () => {
    const { registry, digest } = world();
    const open = new Map<string, number>();
    let most = 0;
    let acrossRepos = 0;
    const fetchImpl: typeof fetch = async (input, init = {}) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      const tag = tagOf(url);
      if (!tag || tag.startsWith('sha256:')) return registry.fetch(input, init);
      const repo = repoOf(url);
      open.set(repo, (open.get(repo) ?? 0) + 1);
      most = Math.max(most, open.get(repo) ?? 0);
      acrossRepos = Math.max(acrossRepos, [...open.values()].filter((n) => n > 0).length);
      try {
        await new Promise((r) => setTimeout(r, 5));
        return await registry.fetch(input, init);
      } finally {
        open.set(repo, (open.get(repo) ?? 1) - 1);
      }
    };
    const client = new RegistryClient({ auths: [], fetchImpl, sleep: async () => undefined, retry: { attempts: 2, baseMs: 1, maxMs: 1 } });
    const result = await tagAndPromote(
      inputs([`${A}/org/app:1.0`, `${A}/org/app:stable`], [`${B}/team/app:1.0`, `${B}/team/app:stable`, `${B}/team/app:latest`]),
      digest,
      [],
      { log, registry: client },
    );
    expect(result.writes.wrote).toHaveLength(5);
    expect(most).toBe(1);
    expect(acrossRepos).toBe(2);
  });

  it('after the first failure no write starts and none in flight goes on to its PUT', async () => {
    const { registry, digest } = world();
    registry.inject(A, { status: 500 }, 5, { method: 'PUT', path: /org\/app\/manifests\/1\.0$/ });
    // Every other repository's first read of its tag is slow, so the failure comes while they are in flight.
    const client = slowed(registry, (method, url) => method === 'GET' && /\/r\d\/app\/manifests\/1\.0$/.test(url), 30);
    const targets = [2, 3, 4, 5, 6, 7, 8].map((n) => `${A}/r${n}/app:1.0`);
    const err = await failure(tagAndPromote(inputs([`${A}/org/app:1.0`], targets), digest, [], { log, registry: client }));
    expect(err.message).toContain(`cannot write ${A}/org/app:1.0`);
    const tagRequests = (method: string): string[] =>
      registry
        .requestsTo(A, method)
        .filter((r) => r.path.endsWith('/manifests/1.0'))
        .map((r) => r.path.replace(/^\/v2\//, '').replace(/\/manifests\/1\.0$/, ''));
    expect(new Set(tagRequests('PUT'))).toEqual(new Set(['org/app']));
    // Six repositories at once: the seventh and eighth were waiting for a turn and never started.
    expect([...new Set(tagRequests('GET'))].sort()).toEqual(['org/app', 'r2/app', 'r3/app', 'r4/app', 'r5/app', 'r6/app']);
    expect(err.writes.wrote).toEqual([]);
    expect(err.writes.notWritten).toEqual([`${A}/org/app:1.0`, ...targets]);
  });
});

describe('describeWrites', () => {
  it('lists written, not written, rolled back and unchanged references on one line', () => {
    const l = new WriteLedger(['r/a:1', 'r/a:2', 'r/a:3', 'r/a:4']);
    l.wrote({ ref: 'r/a:1', digest: 'sha256:1' });
    l.wrote({ ref: 'r/a:2', digest: 'sha256:1' });
    l.unchanged('r/a:3');
    l.rolledBack('r/a:2', 'deleted');
    expect(describeWrites(l.report())).toBe('wrote: r/a:1; not written: r/a:4; rolled back: r/a:2 (deleted); unchanged: r/a:3');
    expect(l.toUndo().map((w) => w.ref)).toEqual(['r/a:1']);
  });
});

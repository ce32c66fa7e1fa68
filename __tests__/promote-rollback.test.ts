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

// The registry client under the faults a real registry or proxy produces:
// a body cut after the head, a stall, a run-wide retry budget, cancellation.
import { describe, expect, it } from '@jest/globals';
import { RegistryClient, RegistryError, type Repo } from '../src/registry/client.js';
import { RetryBudget } from '../src/registry/retry.js';
import { CancelledError } from '../src/util/cancel.js';
import { MemoryRegistry, OCI_MANIFEST, sha256 } from './support/memory-registry.js';

const HOST = 'reg.test';
const OTHER = 'other.test';
const APP: Repo = { registry: HOST, repository: 'org/app' };
const config = '{"architecture":"amd64","os":"linux"}';
const layer = 'layer bytes, long enough to be cut';
const manifest = JSON.stringify({
  schemaVersion: 2,
  mediaType: OCI_MANIFEST,
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
  layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
});

function setup(opts: { timeoutSeconds?: number; budget?: RetryBudget; signal?: AbortSignal } = {}) {
  const registry = new MemoryRegistry().addHost(HOST).addHost(OTHER);
  registry.seedBlob(HOST, APP.repository, config);
  registry.seedBlob(HOST, APP.repository, layer);
  const digest = registry.seedManifest(HOST, APP.repository, manifest, 'v1');
  const logs: string[] = [];
  const client = new RegistryClient({
    auths: [],
    retry: { attempts: 4, baseMs: 10, maxMs: 100 },
    fetchImpl: registry.fetch,
    sleep: async () => undefined,
    log: (m) => logs.push(m),
    ...opts,
  });
  return { registry, client, digest, logs };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof Error)) throw new Error('expected a rejection');
  return err;
}

describe('a body cut after the response head (undici: TypeError terminated)', () => {
  it('is retried like a 5xx, and the manifest read whole the second time', async () => {
    const { registry, client, digest, logs } = setup();
    registry.inject(HOST, { truncate: true }, 1, { method: 'GET' });
    expect(await client.resolve(APP, 'v1')).toBe(digest);
    expect(registry.requestsTo(HOST, 'GET')).toHaveLength(2);
    expect(logs[0]).toBe(`read ${HOST}/org/app:v1: UND_ERR_SOCKET, retrying in 0s`);
  });

  it('during the registry check is retried too (it failed in 0.3 s before)', async () => {
    const { registry, client } = setup();
    registry.inject(HOST, { truncate: true }, 2);
    await client.ping(HOST);
    expect(registry.requestsTo(HOST)).toHaveLength(3);
  });

  it('past the attempts fails naming the operation and the registry', async () => {
    const { registry, client } = setup();
    registry.inject(HOST, { truncate: true }, 10);
    const err = await rejection(client.getManifest(APP, 'v1'));
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.message).toBe(`cannot read ${HOST}/org/app:v1: ${HOST} could not be reached (UND_ERR_SOCKET) after 4 attempt(s)`);
  });

  it('in a streamed blob copy restarts the upload from a new POST', async () => {
    const { registry, client } = setup();
    registry.inject(HOST, { truncate: true }, 1, { method: 'GET' });
    await client.copyBlob(APP, { registry: OTHER, repository: 'mirror/app' }, sha256(layer), layer.length);
    expect(registry.blob(OTHER, 'mirror/app', sha256(layer))?.toString()).toBe(layer);
    expect(registry.requestsTo(OTHER, 'POST')).toHaveLength(2);
    expect(registry.requestsTo(OTHER, 'PUT').map((r) => r.status)).toEqual([201]);
  });
});

describe('a stalled registry', () => {
  it('is aborted after the timeout with no bytes and retried', async () => {
    const { registry, client, digest, logs } = setup({ timeoutSeconds: 0.05 });
    registry.inject(HOST, { stall: true }, 1);
    expect(await client.resolve(APP, 'v1')).toBe(digest);
    expect(logs[0]).toBe(`read ${HOST}/org/app:v1: GET /v2/org/app/manifests/v1 stalled for 0.05 s, retrying in 0s`);
  });

  it('gives up within attempts x timeout, naming the request that stalled and the registry', async () => {
    const { registry, client } = setup({ timeoutSeconds: 0.05 });
    registry.inject(HOST, { stall: true }, 10);
    const started = Date.now();
    const err = await rejection(client.putManifest(APP, 'v2', { raw: Buffer.from(manifest), mediaType: OCI_MANIFEST, digest: sha256(manifest) }));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(err.message).toBe(
      `cannot write ${HOST}/org/app:v2: PUT /v2/org/app/manifests/v2 on ${HOST} stalled for 0.05 s (no bytes within registry-timeout) after 4 attempt(s)`,
    );
  });
});

describe('the run-wide retry budget', () => {
  it('is shared by every request; once spent a failure is final and says so', async () => {
    const budget = new RetryBudget(2);
    const { registry, client } = setup({ budget });
    registry.inject(HOST, { status: 503 }, 1);
    await client.ping(HOST);
    registry.inject(HOST, { status: 503 }, 5);
    const err = await rejection(client.ping(HOST));
    expect(budget.used).toBe(2);
    expect(err.message).toBe(`cannot log in to ${HOST}: ${HOST} answered HTTP 503 after 2 attempts; the run's retry budget (2 retries) is spent`);
  });
});

describe('cancellation', () => {
  it('stops a stalled request at once and starts none after', async () => {
    const cancel = new AbortController();
    const { registry, client } = setup({ signal: cancel.signal, timeoutSeconds: 60 });
    registry.inject(HOST, { stall: true }, 1);
    const pending = rejection(client.ping(HOST));
    setTimeout(() => cancel.abort(), 20);
    const err = await pending;
    expect(err).toBeInstanceOf(CancelledError);
    expect(err.message).toBe(`cancelled: log in to ${HOST}`);
    const before = registry.requests.length;
    expect(await rejection(client.resolve(APP, 'v1'))).toBeInstanceOf(CancelledError);
    expect(registry.requests.length).toBe(before);
  });
});

describe('deleteManifest and listTags', () => {
  it('a tag DELETE the registry refuses (distribution 2.x) is unsupported; by digest it deletes the manifest and its tags', async () => {
    const { registry, client, digest } = setup();
    expect(await client.listTags(APP)).toEqual(['v1']);
    expect(await client.deleteManifest(APP, 'v1')).toBe('unsupported');
    expect(await client.deleteManifest(APP, digest)).toBe('deleted');
    expect(registry.tags(HOST, APP.repository)).toEqual([]);
    expect(await client.listTags({ registry: HOST, repository: 'none' })).toEqual([]);
  });
});

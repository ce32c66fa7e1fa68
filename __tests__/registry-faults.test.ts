// The registry client under the faults a real registry or proxy produces:
// a body cut after the head, a stall, a run-wide retry budget, cancellation.
import { describe, expect, it } from '@jest/globals';
import { RegistryClient, RegistryError, type Repo } from '../src/registry/client.js';
import { RetryBudget } from '../src/registry/retry.js';
import { CancelledError } from '../src/util/cancel.js';
import { networkCode } from '../src/registry/attempt.js';
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

function setup(opts: { timeoutSeconds?: number; budget?: RetryBudget; signal?: AbortSignal; sleep?: (ms: number) => Promise<void> } = {}) {
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

  it('in a streamed blob copy, past the attempts, is blamed on the source registry (the body it sent was cut), not the target', async () => {
    const { registry, client } = setup();
    registry.inject(HOST, { truncate: true }, 100, { method: 'GET', path: /\/blobs\// });
    const err = await rejection(client.copyBlob(APP, { registry: OTHER, repository: 'mirror/app' }, sha256(layer), layer.length));
    expect(err.message).toBe(
      `cannot upload blob ${sha256(layer)} to ${OTHER}/mirror/app: ${HOST} could not be reached (UND_ERR_SOCKET) after 12 attempt(s)`,
    );
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
    expect(err.message).toBe(
      `cannot log in to ${HOST}: ${HOST} answered HTTP 503 (UNAVAILABLE) after 2 attempts; the run's retry budget (2 retries) is spent`,
    );
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

describe('an upload is three requests (source GET, POST, PUT)', () => {
  it("gets the policy's attempts for each of them: 6 failed POSTs (more than one request's 4 attempts) still end in the blob copied", async () => {
    const delays: number[] = [];
    const { registry, client } = setup({ sleep: async (ms) => void delays.push(ms) });
    registry.inject(OTHER, { status: 502 }, 6, { method: 'POST' });
    await client.copyBlob(APP, { registry: OTHER, repository: 'mirror/app' }, sha256(layer), layer.length);
    expect(registry.blob(OTHER, 'mirror/app', sha256(layer))?.toString()).toBe(layer);
    expect(registry.requestsTo(OTHER, 'POST')).toHaveLength(7);
    // The back-off grows once per round of three attempts.
    expect(delays).toEqual([10, 10, 10, 20, 20, 20]);
  });

  it('a small blob upload (POST, PUT) gets twice the attempts of one request, then fails naming the target', async () => {
    const { registry, client } = setup();
    registry.inject(OTHER, { status: 503 }, 100, { method: 'POST' });
    const err = await rejection(client.putBlob({ registry: OTHER, repository: 'mirror/app' }, Buffer.from('small')));
    expect(err.message).toBe(
      `cannot upload blob ${sha256('small')} to ${OTHER}/mirror/app: ${OTHER} answered HTTP 503 (UNAVAILABLE) after 8 attempts`,
    );
    expect(registry.requestsTo(OTHER, 'POST')).toHaveLength(8);
  });
});

describe('networkCode: what a failed fetch says, from the nested causes undici throws', () => {
  it.each<[string, unknown, string]>([
    [
      'a body cut short: fetch failed <- terminated <- UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
      new TypeError('fetch failed', {
        cause: new TypeError('terminated', {
          cause: Object.assign(new Error('Response body length does not match content-length header'), {
            code: 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
          }),
        }),
      }),
      'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
    ],
    [
      'a reset: fetch failed <- ECONNRESET',
      new TypeError('fetch failed', { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) }),
      'ECONNRESET',
    ],
    ['terminated with no code below it: the innermost message', new TypeError('fetch failed', { cause: new TypeError('terminated') }), 'terminated'],
    ['a plain error', new Error('other side closed'), 'other side closed'],
  ])('%s', (_name, err, code) => {
    expect(networkCode(err)).toBe(code);
  });
});

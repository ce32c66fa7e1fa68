import { describe, expect, it } from '@jest/globals';
import { RegistryClient, RegistryError, type RegistryClientOptions, type Repo } from '../src/registry/client.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../src/registry/retry.js';
import { MemoryRegistry, OCI_MANIFEST, TOKEN_HOST, sha256, type HostOptions } from './support/memory-registry.js';

const HOST = 'reg.test';
const OTHER = 'other.test:5000';
const APP: Repo = { registry: HOST, repository: 'org/app' };
const CREDS = { registry: HOST, username: 'ci', password: 's3cret' };
const POLICY: RetryPolicy = { attempts: 4, baseMs: 100, maxMs: 1000 };

const config = '{"architecture":"amd64","os":"linux"}';
const layer = 'layer bytes';
const manifestOf = (configBytes: string, layerBytes: string): string =>
  JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(configBytes), size: configBytes.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layerBytes), size: layerBytes.length }],
  });

interface Harness {
  registry: MemoryRegistry;
  client: RegistryClient;
  delays: number[];
  masked: string[];
  logs: string[];
  manifestDigest: string;
}

/** A registry holding one image in `org/app` (tag `v1`), and a client for it. */
function setup(host: HostOptions = {}, client: Partial<RegistryClientOptions> = {}): Harness {
  const registry = new MemoryRegistry().addHost(HOST, host).addHost(OTHER);
  registry.seedBlob(HOST, APP.repository, config);
  registry.seedBlob(HOST, APP.repository, layer);
  const manifestDigest = registry.seedManifest(HOST, APP.repository, manifestOf(config, layer), 'v1');
  const delays: number[] = [];
  const masked: string[] = [];
  const logs: string[] = [];
  const c = new RegistryClient({
    auths: [],
    retry: POLICY,
    fetchImpl: registry.fetch,
    sleep: async (ms) => {
      delays.push(ms);
    },
    mask: (s) => masked.push(s),
    log: (m) => logs.push(m),
    ...client,
  });
  return { registry, client: c, delays, masked, logs, manifestDigest };
}

/** `METHOD host path -> status` lines, for asserting the conversation. */
const lines = (r: MemoryRegistry): string[] => r.requests.map((q) => `${q.method} ${q.host}${q.path} -> ${q.status}`);

async function rejection(p: Promise<unknown>): Promise<RegistryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof RegistryError)) throw new Error(`expected a RegistryError, got ${String(err)}`);
  return err;
}

describe('RegistryClient.getManifest', () => {
  it('returns the bytes, media type and digest of a manifest by digest and by tag', async () => {
    const { client, manifestDigest } = setup();
    const byDigest = await client.getManifest(APP, manifestDigest);
    expect(byDigest).toEqual({ raw: Buffer.from(manifestOf(config, layer)), mediaType: OCI_MANIFEST, digest: manifestDigest });
    expect(await client.resolve(APP, 'v1')).toBe(manifestDigest);
  });

  it.each<[string, string, string]>([
    ['its mediaType field', manifestOf(config, layer), OCI_MANIFEST],
    ['an index without mediaType', '{"schemaVersion":2,"manifests":[]}', 'application/vnd.oci.image.index.v1+json'],
    ['a manifest without mediaType', '{"schemaVersion":2,"config":{},"layers":[]}', OCI_MANIFEST],
    ['bytes that are not JSON', 'not json', 'application/octet-stream'],
  ])('without a Content-Type, takes the media type from %s', async (_name, raw, mediaType) => {
    const fetchImpl: typeof fetch = async () => new Response(Buffer.from(raw), { status: 200 });
    const { client } = setup({}, { fetchImpl });
    expect(await client.getManifest(APP, 'v1')).toEqual({ raw: Buffer.from(raw), mediaType, digest: sha256(raw) });
  });

  it('refuses content whose sha256 is not the digest asked for', async () => {
    const { registry, client, manifestDigest } = setup();
    const forged = manifestOf(config, 'other layer');
    registry.tamper(HOST, APP.repository, manifestDigest, forged);
    const err = await rejection(client.getManifest(APP, manifestDigest));
    expect(err.message).toBe(`${HOST}/org/app@${manifestDigest} returned content with digest ${sha256(forged)}`);
  });

  it('answers undefined for a manifest or tag that is not there, without retrying', async () => {
    const { registry, client, delays } = setup();
    expect(await client.getManifest(APP, sha256('nothing'))).toBeUndefined();
    expect(await client.resolve(APP, 'v2')).toBeUndefined();
    expect(await client.resolve({ registry: HOST, repository: 'org/none' }, 'v1')).toBeUndefined();
    expect(registry.requests.map((r) => r.status)).toEqual([404, 404, 404]);
    expect(delays).toEqual([]);
  });

  it('reads a manifest by digest once per repository; a tag, a miss and a deleted digest are asked again', async () => {
    const { registry, client, manifestDigest } = setup();
    const other: Repo = { registry: HOST, repository: 'org/other' };
    registry.seedManifest(HOST, other.repository, manifestOf(config, layer), 'v1');
    const missing = sha256('not yet');
    for (let i = 0; i < 3; i++) {
      expect((await client.getManifest(APP, manifestDigest))?.digest).toBe(manifestDigest);
      expect(await client.resolve(APP, 'v1')).toBe(manifestDigest);
      expect(await client.getManifest(APP, missing)).toBeUndefined();
    }
    expect(await client.resolve(other, manifestDigest)).toBe(manifestDigest);
    await client.deleteManifest(APP, manifestDigest);
    expect(await client.getManifest(APP, manifestDigest)).toBeUndefined();
    expect(lines(registry)).toEqual([
      `GET ${HOST}/v2/org/app/manifests/${manifestDigest} -> 200`,
      ...[1, 2, 3].flatMap(() => [`GET ${HOST}/v2/org/app/manifests/v1 -> 200`, `GET ${HOST}/v2/org/app/manifests/${missing} -> 404`]),
      `GET ${HOST}/v2/org/other/manifests/${manifestDigest} -> 200`,
      `DELETE ${HOST}/v2/org/app/manifests/${manifestDigest} -> 202`,
      `GET ${HOST}/v2/org/app/manifests/${manifestDigest} -> 404`,
    ]);
  });
});

describe('RegistryClient writes and blobs', () => {
  it('putManifest stores the manifest by tag with its media type; it reads back identical', async () => {
    const { registry, client, manifestDigest } = setup();
    const m = await client.getManifest(APP, manifestDigest);
    if (!m) throw new Error('seeded manifest missing');
    await client.putManifest(APP, 'latest', m);
    expect(registry.manifest(HOST, APP.repository, 'latest')).toEqual(m.raw);
    expect(await client.getManifest(APP, 'latest')).toEqual(m);
  });

  it('putManifest of a manifest whose blobs the repository lacks is tried again (the registry may not see a blob being committed), then fails with the status and code', async () => {
    const { registry, client, manifestDigest } = setup();
    const m = await client.getManifest(APP, manifestDigest);
    if (!m) throw new Error('seeded manifest missing');
    const before = registry.requests.length;
    const err = await rejection(client.putManifest({ registry: HOST, repository: 'org/empty' }, 'v1', m));
    expect(err.status).toBe(400);
    expect(err.message).toBe(`cannot write ${HOST}/org/empty:v1: ${HOST} answered HTTP 400 (MANIFEST_BLOB_UNKNOWN) after 4 attempts`);
    expect(registry.requests.length - before).toBe(4);
  });

  it('blobExists is true only in a repository the blob is linked in', async () => {
    const { client } = setup();
    expect(await client.blobExists(APP, sha256(layer))).toBe(true);
    expect(await client.blobExists({ registry: HOST, repository: 'org/other' }, sha256(layer))).toBe(false);
    expect(await client.blobExists(APP, sha256('missing'))).toBe(false);
  });

  it('mountBlob links a blob from another repository (201), and reports false when the registry opens an upload instead (202)', async () => {
    const { registry, client } = setup();
    const target: Repo = { registry: HOST, repository: 'org/copy' };
    expect(await client.mountBlob(target, sha256(layer), APP.repository)).toBe(true);
    expect(registry.blob(HOST, 'org/copy', sha256(layer))?.toString()).toBe(layer);
    expect(await client.mountBlob(target, sha256('absent'), APP.repository)).toBe(false);
    expect(registry.requests.map((r) => r.status)).toEqual([201, 202]);
  });

  it('copyBlob streams a blob to another registry, which checks its digest and size', async () => {
    const { registry, client } = setup();
    const dst: Repo = { registry: OTHER, repository: 'mirror/app' };
    await client.copyBlob(APP, dst, sha256(layer), layer.length);
    expect(registry.blob(OTHER, 'mirror/app', sha256(layer))?.toString()).toBe(layer);
    expect(lines(registry)).toEqual([
      `POST ${OTHER}/v2/mirror/app/blobs/uploads/ -> 202`,
      `GET ${HOST}/v2/org/app/blobs/${sha256(layer)} -> 200`,
      expect.stringMatching(new RegExp(`^PUT ${OTHER}/v2/mirror/app/blobs/uploads/[^ ]+ -> 201$`)),
    ]);
    const put = registry.requestsTo(OTHER, 'PUT')[0];
    expect(new URLSearchParams(put?.query).get('digest')).toBe(sha256(layer));
  });

  it('copyBlob re-reads the source when the upload is retried (a stream is read once)', async () => {
    const { registry, client, delays } = setup();
    registry.inject(OTHER, { status: 503 }, 1, { method: 'PUT' });
    const dst: Repo = { registry: OTHER, repository: 'mirror/app' };
    await client.copyBlob(APP, dst, sha256(layer), layer.length);
    expect(registry.blob(OTHER, 'mirror/app', sha256(layer))?.toString()).toBe(layer);
    expect(registry.requestsTo(HOST, 'GET')).toHaveLength(2);
    expect(registry.requestsTo(OTHER, 'PUT').map((r) => r.status)).toEqual([503, 201]);
    expect(delays).toEqual([100]);
  });

  it('referrers lists the manifests whose subject is the digest, where the registry has the API', async () => {
    const { registry, client, manifestDigest } = setup({ referrersApi: true });
    const sig = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/vnd.example.signature',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256('{}'), size: 2 },
      layers: [{ mediaType: 'application/octet-stream', digest: sha256(layer), size: layer.length }],
      subject: { mediaType: OCI_MANIFEST, digest: manifestDigest, size: manifestOf(config, layer).length },
    });
    registry.seedBlob(HOST, APP.repository, '{}');
    const sigDigest = registry.seedManifest(HOST, APP.repository, sig);
    const listed = await client.referrers(APP, manifestDigest);
    expect(listed?.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(listed?.digest).toBe(sha256(listed?.raw ?? ''));
    expect(JSON.parse(listed?.raw.toString() ?? '{}')).toMatchObject({
      manifests: [{ digest: sigDigest, artifactType: 'application/vnd.example.signature', size: sig.length }],
    });
  });

  it('referrers is undefined where the registry has no referrers API (404)', async () => {
    const { client, manifestDigest } = setup({ referrersApi: false });
    expect(await client.referrers(APP, manifestDigest)).toBeUndefined();
  });
});

describe('RegistryClient authentication', () => {
  it('basic: answers the 401 challenge with the credentials, then sends them up front', async () => {
    const { registry, client } = setup({ auth: { scheme: 'basic', username: 'ci', password: 's3cret' } }, { auths: [CREDS] });
    await client.ping(HOST);
    expect(await client.resolve(APP, 'v1')).toBeDefined();
    expect(await client.blobExists(APP, sha256(layer))).toBe(true);
    expect(lines(registry)).toEqual([
      `GET ${HOST}/v2/ -> 401`,
      `GET ${HOST}/v2/ -> 200`,
      `GET ${HOST}/v2/org/app/manifests/v1 -> 200`,
      `HEAD ${HOST}/v2/org/app/blobs/${sha256(layer)} -> 200`,
    ]);
  });

  it('basic: without credentials for the registry the error says to add them to registry-auth', async () => {
    const { client } = setup(
      { auth: { scheme: 'basic', username: 'ci', password: 's3cret' } },
      { auths: [{ ...CREDS, registry: 'elsewhere.test' }] },
    );
    const err = await rejection(client.ping(HOST));
    expect(err.status).toBe(401);
    expect(err.message).toBe(`cannot log in to ${HOST}: ${HOST} needs credentials; add it to registry-auth`);
  });

  it('basic: wrong credentials fail at once, naming the registry that refused them', async () => {
    const { registry, client, delays } = setup(
      { auth: { scheme: 'basic', username: 'ci', password: 's3cret' } },
      { auths: [{ ...CREDS, password: 'wrong' }] },
    );
    const err = await rejection(client.getManifest(APP, 'v1'));
    expect(err.status).toBe(401);
    expect(err.message).toBe(`cannot read ${HOST}/org/app:v1: ${HOST} refused the credentials (HTTP 401); check registry-auth for ${HOST}`);
    expect(registry.requests.map((r) => r.status)).toEqual([401, 401]);
    expect(delays).toEqual([]);
  });

  it('bearer: fetches a token once per scope set, reuses it, and masks it', async () => {
    const { registry, client, masked, manifestDigest } = setup(
      { auth: { scheme: 'bearer', username: 'ci', password: 's3cret' } },
      { auths: [CREDS] },
    );
    expect(await client.resolve(APP, 'v1')).toBe(manifestDigest);
    expect(await client.resolve(APP, manifestDigest)).toBe(manifestDigest);
    expect(await client.blobExists(APP, sha256(layer))).toBe(true);
    const m = await client.getManifest(APP, manifestDigest);
    if (!m) throw new Error('manifest missing');
    await client.putManifest(APP, 'v1-copy', m);
    await client.putManifest(APP, 'v1-again', m);

    const tokenRequests = registry.requestsTo(TOKEN_HOST);
    expect(tokenRequests.map((r) => new URLSearchParams(r.query).getAll('scope'))).toEqual([
      ['repository:org/app:pull'],
      ['repository:org/app:pull,push'],
    ]);
    expect(tokenRequests.map((r) => new URLSearchParams(r.query).get('service'))).toEqual([HOST, HOST]);
    expect(masked).toEqual(['token-1', 'token-2']);
    expect(registry.requestsTo(HOST).filter((r) => r.status === 401)).toHaveLength(2);
    expect(registry.manifest(HOST, APP.repository, 'v1-again')).toEqual(m.raw);
  });

  it('bearer: a mount asks for pull on the source repository too, so the registry mounts instead of opening an upload', async () => {
    const { registry, client } = setup({ auth: { scheme: 'bearer', username: 'ci', password: 's3cret' } }, { auths: [CREDS] });
    expect(await client.mountBlob({ registry: HOST, repository: 'org/copy' }, sha256(layer), APP.repository)).toBe(true);
    expect(registry.requestsTo(TOKEN_HOST).map((r) => new URLSearchParams(r.query).getAll('scope'))).toEqual([
      ['repository:org/copy:pull,push', 'repository:org/app:pull'],
    ]);
    expect(registry.blob(HOST, 'org/copy', sha256(layer))).toBeDefined();
  });

  it('bearer: wrong credentials (the token service answers 401) name the registry that refused them', async () => {
    const { registry, client, masked } = setup(
      { auth: { scheme: 'bearer', username: 'ci', password: 's3cret' } },
      { auths: [{ ...CREDS, password: 'wrong' }] },
    );
    const err = await rejection(client.getManifest(APP, 'v1'));
    expect(err.status).toBe(401);
    expect(err.message).toBe(`cannot read ${HOST}/org/app:v1: ${HOST} refused the credentials (HTTP 401); check registry-auth for ${HOST}`);
    expect(lines(registry)).toEqual([`GET ${HOST}/v2/org/app/manifests/v1 -> 401`, `GET ${TOKEN_HOST}/token -> 401`]);
    expect(masked).toEqual([]);
  });

  it('bearer: a token service without a token in its answer is an error naming the registry', async () => {
    const { client } = setup(
      { auth: { scheme: 'bearer', username: 'ci', password: 's3cret' } },
      {
        auths: [CREDS],
        fetchImpl: async (input) => {
          const url = new URL(input);
          if (url.host === TOKEN_HOST) return new Response('{"expires_in":300}', { status: 200 });
          return new Response(null, { status: 401, headers: { 'WWW-Authenticate': `Bearer realm="https://${TOKEN_HOST}/token",service="${HOST}"` } });
        },
      },
    );
    const err = await rejection(client.ping(HOST));
    expect(err.message).toBe(`cannot log in to ${HOST}: ${HOST}'s token service returned no token`);
  });

  // The token request runs under the same retry loop as the registry's own
  // requests: a transient failure of the token service is retried, and a
  // final one is reported naming the registry.
  it('bearer: a 503 from the token service is retried like any other request', async () => {
    const { registry, client } = setup({ auth: { scheme: 'bearer', username: 'ci', password: 's3cret' } }, { auths: [CREDS] });
    registry.inject(TOKEN_HOST, { status: 503 }, 1);
    await client.ping(HOST);
    expect(registry.requestsTo(TOKEN_HOST).map((r) => r.status)).toEqual([503, 200]);
  });

  it('bearer: a connection reset by the token service is retried, or reported naming the registry', async () => {
    const { registry, client } = setup({ auth: { scheme: 'bearer', username: 'ci', password: 's3cret' } }, { auths: [CREDS] });
    registry.inject(TOKEN_HOST, { networkError: 'ECONNRESET' }, 1);
    const outcome = await client.ping(HOST).then(
      () => 'ok',
      (e: unknown) => (e instanceof RegistryError && e.message.includes(HOST) ? 'named' : String(e)),
    );
    expect(['ok', 'named']).toContain(outcome);
  });
});

describe('RegistryClient retries', () => {
  it('retries 503s with doubling back-off and then succeeds', async () => {
    const { registry, client, delays, logs, manifestDigest } = setup();
    registry.inject(HOST, { status: 503 }, 2);
    expect(await client.resolve(APP, 'v1')).toBe(manifestDigest);
    expect(registry.requests.map((r) => r.status)).toEqual([503, 503, 200]);
    expect(delays).toEqual([100, 200]);
    expect(logs).toEqual([
      `read ${HOST}/org/app:v1: HTTP 503 (UNAVAILABLE), retrying in 0.1s`,
      `read ${HOST}/org/app:v1: HTTP 503 (UNAVAILABLE), retrying in 0.2s`,
    ]);
  });

  it('gives up after the policy attempts with the last status, the back-off capped at maxMs', async () => {
    const { registry, client, delays } = setup({}, { retry: { attempts: 6, baseMs: 300, maxMs: 1000 } });
    registry.inject(HOST, { status: 502 }, 10);
    const err = await rejection(client.getManifest(APP, 'v1'));
    expect(err.status).toBe(502);
    expect(err.message).toBe(`cannot read ${HOST}/org/app:v1: ${HOST} answered HTTP 502 (UNAVAILABLE) after 6 attempts`);
    expect(registry.requests).toHaveLength(6);
    expect(delays).toEqual([300, 600, 1000, 1000, 1000]);
  });

  it('a 429 waits what Retry-After asks (7 s) before the next attempt', async () => {
    const { registry, client, delays, manifestDigest } = setup({}, { retry: DEFAULT_RETRY });
    registry.inject(HOST, { status: 429, retryAfter: '7' }, 1);
    expect(await client.resolve(APP, 'v1')).toBe(manifestDigest);
    expect(delays).toEqual([7000]);
  });

  it('a 429 that outlasts the attempts fails saying the registry rate-limited the requests', async () => {
    const { registry, client, delays } = setup({}, { retry: { attempts: 3, baseMs: 100, maxMs: 30_000 } });
    registry.inject(HOST, { status: 429, retryAfter: '7' }, 5);
    const err = await rejection(client.getManifest(APP, 'v1'));
    expect(err.status).toBe(429);
    expect(err.message).toBe(
      `cannot read ${HOST}/org/app:v1: ${HOST} rate-limited the requests (HTTP 429) after 3 attempt(s); log in to raise the limit (registry-auth) or use a mirror`,
    );
    expect(delays).toEqual([7000, 7000]);
  });

  it('retries a connection reset (a fetch that throws with cause.code ECONNRESET)', async () => {
    const { registry, client, delays, logs, manifestDigest } = setup();
    registry.inject(HOST, { networkError: 'ECONNRESET' }, 2);
    expect(await client.resolve(APP, 'v1')).toBe(manifestDigest);
    expect(registry.requests.map((r) => r.status)).toEqual([0, 0, 200]);
    expect(delays).toEqual([100, 200]);
    expect(logs[0]).toBe(`read ${HOST}/org/app:v1: ECONNRESET, retrying in 0.1s`);
  });

  it('connection resets past the attempts fail saying the registry could not be reached', async () => {
    const { registry, client } = setup();
    registry.inject(HOST, { networkError: 'ECONNRESET' }, 10);
    const err = await rejection(client.ping(HOST));
    expect(err.status).toBeUndefined();
    expect(err.message).toBe(`cannot log in to ${HOST}: ${HOST} could not be reached (ECONNRESET) after 4 attempt(s)`);
  });

  it('does not retry an unknown host', async () => {
    const { client, delays } = setup();
    const err = await rejection(client.ping('nowhere.test'));
    expect(err.message).toBe('cannot log in to nowhere.test: nowhere.test could not be reached (ENOTFOUND) after 1 attempt(s)');
    expect(delays).toEqual([]);
  });

  it('reads the error code from the error itself when it has no cause', async () => {
    const delays: number[] = [];
    let calls = 0;
    const client = new RegistryClient({
      auths: [],
      retry: POLICY,
      sleep: async (ms) => {
        delays.push(ms);
      },
      fetchImpl: async () => {
        calls++;
        throw Object.assign(new Error('socket hang up'), { code: calls === 1 ? 'EPIPE' : 'CERT_HAS_EXPIRED' });
      },
    });
    const err = await rejection(client.ping(HOST));
    expect(err.message).toBe(`cannot log in to ${HOST}: ${HOST} could not be reached (CERT_HAS_EXPIRED) after 2 attempt(s)`);
    expect(delays).toEqual([100]);
  });

  it('an error without a code is reported by its message and not retried', async () => {
    const client = new RegistryClient({ auths: [], retry: POLICY, fetchImpl: () => Promise.reject(new Error('boom')) });
    const err = await rejection(client.ping(HOST));
    expect(err.message).toBe(`cannot log in to ${HOST}: ${HOST} could not be reached (boom) after 1 attempt(s)`);
  });
});

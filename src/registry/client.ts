// A small OCI distribution client for promotion: manifests by digest, blob
// existence, cross-repository mounts and streamed blob copies. Every request
// authenticates from the run's credentials (basic, or a bearer token fetched
// on challenge) and retries transient failures; a 429 honours Retry-After.
import { digestOf, manifestMediaType } from '../oci.js';
import type { RegistryAuth } from '../model.js';
import { apiBase, basicHeader, credentialsFor, parseChallenge, tokenUrl } from './auth.js';
import { DEFAULT_RETRY, failureMessage, nextDelay, type Outcome, type RetryPolicy } from './retry.js';
import { errorMessage } from '../util/errors.js';

export interface Repo {
  registry: string;
  repository: string;
}

export interface FetchedManifest {
  raw: Buffer;
  mediaType: string;
  digest: string;
}

export interface RegistryClientOptions {
  auths: readonly RegistryAuth[];
  retry?: RetryPolicy;
  sleep?: (ms: number) => Promise<void>;
  /** Called with every secret the client learns (bearer tokens), to mask it. */
  mask?: (secret: string) => void;
  log?: (message: string) => void;
  fetchImpl?: typeof fetch;
}

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

interface RequestSpec {
  repo: Repo;
  /** Actions this request needs on `repo` (bearer scope), plus extra scopes (mount source). */
  actions: string;
  extraScopes?: string[];
  method: string;
  path: string;
  headers?: Record<string, string>;
  /** Made anew for each attempt, so streamed bodies can be retried. */
  body?: () => Promise<{ body: NonNullable<RequestInit['body']>; length?: number }>;
  what: string;
  /** Statuses that are answers, not failures (e.g. 404 for "not there"). */
  accept?: number[];
}

export class RegistryClient {
  private readonly retry: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly fetchImpl: typeof fetch;
  /** Authorization header per registry + scope set, once learnt. */
  private readonly authCache = new Map<string, string>();

  constructor(private readonly opts: RegistryClientOptions) {
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.fetchImpl = opts.fetchImpl ?? fetch;
  }

  /** Checks that the registry accepts our credentials (or needs none). */
  async ping(registry: string): Promise<void> {
    const res = await this.request({ repo: { registry, repository: '' }, actions: '', method: 'GET', path: '/v2/', what: `log in to ${registry}` });
    await res.arrayBuffer();
  }

  async getManifest(repo: Repo, reference: string): Promise<FetchedManifest | undefined> {
    const res = await this.request({
      repo,
      actions: 'pull',
      method: 'GET',
      path: `/v2/${repo.repository}/manifests/${reference}`,
      headers: { Accept: MANIFEST_ACCEPT },
      what: `read ${repo.registry}/${repo.repository}:${reference}`,
      accept: [404],
    });
    if (res.status === 404) {
      await res.arrayBuffer();
      return undefined;
    }
    const raw = Buffer.from(await res.arrayBuffer());
    const digest = digestOf(raw);
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new RegistryError(`${repo.registry}/${repo.repository}@${reference} returned content with digest ${digest}`);
    }
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() || manifestMediaType(raw);
    return { raw, mediaType, digest };
  }

  /** The digest a tag or digest resolves to, or undefined when there is none. */
  async resolve(repo: Repo, reference: string): Promise<string | undefined> {
    return (await this.getManifest(repo, reference))?.digest;
  }

  async putManifest(repo: Repo, reference: string, m: FetchedManifest): Promise<void> {
    const res = await this.request({
      repo,
      actions: 'pull,push',
      method: 'PUT',
      path: `/v2/${repo.repository}/manifests/${reference}`,
      headers: { 'Content-Type': m.mediaType },
      body: async () => ({ body: m.raw, length: m.raw.length }),
      what: `write ${repo.registry}/${repo.repository}:${reference}`,
    });
    await res.arrayBuffer();
  }

  /**
   * The referrers of `digest` through the OCI 1.1 referrers API, or undefined
   * when the registry has no such API (it answers 404 or 400; the caller then
   * falls back to the `sha256-<hex>` tag schema).
   */
  async referrers(repo: Repo, digest: string): Promise<FetchedManifest | undefined> {
    const res = await this.request({
      repo,
      actions: 'pull',
      method: 'GET',
      path: `/v2/${repo.repository}/referrers/${digest}`,
      headers: { Accept: 'application/vnd.oci.image.index.v1+json' },
      what: `list referrers of ${digest} in ${repo.registry}/${repo.repository}`,
      accept: [400, 404, 405],
    });
    if (!res.ok) {
      await res.arrayBuffer();
      return undefined;
    }
    const raw = Buffer.from(await res.arrayBuffer());
    return { raw, mediaType: 'application/vnd.oci.image.index.v1+json', digest: digestOf(raw) };
  }

  async blobExists(repo: Repo, digest: string): Promise<boolean> {
    const res = await this.request({
      repo,
      actions: 'pull',
      method: 'HEAD',
      path: `/v2/${repo.repository}/blobs/${digest}`,
      what: `check blob ${digest} in ${repo.registry}/${repo.repository}`,
      accept: [404],
    });
    return res.status === 200;
  }

  /** Cross-repository mount within one registry; false when the registry declined it. */
  async mountBlob(repo: Repo, digest: string, from: string): Promise<boolean> {
    const res = await this.request({
      repo,
      actions: 'pull,push',
      extraScopes: [`repository:${from}:pull`],
      method: 'POST',
      path: `/v2/${repo.repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
      what: `mount blob ${digest} into ${repo.registry}/${repo.repository}`,
    });
    await res.arrayBuffer();
    if (res.status === 201) return true;
    // 202: the registry opened an ordinary upload instead; leave it to expire.
    return false;
  }

  /** Uploads a small blob held in memory (monolithic POST + PUT), unless the registry has it. Returns its digest. */
  async putBlob(repo: Repo, data: Buffer): Promise<string> {
    const digest = digestOf(data);
    if (await this.blobExists(repo, digest)) return digest;
    const url = await this.startUpload(repo, digest);
    const res = await this.request({
      repo,
      actions: 'pull,push',
      method: 'PUT',
      path: url.href,
      headers: { 'Content-Type': 'application/octet-stream' },
      body: async () => ({ body: data, length: data.length }),
      what: `upload blob ${digest} to ${repo.registry}/${repo.repository}`,
    });
    await res.arrayBuffer();
    return digest;
  }

  /** Streams one blob from `src` to `dst` (GET, then a monolithic upload). */
  async copyBlob(src: Repo, dst: Repo, digest: string, size: number): Promise<void> {
    const url = await this.startUpload(dst, digest);
    const res = await this.request({
      repo: dst,
      actions: 'pull,push',
      method: 'PUT',
      path: url.href,
      headers: { 'Content-Type': 'application/octet-stream' },
      body: async () => {
        const get = await this.request({
          repo: src,
          actions: 'pull',
          method: 'GET',
          path: `/v2/${src.repository}/blobs/${digest}`,
          what: `read blob ${digest} from ${src.registry}/${src.repository}`,
        });
        if (!get.body) throw new RegistryError(`${src.registry} returned no body for ${digest}`);
        return { body: get.body, length: size };
      },
      what: `upload blob ${digest} to ${dst.registry}/${dst.repository}`,
    });
    await res.arrayBuffer();
  }

  /** Opens an upload session; returns the URL to PUT the blob to (with its digest). */
  private async startUpload(dst: Repo, digest: string): Promise<URL> {
    const start = await this.request({
      repo: dst,
      actions: 'pull,push',
      method: 'POST',
      path: `/v2/${dst.repository}/blobs/uploads/`,
      what: `start upload of ${digest} to ${dst.registry}/${dst.repository}`,
    });
    await start.arrayBuffer();
    const location = start.headers.get('location');
    if (!location) throw new RegistryError(`${dst.registry} started an upload without a Location`);
    // The Location may be relative or absolute (even on another host).
    const url = new URL(location, apiBase(dst.registry));
    url.searchParams.set('digest', digest);
    return url;
  }

  private scopes(spec: RequestSpec): string[] {
    const own = spec.actions && spec.repo.repository ? [`repository:${spec.repo.repository}:${spec.actions}`] : [];
    return [...own, ...(spec.extraScopes ?? [])];
  }

  private async request(spec: RequestSpec): Promise<Response> {
    const { registry } = spec.repo;
    const url = spec.path.startsWith('http') ? spec.path : `${apiBase(registry)}${spec.path}`;
    const scopes = this.scopes(spec);
    const cacheKey = `${registry} ${scopes.join(' ')}`;
    return this.retrying(spec.what, registry, spec.accept ?? [], '', async () => {
      const res = await this.send(spec, url, cacheKey);
      if (res.status !== 401) return res;
      // Authenticating on a challenge is part of the attempt, not a failed one.
      await drain(res);
      await this.authenticate(registry, res.headers.get('www-authenticate'), scopes, cacheKey, spec.what);
      return this.send(spec, url, cacheKey);
    });
  }

  /** One HTTP request with the credentials learnt so far (the body made anew). */
  private async send(spec: RequestSpec, url: string, cacheKey: string): Promise<Response> {
    const headers: Record<string, string> = { ...spec.headers };
    const auth = this.authCache.get(cacheKey) ?? this.authCache.get(`${spec.repo.registry} basic`);
    if (auth) headers.Authorization = auth;
    const body = spec.body ? await spec.body() : undefined;
    if (body?.length !== undefined) headers['Content-Length'] = String(body.length);
    const init: RequestInit & { duplex?: 'half' } = { method: spec.method, headers, redirect: 'follow' };
    if (body) {
      init.body = body.body;
      init.duplex = 'half';
    }
    return this.fetchImpl(url, init);
  }

  /**
   * Runs `attempt` until it answers ok (or with an accepted status), waiting
   * between tries as the retry policy says; a final answer or the last try
   * becomes a RegistryError that names the registry.
   */
  private async retrying(
    what: string,
    registry: string,
    accept: readonly number[],
    label: string,
    attempt: () => Promise<Response>,
  ): Promise<Response> {
    for (let n = 1; ; n++) {
      let outcome: Outcome;
      try {
        const res = await attempt();
        if (res.ok || accept.includes(res.status)) return res;
        outcome = { status: res.status, retryAfter: res.headers.get('retry-after') };
        await drain(res);
      } catch (err) {
        if (err instanceof RegistryError) throw err;
        outcome = { networkError: networkCode(err) };
      }
      const delay = nextDelay(outcome, n, this.retry);
      if (delay === undefined) {
        throw new RegistryError(failureMessage(`cannot ${what}`, registry, outcome, n), 'status' in outcome ? outcome.status : undefined);
      }
      this.opts.log?.(
        `${what}: ${label}${'status' in outcome ? `HTTP ${outcome.status}` : outcome.networkError}, retrying in ${Math.round(delay / 100) / 10}s`,
      );
      await this.sleep(delay);
    }
  }

  private async authenticate(registry: string, header: string | null, scopes: string[], cacheKey: string, what: string): Promise<void> {
    const creds = credentialsFor(registry, this.opts.auths);
    const challenge = parseChallenge(header);
    if (!challenge || challenge.scheme === 'basic') {
      if (!creds) throw new RegistryError(`cannot ${what}: ${registry} needs credentials; add it to registry-auth`, 401);
      this.authCache.set(`${registry} basic`, basicHeader(creds));
      return;
    }
    const url = tokenUrl(challenge, scopes.length ? scopes : challenge.scope ? [challenge.scope] : []);
    const res = await this.fetchToken(url, creds, registry, what);
    const body = (await res.json()) as { token?: unknown; access_token?: unknown };
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : '';
    if (!token) throw new RegistryError(`cannot ${what}: ${registry}'s token service returned no token`);
    this.opts.mask?.(token);
    this.authCache.set(cacheKey, `Bearer ${token}`);
  }

  /** The token service gets the same retries as the registry itself. */
  private fetchToken(url: string, creds: RegistryAuth | undefined, registry: string, what: string): Promise<Response> {
    return this.retrying(what, registry, [], 'token service ', () =>
      this.fetchImpl(url, { headers: creds ? { Authorization: basicHeader(creds) } : {} }),
    );
  }
}

async function drain(res: Response): Promise<void> {
  await res.arrayBuffer().catch(() => undefined);
}

function networkCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  const code = typeof e?.cause?.code === 'string' ? e.cause.code : typeof e?.code === 'string' ? e.code : undefined;
  return code ?? errorMessage(err);
}

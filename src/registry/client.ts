// A small OCI distribution client for promotion: manifests by digest, blob
// existence, cross-repository mounts and streamed blob copies. Every request
// authenticates from the run's credentials (basic, or a bearer token fetched
// on challenge) and retries transient failures; a 429 honours Retry-After.
// A body is read inside its attempt, so a connection reset after the head or
// a truncated body is retried like a 5xx; a request with no bytes flowing for
// the timeout is aborted as stalled; every retry takes one from a run-wide
// budget; an upload is retried from its POST (a session may not survive).
import { digestOf, manifestMediaType } from '../oci.js';
import type { RegistryAuth } from '../model.js';
import { apiBase, basicHeader, credentialsFor, parseChallenge, tokenUrl } from './auth.js';
import {
  DEFAULT_RETRY,
  DEFAULT_TIMEOUT_SECONDS,
  RetryBudget,
  describeOutcome,
  failureMessage,
  nextDelay,
  type Outcome,
  type RetryPolicy,
} from './retry.js';
import { Attempt, HttpFailure, bodyOf, drain, failed, networkCode } from './attempt.js';
import { CancelledError, sleepUnlessCancelled } from '../util/cancel.js';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { createHttpFetch, type HttpFetch, type HttpHeaders, type HttpRequestInit, type HttpResponse } from './http.js';

export interface Repo {
  registry: string;
  repository: string;
}

/** `registry/repository`: one repository, as a key and in messages. */
export function repoKey(repo: Repo): string {
  return `${repo.registry}/${repo.repository}`;
}

/** Where `byDigest` keeps the manifest at `reference` in `repo`. */
const manifestKey = (repo: Repo, reference: string): string => `${repoKey(repo)}@${reference}`;

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
  /** Default: node:http (src/registry/http.ts). */
  fetchImpl?: HttpFetch;
  /** Seconds without a byte flowing before a request is aborted as stalled (fractions for tests). */
  timeoutSeconds?: number;
  /** Retries the whole run may spend (shared by every request of this client). */
  budget?: RetryBudget;
  /** Aborted when the run is cancelled: in-flight requests stop, none starts. */
  signal?: AbortSignal;
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
  body?: (ctx: Attempt) => Promise<{ body: NonNullable<HttpRequestInit['body']>; length?: number }>;
  what: string;
  /** Statuses that are answers, not failures (e.g. 404 for "not there"). */
  accept?: number[];
}

/** A response read whole inside its attempt. */
interface Answer {
  status: number;
  headers: HttpHeaders;
  body: Buffer;
}

export class RegistryClient {
  private readonly retry: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly fetchImpl: HttpFetch;
  private readonly timeoutMs: number;
  /** The run's retry budget (how many retries were used is `budget.used`). */
  readonly budget: RetryBudget;
  /** Authorization header per registry + scope set, once learnt. */
  private readonly authCache = new Map<string, string>();
  /**
   * Manifests read by digest, per repository: content-addressed, so a second
   * read (the build's check, the list's composition, the promotion's copy)
   * needs no request. Only what was found is kept; a delete forgets it.
   */
  private readonly byDigest = new Map<string, FetchedManifest>();

  constructor(private readonly opts: RegistryClientOptions) {
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.sleep = opts.sleep ?? ((ms) => sleepUnlessCancelled(ms, opts.signal, 'waiting to retry a registry request'));
    this.fetchImpl = opts.fetchImpl ?? createHttpFetch();
    this.timeoutMs = (opts.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
    this.budget = opts.budget ?? new RetryBudget();
  }

  /** Checks that the registry accepts our credentials (or needs none). */
  async ping(registry: string): Promise<void> {
    await this.exchange({ repo: { registry, repository: '' }, actions: '', method: 'GET', path: '/v2/', what: `log in to ${registry}` });
  }

  async getManifest(repo: Repo, reference: string): Promise<FetchedManifest | undefined> {
    const key = manifestKey(repo, reference);
    const known = this.byDigest.get(key);
    if (known) return known;
    const res = await this.exchange({
      repo,
      actions: 'pull',
      method: 'GET',
      path: `/v2/${repo.repository}/manifests/${reference}`,
      headers: { Accept: MANIFEST_ACCEPT },
      what: `read ${repo.registry}/${repo.repository}:${reference}`,
      accept: [404],
    });
    if (res.status === 404) return undefined;
    const raw = res.body;
    const digest = digestOf(raw);
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new RegistryError(`${repo.registry}/${repo.repository}@${reference} returned content with digest ${digest}`);
    }
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() || manifestMediaType(raw);
    const m = { raw, mediaType, digest };
    if (reference.startsWith('sha256:')) this.byDigest.set(key, m);
    return m;
  }

  /** The digest a tag or digest resolves to, or undefined when there is none. */
  async resolve(repo: Repo, reference: string): Promise<string | undefined> {
    return (await this.getManifest(repo, reference))?.digest;
  }

  /** Content-addressed and by tag alike, a manifest PUT is idempotent, so it is retried. */
  async putManifest(repo: Repo, reference: string, m: FetchedManifest): Promise<void> {
    await this.exchange({
      repo,
      actions: 'pull,push',
      method: 'PUT',
      path: `/v2/${repo.repository}/manifests/${reference}`,
      headers: { 'Content-Type': m.mediaType },
      body: async () => ({ body: m.raw, length: m.raw.length }),
      what: `write ${repo.registry}/${repo.repository}:${reference}`,
    });
  }

  /**
   * Deletes a tag or a manifest by digest. 'absent' when there is no such
   * reference (404); 'unsupported' when the registry does not delete that
   * kind of reference (distribution 2.x deletes manifests by digest only and
   * answers a tag DELETE with 400; others with 405).
   */
  async deleteManifest(repo: Repo, reference: string): Promise<'deleted' | 'absent' | 'unsupported'> {
    this.byDigest.delete(manifestKey(repo, reference));
    const res = await this.exchange({
      repo,
      actions: 'pull,push,delete',
      method: 'DELETE',
      path: `/v2/${repo.repository}/manifests/${reference}`,
      what: `delete ${repo.registry}/${repo.repository}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`,
      accept: [400, 404, 405],
    });
    if (res.status === 404) return 'absent';
    return res.status === 202 || res.status === 200 ? 'deleted' : 'unsupported';
  }

  /** The tags of a repository (one page of up to 1000; [] when it does not exist). */
  async listTags(repo: Repo): Promise<string[]> {
    const res = await this.exchange({
      repo,
      actions: 'pull',
      method: 'GET',
      path: `/v2/${repo.repository}/tags/list?n=1000`,
      what: `list the tags of ${repo.registry}/${repo.repository}`,
      accept: [404],
    });
    if (res.status === 404) return [];
    const body = JSON.parse(res.body.toString('utf8')) as { tags?: unknown };
    return Array.isArray(body.tags) ? body.tags.filter((t): t is string => typeof t === 'string') : [];
  }

  /**
   * The referrers of `digest` through the OCI 1.1 referrers API, or undefined
   * when the registry has no such API (it answers 404 or 400; the caller then
   * falls back to the `sha256-<hex>` tag schema).
   */
  async referrers(repo: Repo, digest: string): Promise<FetchedManifest | undefined> {
    const res = await this.exchange({
      repo,
      actions: 'pull',
      method: 'GET',
      path: `/v2/${repo.repository}/referrers/${digest}`,
      headers: { Accept: 'application/vnd.oci.image.index.v1+json' },
      what: `list referrers of ${digest} in ${repo.registry}/${repo.repository}`,
      accept: [400, 404, 405],
    });
    if (res.status >= 300) return undefined;
    return { raw: res.body, mediaType: 'application/vnd.oci.image.index.v1+json', digest: digestOf(res.body) };
  }

  /** A small blob (an image config) read whole and checked against its digest; undefined when the registry has none. */
  async getBlob(repo: Repo, digest: string): Promise<Buffer | undefined> {
    const res = await this.exchange({
      repo,
      actions: 'pull',
      method: 'GET',
      path: `/v2/${repo.repository}/blobs/${digest}`,
      what: `read blob ${digest} from ${repo.registry}/${repo.repository}`,
      accept: [404],
    });
    if (res.status === 404) return undefined;
    const got = digestOf(res.body);
    if (got !== digest) throw new RegistryError(`${repo.registry}/${repo.repository} returned blob ${digest} with digest ${got}`);
    return res.body;
  }

  async blobExists(repo: Repo, digest: string): Promise<boolean> {
    const res = await this.exchange({
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
    const res = await this.exchange({
      repo,
      actions: 'pull,push',
      extraScopes: [`repository:${from}:pull`],
      method: 'POST',
      path: `/v2/${repo.repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
      what: `mount blob ${digest} into ${repo.registry}/${repo.repository}`,
    });
    // 202: the registry opened an ordinary upload instead; leave it to expire.
    return res.status === 201;
  }

  /** Uploads a small blob held in memory (monolithic POST + PUT), unless the registry has it. Returns its digest. */
  async putBlob(repo: Repo, data: Buffer): Promise<string> {
    const digest = digestOf(data);
    if (await this.blobExists(repo, digest)) return digest;
    await this.upload(repo, digest, async () => ({ body: data, length: data.length }), 2);
    return digest;
  }

  /** Streams one blob from `src` to `dst` (GET, then a monolithic upload). */
  async copyBlob(src: Repo, dst: Repo, digest: string, size: number): Promise<void> {
    await this.upload(
      dst,
      digest,
      async (ctx) => {
        const get = await this.send(
          {
            repo: src,
            actions: 'pull',
            method: 'GET',
            path: `/v2/${src.repository}/blobs/${digest}`,
            what: `read blob ${digest} from ${src.registry}/${src.repository}`,
          },
          ctx,
        );
        if (!get.ok) throw await failed(get);
        const source = get.nodeBody ?? (get.body ? Readable.fromWeb(get.body as NodeReadableStream<Uint8Array>) : null);
        if (!source) throw new RegistryError(`${src.registry} returned no body for ${digest}`);
        ctx.registry = dst.registry;
        return { body: ctx.relay(source, src.registry), length: size };
      },
      3,
    );
  }

  /**
   * A monolithic upload: POST opens a session, PUT sends the bytes. One
   * attempt is both, so a failed PUT starts again from a new session (a
   * registry may drop the session on a failed PUT). An attempt is `requests`
   * requests (with the source's GET, three), each given the policy's attempts.
   */
  private upload(dst: Repo, digest: string, body: NonNullable<RequestSpec['body']>, requests: number): Promise<void> {
    const what = `upload blob ${digest} to ${dst.registry}/${dst.repository}`;
    return this.retrying(what, dst.registry, requests, async (ctx) => {
      const start = await this.read(
        { repo: dst, actions: 'pull,push', method: 'POST', path: `/v2/${dst.repository}/blobs/uploads/`, what: `start upload of ${digest}` },
        ctx,
      );
      const location = start.headers.get('location');
      if (!location) throw new RegistryError(`cannot ${what}: ${dst.registry} started an upload without a Location`);
      // The Location may be relative or absolute (even on another host).
      const url = new URL(location, apiBase(dst.registry));
      url.searchParams.set('digest', digest);
      await this.read(
        { repo: dst, actions: 'pull,push', method: 'PUT', path: url.href, headers: { 'Content-Type': 'application/octet-stream' }, body, what },
        ctx,
      );
    });
  }

  private scopes(spec: RequestSpec): string[] {
    const own = spec.actions && spec.repo.repository ? [`repository:${spec.repo.repository}:${spec.actions}`] : [];
    return [...own, ...(spec.extraScopes ?? [])];
  }

  /** One request, retried as a whole (head and body). */
  private exchange(spec: RequestSpec): Promise<Answer> {
    return this.retrying(spec.what, spec.repo.registry, 1, (ctx) => this.read(spec, ctx));
  }

  /** One request within an attempt, its body read whole; a status neither ok nor accepted fails the attempt. */
  private async read(spec: RequestSpec, ctx: Attempt): Promise<Answer> {
    const res = await this.send(spec, ctx);
    if (!res.ok && !(spec.accept ?? []).includes(res.status)) throw await failed(res);
    const body = await bodyOf(res, ctx);
    return { status: res.status, headers: res.headers, body };
  }

  /** Sends one request with the credentials learnt so far, authenticating once on a challenge. */
  private async send(spec: RequestSpec, ctx: Attempt): Promise<HttpResponse> {
    const { registry } = spec.repo;
    const url = spec.path.startsWith('http') ? spec.path : `${apiBase(registry)}${spec.path}`;
    const scopes = this.scopes(spec);
    const cacheKey = `${registry} ${scopes.join(' ')}`;
    const res = await this.sendOnce(spec, url, cacheKey, ctx);
    if (res.status !== 401) return res;
    // Authenticating on a challenge is part of the attempt, not a failed one.
    await drain(res);
    ctx.pause();
    await this.authenticate(registry, res.headers.get('www-authenticate'), scopes, cacheKey, spec.what);
    ctx.touch();
    return this.sendOnce(spec, url, cacheKey, ctx);
  }

  /** One HTTP request (the body made anew), under the attempt's stall clock. */
  private async sendOnce(spec: RequestSpec, url: string, cacheKey: string, ctx: Attempt): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...spec.headers };
    const auth = this.authCache.get(cacheKey) ?? this.authCache.get(`${spec.repo.registry} basic`);
    if (auth) headers.Authorization = auth;
    const body = spec.body ? await spec.body(ctx) : undefined;
    if (body?.length !== undefined) headers['Content-Length'] = String(body.length);
    const init: HttpRequestInit = { method: spec.method, headers, redirect: 'follow', signal: ctx.signal };
    if (body) {
      init.body = body.body;
      init.duplex = 'half';
    }
    ctx.request = `${spec.method} ${new URL(url).pathname}`;
    ctx.registry = spec.repo.registry;
    ctx.touch();
    const res = await this.fetchImpl(url, init);
    ctx.touch();
    return res;
  }

  /**
   * Runs `attempt` until it succeeds, waiting between tries as the retry
   * policy says while the run's budget lasts; a final answer, a stall past
   * the attempts or the last try becomes a RegistryError that names the
   * operation and the registry to blame. Cancellation stops it at once.
   * `requests`: how many requests one attempt makes (see nextDelay).
   */
  private async retrying<T>(what: string, registry: string, requests: number, attempt: (ctx: Attempt) => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      if (this.opts.signal?.aborted) throw new CancelledError(what);
      const ctx = new Attempt(this.timeoutMs, registry, this.opts.signal);
      let outcome: Outcome;
      try {
        return await attempt(ctx);
      } catch (err) {
        if (this.opts.signal?.aborted) throw new CancelledError(what);
        if (ctx.stalled) outcome = { stalled: this.timeoutMs / 1000, request: ctx.request };
        else if (err instanceof HttpFailure) outcome = { status: err.status, retryAfter: err.retryAfter, code: err.code };
        else if (err instanceof RegistryError || err instanceof CancelledError) throw err;
        else outcome = { networkError: networkCode(err) };
      } finally {
        ctx.pause();
      }
      const where = ctx.culprit;
      let delay = nextDelay(outcome, n, this.retry, Date.now(), requests);
      let spent = '';
      if (delay !== undefined && !this.budget.take()) {
        delay = undefined;
        spent = `; the run's retry budget (${this.budget.limit} retries) is spent`;
      }
      if (delay === undefined) {
        throw new RegistryError(failureMessage(`cannot ${what}`, where, outcome, n) + spent, 'status' in outcome ? outcome.status : undefined);
      }
      this.opts.log?.(`${what}: ${where === registry ? '' : `${where}: `}${describeOutcome(outcome)}, retrying in ${Math.round(delay / 100) / 10}s`);
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
    let body: { token?: unknown; access_token?: unknown } = {};
    try {
      body = JSON.parse(res.body.toString('utf8')) as typeof body;
    } catch {
      // Not JSON: no token, said below.
    }
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : '';
    if (!token) throw new RegistryError(`cannot ${what}: ${registry}'s token service returned no token`);
    this.opts.mask?.(token);
    this.authCache.set(cacheKey, `Bearer ${token}`);
  }

  /** The token service gets the same retries as the registry itself. */
  private fetchToken(url: string, creds: RegistryAuth | undefined, registry: string, what: string): Promise<Answer> {
    return this.retrying(what, registry, 1, async (ctx) => {
      ctx.request = `GET ${new URL(url).pathname} (token service)`;
      const res = await this.fetchImpl(url, { headers: creds ? { Authorization: basicHeader(creds) } : {}, signal: ctx.signal });
      ctx.touch();
      if (!res.ok) throw await failed(res);
      const body = await bodyOf(res, ctx);
      return { status: res.status, headers: res.headers, body };
    });
  }
}

// An in-memory OCI distribution registry behind a `fetch` function, for tests
// of the registry client and the tree copier. It serves several hosts (use
// non-loopback names such as `src.test`, which the client speaks to over
// https) and does what a real registry (distribution/distribution) does that
// the code depends on:
//   - `GET /v2/` answers 200 (once authenticated).
//   - Manifests by digest or tag (GET/HEAD/PUT); a PUT by digest must match
//     the sha256 of the body, and a manifest's blobs (an index's manifests)
//     must already be in the repository.
//   - Blobs are linked per repository: a blob uploaded to one repository is
//     404 in another until it is uploaded or mounted there.
//   - Uploads: `POST .../blobs/uploads/` -> 202 with a Location; with
//     `?mount=<digest>&from=<repo>` -> 201 when the blob is linked in `from`
//     (and a bearer token grants pull on it), else 202; `PUT <location>?digest=`
//     -> 201 after checking the body's sha256 (and its Content-Length).
//   - The OCI 1.1 referrers API (`GET /v2/<repo>/referrers/<digest>`: an index
//     of the manifests whose subject is `digest`), or 404 without it.
//   - Auth: none, basic (401 + `Basic realm=...`), or bearer (401 +
//     `Bearer realm="https://auth.test/token",service=...,scope=...`; the token
//     endpoint checks basic credentials and grants the scopes asked for, and
//     every request must carry a token granting what it needs).
//   - Faults: the next N requests to a host (optionally only some methods or
//     paths) answer a given status (503, 429 with Retry-After) or fail as a
//     network error would.
// Every request, the token endpoint's included, is recorded with its answer.
import { createHash, randomUUID } from 'node:crypto';

export const TOKEN_HOST = 'auth.test';
const TOKEN_REALM = `https://${TOKEN_HOST}/token`;

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export interface HostOptions {
  /** Requests must authenticate with these credentials, as basic auth or through a bearer token. */
  auth?: { scheme: 'basic' | 'bearer'; username: string; password: string };
  /** Serve the OCI 1.1 referrers API (else it answers 404, as registries without it do). */
  referrersApi?: boolean;
  /** DELETE of a tag deletes the tag (else it is refused with 400, as distribution 2.x does). */
  tagDelete?: boolean;
}

/** What the next matching requests get instead of an answer. */
/**
 * An injected fault: an error answer, a network error before the head, the
 * real answer cut off after its head and a few bytes of body (what undici
 * reports as `terminated`), or a request that stalls until it is aborted.
 */
export type Fault = { status: number; retryAfter?: string } | { networkError: string } | { truncate: true } | { stall: true };

export interface RecordedRequest {
  method: string;
  host: string;
  /** The URL path, without the query. */
  path: string;
  /** The query string, without the `?`. */
  query: string;
  /** The answer's status; 0 for a request that failed as a network error. */
  status: number;
}

interface StoredManifest {
  raw: Buffer;
  mediaType: string;
}

interface Repository {
  manifests: Set<string>;
  tags: Map<string, string>;
  blobs: Set<string>;
}

interface Host {
  opts: HostOptions;
  repos: Map<string, Repository>;
  manifests: Map<string, StoredManifest>;
  blobs: Map<string, Buffer>;
  uploads: Map<string, string>;
  /** repo -> digest -> bytes served instead of the manifest (a registry gone wrong). */
  tampered: Map<string, Buffer>;
}

interface FaultRule {
  fault: Fault;
  times: number;
  method?: string;
  path?: RegExp;
}

interface Grant {
  service: string;
  /** repository -> actions */
  access: Map<string, Set<string>>;
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function errorBody(code: string, message = code): string {
  return JSON.stringify({ errors: [{ code, message }] });
}

function json(status: number, value: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(value), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

function fail(status: number, code: string, headers: Record<string, string> = {}): Response {
  return new Response(errorBody(code), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** `repository:<name>:<actions>` -> name and actions. */
function parseScope(scope: string): { repository: string; actions: string[] } | undefined {
  const m = /^repository:(.+):([a-z*,]+)$/.exec(scope);
  return m ? { repository: m[1] ?? '', actions: (m[2] ?? '').split(',') } : undefined;
}

function mediaTypeOf(raw: Buffer): string {
  const v = JSON.parse(raw.toString('utf8')) as { mediaType?: unknown; manifests?: unknown };
  if (typeof v.mediaType === 'string') return v.mediaType;
  return Array.isArray(v.manifests) ? OCI_INDEX : OCI_MANIFEST;
}

interface ParsedManifest {
  mediaType?: string;
  artifactType?: string;
  config?: { digest: string; mediaType: string };
  layers?: { digest: string }[];
  manifests?: { digest: string }[];
  subject?: { digest: string };
  annotations?: Record<string, string>;
}

export class MemoryRegistry {
  readonly requests: RecordedRequest[] = [];
  private readonly hosts = new Map<string, Host>();
  private readonly tokens = new Map<string, Grant>();
  /** host (the token endpoint's included) -> faults still to deal */
  private readonly faults = new Map<string, FaultRule[]>();
  private tokenCount = 0;

  /** Adds a registry host (`src.test`, `dst.test:5000`); requests to unknown hosts fail like DNS would. */
  addHost(host: string, opts: HostOptions = {}): this {
    this.hosts.set(host, { opts, repos: new Map(), manifests: new Map(), blobs: new Map(), uploads: new Map(), tampered: new Map() });
    return this;
  }

  // --- seeding and inspection (no requests recorded) ---

  /** Stores a blob in a repository; returns its digest. */
  seedBlob(host: string, repository: string, data: Buffer | string): string {
    const h = this.host(host);
    const bytes = Buffer.from(data);
    const digest = sha256(bytes);
    h.blobs.set(digest, bytes);
    this.repo(h, repository).blobs.add(digest);
    return digest;
  }

  /** Stores a manifest in a repository (under `tag` too, if given); returns its digest. */
  seedManifest(host: string, repository: string, raw: Buffer | string, tag?: string): string {
    const h = this.host(host);
    const bytes = Buffer.from(raw);
    const digest = sha256(bytes);
    h.manifests.set(digest, { raw: bytes, mediaType: mediaTypeOf(bytes) });
    const r = this.repo(h, repository);
    r.manifests.add(digest);
    if (tag) r.tags.set(tag, digest);
    return digest;
  }

  /** From now on, GET of `digest` in `repository` answers these bytes instead. */
  tamper(host: string, repository: string, digest: string, bytes: Buffer | string): void {
    this.host(host).tampered.set(`${repository}@${digest}`, Buffer.from(bytes));
  }

  /**
   * The next `times` requests to `host` (of `method`, on a path matching
   * `path`, if given) meet `fault`; `host` may be TOKEN_HOST.
   */
  inject(host: string, fault: Fault, times: number, match: { method?: string; path?: RegExp } = {}): void {
    if (host !== TOKEN_HOST) this.host(host);
    this.faults.set(host, [...(this.faults.get(host) ?? []), { fault, times, ...match }]);
  }

  /** A manifest's bytes as the repository holds it, by digest or tag. */
  manifest(host: string, repository: string, reference: string): Buffer | undefined {
    const h = this.host(host);
    const r = h.repos.get(repository);
    const digest = r && (reference.startsWith('sha256:') ? (r.manifests.has(reference) ? reference : undefined) : r.tags.get(reference));
    return digest ? h.manifests.get(digest)?.raw : undefined;
  }

  tags(host: string, repository: string): string[] {
    return [...(this.host(host).repos.get(repository)?.tags.keys() ?? [])].sort();
  }

  manifestDigests(host: string, repository: string): string[] {
    return [...(this.host(host).repos.get(repository)?.manifests ?? [])].sort();
  }

  /** A blob's bytes if it is linked in the repository. */
  blob(host: string, repository: string, digest: string): Buffer | undefined {
    const h = this.host(host);
    return h.repos.get(repository)?.blobs.has(digest) ? h.blobs.get(digest) : undefined;
  }

  /** The recorded requests to `host`, optionally only those of `method`. */
  requestsTo(host: string, method?: string): RecordedRequest[] {
    return this.requests.filter((r) => r.host === host && (!method || r.method === method));
  }

  // --- the registry ---

  readonly fetch: typeof fetch = async (input, init = {}) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = new Headers(init.headers);
    const body = init.body === undefined || init.body === null ? undefined : Buffer.from(await new Response(init.body).arrayBuffer());
    const record = (status: number): void => {
      this.requests.push({ method, host: url.host, path: url.pathname, query: url.search.replace(/^\?/, ''), status });
    };
    let res: Response;
    let fault: Fault | undefined;
    try {
      fault = this.takeFault(url, method);
      if (fault && 'stall' in fault) return await stallUntilAborted(init.signal, () => record(0));
      const injected = fault && !('truncate' in fault) ? faultResponse(fault) : undefined;
      res = injected ?? (url.host === TOKEN_HOST ? this.token(url, headers) : this.serve(url, method, headers, body));
    } catch (err) {
      record(0);
      throw err;
    }
    record(res.status);
    return fault && 'truncate' in fault ? truncated(res) : res;
  };

  private serve(url: URL, method: string, headers: Headers, body: Buffer | undefined): Response {
    const h = this.hosts.get(url.host);
    if (!h) throw networkError('ENOTFOUND');
    if (url.protocol !== 'https:') return fail(400, 'HTTPS_REQUIRED');
    const route = routeOf(url.pathname);
    if (!route) return fail(404, 'NOT_FOUND');
    const denied = this.authorize(h, url, method, route, headers.get('authorization'));
    if (denied) return denied;
    if (route.kind === 'base') return json(200, {});
    const repo = this.repo(h, route.repository);
    switch (route.kind) {
      case 'manifests':
        return this.manifestRoute(h, repo, route.repository, route.reference, method, headers, body);
      case 'blobs':
        return this.blobRoute(h, repo, route.reference, method);
      case 'uploads':
        return this.uploadRoute(h, repo, route.repository, route.reference, url, method, headers, body);
      case 'referrers':
        return this.referrersRoute(h, repo, route.reference, method);
      case 'tags':
        return json(200, { name: route.repository, tags: [...repo.tags.keys()].sort() });
    }
  }

  private manifestRoute(
    h: Host,
    repo: Repository,
    repository: string,
    reference: string,
    method: string,
    headers: Headers,
    body: Buffer | undefined,
  ): Response {
    const byDigest = reference.startsWith('sha256:');
    if (method === 'PUT') {
      if (!body) return fail(400, 'MANIFEST_INVALID');
      const digest = sha256(body);
      if (byDigest && digest !== reference) return fail(400, 'DIGEST_INVALID');
      let parsed: ParsedManifest;
      try {
        parsed = JSON.parse(body.toString('utf8')) as ParsedManifest;
      } catch {
        return fail(400, 'MANIFEST_INVALID');
      }
      const missingBlob = [parsed.config, ...(parsed.layers ?? [])].some((d) => d && !repo.blobs.has(d.digest));
      const missingChild = (parsed.manifests ?? []).some((d) => !repo.manifests.has(d.digest));
      if (missingBlob || missingChild) return fail(400, missingBlob ? 'MANIFEST_BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN');
      h.manifests.set(digest, { raw: body, mediaType: headers.get('content-type') || mediaTypeOf(body) });
      repo.manifests.add(digest);
      if (!byDigest) repo.tags.set(reference, digest);
      return new Response(null, { status: 201, headers: { 'Docker-Content-Digest': digest, Location: `/v2/${repository}/manifests/${digest}` } });
    }
    if (method === 'DELETE') {
      if (!byDigest) {
        if (!h.opts.tagDelete) return fail(400, 'DIGEST_INVALID');
        return repo.tags.delete(reference) ? new Response(null, { status: 202 }) : fail(404, 'MANIFEST_UNKNOWN');
      }
      // By digest: the manifest leaves the repository with every tag that points at it.
      if (!repo.manifests.delete(reference)) return fail(404, 'MANIFEST_UNKNOWN');
      for (const [t, d] of repo.tags) if (d === reference) repo.tags.delete(t);
      return new Response(null, { status: 202 });
    }
    if (method !== 'GET' && method !== 'HEAD') return fail(405, 'UNSUPPORTED');
    const digest = byDigest ? (repo.manifests.has(reference) ? reference : undefined) : repo.tags.get(reference);
    const stored = digest ? h.manifests.get(digest) : undefined;
    if (!digest || !stored) return method === 'HEAD' ? new Response(null, { status: 404 }) : fail(404, 'MANIFEST_UNKNOWN');
    const raw = h.tampered.get(`${repository}@${digest}`) ?? stored.raw;
    const resHeaders = { 'Content-Type': stored.mediaType, 'Docker-Content-Digest': digest, 'Content-Length': String(raw.length) };
    return new Response(method === 'HEAD' ? null : raw, { status: 200, headers: resHeaders });
  }

  private blobRoute(h: Host, repo: Repository, digest: string, method: string): Response {
    if (method !== 'GET' && method !== 'HEAD') return fail(405, 'UNSUPPORTED');
    const bytes = repo.blobs.has(digest) ? h.blobs.get(digest) : undefined;
    if (!bytes) return method === 'HEAD' ? new Response(null, { status: 404 }) : fail(404, 'BLOB_UNKNOWN');
    const resHeaders = { 'Content-Type': 'application/octet-stream', 'Docker-Content-Digest': digest, 'Content-Length': String(bytes.length) };
    return new Response(method === 'HEAD' ? null : bytes, { status: 200, headers: resHeaders });
  }

  private uploadRoute(
    h: Host,
    repo: Repository,
    repository: string,
    id: string,
    url: URL,
    method: string,
    headers: Headers,
    body: Buffer | undefined,
  ): Response {
    if (method === 'POST' && id === '') {
      const mount = url.searchParams.get('mount');
      const from = url.searchParams.get('from');
      if (mount && from && h.repos.get(from)?.blobs.has(mount) && this.mayMountFrom(h, from, url, headers)) {
        repo.blobs.add(mount);
        return new Response(null, { status: 201, headers: { Location: `/v2/${repository}/blobs/${mount}`, 'Docker-Content-Digest': mount } });
      }
      const upload = randomUUID();
      h.uploads.set(upload, repository);
      return new Response(null, {
        status: 202,
        headers: { Location: `/v2/${repository}/blobs/uploads/${upload}?_state=s-${upload}`, 'Docker-Upload-UUID': upload },
      });
    }
    if (method !== 'PUT') return fail(405, 'UNSUPPORTED');
    if (h.uploads.get(id) !== repository || url.searchParams.get('_state') !== `s-${id}`) return fail(404, 'BLOB_UPLOAD_UNKNOWN');
    const digest = url.searchParams.get('digest');
    const bytes = body ?? Buffer.alloc(0);
    const length = headers.get('content-length');
    if (length !== null && Number(length) !== bytes.length) return fail(400, 'SIZE_INVALID');
    if (!digest || sha256(bytes) !== digest) return fail(400, 'DIGEST_INVALID');
    h.uploads.delete(id);
    h.blobs.set(digest, bytes);
    repo.blobs.add(digest);
    return new Response(null, { status: 201, headers: { Location: `/v2/${repository}/blobs/${digest}`, 'Docker-Content-Digest': digest } });
  }

  private referrersRoute(h: Host, repo: Repository, digest: string, method: string): Response {
    if (!h.opts.referrersApi || method !== 'GET') return fail(404, 'NOT_FOUND');
    const manifests = [...repo.manifests].flatMap((d) => {
      const stored = h.manifests.get(d);
      if (!stored) return [];
      const m = JSON.parse(stored.raw.toString('utf8')) as ParsedManifest;
      if (m.subject?.digest !== digest) return [];
      const artifactType = m.artifactType ?? m.config?.mediaType;
      return [
        {
          mediaType: stored.mediaType,
          digest: d,
          size: stored.raw.length,
          ...(artifactType ? { artifactType } : {}),
          ...(m.annotations ? { annotations: m.annotations } : {}),
        },
      ];
    });
    return json(200, { schemaVersion: 2, mediaType: OCI_INDEX, manifests }, { 'Content-Type': OCI_INDEX });
  }

  // --- auth ---

  private authorize(h: Host, url: URL, method: string, route: Route, authorization: string | null): Response | undefined {
    const auth = h.opts.auth;
    if (!auth) return undefined;
    if (auth.scheme === 'basic') {
      if (authorization === basic(auth.username, auth.password)) return undefined;
      return fail(401, 'UNAUTHORIZED', { 'WWW-Authenticate': `Basic realm="${url.host}"` });
    }
    const needed = route.kind === 'base' ? undefined : method === 'GET' || method === 'HEAD' ? 'pull' : 'push';
    const grant = authorization?.startsWith('Bearer ') ? this.tokens.get(authorization.slice('Bearer '.length)) : undefined;
    const ok = grant?.service === url.host && (!needed || (route.kind !== 'base' && grant.access.get(route.repository)?.has(needed)));
    if (ok) return undefined;
    const scope = route.kind === 'base' ? '' : `,scope="repository:${route.repository}:${needed === 'push' ? 'pull,push' : 'pull'}"`;
    return fail(401, 'UNAUTHORIZED', { 'WWW-Authenticate': `Bearer realm="${TOKEN_REALM}",service="${url.host}"${scope}` });
  }

  /** A bearer token must grant pull on the mount source; otherwise the registry opens an upload instead. */
  private mayMountFrom(h: Host, from: string, url: URL, headers: Headers): boolean {
    if (h.opts.auth?.scheme !== 'bearer') return true;
    const authorization = headers.get('authorization') ?? '';
    const grant = this.tokens.get(authorization.replace(/^Bearer /, ''));
    return grant?.service === url.host && (grant.access.get(from)?.has('pull') ?? false);
  }

  /** The token endpoint: basic credentials of the service's host in, a token granting the scopes out. */
  private token(url: URL, headers: Headers): Response {
    if (url.pathname !== '/token') return fail(404, 'NOT_FOUND');
    const service = url.searchParams.get('service') ?? '';
    const auth = this.hosts.get(service)?.opts.auth;
    if (!auth || headers.get('authorization') !== basic(auth.username, auth.password)) return fail(401, 'UNAUTHORIZED');
    const access = new Map<string, Set<string>>();
    for (const s of url.searchParams.getAll('scope')) {
      const scope = parseScope(s);
      if (!scope) continue;
      const actions = access.get(scope.repository) ?? new Set<string>();
      for (const a of scope.actions) actions.add(a);
      access.set(scope.repository, actions);
    }
    const token = `token-${++this.tokenCount}`;
    this.tokens.set(token, { service, access });
    return json(200, { token, expires_in: 300 });
  }

  // --- plumbing ---

  private host(name: string): Host {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`memory registry: no host ${name}`);
    return h;
  }

  private repo(h: Host, name: string): Repository {
    const existing = h.repos.get(name);
    if (existing) return existing;
    const created: Repository = { manifests: new Set(), tags: new Map(), blobs: new Set() };
    h.repos.set(name, created);
    return created;
  }

  /** The injected fault this request meets, if any (taken: its count goes down). */
  private takeFault(url: URL, method: string): Fault | undefined {
    const rule = this.faults.get(url.host)?.find((r) => r.times > 0 && (!r.method || r.method === method) && (!r.path || r.path.test(url.pathname)));
    if (!rule) return undefined;
    rule.times--;
    return rule.fault;
  }
}

/** An error answer, or a thrown network error. */
function faultResponse(f: Fault): Response | undefined {
  if ('networkError' in f) throw networkError(f.networkError);
  if (!('status' in f)) return undefined;
  return fail(f.status, f.status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', f.retryAfter ? { 'Retry-After': f.retryAfter } : {});
}

/** The answer's head, then its body cut after at most 4 bytes, as undici reports a closed connection. */
function truncated(res: Response): Response {
  const whole = res.body;
  let sent = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(ctl) {
      if (!sent && whole) {
        sent = true;
        const first = await whole.getReader().read();
        if (first.value) ctl.enqueue(first.value.slice(0, 4));
        return;
      }
      ctl.error(new TypeError('terminated', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) }));
    },
  });
  return new Response(body, { status: res.status, headers: res.headers });
}

/** Never answers; rejects (as fetch does) when the request's signal aborts. */
function stallUntilAborted(signal: AbortSignal | null | undefined, onAbort: () => void): Promise<Response> {
  return new Promise((_, reject) => {
    if (!signal) return; // a client without a timeout would hang here: the test times out
    signal.addEventListener('abort', () => {
      onAbort();
      reject(signal.reason instanceof Error ? signal.reason : new DOMException('This operation was aborted', 'AbortError'));
    });
  });
}

type Route = { kind: 'base' } | { kind: 'manifests' | 'blobs' | 'referrers' | 'uploads' | 'tags'; repository: string; reference: string };

function routeOf(path: string): Route | undefined {
  if (path === '/v2/') return { kind: 'base' };
  const tags = /^\/v2\/(.+)\/tags\/list$/.exec(path);
  if (tags) return { kind: 'tags', repository: tags[1] ?? '', reference: '' };
  const upload = /^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/.exec(path);
  if (upload) return { kind: 'uploads', repository: upload[1] ?? '', reference: upload[2] ?? '' };
  const m = /^\/v2\/(.+)\/(manifests|blobs|referrers)\/([^/]+)$/.exec(path);
  if (!m) return undefined;
  return { kind: m[2] as 'manifests' | 'blobs' | 'referrers', repository: m[1] ?? '', reference: decodeURIComponent(m[3] ?? '') };
}

/** What undici's fetch throws when the connection fails: a TypeError with the system error as cause. */
export function networkError(code: string): TypeError {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(`${code} (memory registry)`), { code }) });
}

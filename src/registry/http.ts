// The registry client's HTTP transport: the part of `fetch` it uses, on
// node:http and node:https. Node's global fetch is undici, which node
// compiles on the first call: 50-100 ms of CPU on the run's critical path
// (the registry check comes before any build), for nothing the client needs.
// Here: keep-alive connections, a body streamed either way, an AbortSignal
// that stops the request and its body, and redirects followed as fetch does
// (credentials dropped when the origin changes). `fetch` itself still fits
// the `HttpFetch` type, so tests can hand the client a fake or the real one.
import * as http from 'node:http';
import * as https from 'node:https';
import { Readable, Transform, pipeline } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';

export interface HttpHeaders {
  /** The header's value (repeated headers joined with ", "), or null. */
  get(name: string): string | null;
}

export interface HttpResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: HttpHeaders;
  /** null for a HEAD request and for statuses that have no body (204, 304). */
  readonly body: ReadableStream<Uint8Array> | null;
  /**
   * The same body as a node stream, from a transport that has one (this
   * one; not `fetch`): a large blob passed on through node streams costs a
   * tenth of the CPU it costs through web streams. Read `body` or this, not both.
   */
  readonly nodeBody?: Readable | null;
  arrayBuffer(): Promise<ArrayBuffer>;
  text(): Promise<string>;
}

export interface HttpRequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array | ReadableStream<Uint8Array> | Readable;
  signal?: AbortSignal;
  redirect?: 'follow';
  /** fetch's flag for a streamed body; node needs none. */
  duplex?: 'half';
}

export type HttpFetch = (url: string, init?: HttpRequestInit) => Promise<HttpResponse>;

/** fetch's limit. */
const MAX_REDIRECTS = 20;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
/** Dropped when a redirect leaves the origin (as fetch does). */
const ORIGIN_BOUND = ['authorization', 'proxy-authorization', 'cookie'];
/** Dropped when a redirect turns the request into a GET without a body. */
const BODY_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'];

export interface HttpFetchOptions {
  /** For https URLs (tests pass one that trusts their own certificate). */
  httpsAgent?: https.Agent;
  httpAgent?: http.Agent;
}

/** A fetch over node:http/https with keep-alive agents of its own. */
export function createHttpFetch(opts: HttpFetchOptions = {}): HttpFetch {
  const agents = {
    'http:': opts.httpAgent ?? new http.Agent({ keepAlive: true }),
    'https:': opts.httpsAgent ?? new https.Agent({ keepAlive: true }),
  };
  return async (url, init = {}) => {
    let target = new URL(url);
    let method = (init.method ?? 'GET').toUpperCase();
    let headers = lowerCased(init.headers ?? {});
    let body = init.body;
    for (let hops = 0; ; hops++) {
      const res = await request(target, method, headers, body, agents, init.signal);
      const location = res.headers.location;
      if (!REDIRECTS.has(res.statusCode ?? 0) || location === undefined) {
        return response(res, method, init.signal);
      }
      res.resume();
      if (hops === MAX_REDIRECTS) throw new Error(`${url}: more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(location, target);
      const status = res.statusCode as number;
      if (status === 303 ? method !== 'HEAD' : (status === 301 || status === 302) && method === 'POST') {
        method = method === 'HEAD' ? 'HEAD' : 'GET';
        body = undefined;
        headers = without(headers, BODY_HEADERS);
      } else if (body instanceof ReadableStream || body instanceof Readable) {
        throw new Error(`${method} ${target.pathname}: redirected (${status}) with a streamed body, which cannot be sent again`);
      }
      if (next.origin !== target.origin) headers = without(headers, ORIGIN_BOUND);
      target = next;
    }
  };
}

function lowerCased(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}

function without(h: Record<string, string>, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(h).filter(([k]) => !names.includes(k)));
}

function request(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: Uint8Array | ReadableStream<Uint8Array> | Readable | undefined,
  agents: Record<'http:' | 'https:', http.Agent>,
  signal: AbortSignal | undefined,
): Promise<http.IncomingMessage> {
  const protocol = url.protocol;
  if (protocol !== 'http:' && protocol !== 'https:') return Promise.reject(new Error(`${url.href}: not an http(s) URL`));
  signal?.throwIfAborted();
  const h = { ...headers };
  if (body === undefined && (method === 'POST' || method === 'PUT' || method === 'PATCH')) h['content-length'] = '0';
  if (body instanceof Uint8Array) h['content-length'] = String(body.byteLength);
  return new Promise((resolve, reject) => {
    const mod = protocol === 'https:' ? https : http;
    const req = mod.request(url, { method, headers: h, agent: agents[protocol], ...(signal ? { signal } : {}) });
    req.once('response', resolve);
    req.once('error', (err) => reject(signal?.aborted ? signal.reason : err));
    if (body === undefined) req.end();
    else if (body instanceof Uint8Array) req.end(body);
    else {
      const source = body instanceof Readable ? body : Readable.fromWeb(body as NodeReadableStream<Uint8Array>);
      const declared = h['content-length'] === undefined ? undefined : Number(h['content-length']);
      // Not pipeline(..., req): it aborts a request without its error, and the error is what the retry policy reads.
      pipeline(source, lengthCheck(declared), (err) => {
        if (err) req.destroy(err);
      }).pipe(req);
      req.once('error', () => source.destroy());
    }
  });
}

/** Passes a streamed body on and fails it when it ends short of (or past) its Content-Length, as fetch does. */
function lengthCheck(declared: number | undefined): Transform {
  let sent = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      sent += chunk.length;
      if (declared !== undefined && sent > declared) done(mismatch(sent, declared));
      else done(null, chunk);
    },
    flush(done) {
      done(declared !== undefined && sent !== declared ? mismatch(sent, declared) : null);
    },
  });
}

function mismatch(sent: number, declared: number): Error {
  return Object.assign(new Error(`request body was ${sent} bytes, not the ${declared} its Content-Length says`), {
    code: 'ERR_HTTP_CONTENT_LENGTH_MISMATCH',
  });
}

function response(res: http.IncomingMessage, method: string, signal: AbortSignal | undefined): HttpResponse {
  const status = res.statusCode ?? 0;
  const hasBody = method !== 'HEAD' && !NULL_BODY.has(status);
  if (!hasBody) res.resume();
  if (signal && hasBody) {
    const stop = (): void => void res.destroy(signal.reason as Error);
    if (signal.aborted) stop();
    else {
      signal.addEventListener('abort', stop, { once: true });
      res.once('close', () => signal.removeEventListener('abort', stop));
    }
  }
  // The web stream only when asked for: node streams carry the bytes otherwise.
  let web: ReadableStream<Uint8Array> | undefined;
  const bytes = async (): Promise<Buffer> => {
    if (!hasBody) return Buffer.alloc(0);
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: {
      get(name) {
        const v = res.headers[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
      },
    },
    get body() {
      if (!hasBody) return null;
      web ??= Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>;
      return web;
    },
    nodeBody: hasBody ? res : null,
    async arrayBuffer() {
      const b = await bytes();
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    },
    async text() {
      return (await bytes()).toString('utf8');
    },
  };
}

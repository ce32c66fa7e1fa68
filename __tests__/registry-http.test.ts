// The registry client's transport (src/registry/http.ts) against real HTTP
// servers on loopback: what it sends, what it gives back, redirects, bodies
// cut short either way, aborts, keep-alive, TLS; and the client retrying over
// it on the errors node:http really raises.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHttpFetch, type HttpResponse } from '../src/registry/http.js';
import { networkCode } from '../src/registry/attempt.js';
import { RegistryClient } from '../src/registry/client.js';
import { isTransient } from '../src/registry/retry.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The request's body did not arrive whole (the client gave up on it). */
  aborted: boolean;
  socket: number;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, seen: Seen) => void;

interface Server {
  url: string;
  seen: Seen[];
  handle(h: Handler): void;
  close(): Promise<void>;
}

const servers: Server[] = [];

async function serve(tls?: { key: string; cert: string }): Promise<Server> {
  let handler: Handler = (_req, res) => res.end('ok');
  const seen: Seen[] = [];
  const sockets = new Map<unknown, number>();
  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (!sockets.has(req.socket)) sockets.set(req.socket, sockets.size + 1);
    const chunks: Buffer[] = [];
    const s: Seen = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: Buffer.alloc(0),
      aborted: false,
      socket: sockets.get(req.socket) ?? 0,
    };
    seen.push(s);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('aborted', () => (s.aborted = true));
    req.on('error', () => (s.aborted = true));
    req.on('end', () => {
      s.body = Buffer.concat(chunks);
      handler(req, res, s);
    });
  };
  const server = tls ? https.createServer(tls, listener) : http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const s: Server = {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    seen,
    handle: (h) => (handler = h),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const httpFetch = createHttpFetch({ httpAgent: new http.Agent({ keepAlive: true }) });

async function rejection(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  // Node's own errors come from outside jest's realm: not `instanceof Error` here.
  if (typeof err !== 'object' || err === null || typeof (err as Error).message !== 'string') throw new Error('expected a rejection');
  return err as Error;
}

const text = (r: HttpResponse): Promise<string> => r.text();

function stream(...chunks: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(ctl) {
      for (const c of chunks) ctl.enqueue(Buffer.from(c));
      ctl.close();
    },
  });
}

describe('answers', () => {
  it('gives the status, the headers (case-insensitive, repeated ones joined) and the body', async () => {
    const srv = await serve();
    srv.handle((_req, res) => {
      res.setHeader('Docker-Content-Digest', 'sha256:abc');
      res.setHeader('WWW-Authenticate', ['Bearer realm="a"', 'Basic realm="b"']);
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[]}');
    });
    const res = await httpFetch(`${srv.url}/v2/x/manifests/v1`, { headers: { Accept: 'application/vnd.oci.image.index.v1+json' } });
    expect([res.status, res.ok]).toEqual([404, false]);
    expect(res.headers.get('docker-content-digest')).toBe('sha256:abc');
    expect(res.headers.get('Www-Authenticate')).toBe('Bearer realm="a", Basic realm="b"');
    expect(res.headers.get('x-absent')).toBeNull();
    expect(await text(res)).toBe('{"errors":[]}');
    expect(srv.seen[0]).toMatchObject({ method: 'GET', url: '/v2/x/manifests/v1' });
    expect(srv.seen[0]?.headers.accept).toBe('application/vnd.oci.image.index.v1+json');
  });

  it('has no body for HEAD and for 204, and ok for every 2xx', async () => {
    const srv = await serve();
    srv.handle((req, res) => res.writeHead(req.method === 'HEAD' ? 200 : 204, { 'Content-Length': '7' }).end());
    const head = await httpFetch(`${srv.url}/blob`, { method: 'HEAD' });
    expect([head.status, head.ok, head.body, head.headers.get('content-length')]).toEqual([200, true, null, '7']);
    const del = await httpFetch(`${srv.url}/blob`, { method: 'DELETE' });
    expect([del.status, del.ok, del.body]).toEqual([204, true, null]);
    expect(Buffer.from(await del.arrayBuffer())).toHaveLength(0);
  });

  it('streams a large body as it comes, whole', async () => {
    const srv = await serve();
    const big = Buffer.alloc(3 * 1024 * 1024, 'x');
    srv.handle((_req, res) => res.end(big));
    const res = await httpFetch(`${srv.url}/big`);
    let n = 0;
    let chunks = 0;
    for await (const c of res.body as ReadableStream<Uint8Array>) {
      n += c.byteLength;
      chunks++;
    }
    expect(n).toBe(big.length);
    expect(chunks).toBeGreaterThan(1);
  });

  it('keeps the connection alive between requests', async () => {
    const srv = await serve();
    for (let i = 0; i < 3; i++) await text(await httpFetch(`${srv.url}/v2/`));
    expect(srv.seen.map((s) => s.socket)).toEqual([1, 1, 1]);
  });
});

describe('request bodies', () => {
  it('sends a buffer with its Content-Length, and Content-Length 0 for a POST without one', async () => {
    const srv = await serve();
    await text(await httpFetch(`${srv.url}/m`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: Buffer.from('{"a":1}') }));
    await text(await httpFetch(`${srv.url}/uploads/`, { method: 'POST' }));
    expect(srv.seen[0]).toMatchObject({ method: 'PUT', body: Buffer.from('{"a":1}') });
    expect(srv.seen[0]?.headers['content-length']).toBe('7');
    expect(srv.seen[0]?.headers['content-type']).toBe('application/json');
    expect(srv.seen[1]?.headers['content-length']).toBe('0');
    expect(srv.seen[1]?.headers['transfer-encoding']).toBeUndefined();
  });

  it('streams a body given as a web stream with the length it is told', async () => {
    const srv = await serve();
    srv.handle((_req, res) => res.writeHead(201).end());
    const res = await httpFetch(`${srv.url}/blob?digest=x`, {
      method: 'PUT',
      headers: { 'Content-Length': '11' },
      body: stream('hello ', 'world'),
      duplex: 'half',
    });
    expect(res.status).toBe(201);
    expect(srv.seen[0]?.body.toString()).toBe('hello world');
    expect(srv.seen[0]?.headers['content-length']).toBe('11');
  });

  it('fails a streamed body that ends short of its Content-Length, with a code the client retries', async () => {
    const srv = await serve();
    const err = await rejection(httpFetch(`${srv.url}/blob`, { method: 'PUT', headers: { 'Content-Length': '20' }, body: stream('only nine') }));
    expect(networkCode(err)).toBe('ERR_HTTP_CONTENT_LENGTH_MISMATCH');
    expect(isTransient({ networkError: networkCode(err) })).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    // The registry never sees a whole request (or none at all).
    expect(srv.seen.every((s) => s.aborted)).toBe(true);
  });

  it('fails the request with the source stream error when the source breaks', async () => {
    const srv = await serve();
    let sent = false;
    const broken = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (!sent) {
          sent = true;
          ctl.enqueue(Buffer.from('part'));
        } else ctl.error(Object.assign(new Error('source cut'), { code: 'ECONNRESET' }));
      },
    });
    const err = await rejection(httpFetch(`${srv.url}/blob`, { method: 'PUT', headers: { 'Content-Length': '100' }, body: broken }));
    expect(err.message).toBe('source cut');
  });
});

describe('redirects', () => {
  it('follows one on the same origin with the credentials, and drops them when the origin changes', async () => {
    const [registry, storage] = [await serve(), await serve()];
    registry.handle((req, res) => {
      if (req.url === '/v2/x/blobs/a') res.writeHead(307, { Location: '/v2/x/blobs/b' }).end();
      else res.writeHead(302, { Location: `${storage.url}/signed?sig=1` }).end();
    });
    storage.handle((_req, res) => res.end('blob bytes'));
    const res = await httpFetch(`${registry.url}/v2/x/blobs/a`, { headers: { Authorization: 'Bearer t0k3n', Accept: '*/*' } });
    expect(await text(res)).toBe('blob bytes');
    expect(registry.seen.map((s) => [s.url, s.headers.authorization])).toEqual([
      ['/v2/x/blobs/a', 'Bearer t0k3n'],
      ['/v2/x/blobs/b', 'Bearer t0k3n'],
    ]);
    expect(storage.seen.map((s) => [s.url, s.headers.authorization, s.headers.accept])).toEqual([['/signed?sig=1', undefined, '*/*']]);
  });

  it('turns a POST into a GET on 303 (no body), and sends a buffer again on 307', async () => {
    const srv = await serve();
    srv.handle((req, res) => {
      if (req.url === '/post') res.writeHead(303, { Location: '/got' }).end();
      else if (req.url === '/put') res.writeHead(307, { Location: '/put2' }).end();
      else res.end();
    });
    await text(await httpFetch(`${srv.url}/post`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: Buffer.from('abc') }));
    await text(await httpFetch(`${srv.url}/put`, { method: 'PUT', body: Buffer.from('def') }));
    expect(srv.seen.map((s) => [s.method, s.url, s.body.toString(), s.headers['content-type']])).toEqual([
      ['POST', '/post', 'abc', 'text/plain'],
      ['GET', '/got', '', undefined],
      ['PUT', '/put', 'def', undefined],
      ['PUT', '/put2', 'def', undefined],
    ]);
  });

  it('refuses to resend a streamed body on 307, and gives up after 20 redirects', async () => {
    const srv = await serve();
    srv.handle((req, res) => res.writeHead(307, { Location: `/again${req.url}` }).end());
    const once = await rejection(httpFetch(`${srv.url}/put`, { method: 'PUT', headers: { 'Content-Length': '3' }, body: stream('abc') }));
    expect(once.message).toBe('PUT /put: redirected (307) with a streamed body, which cannot be sent again');
    const loop = await rejection(httpFetch(`${srv.url}/x`));
    expect(loop.message).toBe(`${srv.url}/x: more than 20 redirects`);
    expect(srv.seen).toHaveLength(1 + 21);
  });
});

describe('failures', () => {
  it('a refused connection rejects with its code', async () => {
    const srv = await serve();
    const url = srv.url;
    await srv.close();
    servers.splice(servers.indexOf(srv), 1);
    const err = await rejection(httpFetch(`${url}/v2/`));
    expect(networkCode(err)).toBe('ECONNREFUSED');
  });

  it('a body cut after the head fails the read with ECONNRESET, which the client retries', async () => {
    const srv = await serve();
    srv.handle((req, res) => {
      res.writeHead(200, { 'Content-Length': '100' });
      res.write('only part');
      setTimeout(() => req.socket.destroy(), 10);
    });
    const res = await httpFetch(`${srv.url}/v2/x/manifests/v1`);
    const err = await rejection(res.arrayBuffer());
    expect(networkCode(err)).toBe('ECONNRESET');
    expect(isTransient({ networkError: networkCode(err) })).toBe(true);
  });

  it('an abort before the answer rejects with the reason; an abort in the body fails the body', async () => {
    const srv = await serve();
    srv.handle((req, res) => {
      if (req.url === '/slow-head') return; // never answers
      res.writeHead(200);
      res.write('first part');
    });
    const before = new AbortController();
    const pending = httpFetch(`${srv.url}/slow-head`, { signal: before.signal });
    setTimeout(() => before.abort(new Error('stalled')), 20);
    expect((await rejection(pending)).message).toBe('stalled');

    const during = new AbortController();
    const res = await httpFetch(`${srv.url}/slow-body`, { signal: during.signal });
    const reading = res.arrayBuffer();
    setTimeout(() => during.abort(new Error('cancelled')), 20);
    expect((await rejection(reading)).message).toBe('cancelled');

    const already = new AbortController();
    already.abort(new Error('gone'));
    expect((await rejection(httpFetch(`${srv.url}/x`, { signal: already.signal }))).message).toBe('gone');
  });
});

describe('TLS', () => {
  let dir: string;
  let tls: { key: string; cert: string };
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'http-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        'key.pem',
        '-out',
        'cert.pem',
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    tls = { key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8') };
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('talks https to a registry whose certificate is trusted, and refuses one that is not', async () => {
    const srv = await serve(tls);
    srv.handle((_req, res) => res.end('{}'));
    const trusting = createHttpFetch({ httpsAgent: new https.Agent({ keepAlive: true, ca: tls.cert }) });
    expect(await text(await trusting(`${srv.url}/v2/`))).toBe('{}');
    const err = await rejection(createHttpFetch()(`${srv.url}/v2/`));
    expect(networkCode(err)).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });
});

describe('the registry client over it', () => {
  /** A registry of one repository: blobs by digest, monolithic uploads checked against their digest. */
  async function blobRegistry(blobs: Map<string, Buffer>, opts: { cutFirstGet?: boolean } = {}): Promise<{ host: string; srv: Server }> {
    const srv = await serve();
    let cut = opts.cutFirstGet ?? false;
    srv.handle((req, res, seen) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const blob = /^\/v2\/org\/app\/blobs\/(sha256:[a-f0-9]+)$/.exec(url.pathname)?.[1];
      if (req.method === 'GET' && blob) {
        const data = blobs.get(blob);
        if (!data) return void res.writeHead(404).end();
        res.writeHead(200, { 'Content-Length': String(data.length) });
        if (cut) {
          cut = false;
          res.write(data.subarray(0, 1000));
          return void setTimeout(() => req.socket.destroy(), 10);
        }
        return void res.end(data);
      }
      if (req.method === 'POST' && url.pathname === '/v2/org/app/blobs/uploads/') return void res.writeHead(202, { Location: '/upload/1' }).end();
      if (req.method === 'PUT' && url.pathname === '/upload/1') {
        const digest = url.searchParams.get('digest') ?? '';
        if (
          seen.body.length !== Number(req.headers['content-length']) ||
          digest !== `sha256:${createHash('sha256').update(seen.body).digest('hex')}`
        ) {
          return void res.writeHead(400).end('{"errors":[{"code":"DIGEST_INVALID"}]}');
        }
        blobs.set(digest, seen.body);
        return void res.writeHead(201).end();
      }
      res.writeHead(404).end();
    });
    return { host: new URL(srv.url).host, srv };
  }

  it('copies a large blob between two registries through node streams, byte for byte; a source that cuts it is blamed and the copy retried', async () => {
    const data = randomBytes(4 * 1024 * 1024 + 123);
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const source = await blobRegistry(new Map([[digest, data]]), { cutFirstGet: true });
    const targetBlobs = new Map<string, Buffer>();
    const target = await blobRegistry(targetBlobs);
    const logs: string[] = [];
    const client = new RegistryClient({ auths: [], retry: { attempts: 3, baseMs: 1, maxMs: 5 }, log: (m) => logs.push(m) });
    await client.copyBlob({ registry: source.host, repository: 'org/app' }, { registry: target.host, repository: 'org/app' }, digest, data.length);
    expect(targetBlobs.get(digest)?.equals(data)).toBe(true);
    expect(logs).toEqual([`upload blob ${digest} to ${target.host}/org/app: ${source.host}: ECONNRESET, retrying in 0s`]);
    expect(source.srv.seen.filter((s) => s.method === 'GET')).toHaveLength(2);
  });

  it('retries a manifest read whose body was cut, and reads it whole the second time', async () => {
    const srv = await serve();
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] });
    let n = 0;
    srv.handle((req, res) => {
      if (req.url === '/v2/') return void res.end('{}');
      res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Content-Length': String(manifest.length) });
      if (n++ === 0) {
        res.write(manifest.slice(0, 10));
        setTimeout(() => req.socket.destroy(), 10);
      } else res.end(manifest);
    });
    const logs: string[] = [];
    const host = new URL(srv.url).host;
    const client = new RegistryClient({ auths: [], retry: { attempts: 3, baseMs: 1, maxMs: 5 }, log: (m) => logs.push(m) });
    const got = await client.getManifest({ registry: host, repository: 'org/app' }, 'v1');
    expect(got?.raw.toString()).toBe(manifest);
    expect(logs).toEqual([`read ${host}/org/app:v1: ECONNRESET, retrying in 0s`]);
  });
});

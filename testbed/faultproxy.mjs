#!/usr/bin/env node
// A fault-injecting reverse proxy for one test-bed registry, on loopback only.
// Per request it decides, reproducibly from --seed and the request's position
// (the n-th request of its kind, or the n-th request overall), whether to pass
// the request through or to inject one fault. It exits by itself after
// --max-requests requests or --max-seconds seconds, and writes one JSON line
// per request to --log so a test can count what reached the upstream.
//
//   node testbed/faultproxy.mjs --upstream 127.0.0.1:5000 [--listen 127.0.0.1:0]
//     [--port-file FILE] [--log FILE] [--seed N] [--rate 0.2] [--faults all|a,b]
//     [--kinds all|a,b] [--decide-by kind|order] [--max-requests 10000]
//     [--max-seconds 900] [--stall-seconds 30] [--retry-after 1] [--latency-ms 0]
//
// The first line on stdout is the port it listens on. Run with --help for the
// fault and request kinds. The log has one JSON object a line:
//   {"event":"start", epochMs (what every t counts from), listen, upstream, seed, rate, faults, kinds, ...}
//   {"event":"request", seq, kindSeq, method, path (no query), kind, fault
//    ("none" or a fault), upstream (true when the request reached the upstream),
//    upstreamStatus, status (what the client got, when a whole response went
//    out), promised/sent (body bytes, for reset-mid-body and truncate),
//    clientGone (a stalled client hung up), upstreamError, ms, t}
//   {"event":"client-error", code}   bytes that were not HTTP
//   {"event":"exit", reason (max-requests|max-seconds|SIGTERM|SIGINT), requests, faults, forwarded}
// Writes that reached the upstream: kind "manifest-put" with upstreamStatus 201.
// A campaign runs it once per run with --seed 1..N; ports 5100-5109 are plain
// http in the test bed's buildkitd (testbed/lib/services.sh).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { clearTimeout, setTimeout } from 'node:timers';
import { pathToFileURL } from 'node:url';

export const FAULTS = [
  '500', // answered by the proxy; the upstream never sees the request
  '502',
  '503',
  '429', // without Retry-After
  '429-retry-after', // with Retry-After: --retry-after seconds
  'reset-before-head', // request read, then TCP reset; the upstream never sees it
  'reset-mid-body', // forwarded; head and half the body sent, then TCP reset
  'stall', // held --stall-seconds without a byte, then forwarded if the client still waits
  'truncate', // forwarded; Content-Length promised, half the body sent, then a clean close
];
// Faults that need a response body; a HEAD request never gets them.
const BODY_FAULTS = new Set(['reset-mid-body', 'truncate']);

export const KINDS = [
  'ping',
  'token',
  'blob-head',
  'blob-get',
  'upload-post',
  'upload-patch',
  'upload-put',
  'manifest-get',
  'manifest-head',
  'manifest-put',
  'tag-list',
  'referrers',
  'other',
];

const HELP = `usage: faultproxy.mjs --upstream HOST:PORT [options]
  --listen 127.0.0.1:PORT   address to listen on (loopback only; port 0 picks one). Default 127.0.0.1:0
  --port-file FILE          also write the port to FILE (the first stdout line is the port)
  --log FILE                JSON lines, one per request, appended (default: stderr)
  --seed N                  seed of the fault decisions (default 1)
  --rate R                  probability in [0,1] that a request of a chosen kind gets a fault (default 0.2)
  --faults LIST             comma list of ${FAULTS.join(', ')}; default all
  --kinds LIST              comma list of ${KINDS.join(', ')}; default all
  --decide-by kind|order    key of a decision: the n-th request of its kind (default) or the n-th overall
  --max-requests N          exit after N requests (default 10000)
  --max-seconds S           exit after S seconds (default 900)
  --stall-seconds S         how long a stalled response is held (default 30)
  --retry-after S           Retry-After value of the 429-retry-after fault (default 1)
  --latency-ms MS           hold every request MS milliseconds before answering it, as a
                            registry a round trip away would (default 0)`;

function fail(message) {
  process.stderr.write(`faultproxy: ${message}\n`);
  process.exit(2);
}

const isLoopback = (host) => /^127\.\d+\.\d+\.\d+$/.test(host) || host === 'localhost' || host === '::1';

function hostPort(opt, value, allowZero) {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(value ?? '');
  if (!m) fail(`${opt} must be HOST:PORT, got "${value}"`);
  const host = m[1].replace(/^\[|\]$/g, '');
  const port = Number(m[2]);
  if (!isLoopback(host)) fail(`${opt} must be a loopback address (127.x.x.x, localhost or ::1), got "${host}"`);
  if (port > 65535 || (port === 0 && !allowZero)) fail(`${opt} has an invalid port: "${m[2]}"`);
  return { host, port };
}

function number(opt, value, min, max) {
  const n = Number(value);
  if (value === undefined || value === '' || !Number.isFinite(n) || n < min || n > max)
    fail(`${opt} must be a number in [${min}, ${max}], got "${value}"`);
  return n;
}

function list(opt, value, known) {
  if (value === undefined || value === 'all') return [...known];
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = items.filter((s) => !known.includes(s));
  if (unknown.length || !items.length) fail(`${opt} has unknown entries "${unknown.join(',')}"; known: ${known.join(',')}`);
  return items;
}

export function parseArgs(argv) {
  const raw = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${HELP}\n`);
      process.exit(0);
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) fail(`unexpected argument "${a}" (see --help)`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) fail(`--${m[1]} needs a value`);
    raw[m[1]] = value;
  }
  const known = [
    'upstream',
    'listen',
    'port-file',
    'log',
    'seed',
    'rate',
    'faults',
    'kinds',
    'decide-by',
    'max-requests',
    'max-seconds',
    'stall-seconds',
    'retry-after',
    'latency-ms',
  ];
  for (const k of Object.keys(raw)) if (!known.includes(k)) fail(`unknown option --${k} (see --help)`);
  if (raw.upstream === undefined) fail('--upstream HOST:PORT is required');
  const decideBy = raw['decide-by'] ?? 'kind';
  if (decideBy !== 'kind' && decideBy !== 'order') fail(`--decide-by must be "kind" or "order", got "${decideBy}"`);
  return {
    upstream: hostPort('--upstream', raw.upstream, false),
    listen: hostPort('--listen', raw.listen ?? '127.0.0.1:0', true),
    portFile: raw['port-file'],
    log: raw.log,
    seed: raw.seed ?? '1',
    rate: number('--rate', raw.rate ?? '0.2', 0, 1),
    faults: list('--faults', raw.faults, FAULTS),
    kinds: list('--kinds', raw.kinds, KINDS),
    decideBy,
    maxRequests: number('--max-requests', raw['max-requests'] ?? '10000', 1, 1e7),
    maxSeconds: number('--max-seconds', raw['max-seconds'] ?? '900', 0.1, 86400),
    stallSeconds: number('--stall-seconds', raw['stall-seconds'] ?? '30', 0, 3600),
    retryAfter: number('--retry-after', raw['retry-after'] ?? '1', 0, 3600),
    latencyMs: number('--latency-ms', raw['latency-ms'] ?? '0', 0, 60000),
  };
}

/** The request kind of a distribution API request. */
export function requestKind(method, path) {
  const p = path.split('?')[0];
  if (p.startsWith('/__realm/') || !p.startsWith('/v2')) return 'token';
  if (p === '/v2' || p === '/v2/') return 'ping';
  if (/^\/v2\/.+\/blobs\/uploads\/?$/.test(p)) return method === 'POST' ? 'upload-post' : 'other';
  if (/^\/v2\/.+\/blobs\/uploads\/[^/]+$/.test(p)) return { PATCH: 'upload-patch', PUT: 'upload-put' }[method] ?? 'other';
  if (/^\/v2\/.+\/blobs\/[^/]+$/.test(p)) return { HEAD: 'blob-head', GET: 'blob-get' }[method] ?? 'other';
  if (/^\/v2\/.+\/manifests\/[^/]+$/.test(p)) return { GET: 'manifest-get', HEAD: 'manifest-head', PUT: 'manifest-put' }[method] ?? 'other';
  if (/^\/v2\/.+\/tags\/list$/.test(p)) return method === 'GET' ? 'tag-list' : 'other';
  if (/^\/v2\/.+\/referrers\/[^/]+$/.test(p)) return method === 'GET' ? 'referrers' : 'other';
  return 'other';
}

/**
 * The fault for one request, or 'none': a pure function of the seed, the
 * decision key (kind and per-kind counter, or the overall counter) and the
 * options, so the same request sequence gets the same faults.
 */
export function decide(opts, kind, method, key) {
  if (!opts.kinds.includes(kind) || opts.rate <= 0) return 'none';
  const h = createHash('sha256').update(`${opts.seed}\0${key}`).digest();
  if (h.readUInt32BE(0) / 2 ** 32 >= opts.rate) return 'none';
  const applicable = method === 'HEAD' ? opts.faults.filter((f) => !BODY_FAULTS.has(f)) : opts.faults;
  if (!applicable.length) return 'none';
  return applicable[h.readUInt32BE(4) % applicable.length];
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade'];

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const up = `${opts.upstream.host.includes(':') ? `[${opts.upstream.host}]` : opts.upstream.host}:${opts.upstream.port}`;
  const logFd = opts.log ? fs.openSync(opts.log, 'a') : 2;
  const t0 = Date.now();
  const writeLog = (rec) => fs.writeSync(logFd, `${JSON.stringify({ t: (Date.now() - t0) / 1000, ...rec })}\n`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const kindSeq = Object.fromEntries(KINDS.map((k) => [k, 0]));
  const counts = { requests: 0, faults: {}, forwarded: 0 };
  let seq = 0;
  let inFlight = 0;
  let closing = false;
  let self = ''; // http://127.0.0.1:PORT, once listening

  // Absolute URLs of the upstream (Location, Link, a Bearer realm) are pointed
  // at the proxy; a realm on another loopback host goes through /__realm/.
  const rewriteUrl = (u) => {
    for (const origin of [`http://${up}`, `https://${up}`]) if (u.startsWith(origin)) return self + u.slice(origin.length);
    const m = /^https?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/.*)?$/.exec(u);
    return m ? `${self}/__realm/${m[1]}${m[2] ?? ':80'}${m[3] ?? '/'}` : u;
  };
  const rewriteHeaders = (headers) => {
    const out = {};
    for (const [k, v] of Object.entries(headers)) {
      if (HOP_BY_HOP.includes(k) || v === undefined) continue;
      if (k === 'location') out[k] = rewriteUrl(String(v));
      else if (k === 'www-authenticate') out[k] = [v].flat().map((s) => s.replace(/realm="([^"]*)"/i, (_, r) => `realm="${rewriteUrl(r)}"`));
      else if (k === 'link') out[k] = [v].flat().map((s) => s.replace(/<([^>]*)>/g, (_, r) => `<${rewriteUrl(r)}>`));
      else out[k] = v;
    }
    return out;
  };

  // Where a request goes: /__realm/HOST:PORT/path to that loopback host, the rest to the upstream.
  const target = (url) => {
    const m = /^\/__realm\/(127\.\d+\.\d+\.\d+|localhost|\[::1\]):(\d+)(\/.*)?$/.exec(url);
    if (m) return { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]), path: m[3] ?? '/', hostHeader: `${m[1]}:${m[2]}` };
    return { host: opts.upstream.host, port: opts.upstream.port, path: url, hostHeader: up };
  };

  const forward = (req, body) =>
    new Promise((resolve, reject) => {
      const t = target(req.url);
      const headers = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.includes(k)) headers[k] = v;
      headers.host = t.hostHeader;
      headers['content-length'] = String(body.length);
      if (!body.length && !['POST', 'PUT', 'PATCH'].includes(req.method)) delete headers['content-length'];
      const r = http.request({ host: t.host, port: t.port, method: req.method, path: t.path, headers, agent }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      r.on('error', reject);
      r.end(body);
    });

  const readBody = (req) =>
    new Promise((resolve, reject) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });

  const rawHead = (status, headers) => {
    const lines = [`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Status'}`];
    for (const [k, v] of Object.entries(headers)) for (const x of [v].flat()) lines.push(`${k}: ${x}`);
    lines.push('connection: close', '', '');
    return lines.join('\r\n');
  };

  const sendError = (res, status, extra) => {
    const code = status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE';
    const body = JSON.stringify({ errors: [{ code, message: `injected ${status}`, detail: null }] });
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...extra });
    res.end(body);
  };

  const handle = async (req, res, rec) => {
    const fault = rec.fault;
    const body = await readBody(req);
    rec.reqBytes = body.length;
    if (opts.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, opts.latencyMs));
    if (['500', '502', '503', '429'].includes(fault)) return sendError(res, Number(fault));
    if (fault === '429-retry-after') return sendError(res, 429, { 'retry-after': String(opts.retryAfter) });
    if (fault === 'reset-before-head') return req.socket.resetAndDestroy();
    if (fault === 'stall') {
      const gone = await new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), opts.stallSeconds * 1000);
        req.socket.once('close', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (gone) {
        rec.clientGone = true;
        return;
      }
    }
    let r;
    try {
      r = await forward(req, body);
    } catch (e) {
      rec.upstreamError = e.code ?? String(e);
      return sendError(res, 502);
    }
    rec.upstream = true;
    rec.upstreamStatus = r.status;
    counts.forwarded++;
    const headers = rewriteHeaders(r.headers);
    if (fault === 'reset-mid-body' || fault === 'truncate') {
      // Promise the whole body (or some bytes where there is none), send half.
      const promised = r.body.length || 64;
      const sent = Math.floor(r.body.length / 2);
      headers['content-length'] = String(promised);
      rec.promised = promised;
      rec.sent = sent;
      const sock = req.socket;
      sock.write(rawHead(r.status, headers));
      sock.write(r.body.subarray(0, sent), () => (fault === 'truncate' ? sock.end() : sock.resetAndDestroy()));
      return;
    }
    if (req.method !== 'HEAD' && r.headers['content-length'] === undefined) headers['content-length'] = String(r.body.length);
    res.writeHead(r.status, headers);
    res.end(req.method === 'HEAD' ? undefined : r.body);
  };

  const server = http.createServer((req, res) => {
    if (closing) return req.socket.destroy();
    const kind = requestKind(req.method, req.url);
    seq++;
    kindSeq[kind]++;
    const key = opts.decideBy === 'order' ? `order/${seq}` : `${kind}/${kindSeq[kind]}`;
    const rec = {
      event: 'request',
      seq,
      kindSeq: kindSeq[kind],
      method: req.method,
      path: req.url.split('?')[0],
      kind,
      fault: decide(opts, kind, req.method, key),
      upstream: false,
    };
    counts.requests++;
    counts.faults[rec.fault] = (counts.faults[rec.fault] ?? 0) + 1;
    const start = Date.now();
    inFlight++;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      inFlight--;
      rec.ms = Date.now() - start;
      if (res.headersSent && !rec.promised) rec.status = res.statusCode;
      writeLog(rec);
      if (seq >= opts.maxRequests && inFlight === 0) shutdown('max-requests');
    };
    res.on('finish', finish);
    res.on('close', finish);
    handle(req, res, rec)
      .catch((e) => {
        rec.error = String(e);
        if (!res.headersSent) sendError(res, 502);
      })
      .finally(() => {
        if (rec.promised !== undefined || rec.fault === 'reset-before-head' || rec.clientGone) finish();
      });
    if (seq >= opts.maxRequests) closing = true;
  });
  server.keepAliveTimeout = 5000;
  // Bytes that are not HTTP (a TLS hello, say) are logged, not counted as requests.
  server.on('clientError', (err, socket) => {
    writeLog({ event: 'client-error', code: err.code ?? String(err) });
    socket.destroy();
  });

  const shutdown = (reason) => {
    if (shutdown.done) return;
    shutdown.done = true;
    closing = true;
    writeLog({ event: 'exit', reason, ...counts });
    server.close();
    server.closeAllConnections();
    agent.destroy();
    setTimeout(() => process.exit(0), 50).unref();
  };
  setTimeout(() => shutdown('max-seconds'), opts.maxSeconds * 1000);
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => shutdown(sig));

  server.on('error', (e) => fail(`cannot listen on ${opts.listen.host}:${opts.listen.port}: ${e.message}`));
  server.listen(opts.listen.port, opts.listen.host, () => {
    const { port } = server.address();
    self = `http://${opts.listen.host.includes(':') ? `[${opts.listen.host}]` : opts.listen.host}:${port}`;
    if (opts.portFile) {
      fs.writeFileSync(`${opts.portFile}.tmp`, `${port}\n`);
      fs.renameSync(`${opts.portFile}.tmp`, opts.portFile);
    }
    writeLog({
      event: 'start',
      // Every record's t is seconds since this instant (ms since the epoch), to line up two proxies' logs.
      epochMs: t0,
      listen: self,
      upstream: up,
      seed: opts.seed,
      rate: opts.rate,
      faults: opts.faults,
      kinds: opts.kinds,
      decideBy: opts.decideBy,
      maxRequests: opts.maxRequests,
      maxSeconds: opts.maxSeconds,
      stallSeconds: opts.stallSeconds,
    });
    process.stdout.write(`${port}\n`);
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) main();

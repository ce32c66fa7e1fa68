// The test bed's fault-injecting registry proxy (testbed/faultproxy.mjs): with
// faults off the tools the action drives work through it; with faults on, each
// fault is what a plain HTTP client sees, decided reproducibly by the seed.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { FAULTPROXY, startFaultProxy, type FaultProxy } from './support/faultproxy.js';
import { bed, getManifest, uniqueRepo } from './testbed.js';

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A FROM-scratch context (no RUN step, so no emulation) with one file. */
function scratchContext(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultproxy-ctx-'));
  fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
  fs.writeFileSync(path.join(dir, 'hello.txt'), `through the proxy ${process.pid}\n`);
  return dir;
}

const basic = () => `Basic ${Buffer.from(`${bed.authUser}:${bed.authPassword}`).toString('base64')}`;

describe('the fault proxy with faults off (rate 0)', () => {
  let pa: FaultProxy;
  let pb: FaultProxy;
  const repo = uniqueRepo('viaproxy');
  const builder = `faultproxy-${process.pid}`;

  beforeAll(async () => {
    // BuildKit pushes to pa: it needs one of the ports buildkitd treats as plain http.
    pa = await startFaultProxy({ upstream: bed.registry, port: 'reserved', seed: 1, rate: 0 });
    pb = await startFaultProxy({ upstream: bed.authRegistry, seed: 1, rate: 0 });
  });
  afterAll(async () => {
    await pa?.stop();
    await pb?.stop();
  });

  it('buildx pushes a two-platform image through it, and every manifest PUT reaches registry A', () => {
    sh('docker', ['buildx', 'create', '--name', builder, '--driver', 'remote', bed.buildkitEndpoint]);
    try {
      sh('docker', [
        'buildx',
        'build',
        '--builder',
        builder,
        '--platform',
        'linux/amd64,linux/arm64',
        '--provenance=false',
        '-t',
        `${pa.addr}/${repo}:1`,
        '--push',
        scratchContext(),
      ]);
    } finally {
      sh('docker', ['buildx', 'rm', builder]);
    }
    const puts = pa.requests().filter((r) => r.kind === 'manifest-put');
    expect(puts.length).toBeGreaterThanOrEqual(3); // two images and the index
    expect(puts.every((r) => r.upstream && r.upstreamStatus === 201)).toBe(true);
    expect(pa.requests().filter((r) => r.fault !== 'none')).toEqual([]);
    // Each upload started through the proxy was finished through it (Location rewritten).
    const started = pa.requests().filter((r) => r.kind === 'upload-post' && r.upstreamStatus === 202).length;
    expect(started).toBeGreaterThan(0);
    expect(pa.requests().filter((r) => r.kind === 'upload-put' && r.upstreamStatus === 201).length).toBe(started);
  });

  it('the pushed index is in registry A itself, and imagetools inspect reads the same digest through the proxy', async () => {
    const direct = await getManifest(bed.registry, repo, '1');
    expect(direct?.json.manifests).toHaveLength(2);
    const raw = sh('docker', ['buildx', 'imagetools', 'inspect', '--format', '{{json .Manifest}}', `${pa.addr}/${repo}:1`]);
    expect((JSON.parse(raw) as { digest: string }).digest).toBe(direct?.digest);
    expect(pa.requests().some((r) => r.kind === 'manifest-get' || r.kind === 'manifest-head')).toBe(true);
  });

  it('trivy downloads its DB through it (plain http for 127.0.0.1) by its own download path', () => {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'trivy-proxy-'));
    const before = pa.requests().length;
    const dbRepo = bed.trivyDbRepository.replace(bed.registry, pa.addr);
    sh('trivy', [
      'image',
      '--download-db-only',
      '--db-repository',
      dbRepo,
      '--no-progress',
      '--cache-dir',
      cache,
      '--skip-version-check',
      '--disable-telemetry',
    ]);
    const meta = JSON.parse(fs.readFileSync(path.join(cache, 'db', 'metadata.json'), 'utf8')) as { Version: number };
    expect(meta.Version).toBe(2);
    const mine = pa.requests().slice(before);
    expect(mine.some((r) => r.kind === 'blob-get' && r.upstreamStatus === 200)).toBe(true);
  });

  it('regctl copies the image from A to B through two proxies, basic auth passing through', async () => {
    const hosts = [`--host`, `reg=${pa.addr},tls=disabled`, `--host`, `reg=${pb.addr},tls=disabled,user=${bed.authUser},pass=${bed.authPassword}`];
    sh('regctl', [...hosts, 'image', 'copy', `${pa.addr}/${repo}:1`, `${pb.addr}/${repo}:1`]);
    const a = await getManifest(bed.registry, repo, '1');
    const b = await getManifest(bed.authRegistry, repo, '1');
    expect(b?.digest).toBe(a?.digest);
    const bPuts = pb.requests().filter((r) => r.kind === 'manifest-put' && r.upstreamStatus === 201);
    expect(bPuts.length).toBe(3);
    expect(pb.requests().some((r) => r.status === 401)).toBe(true); // the challenge came through
  });

  it("Node's fetch gets B's Basic challenge through it, and a manifest with the credentials", async () => {
    const ping = await fetch(`http://${pb.addr}/v2/`);
    expect(ping.status).toBe(401);
    expect(ping.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    const res = await fetch(`http://${pb.addr}/v2/${repo}/manifests/1`, {
      headers: { Authorization: basic(), Accept: 'application/vnd.oci.image.index.v1+json' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe((await getManifest(bed.authRegistry, repo, '1'))?.digest);
  });

  it('an upload Location points at the proxy, so the client keeps talking to it', async () => {
    const res = await fetch(`http://${pa.addr}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    expect(res.status).toBe(202);
    const loc = res.headers.get('location') ?? '';
    expect(loc.startsWith('/') || loc.startsWith(`http://${pa.addr}/`)).toBe(true);
    expect(loc).not.toContain(bed.registry);
  });
});

describe('the fault proxy in front of a registry with a token service', () => {
  // A stand-in upstream: the proxy is under test here, not the registry.
  let upstream: http.Server;
  let port = 0;
  let p: FaultProxy;
  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      if (req.url?.startsWith('/token')) {
        res.end(JSON.stringify({ token: 't', auth: req.headers.authorization ?? null }));
      } else if (req.headers.authorization !== 'Bearer t') {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="svc",scope="repository:x:pull"` });
        res.end();
      } else {
        res.writeHead(202, { location: `http://127.0.0.1:${port}/v2/x/blobs/uploads/u1?_state=s` });
        res.end();
      }
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    port = (upstream.address() as AddressInfo).port;
    p = await startFaultProxy({ upstream: `127.0.0.1:${port}` });
  });
  afterAll(async () => {
    await p?.stop();
    upstream?.close();
  });

  it('rewrites the realm to the proxy, passes the token request and bearer auth through, and rewrites Location', async () => {
    const challenge = await fetch(`http://${p.addr}/v2/x/blobs/uploads/`, { method: 'POST' });
    expect(challenge.status).toBe(401);
    const realm = /realm="([^"]+)"/.exec(challenge.headers.get('www-authenticate') ?? '')?.[1];
    expect(realm).toBe(`http://${p.addr}/token`);
    const token = (await (await fetch(`${realm}?service=svc`, { headers: { Authorization: basic() } })).json()) as { token: string; auth: string };
    expect(token.auth).toBe(basic());
    const upload = await fetch(`http://${p.addr}/v2/x/blobs/uploads/`, { method: 'POST', headers: { Authorization: `Bearer ${token.token}` } });
    expect(upload.status).toBe(202);
    expect(upload.headers.get('location')).toBe(`http://${p.addr}/v2/x/blobs/uploads/u1?_state=s`);
    // The proxy logs a request once its response is finished, which can be just after the client has it.
    for (let i = 0; i < 50 && p.requests().length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    expect(p.requests().map((r) => r.kind)).toEqual(['upload-post', 'token', 'upload-post']);
  });
});

interface Seen {
  code: number; // curl's exit code: 0, 18 (truncated), 28 (timeout), 56 (reset)
  status: number;
  bytes: number;
  headers: string;
  ms: number;
}

/** A plain HTTP client: curl, whose exit code tells a truncated body (18) from a reset (56). */
function curl(url: string, maxSeconds = 10): Seen {
  const t0 = Date.now();
  const r = spawnSync('curl', ['-sS', '-o', '/dev/null', '-D', '-', '-w', '\n%{http_code} %{size_download}', '--max-time', String(maxSeconds), url], {
    encoding: 'utf8',
  });
  const lines = r.stdout.trimEnd().split('\n');
  const [status, bytes] = (lines.pop() ?? '0 0').split(' ').map(Number);
  return { code: r.status ?? -1, status: status ?? 0, bytes: bytes ?? 0, headers: lines.join('\n').toLowerCase(), ms: Date.now() - t0 };
}

describe('each fault, as a plain HTTP client sees it (every blob GET faulted)', () => {
  let blobUrl = '';
  let blobSize = 0;
  beforeAll(async () => {
    // The DB artifact's layer in registry A: a blob of a few kilobytes.
    const [repo, tag] = bed.trivyDbRepository.slice(bed.registry.length + 1).split(':');
    const m = await getManifest(bed.registry, repo ?? '', tag ?? '2');
    const layer = m?.json.layers?.[0];
    if (!layer) throw new Error(`no layer in ${bed.trivyDbRepository}:2`);
    blobSize = layer.size;
    blobUrl = `/v2/${repo}/blobs/${layer.digest}`;
  });

  async function withFault(fault: string, extra: { stallSeconds?: number } = {}) {
    const p = await startFaultProxy({ upstream: bed.registry, rate: 1, faults: [fault], kinds: ['blob-get'], ...extra });
    return p;
  }

  it.each([500, 502, 503])('%d: the status with an error body, and the request never reaches the upstream', async (status) => {
    const p = await withFault(String(status));
    const seen = curl(`http://${p.addr}${blobUrl}`);
    await p.stop();
    expect([seen.code, seen.status]).toEqual([0, status]);
    expect(p.requests()).toMatchObject([{ kind: 'blob-get', fault: String(status), upstream: false, status }]);
  });

  it('429 without Retry-After, and 429-retry-after with it', async () => {
    const p = await withFault('429');
    const plain = curl(`http://${p.addr}${blobUrl}`);
    await p.stop();
    const q = await startFaultProxy({ upstream: bed.registry, rate: 1, faults: ['429-retry-after'], kinds: ['blob-get'], retryAfter: 3 });
    const after = curl(`http://${q.addr}${blobUrl}`);
    await q.stop();
    expect(plain.status).toBe(429);
    expect(plain.headers).not.toContain('retry-after');
    expect(after.status).toBe(429);
    expect(after.headers).toContain('retry-after: 3');
  });

  it('reset-before-head: the connection is reset and no status line arrives', async () => {
    const p = await withFault('reset-before-head');
    const seen = curl(`http://${p.addr}${blobUrl}`);
    await p.stop();
    expect([seen.code, seen.status]).toEqual([56, 0]);
    expect(p.requests()[0]?.upstream).toBe(false);
  });

  it('reset-mid-body: a 200 head, part of the body, then a reset; the request did reach the upstream', async () => {
    const p = await withFault('reset-mid-body');
    const seen = curl(`http://${p.addr}${blobUrl}`);
    await p.stop();
    expect([seen.code, seen.status]).toEqual([56, 200]);
    expect(seen.bytes).toBeLessThan(blobSize);
    expect(p.requests()[0]).toMatchObject({ upstream: true, upstreamStatus: 200, promised: blobSize });
  });

  it('truncate: Content-Length promises the whole blob, half arrives, then a clean close (not a reset)', async () => {
    const p = await withFault('truncate');
    const seen = curl(`http://${p.addr}${blobUrl}`);
    await p.stop();
    expect([seen.code, seen.status]).toEqual([18, 200]);
    expect(seen.headers).toContain(`content-length: ${blobSize}`);
    expect(seen.bytes).toBe(Math.floor(blobSize / 2));
  });

  it('stall: nothing arrives before the stall time, so a client with a shorter timeout gives up', async () => {
    const p = await withFault('stall', { stallSeconds: 5 });
    const seen = curl(`http://${p.addr}${blobUrl}`, 1);
    await new Promise((r) => setTimeout(r, 300));
    await p.stop();
    expect([seen.code, seen.status]).toEqual([28, 0]);
    expect(seen.ms).toBeGreaterThanOrEqual(950);
    expect(p.requests()[0]).toMatchObject({ fault: 'stall', upstream: false });
  });

  it('stall: a client that waits longer gets the whole response after the stall time', async () => {
    const p = await withFault('stall', { stallSeconds: 1 });
    const seen = curl(`http://${p.addr}${blobUrl}`, 10);
    await p.stop();
    expect([seen.code, seen.status, seen.bytes]).toEqual([0, 200, blobSize]);
    expect(seen.ms).toBeGreaterThanOrEqual(1000);
  });

  it('--latency-ms holds every request that long, faulted or not, and still answers it', async () => {
    const p = await startFaultProxy({ upstream: bed.registry, rate: 0, latencyMs: 300 });
    const seen = curl(`http://${p.addr}${blobUrl}`, 10);
    await p.stop();
    expect([seen.code, seen.status, seen.bytes]).toEqual([0, 200, blobSize]);
    expect(seen.ms).toBeGreaterThanOrEqual(300);
    expect(p.requests()[0]?.ms).toBeGreaterThanOrEqual(300);
  });

  it('a HEAD request never gets a body fault: with only body faults chosen it passes', async () => {
    const p = await startFaultProxy({ upstream: bed.registry, rate: 1, faults: ['truncate', 'reset-mid-body'] });
    const res = await fetch(`http://${p.addr}${blobUrl}`, { method: 'HEAD' });
    await p.stop();
    expect(res.status).toBe(200);
    expect(p.requests()[0]?.fault).toBe('none');
  });
});

describe('fault decisions come from the seed and the request order', () => {
  let paths: string[] = [];
  beforeAll(async () => {
    const [repo] = bed.trivyDbRepository.slice(bed.registry.length + 1).split(':');
    const m = await getManifest(bed.registry, repo ?? '', '2');
    const blob = `/v2/${repo}/blobs/${m?.json.layers?.[0]?.digest}`;
    paths = Array.from({ length: 10 }, () => ['/v2/', `/v2/${repo}/manifests/2`, blob, `/v2/${repo}/tags/list`]).flat();
  });

  async function run(seed: number): Promise<{ statuses: number[]; faults: string[] }> {
    const p = await startFaultProxy({ upstream: bed.registry, seed, rate: 0.5, faults: ['500', '503', '429'] });
    const statuses: number[] = [];
    for (const u of paths) statuses.push((await fetch(`http://${p.addr}${u}`)).status);
    await p.stop();
    return { statuses, faults: p.requests().map((r) => r.fault ?? '?') };
  }

  it('the same seed gives the same faults to the same request sequence, another seed others', async () => {
    const first = await run(42);
    const second = await run(42);
    const other = await run(43);
    expect(second).toEqual(first);
    expect(other.faults).not.toEqual(first.faults);
    const injected = first.faults.filter((f) => f !== 'none').length;
    expect(injected).toBeGreaterThan(5); // rate 0.5 of 40 requests
    expect(injected).toBeLessThan(35);
    // What the client saw is what the log says was injected.
    expect(first.statuses.map((s, i) => (first.faults[i] === 'none' ? 'none' : String(s)))).toEqual(first.faults);
  });
});

describe('the fault proxy is bounded', () => {
  function spawnProxy(args: string[]) {
    const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'faultproxy-')), 'log.jsonl');
    const child = spawn(process.execPath, [FAULTPROXY, '--upstream', bed.registry, '--log', log, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = new Promise<string>((r) => child.stdout.once('data', (d: Buffer) => r(d.toString().split('\n')[0] ?? '')));
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    const last = () =>
      JSON.parse(fs.readFileSync(log, 'utf8').trim().split('\n').pop() ?? '{}') as { event: string; reason: string; requests: number };
    return { child, port, exited, last };
  }

  it('exits by itself at --max-seconds, with an exit record in its log', async () => {
    const t0 = Date.now();
    const p = spawnProxy(['--max-seconds', '1.5']);
    const port = await p.port;
    expect((await fetch(`http://127.0.0.1:${port}/v2/`)).status).toBe(200);
    expect(await p.exited).toBe(0);
    const secs = (Date.now() - t0) / 1000;
    expect(secs).toBeGreaterThanOrEqual(1.4);
    expect(secs).toBeLessThan(5);
    expect(p.last()).toMatchObject({ event: 'exit', reason: 'max-seconds', requests: 1 });
    await expect(fetch(`http://127.0.0.1:${port}/v2/`)).rejects.toThrow();
  });

  it('exits by itself after --max-requests requests', async () => {
    const p = spawnProxy(['--max-requests', '3', '--max-seconds', '60']);
    const port = await p.port;
    for (let i = 0; i < 3; i++) expect((await fetch(`http://127.0.0.1:${port}/v2/`)).status).toBe(200);
    expect(await p.exited).toBe(0);
    expect(p.last()).toMatchObject({ event: 'exit', reason: 'max-requests', requests: 3 });
  });

  it('refuses a non-loopback listen address with one error line naming the option', () => {
    const r = spawnSync(process.execPath, [FAULTPROXY, '--upstream', bed.registry, '--listen', '0.0.0.0:5100'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('faultproxy: --listen must be a loopback address (127.x.x.x, localhost or ::1), got "0.0.0.0"');
  });
});

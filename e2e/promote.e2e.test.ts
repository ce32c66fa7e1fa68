// Promotion of the verified manifest list from registry A to the
// authenticated registry B, credentials contained, idempotent, gated, and
// retried through a proxy that fails on purpose.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errorLines, runAction, ROOT, type ActionRun } from './harness.js';
import { actionInputs, bed, getManifest, listTags, storageFingerprint, uniqueRepo } from './testbed.js';
import { startFaultProxy, type FaultProxy, type ProxyRecord } from './support/faultproxy.js';

function inputs(repo: string, extra: Record<string, string> = {}): Record<string, string> {
  return actionInputs(repo, { tags: '1.2.3', 'fail-on': 'critical', ...extra });
}

function auth(registry = bed.authRegistry, password = bed.authPassword): string {
  return `- registry: ${registry}\n  username: ${bed.authUser}\n  password: ${password}\n`;
}

/** Every file under `dir` whose content holds `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const hits: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && fs.readFileSync(p).includes(needle)) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

describe('promotion from A to authenticated B', () => {
  const repo = uniqueRepo('promote-src');
  const target = uniqueRepo('promote-dst');
  const promoteTo = `${bed.authRegistry}/${target}:1.2.3\n${bed.authRegistry}/${target}:stable`;
  let first: ActionRun;

  beforeAll(() => {
    // Provenance on, so the index carries attestation manifests to copy too.
    first = runAction(
      inputs(repo, { 'promote-to': promoteTo, 'registry-auth': auth(), 'platform-tags': '{tag}-{arch}{variant}', provenance: 'mode=min' }),
      { debug: true },
    );
  });

  it('passes, and B holds the same manifest-list digest under both tags', async () => {
    expect(errorLines(first)).toEqual([]);
    expect(first.exitCode).toBe(0);
    const digest = first.outputs.digest;
    expect(digest).toMatch(/^sha256:/);
    expect((await getManifest(bed.authRegistry, target, '1.2.3'))?.digest).toBe(digest);
    expect((await getManifest(bed.authRegistry, target, 'stable'))?.digest).toBe(digest);
    expect((await getManifest(bed.registry, repo, '1.2.3'))?.digest).toBe(digest);
  });

  it('copied every platform manifest and its attestations, so B serves the whole tree', async () => {
    const index = await getManifest(bed.authRegistry, target, '1.2.3');
    const attestations = (index?.json.manifests ?? []).filter((m) => m.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest');
    expect(attestations).toHaveLength(3);
    for (const child of index?.json.manifests ?? []) {
      const m = await getManifest(bed.authRegistry, target, child.digest);
      expect(m?.digest).toBe(child.digest);
    }
  });

  it('writes per-architecture tags next to the index tags, in A and in B', async () => {
    const digests = JSON.parse(first.outputs['platform-digests'] ?? '{}') as Record<string, string>;
    expect((await getManifest(bed.registry, repo, '1.2.3-arm64'))?.digest).toBe(digests['linux/arm64']);
    expect((await getManifest(bed.authRegistry, target, '1.2.3-armv7'))?.digest).toBe(digests['linux/arm/v7']);
    expect((await getManifest(bed.authRegistry, target, 'stable-amd64'))?.digest).toBe(digests['linux/amd64']);
    expect(await listTags(bed.registry, repo)).toEqual(['1.2.3', '1.2.3-amd64', '1.2.3-arm64', '1.2.3-armv7']);
  });

  it('lists what it wrote in promoted', () => {
    const promoted = JSON.parse(first.outputs.promoted ?? '[]') as string[];
    const d = first.outputs.digest;
    expect(promoted).toEqual(expect.arrayContaining([`${bed.authRegistry}/${target}:1.2.3@${d}`, `${bed.authRegistry}/${target}:stable@${d}`]));
  });

  it('never shows the password or its base64 in the log, debug included, nor in outputs, summary or state', () => {
    const b64 = Buffer.from(`${bed.authUser}:${bed.authPassword}`).toString('base64');
    for (const run of [first]) {
      expect(run.log).toContain('::debug::');
      for (const secret of [bed.authPassword, b64]) {
        expect(run.log).not.toContain(secret);
        expect(JSON.stringify(run.outputs)).not.toContain(secret);
        expect(run.summary).not.toContain(secret);
        expect(JSON.stringify(run.state)).not.toContain(secret);
      }
    }
  });

  it('once main has ended no file the run created holds the password', () => {
    const b64 = Buffer.from(`${bed.authUser}:${bed.authPassword}`).toString('base64');
    for (const run of [first]) {
      expect(filesContaining(run.workDir, bed.authPassword)).toEqual([]);
      expect(filesContaining(run.workDir, b64)).toEqual([]);
    }
  });
});

describe('the same promotion run twice', () => {
  // No provenance here: attestations record build times, so each build would
  // be a new digest, and a new digest is a new promotion.
  const repo = uniqueRepo('again-src');
  const target = uniqueRepo('again-dst');
  const promoteTo = `${bed.authRegistry}/${target}:1.2.3\n${bed.authRegistry}/${target}:stable`;
  let first: ActionRun;
  let second: ActionRun;
  let bAfterFirst: string[];
  beforeAll(() => {
    first = runAction(inputs(repo, { 'promote-to': promoteTo, 'registry-auth': auth() }));
    bAfterFirst = storageFingerprint('registry-b');
    second = runAction(inputs(repo, { 'promote-to': promoteTo, 'registry-auth': auth() }));
  });

  it('the second run writes nothing to B and reports the targets unchanged', () => {
    expect(first.exitCode).toBe(0);
    expect(JSON.parse(first.outputs.promoted ?? '[]')).toHaveLength(2);
    expect(second.exitCode).toBe(0);
    expect(second.outputs.digest).toBe(first.outputs.digest);
    expect(JSON.parse(second.outputs.promoted ?? '[]')).toEqual([]);
    expect(second.stdout).toContain(`${bed.authRegistry}/${target}:stable already points at ${first.outputs.digest}: unchanged`);
    expect(storageFingerprint('registry-b')).toEqual(bAfterFirst);
  });
});

describe('a gate failure promotes nothing', () => {
  it('leaves B unchanged and A untagged', async () => {
    const before = storageFingerprint('registry-b');
    const repo = uniqueRepo('gated');
    const target = uniqueRepo('gated-dst');
    const run = runAction(inputs(repo, { 'fail-on': 'high', 'promote-to': `${bed.authRegistry}/${target}:1`, 'registry-auth': auth() }));
    expect(run.exitCode).not.toBe(0);
    expect(errorLines(run).join('\n')).toContain('CVE-2099-10001');
    expect(storageFingerprint('registry-b')).toEqual(before);
    expect(await listTags(bed.registry, repo)).toEqual([]);
    expect(JSON.parse(run.outputs.promoted ?? '[]')).toEqual([]);
  });
});

describe('wrong credentials for B', () => {
  it('fails naming the registry, with nothing built, tagged or promoted anywhere', async () => {
    const beforeA = storageFingerprint('registry-a');
    const beforeB = storageFingerprint('registry-b');
    const repo = uniqueRepo('badcreds');
    const run = runAction(
      inputs(repo, { 'promote-to': `${bed.authRegistry}/${uniqueRepo('x')}:1`, 'registry-auth': auth(bed.authRegistry, 'wrong-password') }),
    );
    expect(run.exitCode).not.toBe(0);
    const message = errorLines(run).join('\n');
    expect(message).toContain(bed.authRegistry);
    expect(message).toMatch(/credentials|401/);
    expect(message).not.toContain('wrong-password');
    expect(storageFingerprint('registry-a')).toEqual(beforeA);
    expect(storageFingerprint('registry-b')).toEqual(beforeB);
  });
});

describe('transient registry failures', () => {
  const procs: ChildProcess[] = [];
  const statsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'proxy-'));

  async function proxy(
    mode: string,
    failures: number,
    retryAfter = '1',
  ): Promise<{ registry: string; stats: () => { injected: number; passed: number; times: number[] } }> {
    const port = 19000 + Math.floor(Math.random() * 900);
    const statsFile = path.join(statsDir, `${port}.json`);
    const p = spawn(
      process.execPath,
      [path.join(ROOT, 'e2e/support/flaky-proxy.mjs'), String(port), bed.registry, mode, String(failures), statsFile, retryAfter],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    procs.push(p);
    await new Promise<void>((resolve) => p.stdout?.once('data', () => resolve()));
    return {
      registry: `127.0.0.1:${port}`,
      stats: () => JSON.parse(fs.readFileSync(statsFile, 'utf8')) as { injected: number; passed: number; times: number[] },
    };
  }

  afterAll(() => {
    for (const p of procs) p.kill();
  });

  it('retries 503s with backoff and then promotes', async () => {
    const flaky = await proxy('503', 3);
    const target = uniqueRepo('retry-dst');
    const run = runAction(inputs(uniqueRepo('retry'), { platforms: 'linux/amd64', 'promote-to': `${flaky.registry}/${target}:1` }));
    expect(errorLines(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(flaky.stats().injected).toBe(3);
    expect(run.stdout).toMatch(/HTTP 503, retrying in/);
    expect((await getManifest(bed.registry, target, '1'))?.digest).toBe(run.outputs.digest);
  });

  it('honours Retry-After on 429 and, when retries run out, says it was rate-limited', async () => {
    const limited = await proxy('429-always', 0, '1');
    const run = runAction(inputs(uniqueRepo('ratelimit'), { platforms: 'linux/amd64', 'promote-to': `${limited.registry}/${uniqueRepo('rl')}:1` }));
    expect(run.exitCode).not.toBe(0);
    const message = errorLines(run).join('\n');
    expect(message).toContain(limited.registry);
    expect(message).toMatch(/rate-limited/);
    expect(message).toMatch(/log in|mirror/);
    const times = limited.stats().times;
    expect(times.length).toBe(5);
    for (let i = 1; i < times.length; i++) expect((times[i] ?? 0) - (times[i - 1] ?? 0)).toBeGreaterThanOrEqual(950);
  });
});

describe('blob economy', () => {
  it('uploads each blob once per registry and mounts it everywhere else', async () => {
    const repo = uniqueRepo('economy-src');
    const targets = [
      `${bed.authRegistry}/${uniqueRepo('eco-b1')}:1`,
      `${bed.authRegistry}/${uniqueRepo('eco-b2')}:1`,
      `${bed.registry}/${uniqueRepo('eco-a')}:1`,
    ];
    // no-cache: layers cached by earlier builds (buildkitd's cache outlives the checkout) could differ per platform.
    const run = runAction(
      inputs(repo, {
        platforms: 'linux/amd64,linux/arm64',
        scan: 'false',
        'no-cache': 'true',
        'promote-to': targets.join('\n'),
        'registry-auth': auth(),
      }),
    );
    expect(errorLines(run)).toEqual([]);
    const digests = Object.values(JSON.parse(run.outputs['platform-digests'] ?? '{}') as Record<string, string>);
    const blobs = new Set<string>();
    let references = 0;
    for (const d of digests) {
      const m = await getManifest(bed.registry, repo, d);
      for (const b of [m?.json.config, ...(m?.json.layers ?? [])]) {
        if (!b) continue;
        blobs.add(b.digest);
        references++;
      }
    }
    const stats = /blobs: (\d+) uploaded, (\d+) mounted, (\d+) already there/.exec(run.stdout);
    // The first repository in B gets every blob uploaded; the second in B and
    // the one in A (the source registry) get them mounted. A layer the two
    // platforms share is copied once per repository, not once per platform.
    const shared = references - blobs.size;
    expect(shared).toBeGreaterThan(0);
    expect(stats?.slice(1, 4).map(Number)).toEqual([blobs.size, 2 * blobs.size, 0]);
  });
});

describe('referrers', () => {
  it('are copied with the platform manifest they refer to (OCI fallback tag schema)', async () => {
    const repo = uniqueRepo('ref-src');
    const base = inputs(repo, { platforms: 'linux/amd64,linux/arm64', scan: 'false' });
    const first = runAction(base);
    expect(first.exitCode).toBe(0);
    const arm64 = (JSON.parse(first.outputs['platform-digests'] ?? '{}') as Record<string, string>)['linux/arm64'] ?? '';
    // A signature-like artifact attached to the arm64 manifest in A.
    execFileSync(
      'regctl',
      ['artifact', 'put', '--subject', `${bed.registry}/${repo}@${arm64}`, '--artifact-type', 'application/vnd.example.signature'],
      {
        input: 'signed',
      },
    );
    const fallback = arm64.replace(':', '-');
    const source = await getManifest(bed.registry, repo, fallback);
    expect(source?.json.manifests).toHaveLength(1);

    const target = uniqueRepo('ref-dst');
    const second = runAction({ ...base, 'promote-to': `${bed.authRegistry}/${target}:1`, 'registry-auth': auth() });
    expect(errorLines(second)).toEqual([]);
    expect(second.outputs.digest).toBe(first.outputs.digest);
    const copied = await getManifest(bed.authRegistry, target, fallback);
    expect(copied?.digest).toBe(source?.digest);
    const referrer = source?.json.manifests?.[0]?.digest ?? '';
    expect((await getManifest(bed.authRegistry, target, referrer))?.digest).toBe(referrer);
  });
});

describe('promotion to registries a round trip away (every request held 150 ms)', () => {
  const proxies: FaultProxy[] = [];
  const t1 = uniqueRepo('far-1');
  const t2 = uniqueRepo('far-2');
  const t3 = uniqueRepo('far-3');
  let run: ActionRun;
  let far: FaultProxy[] = [];

  /** [start, end] of each request in ms since the epoch (the proxy logs its end, relative to its own start, and its duration). */
  const spans = (p: FaultProxy, keep: (r: ProxyRecord) => boolean): [number, number][] => {
    const epoch = p.records().find((r) => r.event === 'start')?.epochMs ?? NaN;
    return p
      .requests()
      .filter(keep)
      .map((r) => [epoch + r.t * 1000 - (r.ms ?? 0), epoch + r.t * 1000]);
  };
  /** The most spans open at one instant. */
  const mostAtOnce = (s: [number, number][]): number => Math.max(0, ...s.map(([start]) => s.filter(([a, b]) => a <= start && start < b).length));

  beforeAll(async () => {
    // Two proxies in front of A are two registries to the action: each target is uploaded to, none mounted from the other.
    far = [
      await startFaultProxy({ upstream: bed.registry, rate: 0, latencyMs: 150 }),
      await startFaultProxy({ upstream: bed.registry, rate: 0, latencyMs: 150 }),
    ];
    proxies.push(...far);
    const [p1, p2] = far.map((p) => p.addr);
    run = runAction(
      inputs(uniqueRepo('far-src'), {
        platforms: 'linux/amd64',
        scan: 'false',
        'promote-to': [`${p1}/${t1}:a`, `${p1}/${t1}:b`, `${p1}/${t3}:a`, `${p2}/${t2}:a`].join('\n'),
      }),
    );
    await Promise.all(far.map((p) => p.stop()));
  });

  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.stop()));
  });

  it('promotes: every tag in every target resolves to the manifest list', async () => {
    expect(errorLines(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
    for (const [repo, tag] of [
      [t1, 'a'],
      [t1, 'b'],
      [t3, 'a'],
      [t2, 'a'],
    ] as const)
      expect((await getManifest(bed.registry, repo, tag))?.digest).toBe(run.outputs.digest);
  });

  it('copies into both targets at the same time, not one after the other', () => {
    // The content copy: blobs, uploads, referrers and manifests by digest (not the registry check, not tags).
    const isCopy = (r: ProxyRecord): boolean =>
      r.kind !== 'ping' && r.kind !== 'token' && (!(r.kind ?? '').startsWith('manifest-') || /\/manifests\/sha256:/.test(r.path ?? ''));
    const [one, two] = far.map((p) => spans(p, isCopy));
    expect(one?.length && two?.length).toBeTruthy();
    const overlap = (one ?? []).some(([a, b]) => (two ?? []).some(([c, d]) => a < d && c < b));
    expect(overlap).toBe(true);
  });

  it("writes the three repositories' tags at once, and one repository's tags one after the other", () => {
    const tagPut = (repo: string) => (r: ProxyRecord) =>
      r.kind === 'manifest-put' && (r.path ?? '').startsWith(`/v2/${repo}/manifests/`) && !/\/manifests\/sha256:/.test(r.path ?? '');
    const [p1, p2] = far as [FaultProxy, FaultProxy];
    const first = [spans(p1, tagPut(t1)), spans(p1, tagPut(t3)), spans(p2, tagPut(t2))];
    expect(first.map((s) => s.length)).toEqual([2, 1, 1]);
    expect(mostAtOnce(first.map((s) => s[0] as [number, number]))).toBe(3);
    expect(mostAtOnce(first[0] ?? [])).toBe(1);
  });
});

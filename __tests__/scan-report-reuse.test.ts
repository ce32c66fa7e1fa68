import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { Exec } from '../src/exec.js';
import { scanPlatform, type ScanOptions } from '../src/scan/scan.js';
import { reportKeys } from '../src/scan/cache-keys.js';
import { reportsDir, reuseRefusal, trivyVariables } from '../src/scan/report-cache.js';
import { layerCacheDir } from '../src/scan/layer-cache.js';
import type { ActionsCache } from '../src/util/actions-cache.js';
import type { PlatformBuild } from '../src/model.js';

const FIXTURES = path.join(process.cwd(), '__tests__', 'fixtures', 'trivy');
const DIGEST = 'sha256:d910bdeef0e86654dc9e3a561af30ceb47eb3b3393e27158af398fb7ebae9b86';
const OTHER = 'sha256:0000000000000000000000000000000000000000000000000000000000000001';

const pushed = (digest = DIGEST): PlatformBuild => ({
  platform: { os: 'linux', arch: 'arm64', id: 'linux/arm64' },
  digest,
  pushedDigest: digest,
  ref: `127.0.0.1:5000/testbed/vulnapp@${digest}`,
  seconds: 1,
  size: 1,
  emulated: false,
});

const CYCLONEDX = JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [] });

/** A trivy that writes the fixture report on `image` (or fails), counting its scans; `convert` writes an SBOM. */
function fakeTrivy(fixture = 'handmade-image-arm64.json'): { exec: Exec; scans: () => number; fail: (on: boolean) => void } {
  let scans = 0;
  let failing = false;
  const exec: Exec = async (_cmd, args) => {
    const out = args[args.indexOf('--output') + 1] as string;
    if (args[0] === 'convert') return fs.writeFile(out, CYCLONEDX).then(() => ({ exitCode: 0, stdout: '', stderr: '' }));
    scans++;
    if (failing) return { exitCode: 1, stdout: '', stderr: 'FATAL unable to pull image' };
    await fs.copyFile(path.join(FIXTURES, fixture), out);
    return { exitCode: 0, stdout: '', stderr: '' };
  };
  return { exec, scans: () => scans, fail: (on) => (failing = on) };
}

/** The platform's reports folder, beside its layer cache. */
const reports = (cacheDir: string): string => reportsDir(layerCacheDir(cacheDir, 'linux-arm64'));

/** An Actions cache that keeps each entry's paths as copies in a folder: exact key first, then the newest with a prefix. */
function dirCache(root: string): ActionsCache {
  const keys: string[] = [];
  return {
    async restore(paths, key, restoreKeys) {
      const hit = keys.includes(key) ? key : keys.filter((k) => restoreKeys.some((p) => k.startsWith(p))).pop();
      if (!hit) return undefined;
      for (const [i, p] of paths.entries()) await fs.cp(path.join(root, hit, String(i)), p, { recursive: true }).catch(() => undefined);
      return hit;
    },
    async save(paths, key) {
      for (const [i, p] of paths.entries()) await fs.cp(p, path.join(root, key, String(i)), { recursive: true }).catch(() => undefined);
      keys.push(key);
      return keys.length;
    },
  };
}

describe('trivy reports reused for an unchanged image', () => {
  let work: string;
  let trivy: string;
  let opts: ScanOptions;
  let notes: string[];

  const writeDb = (downloadedAt: string): Promise<void> =>
    fs.writeFile(
      path.join(opts.cacheDir, 'db', 'metadata.json'),
      JSON.stringify({ Version: 2, NextUpdate: '2099-01-01T00:00:00Z', UpdatedAt: '2026-12-01T00:00:00Z', DownloadedAt: downloadedAt }),
    );

  beforeEach(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'scan-reuse-'));
    trivy = path.join(work, 'trivy');
    await fs.writeFile(trivy, 'trivy v0.74.0');
    notes = [];
    opts = {
      workDir: path.join(work, 'w'),
      cacheDir: path.join(work, 'cache'),
      severity: ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'],
      scanners: ['vuln'],
      ignoreUnfixed: false,
      failOn: 'high',
      trivyignores: [],
      reports: { env: { PATH: '/usr/bin' }, cwd: path.join(work, 'ws') },
      onNote: (m) => notes.push(m),
    };
    await fs.mkdir(path.join(opts.cacheDir, 'db'), { recursive: true });
    await fs.mkdir(path.join(work, 'ws'));
    await writeDb('2026-12-07T10:00:00Z');
  });
  afterEach(async () => {
    await fs.rm(work, { recursive: true, force: true });
  });

  it('gives a second scan of the same digest the first scan report and runs no trivy', async () => {
    const t = fakeTrivy();
    const first = await scanPlatform(t.exec, trivy, opts, pushed());
    expect(first.reusedFrom).toBeUndefined();
    const second = await scanPlatform(t.exec, trivy, { ...opts, workDir: path.join(work, 'w2') }, pushed());
    expect(t.scans()).toBe(1);
    expect(second.reusedFrom).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect({ ...second, reportFile: '', reusedFrom: '' }).toEqual({ ...first, reportFile: '', reusedFrom: '' });
    await expect(fs.readFile(second.reportFile as string, 'utf8')).resolves.toBe(
      await fs.readFile(path.join(FIXTURES, 'handmade-image-arm64.json'), 'utf8'),
    );
    expect(notes).toEqual([expect.stringMatching(new RegExp(`^linux/arm64: no new scan: the report trivy wrote at .* for ${DIGEST} is reused`))]);
  });

  it.each<[string, (o: ScanOptions) => Promise<ScanOptions | PlatformBuild>]>([
    ['another digest', async () => pushed(OTHER)],
    ['another severity list', async (o) => ({ ...o, severity: ['HIGH', 'CRITICAL'] })],
    ['ignore-unfixed', async (o) => ({ ...o, ignoreUnfixed: true })],
    ['another scanner list', async (o) => ({ ...o, scanners: ['vuln', 'secret'] })],
    ['a TRIVY_ variable', async (o) => ({ ...o, reports: { env: { PATH: '/usr/bin', TRIVY_SKIP_FILES: '/x' }, cwd: path.join(work, 'ws') } })],
    [
      'a .trivyignore appearing in the working directory',
      async (o) => (await fs.writeFile(path.join(work, 'ws', '.trivyignore'), 'CVE-2099-10001\n'), o),
    ],
    [
      'a trivy-secret.yaml appearing in the working directory',
      async (o) => (await fs.writeFile(path.join(work, 'ws', 'trivy-secret.yaml'), 'rules: []\n'), o),
    ],
    ['a new DB download', async (o) => (await writeDb('2026-12-07T11:00:00Z'), o)],
    [
      'a Java DB appearing',
      async (o) => (await fs.mkdir(path.join(o.cacheDir, 'java-db')), await fs.writeFile(path.join(o.cacheDir, 'java-db', 'metadata.json'), '{}'), o),
    ],
    ['another trivy binary', async (o) => (await fs.writeFile(trivy, 'trivy v0.75.0, a longer file'), o)],
    ['an SBOM asked for (every package listed)', async (o) => ({ ...o, sbom: true })],
  ])('scans again after %s', async (_what, change) => {
    const t = fakeTrivy();
    await scanPlatform(t.exec, trivy, opts, pushed());
    const changed = await change(opts);
    const again = 'platform' in changed ? await scanPlatform(t.exec, trivy, opts, changed) : await scanPlatform(t.exec, trivy, changed, pushed());
    expect(t.scans()).toBe(2);
    expect(again.reusedFrom).toBeUndefined();
  });

  it('reuses the report whatever the registry credentials in TRIVY_ variables, and writes no hash of them', async () => {
    const t = fakeTrivy();
    const withLogin = (password: string): ScanOptions => ({
      ...opts,
      reports: { env: { PATH: '/usr/bin', TRIVY_USERNAME: 'ci', TRIVY_PASSWORD: password }, cwd: path.join(work, 'ws') },
    });
    await scanPlatform(t.exec, trivy, withLogin('first-secret'), pushed());
    const again = await scanPlatform(t.exec, trivy, withLogin('second-secret'), pushed());
    expect(t.scans()).toBe(1);
    expect(again.reusedFrom).toBeDefined();
    expect(trivyVariables({ TRIVY_PASSWORD: 'x', TRIVY_REGISTRY_TOKEN: 'y', TRIVY_USERNAME: 'u', TRIVY_SEVERITY: 'HIGH' })).toEqual({
      TRIVY_SEVERITY: 'HIGH',
    });
  });

  it('an ignore file given as an input stands for the working directory one: only its content counts', async () => {
    const ignore = path.join(work, 'given.trivyignore');
    await fs.writeFile(ignore, 'CVE-2099-10003\n');
    const t = fakeTrivy();
    const o = { ...opts, trivyignores: [ignore] };
    await scanPlatform(t.exec, trivy, o, pushed());
    await fs.writeFile(path.join(work, 'ws', '.trivyignore'), 'CVE-2099-10001\n');
    await scanPlatform(t.exec, trivy, o, pushed());
    expect(t.scans()).toBe(1);
  });

  it('scans again when the content of the ignore file changed, not its path', async () => {
    const ignore = path.join(work, '.trivyignore');
    await fs.writeFile(ignore, 'CVE-2099-10003\n');
    const t = fakeTrivy();
    const o = { ...opts, trivyignores: [ignore] };
    await scanPlatform(t.exec, trivy, o, pushed());
    await scanPlatform(t.exec, trivy, o, pushed());
    expect(t.scans()).toBe(1);
    await fs.writeFile(ignore, 'CVE-2099-10001\n');
    await scanPlatform(t.exec, trivy, o, pushed());
    expect(t.scans()).toBe(2);
  });

  it('keeps no report of a failed scan: the next run scans', async () => {
    const t = fakeTrivy();
    t.fail(true);
    await expect(scanPlatform(t.exec, trivy, opts, pushed())).rejects.toThrow(/unable to pull image/);
    t.fail(false);
    const scan = await scanPlatform(t.exec, trivy, opts, pushed());
    expect(t.scans()).toBe(2);
    expect(scan.reusedFrom).toBeUndefined();
  });

  it('keeps no report that is not a trivy report: the next run scans', async () => {
    const t = fakeTrivy('handmade-image-arm64.sarif');
    await expect(scanPlatform(t.exec, trivy, opts, pushed())).rejects.toThrow();
    await expect(fs.readdir(reports(opts.cacheDir))).rejects.toThrow();
  });

  it('scans again, and keeps the new report, when a kept report no longer parses', async () => {
    const t = fakeTrivy();
    await scanPlatform(t.exec, trivy, opts, pushed());
    const [db] = await fs.readdir(reports(opts.cacheDir));
    const dir = path.join(reports(opts.cacheDir), db as string);
    const [file] = await fs.readdir(dir);
    await fs.writeFile(path.join(dir, file as string), '{"half": ');
    const again = await scanPlatform(t.exec, trivy, opts, pushed());
    expect(t.scans()).toBe(2);
    expect(again.reusedFrom).toBeUndefined();
    expect((await scanPlatform(t.exec, trivy, opts, pushed())).reusedFrom).toBeDefined();
    expect(t.scans()).toBe(2);
  });

  it("on a runner that starts empty, a re-run gets the report back with the platform's Actions cache entry: no trivy scan", async () => {
    const store = dirCache(path.join(work, 'actions-cache'));
    const layerSync = { cache: store, info: () => undefined, warning: () => undefined };
    const t = fakeTrivy();
    const first = await scanPlatform(t.exec, trivy, { ...opts, layerSync }, pushed());
    // The next job: the same trivy and DB (restored from the DB's own entry), an empty layer cache.
    await fs.rm(path.join(opts.cacheDir, 'layers'), { recursive: true });
    const second = await scanPlatform(t.exec, trivy, { ...opts, layerSync }, pushed());
    expect(t.scans()).toBe(1);
    expect(first.reusedFrom).toBeUndefined();
    expect(second.reusedFrom).toBeDefined();
    expect(second.findings).toEqual(first.findings);
  });

  it('removes the reports of an older DB when it keeps one for a new DB', async () => {
    const t = fakeTrivy();
    await scanPlatform(t.exec, trivy, opts, pushed());
    const before = await fs.readdir(reports(opts.cacheDir));
    await writeDb('2026-12-08T10:00:00Z');
    await scanPlatform(t.exec, trivy, opts, pushed());
    const after = await fs.readdir(reports(opts.cacheDir));
    expect(before).toHaveLength(1);
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before[0]);
  });

  it('never reuses a report for a PR-mode OCI layout (no pushed digest to key it by)', async () => {
    const t = fakeTrivy();
    const layout: PlatformBuild = { ...pushed(), ref: '/w/oci/linux-arm64', ociLayout: '/w/oci/linux-arm64' };
    await scanPlatform(t.exec, trivy, opts, layout);
    await scanPlatform(t.exec, trivy, opts, layout);
    expect(t.scans()).toBe(2);
  });

  it('reuses nothing unless asked (reports unset)', async () => {
    const t = fakeTrivy();
    const without: ScanOptions = { ...opts };
    delete without.reports;
    await scanPlatform(t.exec, trivy, without, pushed());
    await scanPlatform(t.exec, trivy, without, pushed());
    expect(t.scans()).toBe(2);
  });
});

describe('reportKeys', () => {
  const base = {
    argv: ['image', '--severity', 'HIGH', 'r@sha256:1'],
    trivy: '/t 1 2',
    dbMetadata: '{"Version":2}',
    env: { TRIVY_A: '1', TRIVY_B: '2' },
    files: ['CVE-1\n', ''],
  };

  it('is the same for the same inputs whatever the order of the variables', () => {
    expect(reportKeys(base)).toEqual(reportKeys({ ...base, env: { TRIVY_B: '2', TRIVY_A: '1' } }));
    expect(reportKeys(base).key).toMatch(/^[0-9a-f]{64}$/);
    expect(reportKeys(base).db).toMatch(/^[0-9a-f]{12}$/);
  });

  it('differs when any input differs; the DB folder only with the DB', () => {
    const k = reportKeys(base);
    for (const other of [
      { ...base, argv: [...base.argv, '--ignore-unfixed'] },
      { ...base, trivy: '/t 1 3' },
      { ...base, env: { ...base.env, TRIVY_A: '3' } },
      { ...base, files: ['CVE-2\n', ''] },
      { ...base, files: ['', 'CVE-1\n'] },
    ]) {
      expect(reportKeys(other).key).not.toBe(k.key);
      expect(reportKeys(other).db).toBe(k.db);
    }
    const db = reportKeys({ ...base, dbMetadata: '{"Version":2,"DownloadedAt":"x"}' });
    expect(db.key).not.toBe(k.key);
    expect(db.db).not.toBe(k.db);
  });
});

describe('reuseRefusal', () => {
  let ws: string;
  beforeEach(async () => {
    ws = await fs.mkdtemp(path.join(os.tmpdir(), 'reuse-ws-'));
  });
  afterEach(async () => {
    await fs.rm(ws, { recursive: true, force: true });
  });

  it('allows reuse in a working directory without a trivy config file and with no policy or VEX variable', async () => {
    await fs.writeFile(path.join(ws, '.trivyignore'), 'CVE-1\n');
    await expect(reuseRefusal(ws, { TRIVY_SEVERITY: 'HIGH' }, ['vuln', 'secret', 'license'])).resolves.toBeUndefined();
  });

  it.each<[string, (ws: string) => Promise<Record<string, string>>, RegExp]>([
    ['trivy.yaml in the working directory', async (w) => (await fs.writeFile(path.join(w, 'trivy.yaml'), 'severity: [HIGH]\n'), {}), /trivy\.yaml/],
    [
      'a config file named by TRIVY_CONFIG',
      async (w) => (await fs.writeFile(path.join(w, 'ci-trivy.yaml'), 'vex: [repo]\n'), { TRIVY_CONFIG: 'ci-trivy.yaml' }),
      /ci-trivy\.yaml/,
    ],
    ['TRIVY_IGNORE_POLICY', async () => ({ TRIVY_IGNORE_POLICY: 'policy.rego' }), /TRIVY_IGNORE_POLICY is set/],
    ['TRIVY_VEX', async () => ({ TRIVY_VEX: 'repo' }), /TRIVY_VEX is set/],
  ])('refuses reuse with %s, saying why', async (_what, arrange, why) => {
    const env = await arrange(ws);
    await expect(reuseRefusal(ws, env, ['vuln'])).resolves.toMatch(why);
  });

  it('refuses reuse with the misconfig scanner (trivy updates its checks bundle on its own)', async () => {
    await expect(reuseRefusal(ws, {}, ['vuln', 'misconfig'])).resolves.toMatch(/misconfig scanner uses a checks bundle/);
  });
});

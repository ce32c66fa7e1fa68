// scanPlatform against the real trivy binary and a real vulnerability DB, on an
// OCI layout built here. Skipped unless both are given:
//   TRIVY_BIN=/path/to/trivy TRIVY_CACHE_DIR=/dir/with/db/trivy.db npm run test:unit -- __tests__/scan-real
// (the test bed builds the binary and the DB from testbed/fixtures/vuln-db.yaml).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execCommand } from '../src/exec.js';
import { scanPlatform, type ScanOptions } from '../src/scan/scan.js';
import type { PlatformBuild } from '../src/model.js';

const TRIVY = process.env.TRIVY_BIN ?? '';
const CACHE = process.env.TRIVY_CACHE_DIR ?? '';
const run = TRIVY && CACHE ? describe : describe.skip;

const APK = (busybox: string): string =>
  ['busybox 1.36.1-r2', 'ssl_client 1.36.1-r2', 'zlib 1.3.1-r0']
    .map((s) => s.split(' ') as [string, string])
    .map(([name, version]) => (name === 'busybox' ? [name, busybox] : [name, version]))
    .map(([name, version]) => `P:${name}\nV:${version}\no:${name}\nA:armv7\nL:GPL-2.0-only\nm:testbed\n`)
    .join('\n');

async function blob(dir: string, data: Buffer): Promise<{ digest: string; size: number }> {
  const hex = createHash('sha256').update(data).digest('hex');
  await fs.writeFile(path.join(dir, 'blobs', 'sha256', hex), data);
  return { digest: `sha256:${hex}`, size: data.length };
}

/** An OCI layout holding one linux/arm/v7 image whose package DB trivy reads as Alpine 3.20. */
async function ociLayout(root: string, busybox: string): Promise<string> {
  const fsRoot = path.join(root, 'rootfs');
  await fs.mkdir(path.join(fsRoot, 'etc'), { recursive: true });
  await fs.mkdir(path.join(fsRoot, 'lib', 'apk', 'db'), { recursive: true });
  await fs.writeFile(path.join(fsRoot, 'etc', 'alpine-release'), '3.20.3\n');
  await fs.writeFile(path.join(fsRoot, 'lib', 'apk', 'db', 'installed'), APK(busybox));
  const tar = path.join(root, 'layer.tar');
  await execCommand('tar', ['-cf', tar, '-C', fsRoot, 'etc', 'lib'], { silent: true });
  const raw = await fs.readFile(tar);
  const layout = path.join(root, 'oci');
  await fs.mkdir(path.join(layout, 'blobs', 'sha256'), { recursive: true });
  const layer = await blob(layout, gzipSync(raw));
  const diffId = `sha256:${createHash('sha256').update(raw).digest('hex')}`;
  const config = await blob(
    layout,
    Buffer.from(JSON.stringify({ architecture: 'arm', variant: 'v7', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] }, config: {} })),
  );
  const manifest = await blob(
    layout,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
      }),
    ),
  );
  await fs.writeFile(
    path.join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
      ],
    }),
  );
  await fs.writeFile(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  return layout;
}

run('scanPlatform with the real trivy', () => {
  let work: string;
  let build: PlatformBuild;
  let opts: ScanOptions;

  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'scan-real-'));
    const layout = await ociLayout(work, '1.36.1-r2');
    build = {
      platform: { os: 'linux', arch: 'arm', variant: 'v7', id: 'linux/arm/v7' },
      digest: 'sha256:unused',
      pushedDigest: 'sha256:unused',
      ref: layout,
      ociLayout: layout,
      seconds: 0,
      size: 0,
      emulated: false,
    };
    opts = {
      workDir: path.join(work, 'w'),
      cacheDir: CACHE,
      severity: ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'],
      scanners: ['vuln'],
      ignoreUnfixed: false,
      failOn: 'high',
      trivyignores: [],
    };
  });
  afterAll(async () => {
    await fs.rm(work, { recursive: true, force: true });
  });

  it('fails the gate on the HIGH busybox finding and writes SARIF with the platform category', async () => {
    const scan = await scanPlatform(execCommand, TRIVY, { ...opts, sarifDir: path.join(work, 'sarif') }, build);
    expect(scan.passed).toBe(false);
    expect(scan.counts).toEqual({ UNKNOWN: 0, LOW: 1, MEDIUM: 1, HIGH: 1, CRITICAL: 0 });
    expect(scan.findings.map((f) => `${f.id} ${f.package} ${f.installedVersion} -> ${f.fixedVersion}`)).toEqual([
      'CVE-2099-10001 busybox 1.36.1-r2 -> 1.36.1-r29',
    ]);
    const sarif = JSON.parse(await fs.readFile(scan.sarifFile as string, 'utf8')) as { runs: { automationDetails: { id: string } }[] };
    expect(sarif.runs[0]?.automationDetails.id).toBe('trivy/linux-arm-v7/');
  }, 120_000);

  it('honours merged trivyignores and ignore-unfixed', async () => {
    const a = path.join(work, 'a.trivyignore');
    const b = path.join(work, 'b.trivyignore');
    await fs.writeFile(a, 'CVE-2099-10001');
    await fs.writeFile(b, '# medium accepted\nCVE-2099-10002\n');
    const scan = await scanPlatform(execCommand, TRIVY, { ...opts, failOn: 'low', ignoreUnfixed: true, trivyignores: [a, b] }, build);
    expect(scan.counts).toEqual({ UNKNOWN: 0, LOW: 0, MEDIUM: 0, HIGH: 0, CRITICAL: 0 });
    expect(scan.passed).toBe(true);
  }, 120_000);
});

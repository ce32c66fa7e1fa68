import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { execCommand, type Exec, type ExecOptions } from '../src/exec.js';
import { javaDbOnDemand } from '../src/scan/javadb.js';
import { prepareIgnoreFile, scanPlatform, type ScanOptions } from '../src/scan/scan.js';
import type { PlatformBuild } from '../src/model.js';

const FIXTURES = path.join(process.cwd(), '__tests__', 'fixtures', 'trivy');
const DIGEST_ARM64 = 'sha256:d910bdeef0e86654dc9e3a561af30ceb47eb3b3393e27158af398fb7ebae9b86';

const pushed = (id: string, arch: string, variant?: string): PlatformBuild => ({
  platform: variant ? { os: 'linux', arch, variant, id } : { os: 'linux', arch, id },
  digest: DIGEST_ARM64,
  pushedDigest: DIGEST_ARM64,
  ref: `127.0.0.1:5000/testbed/vulnapp@${DIGEST_ARM64}`,
  seconds: 1,
  size: 1,
  emulated: false,
});

// trivy v0.74.0's last line when a scan meets JAR files with --skip-java-db-update and no Java DB.
const JAVA_DB_REFUSAL =
  "FATAL\tFatal error\trun error: image scan error: scan error: scan failed: failed analysis: post analysis error: post analysis error: Unable to initialize the Java DB: Java DB update failed: '--skip-java-db-update' cannot be specified on the first run";

const CYCLONEDX = {
  bomFormat: 'CycloneDX',
  specVersion: '1.6',
  components: [{ name: 'busybox', version: '1.36.1-r2', purl: 'pkg:apk/alpine/busybox@1.36.1-r2' }],
  vulnerabilities: [{ id: 'CVE-2099-10001' }],
};

interface Call {
  args: readonly string[];
  options?: ExecOptions;
}

/**
 * Behaves like trivy at the file level: `image` writes the given fixture to
 * --output; `convert` reads the report it is given (failing like trivy when
 * it is missing) and writes the SARIF fixture to --output.
 */
function fakeTrivy(o: { report?: string; exitCode?: number; stderr?: string; convertExit?: number; javaDb?: { present: boolean } } = {}): {
  exec: Exec;
  calls: Call[];
} {
  const calls: Call[] = [];
  const exec: Exec = async (_cmd, args, options) => {
    calls.push({ args, options });
    const out = args[args.indexOf('--output') + 1] as string;
    if (args[0] === 'image') {
      if (o.exitCode) return { exitCode: o.exitCode, stdout: '', stderr: o.stderr ?? '' };
      if (o.javaDb && !o.javaDb.present) return { exitCode: 1, stdout: '', stderr: JAVA_DB_REFUSAL };
      if (o.report) await fs.copyFile(path.join(FIXTURES, o.report), out);
      return { exitCode: 0, stdout: '', stderr: '' };
    }
    if (o.convertExit) return { exitCode: o.convertExit, stdout: '', stderr: 'FATAL json decode error' };
    await fs.readFile(args[args.length - 1] as string);
    if (args.includes('cyclonedx')) {
      await fs.writeFile(out, JSON.stringify(CYCLONEDX));
      return { exitCode: 0, stdout: '', stderr: '' };
    }
    await fs.copyFile(path.join(FIXTURES, 'handmade-image-arm64.sarif'), out);
    return { exitCode: 0, stdout: '', stderr: '' };
  };
  return { exec, calls };
}

describe('scanPlatform', () => {
  let work: string;
  let opts: ScanOptions;

  beforeEach(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'scan-scan-'));
    opts = {
      workDir: path.join(work, 'w'),
      cacheDir: path.join(work, 'cache'),
      severity: ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'],
      scanners: ['vuln'],
      ignoreUnfixed: false,
      failOn: 'high',
      trivyignores: [],
    };
  });
  afterEach(async () => {
    await fs.rm(work, { recursive: true, force: true });
  });

  it('fails the gate for the pushed arm64 image from its JSON report, by digest', async () => {
    const t = fakeTrivy({ report: 'handmade-image-arm64.json' });
    const scan = await scanPlatform(t.exec, '/opt/trivy', opts, pushed('linux/arm64', 'arm64'));
    expect(scan).toEqual({
      platform: 'linux/arm64',
      counts: { UNKNOWN: 0, LOW: 1, MEDIUM: 1, HIGH: 1, CRITICAL: 0 },
      passed: false,
      findings: [
        expect.objectContaining({
          id: 'CVE-2099-10001',
          package: 'busybox',
          installedVersion: '1.36.1-r2',
          fixedVersion: '1.36.1-r29',
          severity: 'HIGH',
          blocking: true,
        }),
        expect.objectContaining({ id: 'CVE-2099-10002', severity: 'MEDIUM', blocking: false }),
        expect.objectContaining({ id: 'CVE-2099-10003', severity: 'LOW', blocking: false }),
      ],
      reportFile: path.join(opts.workDir, 'trivy-linux-arm64.json'),
    });
    await expect(fs.readFile(scan.reportFile as string, 'utf8')).resolves.toBe(
      await fs.readFile(path.join(FIXTURES, 'handmade-image-arm64.json'), 'utf8'),
    );
    const argv = t.calls[0]?.args ?? [];
    expect(argv.slice(0, 5)).toEqual(['image', '--image-src', 'remote', '--platform', 'linux/arm64']);
    expect(argv[argv.length - 1]).toBe(`127.0.0.1:5000/testbed/vulnapp@${DIGEST_ARM64}`);
  });

  it('scans a PR-mode OCI layout with --input and passes the arm/v7 gate', async () => {
    const t = fakeTrivy({ report: 'handmade-oci-layout-arm-v7.json' });
    const build: PlatformBuild = { ...pushed('linux/arm/v7', 'arm', 'v7'), ref: '/w/oci/linux-arm-v7', ociLayout: '/w/oci/linux-arm-v7' };
    const scan = await scanPlatform(t.exec, 'trivy', opts, build);
    expect(scan.passed).toBe(true);
    expect(scan.findings.map((f) => [f.id, f.blocking])).toEqual([
      ['CVE-2099-10002', false],
      ['CVE-2099-10003', false],
    ]);
    expect(scan.counts).toEqual({ UNKNOWN: 0, LOW: 1, MEDIUM: 1, HIGH: 0, CRITICAL: 0 });
    expect(scan.reportFile).toBe(path.join(opts.workDir, 'trivy-linux-arm-v7.json'));
    const argv = t.calls[0]?.args ?? [];
    expect(argv.slice(0, 3)).toEqual(['image', '--input', '/w/oci/linux-arm-v7']);
    expect(argv).not.toContain('--platform');
  });

  it('fetches the Java DB once when trivy refuses a scan for want of it, and scans again with it', async () => {
    const javaDbState = { present: false };
    const t = fakeTrivy({ report: 'handmade-image-arm64.json', javaDb: javaDbState });
    let fetches = 0;
    const told: string[] = [];
    const javaDb = javaDbOnDemand(async () => {
      fetches++;
      javaDbState.present = true;
    });
    const scan = await scanPlatform(t.exec, 'trivy', { ...opts, javaDb, onJavaDb: (m) => told.push(m) }, pushed('linux/arm64', 'arm64'));
    expect(scan.passed).toBe(false);
    expect(fetches).toBe(1);
    expect(t.calls.map((c) => c.args[0])).toEqual(['image', 'image']);
    expect(t.calls[1]?.args).toContain('--skip-java-db-update');
    expect(told).toEqual(['linux/arm64: the image has Java archives, so trivy needs its Java DB; scanning again with it']);
    // A later scan waits for the Java DB already fetched and is not refused first.
    await scanPlatform(t.exec, 'trivy', { ...opts, javaDb }, pushed('linux/amd64', 'amd64'));
    expect(fetches).toBe(1);
    expect(t.calls).toHaveLength(3);
  });

  it('does not fetch the Java DB for any other failure', async () => {
    const t = fakeTrivy({ exitCode: 1, stderr: 'FATAL unable to pull image' });
    let fetches = 0;
    const javaDb = javaDbOnDemand(async () => {
      fetches++;
    });
    await expect(scanPlatform(t.exec, 'trivy', { ...opts, javaDb }, pushed('linux/arm64', 'arm64'))).rejects.toThrow(/FATAL unable to pull image/);
    expect(fetches).toBe(0);
  });

  it('a Java DB that cannot be fetched fails the scan with the download error', async () => {
    const t = fakeTrivy({ report: 'handmade-image-arm64.json', javaDb: { present: false } });
    const javaDb = javaDbOnDemand(() => Promise.reject(new Error("could not get trivy's Java DB from m/java-db:1: exit 1")));
    await expect(scanPlatform(t.exec, 'trivy', { ...opts, javaDb }, pushed('linux/arm64', 'arm64'))).rejects.toThrow(
      "could not get trivy's Java DB from m/java-db:1",
    );
  });

  it('with sbom, lists every package in the scan and converts that same report to CycloneDX, without its vulnerabilities', async () => {
    const t = fakeTrivy({ report: 'handmade-image-arm64.json' });
    const scan = await scanPlatform(t.exec, 'trivy', { ...opts, sbom: true }, pushed('linux/arm64', 'arm64'));
    expect(t.calls[0]?.args).toContain('--list-all-pkgs');
    expect(t.calls[1]?.args).toEqual(['convert', '--format', 'cyclonedx', '--output', scan.sbomFile, scan.reportFile]);
    expect(scan.sbomFile).toBe(path.join(opts.workDir, 'sbom-linux-arm64.cdx.json'));
    const sbom = JSON.parse(await fs.readFile(scan.sbomFile as string, 'utf8')) as Record<string, unknown>;
    expect(sbom.components).toEqual(CYCLONEDX.components);
    expect(sbom).not.toHaveProperty('vulnerabilities');
  });

  it('without sbom, does not ask for every package nor convert', async () => {
    const t = fakeTrivy({ report: 'handmade-image-arm64.json' });
    const scan = await scanPlatform(t.exec, 'trivy', opts, pushed('linux/arm64', 'arm64'));
    expect(t.calls[0]?.args).not.toContain('--list-all-pkgs');
    expect(t.calls).toHaveLength(1);
    expect(scan.sbomFile).toBeUndefined();
  });

  it('writes SARIF converted from the same report, with the platform category', async () => {
    const t = fakeTrivy({ report: 'handmade-image-arm64.json' });
    const sarifDir = path.join(work, 'sarif');
    const scan = await scanPlatform(t.exec, 'trivy', { ...opts, sarifDir }, pushed('linux/arm64', 'arm64'));
    expect(scan.sarifFile).toBe(path.join(sarifDir, 'trivy-linux-arm64.sarif'));
    const sarif = JSON.parse(await fs.readFile(scan.sarifFile as string, 'utf8')) as {
      runs: { automationDetails: { id: string }; results: unknown[] }[];
    };
    expect(sarif.runs.map((r) => r.automationDetails.id)).toEqual(['trivy/linux-arm64/']);
    expect(sarif.runs[0]?.results).toHaveLength(3);
    expect(t.calls[1]?.args).toEqual(['convert', '--format', 'sarif', '--output', scan.sarifFile, scan.reportFile]);
    // SARIF does not change the gate.
    expect(scan.passed).toBe(false);
  });

  it('throws naming the platform when trivy exits non-zero', async () => {
    const t = fakeTrivy({ exitCode: 1, stderr: 'INFO ...\nFATAL Fatal error run error: image scan error: unable to find the specified image' });
    await expect(scanPlatform(t.exec, 'trivy', opts, pushed('linux/arm64', 'arm64'))).rejects.toThrow(
      'trivy scan of linux/arm64 failed with exit code 1:\nINFO ...\nFATAL Fatal error run error: image scan error: unable to find the specified image',
    );
  });

  it('never reads a report left by an earlier scan when trivy writes none', async () => {
    await fs.mkdir(opts.workDir, { recursive: true });
    await fs.copyFile(path.join(FIXTURES, 'handmade-image-clean.json'), path.join(opts.workDir, 'trivy-linux-arm64.json'));
    const t = fakeTrivy({});
    await expect(scanPlatform(t.exec, 'trivy', opts, pushed('linux/arm64', 'arm64'))).rejects.toThrow(
      `trivy scan of linux/arm64 exited 0 but wrote no report to ${path.join(opts.workDir, 'trivy-linux-arm64.json')}`,
    );
  });

  it('throws naming the report file when the report is malformed', async () => {
    const bad = path.join(work, 'bad.json');
    await fs.writeFile(bad, '{"SchemaVersion":1}');
    const exec: Exec = async (_c, args) => {
      await fs.copyFile(bad, args[args.indexOf('--output') + 1] as string);
      return { exitCode: 0, stdout: '', stderr: '' };
    };
    await expect(scanPlatform(exec, 'trivy', opts, pushed('linux/arm64', 'arm64'))).rejects.toThrow(
      /malformed trivy report \(.*trivy-linux-arm64\.json\): SchemaVersion is 1/,
    );
  });

  it('throws naming the platform when the SARIF conversion fails', async () => {
    const t = fakeTrivy({ report: 'handmade-image-arm64.json', convertExit: 1 });
    await expect(scanPlatform(t.exec, 'trivy', { ...opts, sarifDir: path.join(work, 's') }, pushed('linux/arm64', 'arm64'))).rejects.toThrow(
      'trivy SARIF conversion of linux/arm64 failed with exit code 1:\nFATAL json decode error',
    );
  });

  it('refuses a pushed build whose ref is not pinned to its digest', async () => {
    const t = fakeTrivy({ report: 'handmade-image-arm64.json' });
    const build = { ...pushed('linux/arm64', 'arm64'), ref: '127.0.0.1:5000/testbed/vulnapp:latest' };
    await expect(scanPlatform(t.exec, 'trivy', opts, build)).rejects.toThrow(
      /refusing to scan linux\/arm64: .*:latest is not pinned to its image-manifest digest/,
    );
    expect(t.calls).toEqual([]);
  });

  it('merges several trivyignores into one --ignorefile in the work dir', async () => {
    const a = path.join(work, 'a.trivyignore');
    const b = path.join(work, 'b.trivyignore');
    await fs.writeFile(a, 'CVE-2099-10001');
    await fs.writeFile(b, '# unfixed\nCVE-2099-10003\n');
    const t = fakeTrivy({ report: 'handmade-image-amd64.json' });
    await scanPlatform(t.exec, 'trivy', { ...opts, trivyignores: [a, b] }, pushed('linux/amd64', 'amd64'));
    const argv = t.calls[0]?.args ?? [];
    const merged = argv[argv.indexOf('--ignorefile') + 1] as string;
    expect(merged).toBe(path.join(opts.workDir, 'trivyignore-linux-amd64'));
    await expect(fs.readFile(merged, 'utf8')).resolves.toBe('CVE-2099-10001\n# unfixed\nCVE-2099-10003\n');
  });

  it('passes the environment (e.g. DOCKER_CONFIG) to trivy through the real exec seam', async () => {
    const fake = path.join(work, 'trivy');
    const report = path.join(FIXTURES, 'handmade-image-amd64.json');
    await fs.writeFile(
      fake,
      `#!/bin/sh\nout=""\nwhile [ $# -gt 0 ]; do\n  if [ "$1" = "--output" ]; then out="$2"; shift; fi\n  shift\ndone\ncp '${report}' "$out"\nprintf '%s' "$DOCKER_CONFIG" > "$out.docker-config"\n`,
      { mode: 0o755 },
    );
    const scan = await scanPlatform(
      execCommand,
      fake,
      { ...opts, env: { DOCKER_CONFIG: '/run/multiarch/docker-config' }, onLine: () => undefined },
      pushed('linux/amd64', 'amd64'),
    );
    expect(scan.passed).toBe(true);
    await expect(fs.readFile(`${scan.reportFile}.docker-config`, 'utf8')).resolves.toBe('/run/multiarch/docker-config');
  });

  it('turns a real non-zero trivy exit into an error naming the platform', async () => {
    const fake = path.join(work, 'trivy');
    await fs.writeFile(fake, '#!/bin/sh\necho "FATAL Fatal error: --skip-db-update cannot be specified on the first run" >&2\nexit 1\n', {
      mode: 0o755,
    });
    await expect(scanPlatform(execCommand, fake, { ...opts, onLine: () => undefined }, pushed('linux/arm/v7', 'arm', 'v7'))).rejects.toThrow(
      'trivy scan of linux/arm/v7 failed with exit code 1:\nFATAL Fatal error: --skip-db-update cannot be specified on the first run',
    );
  });
});

describe('prepareIgnoreFile', () => {
  let work: string;
  beforeEach(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'scan-ignore-'));
  });
  afterEach(async () => {
    await fs.rm(work, { recursive: true, force: true });
  });

  it('uses a single file as it is and writes nothing', async () => {
    const one = path.join(work, '.trivyignore.yaml');
    await fs.writeFile(one, 'vulnerabilities:\n  - id: CVE-1\n');
    expect(await prepareIgnoreFile([one], path.join(work, 'merged'))).toBe(one);
    await expect(fs.stat(path.join(work, 'merged'))).rejects.toThrow();
  });

  it('returns undefined for no files', async () => {
    expect(await prepareIgnoreFile([], path.join(work, 'merged'))).toBeUndefined();
  });

  it('refuses a listed file that does not exist, naming it', async () => {
    const missing = path.join(work, 'nope');
    await expect(prepareIgnoreFile([missing], path.join(work, 'merged'))).rejects.toThrow(`trivyignores: ${missing} does not exist`);
  });
});

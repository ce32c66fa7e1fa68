// Every platform scanned by digest with real trivy and the test bed's DB, the
// gate before any tag, SARIF per platform, one DB download per run, and trivy
// installed from a mirror with its checksum verified.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errorLines, runAction, type ActionRun } from './harness.js';
import { serveDirectory, type StaticServer } from './support/http.js';
import { actionInputs, bed, getManifest, listTags, registryLog, uniqueRepo } from './testbed.js';

interface ScanResults {
  [platform: string]: {
    counts: Record<string, number>;
    passed: boolean;
    blocking: number;
    findings: { id: string; package: string; installedVersion: string; fixedVersion: string; severity: string; blocking: boolean }[];
    omitted: number;
    report: string;
    reusedFrom?: string;
  };
}

const inputs = actionInputs;

/** GETs of the DB layer blob in registry A's access log. */
function dbBlobFetches(): number {
  return registryLog('registry-a').filter((l) => /"GET \/v2\/aquasecurity\/trivy-db\/blobs\/sha256:[a-f0-9]+ HTTP/.test(l)).length;
}

describe('a vulnerability on arm64 only, gate at its severity (high)', () => {
  const repo = uniqueRepo('gate-high');
  let run: ActionRun;
  beforeAll(() => {
    run = runAction(inputs(repo, { 'fail-on': 'high' }));
  });

  it('fails naming linux/arm64 and the CVE, with counts and installed -> fixed', () => {
    expect(run.exitCode).not.toBe(0);
    const message = errorLines(run).join('\n');
    expect(message).toContain('linux/arm64');
    expect(message).toContain('CVE-2099-10001');
    expect(message).toMatch(/busybox 1\.36\.1-r2 -> 1\.36\.1-r29/);
    expect(message).not.toMatch(/linux\/amd64.*fail/i);
  });

  it('leaves no tag in the registry', async () => {
    expect(await listTags(bed.registry, repo)).toEqual([]);
    expect(run.outputs.digest).toBeUndefined();
  });

  it('still reports every platform in scan-results and the summary', () => {
    const results = JSON.parse(run.outputs['scan-results'] ?? '{}') as ScanResults;
    expect(results['linux/arm64']?.passed).toBe(false);
    expect(results['linux/amd64']?.passed).toBe(true);
    expect(run.summary).toMatch(/`linux\/arm64`.*\*\*fail\*\*/);
  });
});

describe('the same build with fail-on: critical', () => {
  const repo = uniqueRepo('gate-critical');
  const sarifDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sarif-'));
  let run: ActionRun;
  let fetchesBefore = 0;
  beforeAll(() => {
    fetchesBefore = dbBlobFetches();
    run = runAction(inputs(repo, { 'fail-on': 'critical', sarif: sarifDir }));
  });

  it('passes and tags the manifest list', async () => {
    expect(errorLines(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(await listTags(bed.registry, repo)).toEqual(['1.0.0']);
  });

  it('scan-results shows the HIGH finding on arm64 and none on amd64 or arm/v7', () => {
    const results = JSON.parse(run.outputs['scan-results'] ?? '{}') as ScanResults;
    expect(results['linux/arm64']?.counts.HIGH).toBe(1);
    expect(results['linux/amd64']?.counts.HIGH).toBe(0);
    expect(results['linux/arm/v7']?.counts.HIGH).toBe(0);
    for (const p of ['linux/amd64', 'linux/arm64', 'linux/arm/v7']) {
      expect(results[p]?.counts.MEDIUM).toBe(1);
      expect(results[p]?.passed).toBe(true);
    }
  });

  it('still lists the HIGH finding, with blocking false, and names the JSON report of each platform in reports', () => {
    const results = JSON.parse(run.outputs['scan-results'] ?? '{}') as ScanResults;
    const arm64 = results['linux/arm64'];
    expect(arm64?.blocking).toBe(0);
    expect(arm64?.omitted).toBe(0);
    expect(arm64?.findings).toContainEqual(
      expect.objectContaining({ id: 'CVE-2099-10001', package: 'busybox', severity: 'HIGH', installedVersion: '1.36.1-r2', blocking: false }),
    );
    expect(arm64?.findings.every((f) => !f.blocking)).toBe(true);
    const reports = JSON.parse(run.outputs.reports ?? '{}') as Record<string, { json: string; sarif?: string }>;
    for (const p of ['linux/amd64', 'linux/arm64', 'linux/arm/v7']) {
      expect(reports[p]?.json).toBe(results[p]?.report);
      expect(reports[p]?.sarif).toMatch(/\.sarif$/);
    }
    expect(run.summary).toMatch(/Findings that do not block \(fail-on critical\): linux\/amd64 2, linux\/arm64 3, linux\/arm\/v7 2/);
  });

  it('writes one valid SARIF file per platform with its own category and the findings inside', () => {
    const files = JSON.parse(run.outputs['sarif-files'] ?? '[]') as string[];
    expect(files).toHaveLength(3);
    const categories = new Set<string>();
    for (const f of files) {
      const sarif = JSON.parse(fs.readFileSync(f, 'utf8')) as {
        version: string;
        runs: { automationDetails?: { id?: string }; results: { ruleId: string }[] }[];
      };
      expect(sarif.version).toBe('2.1.0');
      const runEntry = sarif.runs[0];
      categories.add(runEntry?.automationDetails?.id ?? '');
      const rules = (runEntry?.results ?? []).map((r) => r.ruleId);
      expect(rules).toContain('CVE-2099-10002');
      if (f.includes('linux-arm64')) expect(rules).toContain('CVE-2099-10001');
      else expect(rules).not.toContain('CVE-2099-10001');
    }
    expect([...categories].sort()).toEqual(['trivy/linux-amd64/', 'trivy/linux-arm-v7/', 'trivy/linux-arm64/']);
  });

  it('fetched the DB from the registry once for three platform scans', () => {
    expect(dbBlobFetches() - fetchesBefore).toBe(1);
  });
});

describe('trivy installed from a mirror', () => {
  const version = '0.74.0';
  const archive = `trivy_${version}_Linux-64bit.tar.gz`;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mirror-'));
  const good = path.join(root, 'good');
  const bad = path.join(root, 'bad');
  let mirror: StaticServer;
  // PATH without the test bed's tools dir, so the action finds no trivy.
  const pathWithoutTrivy = (process.env.PATH ?? '')
    .split(':')
    .filter((d) => !fs.existsSync(path.join(d, 'trivy')))
    .join(':');

  beforeAll(async () => {
    const trivy = execFileSync('sh', ['-c', 'command -v trivy'], { encoding: 'utf8' }).trim();
    const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'trivy-stage-'));
    fs.copyFileSync(fs.realpathSync(trivy), path.join(stage, 'trivy'));
    fs.chmodSync(path.join(stage, 'trivy'), 0o755);
    for (const dir of [good, bad]) fs.mkdirSync(path.join(dir, `v${version}`), { recursive: true });
    const goodArchive = path.join(good, `v${version}`, archive);
    execFileSync('tar', ['-czf', goodArchive, '-C', stage, 'trivy']);
    const sum = createHash('sha256').update(fs.readFileSync(goodArchive)).digest('hex');
    const checksums = `${sum}  ${archive}\n${'0'.repeat(64)}  trivy_${version}_Linux-ARM64.tar.gz\n`;
    fs.writeFileSync(path.join(good, `v${version}`, `trivy_${version}_checksums.txt`), checksums);
    // The tampered mirror: same checksums file, an archive with one byte more.
    fs.writeFileSync(path.join(bad, `v${version}`, archive), Buffer.concat([fs.readFileSync(goodArchive), Buffer.from([0])]));
    fs.writeFileSync(path.join(bad, `v${version}`, `trivy_${version}_checksums.txt`), checksums);
    mirror = await serveDirectory(root);
  });

  afterAll(() => {
    mirror?.stop();
  });

  it("downloads, verifies and uses the mirror's trivy when none is on PATH", () => {
    const run = runAction(inputs(uniqueRepo('mirror'), { platforms: 'linux/amd64', 'trivy-base-url': `${mirror.url}/good` }), {
      env: { PATH: pathWithoutTrivy },
    });
    expect(errorLines(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/checksum|sha256/i);
    const results = JSON.parse(run.outputs['scan-results'] ?? '{}') as ScanResults;
    expect(results['linux/amd64']?.counts.MEDIUM).toBe(1);
  });

  it('refuses a tampered archive before anything is tagged', async () => {
    const repo = uniqueRepo('tampered');
    const run = runAction(inputs(repo, { platforms: 'linux/amd64', 'trivy-base-url': `${mirror.url}/bad` }), {
      env: { PATH: pathWithoutTrivy },
    });
    expect(run.exitCode).not.toBe(0);
    expect(errorLines(run).join('\n')).toMatch(
      new RegExp(`${archive.replace(/\./g, '\\.')}.*(checksum|SHA256)|(checksum|SHA256).*${archive.replace(/\./g, '\\.')}`, 'i'),
    );
    expect(await listTags(bed.registry, repo)).toEqual([]);
  });
});

describe('the vulnerability DB mirror list', () => {
  it('falls back from a missing mirror to the next and says which one served, in the log and the summary', () => {
    const run = runAction(
      inputs(uniqueRepo('db-mirror'), { platforms: 'linux/amd64', 'trivy-db-repository': `${bed.registry}/no/such-db:2\n${bed.trivyDbRepository}` }),
    );
    expect(errorLines(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/no\/such-db:2 did not serve trivy's vulnerability DB .*; trying/);
    expect(run.stdout).toContain(`trivy's vulnerability DB served by ${bed.trivyDbRepository}`);
    expect(run.summary).toContain(`trivy vulnerability DB from \`${bed.trivyDbRepository}\``);
  });
});

describe('trivy failing to get its DB', () => {
  it('is an error that says so, never a silent pass', async () => {
    const repo = uniqueRepo('nodb');
    const run = runAction(inputs(repo, { platforms: 'linux/amd64', 'trivy-db-repository': `${bed.registry}/no/such-db` }));
    expect(run.exitCode).not.toBe(0);
    expect(errorLines(run).join('\n')).toMatch(/vulnerability DB.*no\/such-db|no\/such-db.*vulnerability DB/i);
    expect(await listTags(bed.registry, repo)).toEqual([]);
  });
});

describe("trivy's layer cache, kept between runs per platform", () => {
  const repo = uniqueRepo('layer-cache');
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trivy-cache-'));
  let context: string;
  // Each run changes the image's own file, so its digest is new (an unchanged image's report is
  // reused without a scan) while its Debian layer stays the one the first run scanned.
  const run = (): ActionRun => {
    fs.writeFileSync(path.join(context, 'hello.txt'), `hello ${Date.now()}\n`);
    return runAction(inputs(repo, { context, 'trivy-cache-dir': cacheDir, 'fail-on': 'critical', tags: `${Date.now()}` }));
  };
  let first: ActionRun;
  let second: ActionRun;
  let layerGets: number[];
  /** scan-results without the report paths (each run has its own temp dir). */
  const verdicts = (r: ActionRun): ScanResults =>
    Object.fromEntries(Object.entries(JSON.parse(r.outputs['scan-results'] ?? '{}') as ScanResults).map(([p, v]) => [p, { ...v, report: '' }]));

  /** GETs of the run's Debian layer blobs (one per platform) in registry A's access log. */
  async function debianLayerGets(digests: Record<string, string>): Promise<number> {
    const layers = await Promise.all(
      Object.values(digests).map(async (d) => (await getManifest(bed.registry, repo, d))?.json.layers?.[0]?.digest ?? ''),
    );
    return registryLog('registry-a').filter((l) => layers.some((layer) => l.includes(`"GET /v2/${repo}/blobs/${layer} HTTP`))).length;
  }

  /** Requests for trivy's DB repository in registry A's access log so far. */
  const dbRequests = (): number => {
    const repoPath = bed.trivyDbRepository.replace(/^[^/]+\//, '').replace(/:[^/]*$/, '');
    return registryLog('registry-a').filter((l) => l.includes(`/v2/${repoPath}/`)).length;
  };
  let dbAsked: number[];

  beforeAll(async () => {
    // The real Debian base and one small file: no RUN step, so nothing is emulated.
    context = fs.mkdtempSync(path.join(os.tmpdir(), 'debian-app-'));
    fs.writeFileSync(path.join(context, 'Dockerfile'), `FROM ${process.env.TESTBED_DEBIAN_IMAGE ?? ''}\nCOPY hello.txt /hello.txt\n`);
    fs.writeFileSync(path.join(context, 'hello.txt'), 'hello\n');
    const beforeFirst = dbRequests();
    first = run();
    const digests = JSON.parse(first.outputs['platform-digests'] ?? '{}') as Record<string, string>;
    const afterFirst = await debianLayerGets(digests);
    const dbAfterFirst = dbRequests();
    second = run();
    layerGets = [afterFirst, (await debianLayerGets(digests)) - afterFirst];
    dbAsked = [dbAfterFirst - beforeFirst, dbRequests() - dbAfterFirst];
  });

  it("the second run asks trivy for no DB: the one the first fetched is fresh by trivy's own rule", () => {
    expect(first.stdout).toContain(`trivy's vulnerability DB served by ${bed.trivyDbRepository}`);
    expect(dbAsked[0]).toBeGreaterThanOrEqual(1);
    // The fixture DB's NextUpdate is 2099-01-01.
    expect(second.stdout).toContain(`trivy's vulnerability DB in ${path.join(cacheDir, 'db')} is fresh until 2099-01-01T00:00:00.000Z`);
    expect(second.stdout).not.toContain("trivy's vulnerability DB served by");
    expect(dbAsked[1]).toBe(0);
    expect(second.summary).toContain(`trivy vulnerability DB from \`${path.join(cacheDir, 'db')} (downloaded `);
  });

  it('each platform keeps its own on-disk cache in trivy-cache-dir', () => {
    expect(errorLines(first)).toEqual([]);
    for (const slug of ['linux-amd64', 'linux-arm64', 'linux-arm-v7']) {
      expect(fs.existsSync(path.join(cacheDir, 'layers', slug, 'fanal', 'fanal.db'))).toBe(true);
    }
  });

  it('the second run, of a changed image on the same base, downloads no Debian layer again and finds the same', () => {
    expect(errorLines(second)).toEqual([]);
    expect(second.outputs['platform-digests']).not.toEqual(first.outputs['platform-digests']);
    expect(second.stdout).not.toContain('no new scan');
    expect(layerGets[0]).toBeGreaterThanOrEqual(3);
    expect(layerGets[1]).toBe(0);
    expect(verdicts(second)).toEqual(verdicts(first));
    expect(verdicts(first)['linux/arm64']?.counts.MEDIUM).toBeGreaterThanOrEqual(1);
  });

  it('a platform whose cache another run holds is scanned with its layers in memory, to the same result', async () => {
    const { tryDirLock } = await import('../src/util/dir-lock.js');
    const release = await tryDirLock(path.join(cacheDir, 'layers', 'linux-arm64'), 'scan');
    let third: ActionRun;
    try {
      third = run();
    } finally {
      await release?.();
    }
    expect(errorLines(third)).toEqual([]);
    expect(third.stdout).toContain(
      `linux/arm64: another run is scanning with ${path.join(cacheDir, 'layers', 'linux-arm64')}: this scan keeps its layers in memory`,
    );
    expect(third.stdout).not.toContain('linux/amd64: another run is scanning');
    expect(verdicts(third)).toEqual(verdicts(second));
  });
});

describe('a re-run of an unchanged image', () => {
  const repo = uniqueRepo('report-reuse');
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trivy-cache-'));
  const run = (failOn: string): ActionRun =>
    runAction(inputs(repo, { 'trivy-cache-dir': cacheDir, 'fail-on': failOn, tags: `${failOn}-${Date.now()}` }));
  const results = (r: ActionRun): ScanResults =>
    Object.fromEntries(
      Object.entries(JSON.parse(r.outputs['scan-results'] ?? '{}') as ScanResults).map(([p, v]) => [
        p,
        { ...v, report: '', reusedFrom: v.reusedFrom ? 'yes' : 'no' },
      ]),
    );
  let first: ActionRun;
  let second: ActionRun;
  let stricter: ActionRun;
  beforeAll(() => {
    first = run('critical');
    second = run('critical');
    // The gate is not part of what trivy reports: a stricter gate decides from the same report.
    stricter = run('high');
  });

  it('scans every platform the first time and keeps the reports', () => {
    expect(errorLines(first)).toEqual([]);
    expect(first.stdout.match(/trivy image --image-src remote/g)).toHaveLength(3);
    expect(first.stdout).not.toContain('no new scan');
  });

  it("reuses each platform's report for the same digest, DB, trivy and options: no trivy scan runs, same findings", () => {
    expect(errorLines(second)).toEqual([]);
    expect(second.outputs['platform-digests']).toEqual(first.outputs['platform-digests']);
    expect(second.stdout).not.toContain('trivy image --image-src remote');
    const digests = JSON.parse(second.outputs['platform-digests'] ?? '{}') as Record<string, string>;
    for (const [platform, digest] of Object.entries(digests)) {
      expect(second.stdout).toMatch(new RegExp(`${platform}: no new scan: the report trivy wrote at \\S+ for ${digest} is reused`));
    }
    const reused = (r: ScanResults): ScanResults => Object.fromEntries(Object.entries(r).map(([p, v]) => [p, { ...v, reusedFrom: 'yes' }]));
    expect(results(second)).toEqual(reused(results(first)));
    expect(Object.values(results(first)).map((v) => v.reusedFrom)).toEqual(['no', 'no', 'no']);
    expect(results(second)['linux/arm64']?.findings.map((f) => f.id)).toContain('CVE-2099-10001');
    expect(second.summary).toMatch(/Scan reports reused .*linux\/amd64 \(.*linux\/arm64 \(.*linux\/arm\/v7 \(/);
  });

  it('judges a stricter gate from the reused report: arm64 fails and nothing is tagged', async () => {
    expect(stricter.stdout).not.toContain('trivy image --image-src remote');
    expect(stricter.exitCode).not.toBe(0);
    expect(errorLines(stricter).join('\n')).toContain('CVE-2099-10001');
    expect((await listTags(bed.registry, repo)).filter((t) => t.startsWith('high-'))).toEqual([]);
  });
});

describe('tool versions, asked once per tool cache', () => {
  // Wrappers that note each call and run the real tools: trivy first on PATH, buildx as the CLI plugin.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tool-versions-'));
  const calls = path.join(dir, 'calls');
  const wrap = (file: string, real: string): void => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `#!/bin/sh\necho "$(basename "$0") $*" >> ${calls}\nexec ${real} "$@"\n`, { mode: 0o755 });
  };
  const realTrivy = execFileSync('sh', ['-c', 'command -v trivy'], { encoding: 'utf8' }).trim();
  const realBuildx = fs.realpathSync(path.join(os.homedir(), '.docker', 'cli-plugins', 'docker-buildx'));
  wrap(path.join(dir, 'bin', 'trivy'), realTrivy);
  wrap(path.join(dir, 'docker', 'cli-plugins', 'docker-buildx'), realBuildx);
  const env = {
    PATH: `${path.join(dir, 'bin')}:${process.env.PATH ?? ''}`,
    DOCKER_CONFIG: path.join(dir, 'docker'),
    RUNNER_TOOL_CACHE: path.join(dir, 'tool-cache'),
  };
  const versionCalls = (): string[] =>
    (fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8').split('\n') : []).filter((l) => /^(trivy --version|docker-buildx version)$/.test(l));
  const run = (): ActionRun => runAction(inputs(uniqueRepo('tool-versions'), { platforms: 'linux/amd64', push: 'false' }), { env });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the first run asks trivy and buildx their versions; the next, with the same binaries, asks neither', () => {
    const first = run();
    expect(errorLines(first)).toEqual([]);
    expect(versionCalls().sort()).toEqual(['docker-buildx version', 'trivy --version']);
    const second = run();
    expect(errorLines(second)).toEqual([]);
    expect(versionCalls()).toHaveLength(2);
    expect(second.stdout).toContain(`using trivy 0.74.0 from PATH (${path.join(dir, 'bin', 'trivy')})`);
    expect(second.stdout).toMatch(/^buildx v\d+\.\d+\.\d+ is installed$/m);
    // The scan still ran, with the wrapper.
    expect(fs.readFileSync(calls, 'utf8')).toMatch(/^trivy image /m);
  });

  it('a trivy replaced by another file is asked again', () => {
    wrap(path.join(dir, 'bin', 'trivy'), realTrivy);
    fs.utimesSync(path.join(dir, 'bin', 'trivy'), new Date(), new Date(Date.now() + 60_000));
    expect(errorLines(run())).toEqual([]);
    expect(versionCalls().filter((l) => l.startsWith('trivy'))).toHaveLength(2);
  });
});

describe('a working directory with a trivy config file', () => {
  const repo = uniqueRepo('report-config');
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trivy-cache-'));
  // trivy reads trivy.yaml from its working directory: it can name policies and VEX sources.
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'workspace-'));
  fs.writeFileSync(path.join(workspace, 'trivy.yaml'), 'timeout: 10m\n');
  const run = (): ActionRun =>
    runAction(inputs(repo, { 'trivy-cache-dir': cacheDir, 'fail-on': 'critical', tags: `${Date.now()}` }), { cwd: workspace });
  let first: ActionRun;
  let second: ActionRun;
  beforeAll(() => {
    first = run();
    second = run();
  });

  it('reuses no report and keeps none, saying why once, and scans every platform every run', () => {
    for (const r of [first, second]) {
      expect(errorLines(r)).toEqual([]);
      expect(r.stdout.match(/trivy reports are not reused or kept: trivy reads its config file .*trivy\.yaml/g)).toHaveLength(1);
      expect(r.stdout.match(/trivy image --image-src remote/g)).toHaveLength(3);
      expect(r.stdout).not.toContain('no new scan');
    }
    expect(fs.existsSync(path.join(cacheDir, 'layers', 'linux-amd64', 'reports'))).toBe(false);
  });
});

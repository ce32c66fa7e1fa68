// The orchestration, with its dependencies passed in: runPipeline drives a fake
// docker/buildx/trivy (support/fake-exec.ts) that answers with the outputs
// captured on the test bed. Tests assert outcomes: outputs, the error the job
// fails with, the summary, the saved state, files, and what the registry holds.
import { afterAll, afterEach, beforeAll, describe, expect, it, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseInputs, type InputEnv } from '../src/context.js';
import { PipelineError, runPipeline } from '../src/pipeline/run.js';
import type { Runtime } from '../src/pipeline/runtime.js';
import { parseBinfmtEntry } from '../src/qemu/plan.js';
import type { PostState } from '../src/state.js';
import type { Inputs } from '../src/model.js';
import { digestOf } from '../src/oci.js';
import { TOOL_ATTEMPTS } from '../src/util/tool-retry.js';
import { composeIndex, FAKE_TRIVY, FakeTools, FIXTURE_IMAGE, fixture, PROVENANCE_MAX, type FakeToolsOptions } from './support/fake-exec.js';

const CONTEXT = '/src/app';
const BUILDER = 'multiarch-0a1b2c3d';
const TAG = `${FIXTURE_IMAGE}:multi`;
const PLATFORMS = ['linux/amd64', 'linux/arm64', 'linux/arm/v7'] as const;

/** The captured dry run's bytes without its trailing newline, hashed: the index digest. */
const DRY_RUN = fixture('buildx/imagetools-create-dry-run.txt');
const INDEX_DIGEST = `sha256:${createHash('sha256').update(DRY_RUN.slice(0, -1)).digest('hex')}`;

const inputEnv: InputEnv = {
  eventName: 'push',
  exists: (p) => p === CONTEXT || p === `${CONTEXT}/Dockerfile`,
  isDirectory: (p) => p === CONTEXT,
};

/** Inputs as the runner would give them: the test bed's three-platform provenance build. */
function inputs(over: Record<string, string> = {}): Inputs {
  const given: Record<string, string> = {
    context: CONTEXT,
    platforms: PLATFORMS.join(','),
    image: FIXTURE_IMAGE,
    tags: 'multi',
    push: 'true',
    provenance: 'mode=max',
    ...over,
  };
  return parseInputs((name) => given[name] ?? '', inputEnv);
}

interface Run {
  deps: Runtime;
  tools: FakeTools;
  tempDir: string;
  outputs: Record<string, string>;
  summaries: string[];
  states: PostState[];
  warnings: string[];
}

const tempDirs: string[] = [];
/** Stands in for the runner user's ~/.docker: empty, so no real config or login leaks in. */
let userDocker = '';

beforeAll(() => {
  userDocker = fs.mkdtempSync(path.join(os.tmpdir(), 'user-docker-'));
});

afterAll(() => {
  fs.rmSync(userDocker, { recursive: true, force: true });
});

afterEach(() => {
  for (const d of tempDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function mkTemp(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

/** A run's dependencies around the fake tools (new ones, or those of an earlier run: same builders and registry). */
function setup(opts: FakeToolsOptions = {}, tools = new FakeTools(opts)): Run {
  const tempDir = mkTemp('pipeline-');
  const run: Run = { deps: undefined as unknown as Runtime, tools, tempDir, outputs: {}, summaries: [], states: [], warnings: [] };
  run.deps = {
    exec: tools.exec,
    log: {
      info: () => undefined,
      warning: (m) => run.warnings.push(m),
      debug: () => undefined,
      group: (_name, fn) => fn(),
    },
    // The runtime's environment is the test's own: no runner cache, no Actions cache, no user docker config.
    env: { DOCKER_CONFIG: userDocker, HOME: userDocker },
    now: () => Date.now(),
    tempDir,
    hostArch: 'x64',
    readBinfmt: async () => [
      parseBinfmtEntry('qemu-aarch64', fixture('qemu/binfmt-qemu-aarch64.txt')),
      parseBinfmtEntry('qemu-arm', fixture('qemu/binfmt-qemu-arm.txt')),
    ],
    builderName: BUILDER,
    ensureBuildx: async () => undefined,
    ensureTrivy: async () => FAKE_TRIVY,
    setOutput: (name, value) => {
      run.outputs[name] = value;
    },
    writeSummary: async (md) => {
      run.summaries.push(md);
    },
    saveState: (s) => {
      run.states.push({ ...s });
    },
    mask: () => undefined,
    fetchImpl: tools.fetch,
  };
  return run;
}

function json<T = Record<string, unknown>>(text: string | undefined): T {
  expect(text).toBeDefined();
  return JSON.parse(text as string) as T;
}

/** config + layers of a captured image manifest. */
function sizeOf(manifestFile: string): number {
  const m = JSON.parse(fixture(manifestFile)) as { config: { size: number }; layers: { size: number }[] };
  return m.layers.reduce((sum, l) => sum + l.size, m.config.size);
}

/** Nothing was tagged and no manifest list was pushed: the registry holds only what the builds pushed. */
function expectNothingCreated(r: Run): void {
  expect(r.tools.tags.size).toBe(0);
  expect(r.tools.requests.filter((q) => q.method === 'PUT')).toEqual([]);
  expect(r.tools.manifests.has(INDEX_DIGEST)).toBe(false);
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected runPipeline to reject');
}

describe('the fake tools answer as the test bed did', () => {
  it('composes the captured dry-run indexes byte for byte', () => {
    const platformIndex = (p: keyof typeof PROVENANCE_MAX.pushed): string =>
      fixture(`buildx/inspect-raw-platform-index-${p.slice('linux/'.length).replace('/', '-')}.json`);
    expect(composeIndex(PLATFORMS.map(platformIndex))).toBe(DRY_RUN);
    const manifests = [fixture(PROVENANCE_MAX.images['linux/arm64'].file), fixture(PROVENANCE_MAX.images['linux/arm/v7'].file)];
    expect(composeIndex(manifests)).toBe(fixture('buildx/imagetools-create-dry-run-manifests.txt'));
    expect(composeIndex(manifests, ['index:org.opencontainers.image.description=fixture'])).toBe(
      fixture('buildx/imagetools-create-dry-run-annotated.txt'),
    );
  });

  it('holds the captured manifests under their digests', () => {
    for (const p of PLATFORMS) {
      expect(digestOf(fixture(PROVENANCE_MAX.images[p].file))).toBe(PROVENANCE_MAX.images[p].digest);
      const meta = JSON.parse(fixture(PROVENANCE_MAX.metadata[p])) as Record<string, unknown>;
      expect(meta['containerimage.digest']).toBe(PROVENANCE_MAX.pushed[p]);
    }
  });
});

describe('runPipeline: every platform passes', () => {
  it('creates the manifest list from the captured index and reports it', async () => {
    const r = setup({ buildMs: { 'linux/amd64': 30, 'linux/arm64': 30, 'linux/arm/v7': 30 } });
    const report = await runPipeline(inputs(), r.deps);

    // The digest is that of the dry-run bytes without the newline buildx prints after them.
    expect(INDEX_DIGEST).toBe('sha256:37fa925fbf0164755c2f274dfb25139d97604d8c6466eb01cd71627fe8a6af57');
    expect(r.outputs.digest).toBe(INDEX_DIGEST);
    expect(r.outputs.image).toBe(`${FIXTURE_IMAGE}@${INDEX_DIGEST}`);
    expect(report.digest).toBe(INDEX_DIGEST);
    // ... and those exact bytes are what the registry now holds under the tag.
    expect(r.tools.tags.get('multi')).toBe(DRY_RUN.slice(0, -1));
    expect(r.tools.manifests.get(INDEX_DIGEST)).toBe(DRY_RUN.slice(0, -1));

    // Image-manifest digests: never the per-platform index nor an attestation manifest.
    const platformDigests = json<Record<string, string>>(r.outputs['platform-digests']);
    expect(platformDigests).toEqual({
      'linux/amd64': PROVENANCE_MAX.images['linux/amd64'].digest,
      'linux/arm64': PROVENANCE_MAX.images['linux/arm64'].digest,
      'linux/arm/v7': PROVENANCE_MAX.images['linux/arm/v7'].digest,
    });
    const attestations = (JSON.parse(DRY_RUN) as { manifests: { digest: string; platform: { os: string } }[] }).manifests
      .filter((m) => m.platform.os === 'unknown')
      .map((m) => m.digest);
    expect(attestations).toHaveLength(3);
    for (const d of Object.values(platformDigests)) {
      expect(Object.values(PROVENANCE_MAX.pushed)).not.toContain(d);
      expect(attestations).not.toContain(d);
    }

    const metadata = json<{
      image: string;
      digest: string;
      pushed: boolean;
      tags: string[];
      platforms: Record<string, { digest: string; emulated: boolean; seconds: number; size: number }>;
    }>(r.outputs.metadata);
    expect(metadata).toMatchObject({ image: FIXTURE_IMAGE, digest: INDEX_DIGEST, pushed: true, tags: [TAG] });
    for (const p of PLATFORMS) {
      const m = metadata.platforms[p];
      expect(m?.digest).toBe(platformDigests[p]);
      expect(m?.size).toBe(sizeOf(PROVENANCE_MAX.images[p].file));
      expect(m?.seconds).toBeGreaterThanOrEqual(0.02);
      expect(m?.seconds).toBeLessThan(10);
    }
    // x64 host: amd64 native; arm64 and arm/v7 run under the registered qemu-aarch64/qemu-arm (flags PF).
    expect(metadata.platforms['linux/amd64']?.emulated).toBe(false);
    expect(metadata.platforms['linux/arm64']?.emulated).toBe(true);
    expect(metadata.platforms['linux/arm/v7']?.emulated).toBe(true);
    expect(metadata.platforms['linux/arm64']?.size).toBe(1734 + 241 + 1029773 + 336 + 218); // config + layers of the arm64 manifest

    const scans = json<Record<string, { counts: Record<string, number>; passed: boolean; findings: unknown[]; report?: string }>>(
      r.outputs['scan-results'],
    );
    expect(Object.keys(scans).sort()).toEqual([...PLATFORMS].sort());
    // fail-on critical: the HIGH finding is listed, not blocking; the report file has them all.
    expect(scans['linux/arm64']).toEqual({
      counts: { UNKNOWN: 0, LOW: 1, MEDIUM: 1, HIGH: 1, CRITICAL: 0 },
      passed: true,
      blocking: 0,
      findings: [
        expect.objectContaining({ id: 'CVE-2099-10001', severity: 'HIGH', blocking: false }),
        expect.objectContaining({ id: 'CVE-2099-10002', severity: 'MEDIUM', blocking: false }),
        expect.objectContaining({ id: 'CVE-2099-10003', severity: 'LOW', blocking: false }),
      ],
      omitted: 0,
      report: expect.stringMatching(/trivy-linux-arm64\.json$/),
    });
    const reports = json<Record<string, { json: string }>>(r.outputs.reports);
    expect(Object.keys(reports).sort()).toEqual([...PLATFORMS].sort());
    expect(reports['linux/arm64']?.json).toBe(scans['linux/arm64']?.report);
    expect(scans['linux/amd64']?.counts).toEqual({ UNKNOWN: 0, LOW: 1, MEDIUM: 1, HIGH: 0, CRITICAL: 0 });
    expect(Object.values(scans).every((s) => s.passed)).toBe(true);
    expect(r.outputs.promoted).toBe('[]');
    expect(r.outputs['sarif-files']).toBe('[]');
    expect(r.warnings).toEqual([]);

    // Each platform was scanned by its image-manifest digest, from the registry.
    expect(Object.fromEntries(r.tools.scans().map((s) => [s.platform, s.ref]))).toEqual(
      Object.fromEntries(PLATFORMS.map((p) => [p, `${FIXTURE_IMAGE}@${platformDigests[p]}`])),
    );

    expect(r.summaries).toHaveLength(1);
    const md = r.summaries[0] as string;
    expect(md).toContain(`| \`linux/amd64\` | native | `);
    expect(md).toContain(`| \`linux/arm64\` | emulated (QEMU) | `);
    expect(md).toContain(`| \`linux/arm/v7\` | emulated (QEMU) | `);
    expect(md).toContain(`\`${PROVENANCE_MAX.images['linux/arm/v7'].digest}\``);
    expect(md).toContain(`**Manifest list** \`${INDEX_DIGEST}\``);
    expect(md).toContain(`- \`${TAG}\``);
    expect(md).not.toContain('No manifest list');
    expect(md).not.toContain('fails the gate');

    // The post step is told the temp dir and the builder this run created.
    expect(r.states.at(-1)).toEqual({ tempDir: r.tempDir, builder: BUILDER });
    expect(r.tools.builders.has(BUILDER)).toBe(true);
    // Without registry-auth no DOCKER_CONFIG is made.
    expect(r.tools.calls.every((c) => c.env.DOCKER_CONFIG === undefined)).toBe(true);
    expect(fs.existsSync(path.join(r.tempDir, 'docker-config'))).toBe(false);
  });

  it('writes the inline buildkitd config to the temp dir and creates the builder with it', async () => {
    const r = setup();
    await runPipeline(inputs({ 'buildkitd-config-inline': '[worker.oci]\n  max-parallelism = 2\n' }), r.deps);
    const file = path.join(r.tempDir, 'buildkitd.toml');
    expect(fs.readFileSync(file, 'utf8')).toBe('[worker.oci]\n  max-parallelism = 2');
    const create = r.tools.callsOf('docker', 'buildx', 'create')[0];
    expect(create?.args).toContain(file);
    expect(r.outputs.digest).toBe(INDEX_DIGEST);
  });

  it('with sarif set, writes one SARIF file per platform and lists them', async () => {
    const r = setup();
    const sarifDir = path.join(r.tempDir, 'sarif');
    await runPipeline(inputs({ sarif: sarifDir }), r.deps);
    const files = json<string[]>(r.outputs['sarif-files']);
    expect(files.map((f) => path.basename(f)).sort()).toEqual(['trivy-linux-amd64.sarif', 'trivy-linux-arm-v7.sarif', 'trivy-linux-arm64.sarif']);
    const categories = files.map(
      (f) => (JSON.parse(fs.readFileSync(f, 'utf8')) as { runs: { automationDetails: { id: string } }[] }).runs[0]?.automationDetails.id,
    );
    expect(categories.sort()).toEqual(['trivy/linux-amd64/', 'trivy/linux-arm-v7/', 'trivy/linux-arm64/']);
  });

  it('with scan false, runs no trivy and writes no scan outputs', async () => {
    const r = setup();
    await runPipeline(inputs({ scan: 'false' }), r.deps);
    expect(r.tools.calls.filter((c) => c.command === FAKE_TRIVY)).toEqual([]);
    expect(r.outputs['scan-results']).toBeUndefined();
    expect(r.outputs.digest).toBe(INDEX_DIGEST);
    expect(r.summaries[0]).not.toContain('Gate (');
  });
});

describe('runPipeline: a platform build fails', () => {
  const lines = Array.from({ length: 20 }, (_, i) => `#9 ${i}.0 log line ${i + 1} of the arm64 build`);
  lines[19] = '#9 ERROR: process "/bin/sh -c apk add --no-cache busybox" did not complete successfully: exit code: 255';

  it('fails naming linux/arm64 with its last log lines, tags nothing, and still reports the others', async () => {
    const r = setup({ failBuild: { 'linux/arm64': { exitCode: 1, lines } } });
    const err = await rejection(runPipeline(inputs(), r.deps));

    expect(err).toBeInstanceOf(PipelineError);
    expect(err.message).toMatch(/^linux\/arm64: build failed \(exit code 1\); last log lines:\n/);
    expect(err.message).toContain('did not complete successfully: exit code: 255');
    // The last 15 lines, not the first ones.
    expect(err.message).toContain('log line 6 of the arm64 build');
    expect(err.message).not.toContain('log line 5 of the arm64 build');
    expect(err.message).not.toContain('linux/amd64');

    expectNothingCreated(r);
    expect(r.outputs.digest).toBeUndefined();
    expect(r.outputs.image).toBeUndefined();
    expect(json(r.outputs['platform-digests'])).toEqual({
      'linux/amd64': PROVENANCE_MAX.images['linux/amd64'].digest,
      'linux/arm/v7': PROVENANCE_MAX.images['linux/arm/v7'].digest,
    });
    expect(json<{ digest: unknown }>(r.outputs.metadata).digest).toBeNull();
    // The platforms that built were still scanned.
    expect(Object.keys(json(r.outputs['scan-results'])).sort()).toEqual(['linux/amd64', 'linux/arm/v7']);

    const md = r.summaries[0] as string;
    expect(md).toContain('| `linux/arm64` | **failed** |');
    expect(md).toContain('build failed (exit code 1); last log lines:');
    expect(md).toContain('| `linux/amd64` | native |');
    expect(md).toContain('| `linux/arm/v7` | emulated (QEMU) |');
    expect(md).toContain('Nothing was tagged or promoted: linux/arm64: build failed (exit code 1)');
  });
});

describe('runPipeline: the vulnerability gate', () => {
  it('fails naming linux/arm64 and its CVE when only arm64 has a finding at or above fail-on', async () => {
    const r = setup();
    const err = await rejection(runPipeline(inputs({ 'fail-on': 'high' }), r.deps));

    expect(err).toBeInstanceOf(PipelineError);
    expect(err.message).toContain('vulnerability gate failed for 1 of 3 platform(s)');
    expect(err.message).toContain('linux/arm64: CRITICAL 0, HIGH 1');
    expect(err.message).toContain('CVE-2099-10001 busybox');
    expect(err.message).not.toContain('linux/amd64');

    expectNothingCreated(r);
    expect(r.outputs.digest).toBeUndefined();
    const scans = json<Record<string, { passed: boolean; findings: { id: string; severity: string }[] }>>(r.outputs['scan-results']);
    expect(scans['linux/arm64']?.passed).toBe(false);
    expect(scans['linux/arm64']?.findings).toEqual([
      expect.objectContaining({ id: 'CVE-2099-10001', package: 'busybox', severity: 'HIGH', blocking: true }),
      expect.objectContaining({ id: 'CVE-2099-10002', blocking: false }),
      expect.objectContaining({ id: 'CVE-2099-10003', blocking: false }),
    ]);
    expect(scans['linux/amd64']?.passed).toBe(true);
    expect(scans['linux/arm/v7']?.passed).toBe(true);

    const md = r.summaries[0] as string;
    expect(md).toContain('**linux/arm64** fails the gate:');
    expect(md).toContain('- HIGH CVE-2099-10001 in `busybox`');
    expect(md).toContain('Nothing was tagged or promoted: vulnerability gate failed for 1 of 3 platform(s):');
  });

  test.each(['critical', 'none'])('passes with fail-on %s and the same reports', async (failOn) => {
    const r = setup();
    await runPipeline(inputs({ 'fail-on': failOn }), r.deps);
    expect(r.outputs.digest).toBe(INDEX_DIGEST);
    const scans = json<Record<string, { passed: boolean; counts: Record<string, number> }>>(r.outputs['scan-results']);
    expect(scans['linux/arm64']).toMatchObject({ passed: true, counts: { HIGH: 1 } });
    expect(r.tools.tags.get('multi')).toBe(DRY_RUN.slice(0, -1));
  });

  it('fails on a DB download failure, saying so, and creates nothing', async () => {
    const r = setup({
      dbDownloadFailure: {
        exitCode: 1,
        stderr: 'FATAL Fatal error: init error: DB error: failed to download vulnerability DB: OCI repository error: 1 error occurred\n',
      },
    });
    const err = await rejection(runPipeline(inputs(), r.deps));

    expect(err).toBeInstanceOf(PipelineError);
    expect(err.message).toContain("could not get trivy's vulnerability DB from trivy's default");
    expect(err.message).toContain('failed to download vulnerability DB: OCI repository error');
    // One DB for the run: the same failure, named once for every platform.
    expect(err.message.startsWith(`${PLATFORMS.join(', ')}: scan failed: could not get trivy's vulnerability DB`)).toBe(true);
    expect(r.tools.callsOf(FAKE_TRIVY, 'image', '--download-db-only')).toHaveLength(1);
    expect(r.tools.scans()).toEqual([]);
    expectNothingCreated(r);
    expect(r.outputs.digest).toBeUndefined();
    expect(r.summaries[0]).toContain('Nothing was tagged or promoted:');
  });

  it('reports a scan that could not run as a scan failure, never as a build failure', async () => {
    const r = setup({ dbDownloadFailure: { exitCode: 1, stderr: 'FATAL failed to download vulnerability DB\n' } });
    const err = await rejection(runPipeline(inputs(), r.deps));
    expect(err.message).not.toMatch(/build failed/);
    const summary = r.summaries[0] ?? '';
    // Every platform built (its row says how), and its gate cell says the scan failed.
    for (const p of PLATFORMS)
      expect(summary).toMatch(new RegExp(`\\| \`${p.replace(/\//g, '\\/')}\` \\| (native|emulated \\(QEMU\\)) \\|.*\\*\\*scan failed\\*\\* \\|`));
    expect(summary).not.toContain('**failed**');
  });
});

describe('runPipeline: scheduling', () => {
  const slow = { 'linux/amd64': 25, 'linux/arm64': 25, 'linux/arm/v7': 25 };

  it('with max-parallel 1, never runs two builds at once', async () => {
    const r = setup({ buildMs: slow });
    await runPipeline(inputs({ 'max-parallel': '1' }), r.deps);
    const builds = r.tools.builds().sort((a, b) => a.start - b.start);
    expect(builds.map((b) => b.platform)).toEqual([...PLATFORMS]);
    for (let i = 1; i < builds.length; i++) expect(builds[i]?.start).toBeGreaterThan(builds[i - 1]?.end ?? Infinity);
    expect(r.outputs.digest).toBe(INDEX_DIGEST);
  });

  it('with no limit, runs the builds at the same time', async () => {
    const r = setup({ buildMs: slow });
    await runPipeline(inputs(), r.deps);
    const builds = r.tools.builds();
    const lastStart = Math.max(...builds.map((b) => b.start));
    const firstEnd = Math.min(...builds.map((b) => b.end));
    expect(lastStart).toBeLessThan(firstEnd);
  });

  it('scans a platform as soon as its own build is done, before a slower build ends', async () => {
    const r = setup({ buildMs: { 'linux/amd64': 1, 'linux/arm64': 5, 'linux/arm/v7': 150 } });
    await runPipeline(inputs(), r.deps);
    const armv7Build = r.tools.builds().find((b) => b.platform === 'linux/arm/v7');
    const amd64Scan = r.tools.scans().find((s) => s.platform === 'linux/amd64');
    expect(amd64Scan?.end).toBeLessThan(armv7Build?.end ?? -1);
    const armv7Scan = r.tools.scans().find((s) => s.platform === 'linux/arm/v7');
    expect(armv7Scan?.start).toBeGreaterThan(armv7Build?.end ?? Infinity);
  });
});

describe('runPipeline: registry-auth', () => {
  const password = 'pa55-w0rd-Zq81';
  const user = 'ci-bot';
  const basic = Buffer.from(`${user}:${password}`).toString('base64');

  it('gives every docker and trivy process a DOCKER_CONFIG in the run temp dir holding the auth, never the password in argv', async () => {
    const r = setup({ requireAuth: { username: user, password } });
    await runPipeline(inputs({ 'registry-auth': `- registry: 127.0.0.1:5000\n  username: ${user}\n  password: ${password}\n` }), r.deps);

    const dir = path.join(r.tempDir, 'docker-config');
    // builder create + inspect, 3 builds, the DB, 3 scans (the list is composed in process from what is read over HTTP).
    expect(r.tools.calls.length).toBeGreaterThanOrEqual(9);
    for (const c of r.tools.calls) {
      expect(c.env.DOCKER_CONFIG).toBe(dir);
      const config = JSON.parse(c.dockerConfig ?? '{}') as { auths: Record<string, { auth: string }> };
      expect(config.auths['127.0.0.1:5000']?.auth).toBe(basic);
      for (const a of c.args) {
        expect(a).not.toContain(password);
        expect(a).not.toContain(basic);
      }
      for (const v of Object.values(c.env)) expect(v).not.toContain(password);
    }
    // Both the docker CLI and trivy were among them.
    expect(r.tools.calls.some((c) => c.command === FAKE_TRIVY)).toBe(true);
    expect(r.tools.calls.some((c) => c.command === 'docker')).toBe(true);
    expect(fs.statSync(path.join(dir, 'config.json')).mode & 0o777).toBe(0o600);
    expect(r.outputs.digest).toBe(INDEX_DIGEST);
    // The registry client spoke with the same credentials, and the index got its tag.
    expect(r.tools.requests.filter((q) => q.status !== 401).every((q) => q.authorization === `Basic ${basic}`)).toBe(true);
    expect(r.tools.tags.get('multi')).toBe(DRY_RUN.slice(0, -1));
    // The saved state holds no secret.
    for (const s of r.states) expect(JSON.stringify(s)).not.toContain(password);
  });
});

describe('runPipeline: secrets, platform tags, a second run', () => {
  it('passes secret values to buildx only as 0600 files in the temp dir, never in argv or env', async () => {
    const r = setup();
    await runPipeline(inputs({ secrets: 'npm_token=s3cr3t-npm-value\ngh=ghp_abc=def' }), r.deps);
    const dir = path.join(r.tempDir, 'secrets');
    expect(fs.readFileSync(path.join(dir, 'npm_token'), 'utf8')).toBe('s3cr3t-npm-value');
    expect(fs.readFileSync(path.join(dir, 'gh'), 'utf8')).toBe('ghp_abc=def');
    expect(fs.statSync(path.join(dir, 'gh')).mode & 0o777).toBe(0o600);
    for (const b of r.tools.builds()) {
      expect(b.args.join(' ')).toContain(`--secret id=npm_token,src=${path.join(dir, 'npm_token')} --secret id=gh,src=${path.join(dir, 'gh')}`);
    }
    for (const c of r.tools.calls) {
      expect(JSON.stringify(c.args)).not.toMatch(/s3cr3t-npm-value|ghp_abc/);
      expect(JSON.stringify(c.env)).not.toMatch(/s3cr3t-npm-value|ghp_abc/);
    }
    expect(r.outputs.digest).toBe(INDEX_DIGEST);
  });

  it('points each platform tag at its image manifest, and the tag at the manifest list', async () => {
    const r = setup();
    await runPipeline(inputs({ 'platform-tags': '{tag}-{arch}{variant}' }), r.deps);
    expect(r.tools.tags.get('multi')).toBe(DRY_RUN.slice(0, -1));
    expect(r.tools.tags.get('multi-amd64')).toBe(fixture(PROVENANCE_MAX.images['linux/amd64'].file));
    expect(r.tools.tags.get('multi-arm64')).toBe(fixture(PROVENANCE_MAX.images['linux/arm64'].file));
    expect(r.tools.tags.get('multi-armv7')).toBe(fixture(PROVENANCE_MAX.images['linux/arm/v7'].file));
    expect(r.tools.tags.size).toBe(4);
    expect(r.outputs.promoted).toBe('[]');
  });

  it('a second run of the same build leaves the tags as they are and gives the same outputs', async () => {
    const first = setup();
    await runPipeline(inputs(), first.deps);
    const second = setup({}, first.tools);
    second.deps.builderName = 'multiarch-4e5f6a7b';
    const before = first.tools.requests.length;
    await runPipeline(inputs(), second.deps);

    expect(second.outputs.digest).toBe(first.outputs.digest);
    expect(second.outputs['platform-digests']).toBe(first.outputs['platform-digests']);
    const tagWrites = first.tools.requests.slice(before).filter((q) => q.method === 'PUT' && !q.url.includes('/manifests/sha256:'));
    expect(tagWrites).toEqual([]);
    expect(first.tools.tags.get('multi')).toBe(DRY_RUN.slice(0, -1));
  });
});

describe('runPipeline: push false', () => {
  it('builds each platform into an OCI layout in the temp dir, scans it there, and writes nothing to a registry', async () => {
    // The test bed's OCI-layout builds: amd64 without attestations, arm/v7 with provenance.
    const r = setup({
      metadata: {
        'linux/amd64': 'buildx/metadata-oci-noattest-linux-amd64.json',
        'linux/arm/v7': 'buildx/metadata-oci-provenance-max-linux-arm-v7.json',
      },
    });
    await runPipeline(inputs({ push: 'false', image: '', tags: '', platforms: 'linux/amd64,linux/arm/v7' }), r.deps);

    expect(json(r.outputs['platform-digests'])).toEqual({
      'linux/amd64': PROVENANCE_MAX.images['linux/amd64'].digest,
      'linux/arm/v7': PROVENANCE_MAX.images['linux/arm/v7'].digest,
    });
    const layouts = r.tools.scans().map((s) => s.args[s.args.indexOf('--input') + 1]);
    expect(layouts.sort()).toEqual([path.join(r.tempDir, 'oci', 'linux-amd64'), path.join(r.tempDir, 'oci', 'linux-arm-v7')]);
    expect(json<{ pushed: boolean }>(r.outputs.metadata).pushed).toBe(false);
    expect(Object.values(json<Record<string, { passed: boolean }>>(r.outputs['scan-results'])).map((x) => x.passed)).toEqual([true, true]);
    // The digest a push would produce: buildx's index over the layouts' top objects, as served locally.
    const composed = composeIndex([fixture(PROVENANCE_MAX.images['linux/amd64'].file), fixture('buildx/oci-platform-index-arm-v7.json')]);
    expect(r.outputs.digest).toBe(digestOf(composed.slice(0, -1)));
    expect(r.summaries[0]).toContain(`(not pushed; the digest a push would produce) \`${r.outputs.digest}\``);
    // No registry was asked anything, so nothing was written.
    expect(r.tools.requests).toEqual([]);
    expect(r.tools.manifests.size).toBe(0);
    expect(r.summaries[0]).toContain('| `linux/arm/v7` | emulated (QEMU) |');
  });
});

describe('runPipeline: registry credentials', () => {
  it('fails before building anything when the registry refuses the credentials', async () => {
    const r = setup({ requireAuth: { username: 'ci-bot', password: 'the-right-one' } });
    const err = await rejection(
      runPipeline(inputs({ 'registry-auth': '- registry: 127.0.0.1:5000\n  username: ci-bot\n  password: a-wrong-one\n' }), r.deps),
    );
    expect(err.message).toContain('127.0.0.1:5000');
    expect(err.message).not.toContain('a-wrong-one');
    expect(r.tools.builds()).toEqual([]);
    expect(r.tools.calls).toEqual([]);
    expectNothingCreated(r);
  });

  it('fails before building anything when the registry needs credentials and none are given', async () => {
    const r = setup({ requireAuth: { username: 'ci-bot', password: 'the-right-one' } });
    const err = await rejection(runPipeline(inputs(), r.deps));
    expect(err.message).toContain('127.0.0.1:5000 needs credentials; add it to registry-auth');
    expect(r.tools.builds()).toEqual([]);
  });
});

describe('runPipeline: the builder', () => {
  it('uses the builder input as it is: creates none and leaves the post step none to remove', async () => {
    const r = setup({ existingBuilders: ['ci-builder'] });
    await runPipeline(inputs({ builder: 'ci-builder' }), r.deps);

    expect(r.tools.callsOf('docker', 'buildx', 'create')).toEqual([]);
    expect(r.tools.builders).toEqual(new Set(['ci-builder']));
    expect(r.states.every((s) => s.builder === undefined)).toBe(true);
    expect(r.states.at(-1)).toEqual({ tempDir: r.tempDir });
    expect(r.outputs.digest).toBe(INDEX_DIGEST);
  });

  it('fails when the named builder does not exist, before building anything', async () => {
    const r = setup();
    const err = await rejection(runPipeline(inputs({ builder: 'missing-builder' }), r.deps));
    expect(err.message).toContain('no builder "missing-builder" found');
    expect(r.tools.builds()).toEqual([]);
  });
});

describe('runPipeline: the manifest list check', () => {
  it('fails when the registry then returns a different manifest for the first tag than the one created', async () => {
    const other = fixture('buildx/inspect-raw-platform-index-arm64.json');
    const r = setup({ tagOverride: { tag: 'multi', raw: other } });
    const err = await rejection(runPipeline(inputs({ tags: 'multi,latest' }), r.deps));

    expect(err.message).toContain('could not be verified');
    expect(err.message).toContain(`${TAG} resolves to ${PROVENANCE_MAX.pushed['linux/arm64']}, expected ${INDEX_DIGEST}`);
    expect(err.message).not.toContain(`${FIXTURE_IMAGE}:latest resolves`);
    expect(r.outputs.digest).toBeUndefined();
    expect(r.outputs.image).toBeUndefined();
  });
});

describe('runPipeline: the builder decides what is native', () => {
  const NODES = 'linux/amd64=tcp://amd-builder:1234\nlinux/arm64,linux/arm/v7=tcp://arm-builder:1234';

  function withLog(r: Run): string[] {
    const lines: string[] = [];
    r.deps.log = { ...r.deps.log, info: (m) => lines.push(m) };
    return lines;
  }

  it('nodes: one builder with a node per line; each platform on its node, nothing registered with QEMU, the summary names the node', async () => {
    const r = setup();
    // No handler on the runner: with a one-node builder on this runner, auto would register two.
    r.deps.readBinfmt = async () => [];
    const log = withLog(r);
    await runPipeline(inputs({ driver: 'remote', nodes: NODES }), r.deps);

    expect(r.tools.callsOf('docker', 'buildx', 'create').map((c) => c.args.slice(4))).toEqual([
      ['--driver', 'remote', '--platform', 'linux/amd64', 'tcp://amd-builder:1234'],
      ['--append', '--driver', 'remote', '--platform', 'linux/arm64,linux/arm/v7', 'tcp://arm-builder:1234'],
    ]);
    // No binfmt image, no docker info: nothing on the runner was touched for QEMU.
    expect(r.tools.callsOf('docker', 'run')).toEqual([]);
    expect(r.tools.callsOf('docker', 'info')).toEqual([]);
    expect(log).toContain('nothing registered with QEMU: every platform is built on a node that is not on this runner');
    expect(log).toContain(
      `linux/arm64: built on node ${BUILDER}1 (driver remote, not on this runner); emulation, if any, is that node's business, so nothing is registered here`,
    );

    const metadata = json<{ platforms: Record<string, { node: string; emulated: boolean | null }> }>(r.outputs.metadata);
    expect(Object.fromEntries(PLATFORMS.map((p) => [p, metadata.platforms[p]?.node]))).toEqual({
      'linux/amd64': `${BUILDER}0`,
      'linux/arm64': `${BUILDER}1`,
      'linux/arm/v7': `${BUILDER}1`,
    });
    expect(PLATFORMS.map((p) => metadata.platforms[p]?.emulated)).toEqual([null, null, null]);
    const md = r.summaries[0] as string;
    expect(md).toContain('| Platform | Build | Node | Seconds |');
    expect(md).toContain(`| \`linux/arm/v7\` | remote node | \`${BUILDER}1\` (not on this runner) | `);
    // The post step removes the one builder, and with it every node.
    expect(r.states.at(-1)).toEqual({ tempDir: r.tempDir, builder: BUILDER });
  });

  it("nodes on this host (unix sockets, as on the test bed): emulation is the runner's, so it is planned here", async () => {
    const r = setup();
    const log = withLog(r);
    await runPipeline(inputs({ driver: 'remote', nodes: 'linux/amd64=unix:///run/amd.sock\nlinux/arm64,linux/arm/v7=unix:///run/arm.sock' }), r.deps);
    expect(log).toContain('linux/arm64: qemu-aarch64 already registered with flags PF, skipped');
    expect(log).toContain('nothing registered with QEMU');
    expect(r.tools.callsOf('docker', 'run')).toEqual([]);
    const metadata = json<{ platforms: Record<string, { node: string; emulated: boolean | null }> }>(r.outputs.metadata);
    expect(metadata.platforms['linux/amd64']).toMatchObject({ node: `${BUILDER}0`, emulated: false });
    expect(metadata.platforms['linux/arm/v7']).toMatchObject({ node: `${BUILDER}1`, emulated: true });
    expect(r.summaries[0]).toContain(`| \`linux/arm/v7\` | emulated (QEMU) | \`${BUILDER}1\` | `);
  });

  it('docker-container on this runner: QEMU is planned from the node, and the summary names it', async () => {
    const r = setup();
    const log = withLog(r);
    await runPipeline(inputs(), r.deps);
    expect(r.tools.callsOf('docker', 'buildx', 'create')[0]?.args).toEqual(['buildx', 'create', '--name', BUILDER, '--driver', 'docker-container']);
    expect(log).toContain('linux/arm64: qemu-aarch64 already registered with flags PF, skipped');
    const metadata = json<{ platforms: Record<string, { node: string; emulated: boolean | null }> }>(r.outputs.metadata);
    expect(metadata.platforms['linux/arm64']).toMatchObject({ node: `${BUILDER}0`, emulated: true });
    expect(metadata.platforms['linux/amd64']).toMatchObject({ node: `${BUILDER}0`, emulated: false });
    expect(r.summaries[0]).toContain(`| \`linux/arm64\` | emulated (QEMU) | \`${BUILDER}0\` | `);
  });

  it('registry-auth plus a buildx installed during the run: the run config finds the new plugin', async () => {
    const r = setup();
    // As on a runner without buildx: ensureBuildx puts the plugin into the user's (until now empty) docker dir.
    r.deps.ensureBuildx = async () => {
      fs.mkdirSync(path.join(userDocker, 'cli-plugins'), { recursive: true });
      fs.writeFileSync(path.join(userDocker, 'cli-plugins', 'docker-buildx'), '#!/bin/sh\n');
    };
    try {
      await runPipeline(inputs({ 'registry-auth': '- registry: 127.0.0.1:5000\n  username: u\n  password: p' }), r.deps);
      const create = r.tools.callsOf('docker', 'buildx', 'create')[0];
      const dir = create?.env.DOCKER_CONFIG ?? '';
      expect(dir.startsWith(r.tempDir)).toBe(true);
      expect(fs.existsSync(path.join(dir, 'cli-plugins', 'docker-buildx'))).toBe(true);
    } finally {
      fs.rmSync(path.join(userDocker, 'cli-plugins'), { recursive: true, force: true });
    }
  });
});

describe('runPipeline: a registry fault in a scan or a push', () => {
  const fixtureText = (name: string): string => fs.readFileSync(path.join(import.meta.dirname, 'fixtures/faults', `${name}.txt`), 'utf8');
  const fast = (r: Run): Run => ((r.deps.toolBackoffMs = 1), r);
  const infos = (r: Run): string[] => {
    const lines: string[] = [];
    r.deps.log.info = (m) => void lines.push(m);
    return lines;
  };

  it('scans a platform again when trivy failed on the registry, and the run succeeds with the retry logged and counted', async () => {
    const r = fast(setup({ failScan: { 'linux/arm64': { exitCode: 1, stderr: fixtureText('trivy-blob-get-reset'), times: 1 } } }));
    const log = infos(r);
    await runPipeline(inputs(), r.deps);
    expect(r.outputs.digest).toBe(INDEX_DIGEST);
    expect(log.find((l) => l.startsWith('linux/arm64: scan attempt 1 failed'))).toMatch(/connection reset by peer\), retrying in 0\.001 s$/);
    expect(log).toContain('registry retries used: 1 of 100');
  });

  it('never scans again for an input error, and fails naming the platform', async () => {
    const r = fast(setup({ failScan: { 'linux/arm64': { exitCode: 1, stderr: fixtureText('trivy-bad-reference'), times: 1 } } }));
    const err = await rejection(runPipeline(inputs(), r.deps));
    expect(err.message).toContain('linux/arm64: scan failed: trivy scan of linux/arm64 failed with exit code 1');
    expect(r.tools.scans().filter((s) => s.platform === 'linux/arm64')).toHaveLength(1);
    expectNothingCreated(r);
  });

  it('gives up after 5 scans of a registry that keeps failing, and tags nothing', async () => {
    const r = fast(setup({ failScan: { 'linux/arm64': { exitCode: 1, stderr: fixtureText('trivy-manifest-get-503') } } }));
    const err = await rejection(runPipeline(inputs(), r.deps));
    expect(err.message).toContain('UNAVAILABLE: injected 503');
    expect(r.tools.scans().filter((s) => s.platform === 'linux/arm64')).toHaveLength(TOOL_ATTEMPTS);
    expectNothingCreated(r);
  });

  it('builds a platform again when its push failed, and the run succeeds', async () => {
    const lines = fixtureText('buildx-manifest-put-500').trimEnd().split('\n');
    const r = fast(setup({ failBuild: { 'linux/arm64': { exitCode: 1, lines, times: 1 } } }));
    const log = infos(r);
    await runPipeline(inputs(), r.deps);
    expect(r.outputs.digest).toBe(INDEX_DIGEST);
    expect(log.find((l) => l.startsWith('linux/arm64: build attempt 1 failed'))).toMatch(/failed to push .*: unavailable: injected 500\), retrying/);
  });

  it('never builds again when a RUN step failed', async () => {
    const lines = fixtureText('buildx-run-step-failed').trimEnd().split('\n');
    const r = fast(setup({ failBuild: { 'linux/arm64': { exitCode: 1, lines, times: 1 } } }));
    const err = await rejection(runPipeline(inputs(), r.deps));
    expect(err.message).toMatch(/^linux\/arm64: build failed \(exit code 1\)/);
    expect(r.tools.builds().filter((c) => c.platform === 'linux/arm64')).toHaveLength(1);
    expectNothingCreated(r);
  });
});

describe('runPipeline: bootstrap images', () => {
  it('pulls the buildkit image list in order, creates the builder with the one that served, and says so in the summary', async () => {
    const r = setup({
      failPull: { 'mirror.example/moby/buildkit:v0.32.2': { exitCode: 1, stderr: 'Error response from daemon: toomanyrequests: rate limit\n' } },
    });
    r.deps.toolBackoffMs = 1;
    await runPipeline(inputs({ 'buildkit-image': 'mirror.example/moby/buildkit:v0.32.2\nmoby/buildkit:v0.32.2' }), r.deps);
    const pulls = r.tools.callsOf('docker', 'pull').map((c) => c.args[1]);
    expect(pulls).toEqual(['mirror.example/moby/buildkit:v0.32.2', 'docker.io/moby/buildkit:v0.32.2']);
    const create = r.tools.callsOf('docker', 'buildx').find((c) => c.args[1] === 'create');
    expect(create?.args).toContain('image=docker.io/moby/buildkit:v0.32.2');
    expect(r.warnings.some((w) => w.includes('mirror.example/moby/buildkit:v0.32.2 did not serve the buildkit image'))).toBe(true);
    expect(r.summaries[0]).toContain('Bootstrap images pulled: buildkit image `docker.io/moby/buildkit:v0.32.2`');
  });

  it('pulls nothing when no buildkit-image is given and no QEMU registration happens', async () => {
    const r = setup();
    await runPipeline(inputs(), r.deps);
    expect(r.tools.callsOf('docker', 'pull')).toEqual([]);
  });
});

describe('runPipeline: where the time went', () => {
  /** Each platform's build prints the rawjson progress captured for it on the test bed (the busybox loop). */
  const PROGRESS = {
    'linux/amd64': 'progress-emulated-linux-amd64.jsonl',
    'linux/arm64': 'progress-emulated-linux-arm64.jsonl',
    'linux/arm/v7': 'progress-emulated-linux-arm-v7.jsonl',
  };

  it('puts every platform steps and the phase timings in metadata, and names the QEMU factor in the summary and log', async () => {
    const r = setup({ progress: PROGRESS });
    const logged: string[] = [];
    const info = r.deps.log.info;
    r.deps.log.info = (m) => {
      logged.push(m);
      info(m);
    };
    await runPipeline(inputs(), r.deps);

    const metadata = json<{
      platforms: Record<string, { steps: { name: string; seconds: number; cached: boolean }[] }>;
      timings: { build: Record<string, number>; scan: Record<string, number>; [phase: string]: unknown };
    }>(r.outputs.metadata);
    for (const p of PLATFORMS) {
      const steps = metadata.platforms[p]?.steps ?? [];
      const run = steps.find((s) => s.name.startsWith('[2/2] RUN'));
      expect(run?.cached).toBe(false);
      expect(run?.seconds).toBeGreaterThan(0.5);
      expect(steps.find((s) => s.name.startsWith('[1/2] COPY'))?.cached).toBe(true);
      expect(metadata.timings.build[p]).toBeGreaterThanOrEqual(0);
      expect(metadata.timings.scan[p]).toBeGreaterThanOrEqual(0);
    }
    for (const phase of ['registries', 'builder', 'qemu', 'index', 'promotion', 'total', 'waiting'])
      expect(typeof metadata.timings[phase]).toBe('number');

    const md = r.summaries[0] as string;
    expect(md).toContain('### Where the time went');
    expect(md).toMatch(/^- `RUN \["\/bin\/busybox", .*` {2}\d+\.\d s on linux\/arm64 \(QEMU\) vs \d+\.\d s on linux\/amd64: \d+\.\dx$/m);
    expect(md).toContain('FROM --platform=$BUILDPLATFORM');
    expect(logged.some((l) => /^time: RUN .* on linux\/arm\/v7 \(QEMU\) vs .* on linux\/amd64: \d+\.\dx$/.test(l))).toBe(true);
    expect(logged.filter((l) => l.startsWith('advice: '))).toHaveLength(3);
  });

  it('has no time section when the builds printed no progress events', async () => {
    const r = setup();
    await runPipeline(inputs(), r.deps);
    expect(r.summaries[0]).not.toContain('Where the time went');
    expect(json<{ timings: { total: number } }>(r.outputs.metadata).timings.total).toBeGreaterThan(0);
  });
});

// A distributed run under a real workflow runner (act in host mode, each
// runner label mapped to this host, act's artifact server for the leg
// records): a plan job, one job per platform, a merge job.
import { afterAll, describe, expect, it, beforeAll } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from './harness.js';
import { bed, getManifest, indexPlatforms, listTags, storageFingerprint, uniqueRepo } from './testbed.js';

const PLATFORMS = 'linux/amd64,linux/arm64,linux/arm/v7';

/** The reusable workflow refers to the action by its published name at @main: act gets this checkout's action.yml and dist/. */
const PUBLISHED = 'OWNER/multiarch-build-scan-promote@main';
let actionTree = '';
beforeAll(() => {
  actionTree = fs.mkdtempSync(path.join(os.tmpdir(), 'action-tree-'));
  for (const f of ['action.yml', 'package.json', 'dist']) fs.cpSync(path.join(ROOT, f), path.join(actionTree, f), { recursive: true });
});

interface ActRun {
  exitCode: number;
  output: string;
  results: Record<string, string>;
  seconds: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** One workflow run: its own artifact server directory and port, so no two runs share leg records. */
async function act(
  event: string,
  workflow: string,
  vars: Record<string, string>,
  payload: object = {},
  extra: string[] = [],
  artifacts?: string,
): Promise<ActRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'act-distribute-'));
  const resultDir = path.join(dir, 'results');
  fs.mkdirSync(resultDir);
  const eventFile = path.join(dir, 'event.json');
  fs.writeFileSync(eventFile, JSON.stringify(payload));
  const allVars: Record<string, string> = {
    RESULT_DIR: resultDir,
    PLATFORMS,
    CONTEXT: path.join(bed.contexts, 'vulnapp'),
    BUILDX_DRIVER: 'remote',
    BUILDX_ENDPOINT: bed.buildkitEndpoint,
    TRIVY_DB_REPOSITORY: bed.trivyDbRepository,
    ...vars,
  };
  const args = [
    event,
    '-W',
    workflow,
    ...['ubuntu-latest', 'ubuntu-24.04', 'ubuntu-24.04-arm'].flatMap((label) => ['-P', `${label}=-self-hosted`]),
    '--artifact-server-path',
    artifacts ?? path.join(dir, 'artifacts'),
    '--artifact-server-addr',
    '127.0.0.1',
    '--artifact-server-port',
    String(await freePort()),
    '--cache-server-addr',
    '127.0.0.1',
    '-e',
    eventFile,
    '--local-repository',
    `${PUBLISHED}=${actionTree}`,
    ...extra,
    ...Object.entries(allVars).flatMap(([k, v]) => ['--var', `${k}=${v}`]),
  ];
  const started = Date.now();
  const r = spawnSync('act', args, {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ACT_DISABLE_VERSION_CHECK: '1' },
    maxBuffer: 256 * 1024 * 1024,
    timeout: 15 * 60 * 1000,
  });
  const results: Record<string, string> = {};
  for (const f of fs.readdirSync(resultDir)) results[f] = fs.readFileSync(path.join(resultDir, f), 'utf8');
  const seconds = (Date.now() - started) / 1000;
  fs.writeFileSync(path.join(bed.logDir, `distribute-${path.basename(dir)}.log`), `${r.stdout}\n${r.stderr}`);
  return { exitCode: r.status ?? -1, output: `${r.stdout}\n${r.stderr}`, results, seconds };
}

const CALLER = 'e2e/workflows/distribute-caller.yml';
const STEPS = 'e2e/workflows/distribute-steps.yml';
const PR_EVENT = { pull_request: { number: 1, head: { ref: 'feature' }, base: { ref: 'main' } } };

function tail(run: ActRun): string {
  return run.output.split('\n').slice(-60).join('\n');
}

/** act's job prefix of every line where the action started a platform's build: job -> platforms. */
function buildsByJob(run: ActRun): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const m of run.output.matchAll(/^\[([^\]]+)\]\s+\|\s+(linux\/[a-z0-9/]+): build started$/gm)) {
    const job = m[1] as string;
    out[job] = [...(out[job] ?? []), m[2] as string];
  }
  return out;
}

/** The merge job's error lines (act prints `::error::` for core.setFailed). */
function mergeErrors(run: ActRun): string {
  return run.output
    .split('\n')
    .filter((l) => /merge\s*\]/.test(l) && l.includes('::error::'))
    .join('\n')
    .replace(/%0A/g, '\n');
}

function fingerprints(): { a: string[]; b: string[] } {
  return { a: storageFingerprint('registry-a'), b: storageFingerprint('registry-b') };
}

/**
 * Files added to either registry's storage that no other suite's repository
 * explains: the test bed is shared, so a concurrent suite's pushes (to its own
 * e2e/ repositories, and the blobs those link) are left out. A PR run names no
 * repository, so anything left is a write of its own.
 */
function added(before: { a: string[]; b: string[] }, after: { a: string[]; b: string[] }): string[] {
  const fresh = [...after.a.filter((f) => !before.a.includes(f)), ...after.b.filter((f) => !before.b.includes(f))];
  const foreign = fresh.filter((f) => /\/repositories\/e2e\/(?!dist-)/.test(f));
  const linked = new Set(foreign.flatMap((f) => /\/sha256\/([a-f0-9]{64})\/link$/.exec(f)?.[1] ?? []));
  return fresh.filter((f) => !foreign.includes(f) && !linked.has(/\/blobs\/sha256\/[a-f0-9]{2}\/([a-f0-9]{64})\/data$/.exec(f)?.[1] ?? ''));
}

const seconds: Record<string, number> = {};
afterAll(() => {
  fs.writeFileSync(path.join(bed.logDir, 'distribute-timings.json'), JSON.stringify(seconds, null, 1));
});

describe('distribute: true, three platforms, pushed', () => {
  const repo = uniqueRepo('dist');
  let run: ActRun;
  beforeAll(async () => {
    run = await act('workflow_dispatch', CALLER, { IMAGE: `${bed.registry}/${repo}`, TAGS: 'v1', PUSH: 'true' });
    seconds.push = run.seconds;
  });

  it('succeeds with a plan job, three leg jobs and a merge job', () => {
    expect({ exitCode: run.exitCode, tail: run.exitCode === 0 ? '' : tail(run) }).toEqual({ exitCode: 0, tail: '' });
    expect(run.output).toMatch(/\[[^\]]*plan[^\]]*\]\s+✅\s+Success - Main (?:\.\/|OWNER\/)/);
    expect(run.output).toMatch(/\[[^\]]*merge[^\]]*\]\s+✅\s+Success - Main (?:\.\/|OWNER\/)/);
    expect(run.output.match(/leg record multiarch-leg-\S+ stored \(artifact API v4\)/g)).toHaveLength(3);
  });

  it('builds each platform in its own leg job, and no leg builds another', () => {
    const jobs = buildsByJob(run);
    expect(
      Object.values(jobs)
        .map((p) => p.join(','))
        .sort(),
    ).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
    for (const [job, platforms] of Object.entries(jobs))
      expect({ job, log: run.output.includes(`[${job}]   | leg: building ${platforms[0]} only`) }).toEqual({ job, log: true });
  });

  it('gives the caller a digest the registry holds under the tag, with exactly the three platforms', async () => {
    const digest = run.results.digest ?? '';
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    const tagged = await getManifest(bed.registry, repo, 'v1');
    expect(tagged?.digest).toBe(digest);
    expect(indexPlatforms(tagged as NonNullable<typeof tagged>)).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
    expect(await listTags(bed.registry, repo)).toEqual(['v1']);
    const scans = JSON.parse(run.results['scan-results'] ?? '{}') as Record<string, { counts: Record<string, number> }>;
    expect(scans['linux/arm64']?.counts.HIGH).toBe(1);
  });

  describe('PR mode across legs', () => {
    let pr: ActRun;
    let before: { a: string[]; b: string[] };
    let after: { a: string[]; b: string[] };
    beforeAll(async () => {
      before = fingerprints();
      pr = await act('pull_request', CALLER, {}, PR_EVENT);
      after = fingerprints();
      seconds.pr = pr.seconds;
    });

    it('merges to the digest the pushed run of the same build got, writing nothing to either registry', () => {
      expect({ exitCode: pr.exitCode, tail: pr.exitCode === 0 ? '' : tail(pr) }).toEqual({ exitCode: 0, tail: '' });
      expect(pr.results.digest).toBe(run.results.digest);
      expect(pr.results['platform-digests']).toBe(run.results['platform-digests']);
      expect(added(before, after)).toEqual([]);
    });

    it('still applies the gate over the legs', async () => {
      const b = fingerprints();
      const gated = await act('pull_request', CALLER, { FAIL_ON: 'high' }, PR_EVENT);
      seconds.prGated = gated.seconds;
      expect(gated.exitCode).not.toBe(0);
      expect(mergeErrors(gated)).toMatch(/linux\/arm64[\s\S]*CVE-2099-10001/);
      expect(gated.results.digest ?? '').toBe('');
      expect(added(b, fingerprints())).toEqual([]);
    });
  });
});

describe('a leg that fails', () => {
  it('fails its build: the merge fails naming the platform; nothing is tagged or promoted', async () => {
    const repo = uniqueRepo('dist-fail');
    const release = uniqueRepo('dist-fail-release');
    const run = await act('workflow_dispatch', CALLER, {
      IMAGE: `${bed.registry}/${repo}`,
      TAGS: 'v1',
      PUSH: 'true',
      BUILD_ARGS: 'FAIL_ARCH=aarch64',
      PROMOTE_TO: `${bed.registry}/${release}:v1`,
    });
    seconds.buildFails = run.seconds;
    expect(run.exitCode).not.toBe(0);
    expect(run.output).toMatch(/\[[^\]]*merge[^\]]*\]\s+❌\s+Failure - Main (?:\.\/|OWNER\/)/);
    expect(mergeErrors(run)).toMatch(/linux\/arm64: build failed/);
    expect(mergeErrors(run)).not.toMatch(/linux\/amd64: build failed/);
    expect(await listTags(bed.registry, repo)).toEqual([]);
    expect(await listTags(bed.registry, release)).toEqual([]);
  });

  it('is blocked by the gate: the merge fails naming the platform and the finding; nothing is tagged or promoted', async () => {
    const repo = uniqueRepo('dist-gate');
    const release = uniqueRepo('dist-gate-release');
    const run = await act('workflow_dispatch', CALLER, {
      IMAGE: `${bed.registry}/${repo}`,
      TAGS: 'v1',
      PUSH: 'true',
      FAIL_ON: 'high',
      PROMOTE_TO: `${bed.registry}/${release}:v1`,
    });
    seconds.gateBlocks = run.seconds;
    expect(run.exitCode).not.toBe(0);
    expect(mergeErrors(run)).toMatch(/linux\/arm64[\s\S]*CVE-2099-10001/);
    expect(await listTags(bed.registry, repo)).toEqual([]);
    expect(await listTags(bed.registry, release)).toEqual([]);
  });
});

describe('a leg that records nothing', () => {
  it('fails the merge naming the platform', async () => {
    const repo = uniqueRepo('dist-missing');
    const run = await act('workflow_dispatch', STEPS, { IMAGE: `${bed.registry}/${repo}`, TAGS: 'v1', SKIP_PLATFORMS: 'linux/arm/v7' });
    seconds.missing = run.seconds;
    expect(run.exitCode).not.toBe(0);
    expect(mergeErrors(run)).toMatch(/linux\/arm\/v7: no leg record in this workflow run/);
    expect(Object.values(buildsByJob(run)).flat().sort()).toEqual(['linux/amd64', 'linux/arm64']);
    expect(await listTags(bed.registry, repo)).toEqual([]);
  });
});

describe('re-running a failed leg, then the merge', () => {
  it("merges the earlier attempt's good legs with the re-run leg", async () => {
    const repo = uniqueRepo('dist-rerun');
    const artifacts = fs.mkdtempSync(path.join(os.tmpdir(), 'act-rerun-artifacts-'));
    const vars = { IMAGE: `${bed.registry}/${repo}`, TAGS: 'v1' };
    const first = await act(
      'workflow_dispatch',
      STEPS,
      { ...vars, BUILD_ARGS: 'FAIL_ARCH=aarch64' },
      {},
      ['--env', 'GITHUB_RUN_ID=77', '--env', 'GITHUB_RUN_ATTEMPT=1'],
      artifacts,
    );
    expect(first.exitCode).not.toBe(0);
    expect(mergeErrors(first)).toMatch(/linux\/arm64: build failed/);
    // Attempt 2 of the same run: only the failed leg builds again (the others' jobs are not re-run), then the merge.
    const second = await act(
      'workflow_dispatch',
      STEPS,
      { ...vars, SKIP_PLATFORMS: 'linux/amd64,linux/arm/v7' },
      {},
      ['--env', 'GITHUB_RUN_ID=77', '--env', 'GITHUB_RUN_ATTEMPT=2'],
      artifacts,
    );
    seconds.rerun = first.seconds + second.seconds;
    expect({ exitCode: second.exitCode, tail: second.exitCode === 0 ? '' : tail(second) }).toEqual({ exitCode: 0, tail: '' });
    expect(Object.values(buildsByJob(second)).flat()).toEqual(['linux/arm64']);
    expect(second.output).toMatch(/linux\/amd64: attempt 1 \(built/);
    expect(second.output).toMatch(/linux\/arm64: attempt 2 \(built/);
    const tagged = await getManifest(bed.registry, repo, 'v1');
    expect(indexPlatforms(tagged as NonNullable<typeof tagged>)).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
  });
});

describe('on GitHub Enterprise Server', () => {
  it('passes the leg records through the v3 artifact API and merges', async () => {
    const repo = uniqueRepo('dist-ghes');
    const run = await act('workflow_dispatch', STEPS, { IMAGE: `${bed.registry}/${repo}`, TAGS: 'v1' }, {}, ['--github-instance', 'ghes.test']);
    seconds.ghes = run.seconds;
    expect({ exitCode: run.exitCode, tail: run.exitCode === 0 ? '' : tail(run) }).toEqual({ exitCode: 0, tail: '' });
    expect(run.output.match(/leg record multiarch-leg-\S+ stored \(artifact API v3\)/g)).toHaveLength(3);
    expect(Object.values(buildsByJob(run)).flat().sort()).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
    const tagged = await getManifest(bed.registry, repo, 'v1');
    expect(indexPlatforms(tagged as NonNullable<typeof tagged>)).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
  });
});

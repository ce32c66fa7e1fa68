// The three ways people use the action, each run by a real workflow runner
// (act in host mode) against the test bed.
import { describe, expect, it, beforeAll } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from './harness.js';
import { bed, getManifest, listTags, storageFingerprint, uniqueRepo } from './testbed.js';

interface ActRun {
  exitCode: number;
  output: string;
  results: Record<string, string>;
}

/** Runs one workflow of this repository under act and collects what its RESULT_DIR step wrote. */
function act(event: string, workflow: string, payload: object, vars: Record<string, string>, secrets: Record<string, string> = {}): ActRun {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'act-'));
  const resultDir = path.join(dir, 'results');
  fs.mkdirSync(resultDir);
  const eventFile = path.join(dir, 'event.json');
  fs.writeFileSync(eventFile, JSON.stringify(payload));
  const allVars: Record<string, string> = {
    RESULT_DIR: resultDir,
    BUILDX_DRIVER: 'remote',
    BUILDX_ENDPOINT: bed.buildkitEndpoint,
    TRIVY_DB_REPOSITORY: bed.trivyDbRepository,
    ...vars,
  };
  const args = [
    event,
    '-W',
    path.join('.github/workflows', workflow),
    // The reusable workflow distributes by default: its leg jobs ask for these labels, and pass
    // their leg records through act's artifact server.
    ...['ubuntu-latest', 'ubuntu-24.04', 'ubuntu-24.04-arm'].flatMap((label) => ['-P', `${label}=-self-hosted`]),
    '--artifact-server-path',
    path.join(dir, 'artifacts'),
    '--artifact-server-addr',
    '127.0.0.1',
    '--artifact-server-port',
    String(20000 + Math.floor(Math.random() * 20000)),
    '-e',
    eventFile,
    '--local-repository',
    `docker/metadata-action@v5=${path.join(ROOT, 'e2e/support/metadata-action')}`,
    '--local-repository',
    `github/codeql-action@v3=${path.join(ROOT, 'e2e/support/codeql-action')}`,
    ...Object.entries(allVars).flatMap(([k, v]) => ['--var', `${k}=${v}`]),
    ...Object.keys(secrets).flatMap((k) => ['-s', k]),
  ];
  const r = spawnSync('act', args, {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...secrets, ACT_DISABLE_VERSION_CHECK: '1' },
    maxBuffer: 256 * 1024 * 1024,
    timeout: 15 * 60 * 1000,
  });
  const results: Record<string, string> = {};
  for (const f of fs.readdirSync(resultDir)) results[f] = fs.readFileSync(path.join(resultDir, f), 'utf8');
  return { exitCode: r.status ?? -1, output: `${r.stdout}\n${r.stderr}`, results };
}

function tail(run: ActRun): string {
  return run.output.split('\n').slice(-60).join('\n');
}

describe('the workflow-step example on a release tag', () => {
  const image = `${bed.registry}/${uniqueRepo('act-step')}`;
  const release = `${bed.authRegistry}/${uniqueRepo('act-release')}`;
  let run: ActRun;
  beforeAll(() => {
    run = act(
      'push',
      'example-step.yml',
      { ref: 'refs/tags/v1.2.3' },
      {
        IMAGE: image,
        RELEASE_IMAGE: release,
        REGISTRY: bed.registry,
        RELEASE_REGISTRY: bed.authRegistry,
      },
      { GITHUB_TOKEN: 'not-needed-by-registry-a', RELEASE_USERNAME: bed.authUser, RELEASE_PASSWORD: bed.authPassword },
    );
  });

  it('succeeds', () => {
    expect({ exitCode: run.exitCode, tail: run.exitCode === 0 ? '' : tail(run) }).toEqual({ exitCode: 0, tail: '' });
  });

  it('tags the manifest list with the metadata-action tag and promotes it to B on the release tag', async () => {
    const digest = run.results.digest ?? '';
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    const [reg, ...rest] = image.split('/');
    expect((await getManifest(reg ?? '', rest.join('/'), '1.2.3'))?.digest).toBe(digest);
    const [rreg, ...rrest] = release.split('/');
    expect((await getManifest(rreg ?? '', rrest.join('/'), '1.2.3'))?.digest).toBe(digest);
    expect(JSON.parse(run.results.promoted ?? '[]')).toContain(`${release}:1.2.3@${digest}`);
    expect(await listTags(rreg ?? '', rrest.join('/'))).toEqual(['1.2.3', '1.2.3-amd64', '1.2.3-arm64', '1.2.3-armv7']);
  });

  it('never prints the release password', () => {
    expect(run.output).not.toContain(bed.authPassword);
  });
});

describe('the reusable workflow called from a caller workflow', () => {
  const repo = uniqueRepo('act-reusable');
  let run: ActRun;
  beforeAll(() => {
    run = act(
      'workflow_dispatch',
      'example-reusable-caller.yml',
      {},
      {
        IMAGE: `${bed.registry}/${repo}`,
        CONTEXT: path.join(bed.contexts, 'vulnapp'),
      },
    );
  });

  it('succeeds and its outputs reach the caller', async () => {
    expect({ exitCode: run.exitCode, tail: run.exitCode === 0 ? '' : tail(run) }).toEqual({ exitCode: 0, tail: '' });
    const digest = run.results.digest ?? '';
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    const tags = await listTags(bed.registry, repo);
    expect(tags).toHaveLength(1);
    expect((await getManifest(bed.registry, repo, tags[0] ?? ''))?.digest).toBe(digest);
    const platforms = JSON.parse(run.results['platform-digests'] ?? '{}') as Record<string, string>;
    expect(Object.keys(platforms).sort()).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
    const scans = JSON.parse(run.results['scan-results'] ?? '{}') as Record<string, { counts: Record<string, number> }>;
    expect(scans['linux/arm64']?.counts.HIGH).toBe(1);
  });
});

describe('the pull-request example', () => {
  let run: ActRun;
  let before: { a: string[]; b: string[] };
  let after: { a: string[]; b: string[] };
  beforeAll(() => {
    before = { a: storageFingerprint('registry-a'), b: storageFingerprint('registry-b') };
    run = act(
      'pull_request',
      'example-pr.yml',
      { pull_request: { number: 1, head: { ref: 'feature' }, base: { ref: 'main' } } },
      {
        CONTEXT: path.join(bed.contexts, 'vulnapp'),
      },
    );
    after = { a: storageFingerprint('registry-a'), b: storageFingerprint('registry-b') };
  });

  it('fails on the gated arm64 finding', () => {
    expect(run.exitCode).not.toBe(0);
    expect(run.output).toMatch(/linux\/arm64[\s\S]*CVE-2099-10001/);
  });

  it('still scanned every platform and wrote one SARIF file per platform', () => {
    const scans = JSON.parse(run.results['scan-results'] ?? '{}') as Record<string, { passed: boolean }>;
    expect(scans['linux/arm64']?.passed).toBe(false);
    expect(scans['linux/amd64']?.passed).toBe(true);
    expect(JSON.parse(run.results['sarif-files'] ?? '[]')).toHaveLength(3);
  });

  it("uploads each platform's SARIF with its own category", () => {
    const uploads = (run.results.uploads ?? '').trim().split('\n').sort();
    expect(uploads.map((u) => u.split(' ')[0])).toEqual(['trivy/linux-amd64', 'trivy/linux-arm-v7', 'trivy/linux-arm64']);
    expect(uploads.find((u) => u.startsWith('trivy/linux-arm64 '))).toBe('trivy/linux-arm64 3');
  });

  it('leaves both registries exactly as they were', () => {
    expect(after).toEqual(before);
  });
});

// The ways people use the action, each example workflow run unchanged by a
// real workflow runner (act in host mode) against the test bed. The action is
// referred to by its published name, mapped to a release tree of this checkout.
import { describe, expect, it, beforeAll } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
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

/** The action's published name, as the examples and the reusable workflow write it. */
const PUBLISHED = 'OWNER/multiarch-build-scan-promote';

/**
 * What a caller on github.com gets for `PUBLISHED@v1`: action.yml, dist/ and
 * the reusable workflow, with the workflow's self-reference pinned to v1 by
 * the release script (as a release commit is). act stands it in for the
 * remote repository with --local-repository.
 */
function releaseTree(ref: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'release-'));
  for (const f of ['action.yml', 'package.json', 'dist', '.github/workflows/multiarch.yml']) {
    fs.cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true });
  }
  execFileSync('node', [path.join(ROOT, 'scripts/release.mjs'), 'pin', ref, '--dir', dir], { encoding: 'utf8' });
  return dir;
}

let release = '';
beforeAll(() => {
  release = releaseTree('v1');
});

interface ActOptions {
  secrets?: Record<string, string>;
  /** The repository the workflow runs in (default: this checkout). */
  cwd?: string;
}

/**
 * A port for act's artifact server that nothing listens on or uses: below the
 * kernel's ephemeral range (32768 and up here), which the suites' many
 * outgoing connections take their local ports from (the range used before,
 * 20000-40000, reached into it), and checked free by binding it once.
 */
function freePort(): number {
  for (let i = 0; i < 20; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const probe = `require('node:net').createServer().once('error', () => process.exit(1)).listen(${port}, '127.0.0.1', function () { this.close(); })`;
    if (spawnSync(process.execPath, ['-e', probe]).status === 0) return port;
  }
  throw new Error("no free port for act's artifact server");
}

/** Runs one workflow under act and collects what its RESULT_DIR step wrote. */
function act(event: string, workflow: string, payload: object, vars: Record<string, string>, opts: ActOptions = {}): ActRun {
  const secrets = opts.secrets ?? {};
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
    workflow,
    // The reusable workflow distributes by default: its leg jobs ask for these labels, and pass
    // their leg records through act's artifact server.
    ...['ubuntu-latest', 'ubuntu-24.04', 'ubuntu-24.04-arm'].flatMap((label) => ['-P', `${label}=-self-hosted`]),
    '--artifact-server-path',
    path.join(dir, 'artifacts'),
    '--artifact-server-addr',
    '127.0.0.1',
    '--artifact-server-port',
    String(freePort()),
    '-e',
    eventFile,
    '--local-repository',
    `${PUBLISHED}@v1=${release}`,
    '--local-repository',
    `docker/metadata-action@v5=${path.join(ROOT, 'e2e/support/metadata-action')}`,
    '--local-repository',
    `github/codeql-action@v3=${path.join(ROOT, 'e2e/support/codeql-action')}`,
    ...Object.entries(allVars).flatMap(([k, v]) => ['--var', `${k}=${v}`]),
    ...Object.keys(secrets).flatMap((k) => ['-s', k]),
  ];
  const r = spawnSync('act', args, {
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...secrets, ACT_DISABLE_VERSION_CHECK: '1' },
    maxBuffer: 256 * 1024 * 1024,
    timeout: 15 * 60 * 1000,
  });
  const results: Record<string, string> = {};
  for (const f of fs.readdirSync(resultDir)) results[f] = fs.readFileSync(path.join(resultDir, f), 'utf8');
  return { exitCode: r.status ?? -1, output: `${r.stdout}\n${r.stderr}`, results };
}

const example = (name: string): string => path.join('examples/workflows', name);

/** What a failed run's log says went wrong (act's failed steps and error lines first), then its last lines. */
function tail(run: ActRun): string {
  const lines = run.output.split('\n');
  const failed = lines.filter((l) => /❌|::error::|\berror\b|Failure/i.test(l)).slice(0, 20);
  return [...failed, '--- last lines:', ...lines.slice(-15)].join('\n');
}

describe('the workflow-step example on a release tag', () => {
  const image = `${bed.registry}/${uniqueRepo('act-step')}`;
  const release = `${bed.authRegistry}/${uniqueRepo('act-release')}`;
  let run: ActRun;
  beforeAll(() => {
    run = act(
      'push',
      example('step.yml'),
      { ref: 'refs/tags/v1.2.3' },
      { IMAGE: image, RELEASE_IMAGE: release, RELEASE_REGISTRY: bed.authRegistry },
      { secrets: { RELEASE_USERNAME: bed.authUser, RELEASE_PASSWORD: bed.authPassword } },
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

  it('hands scan-results to the next step through a file', () => {
    const scans = JSON.parse(run.results['scan-results'] ?? '{}') as Record<string, { counts: Record<string, number> }>;
    expect(Object.keys(scans).sort()).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
  });

  it("runs the action's main step and, the job having passed, no post step (post-if)", () => {
    expect(run.output).toMatch(/⭐ Run Main OWNER\/multiarch-build-scan-promote@v1/);
    expect(run.output).not.toMatch(/⭐ Run Post OWNER\/multiarch-build-scan-promote@v1/);
  });

  it('never prints the release password', () => {
    expect(run.output).not.toContain(bed.authPassword);
  });
});

describe('the reusable workflow called from another repository', () => {
  const repo = uniqueRepo('act-reusable');
  let caller: string;
  let run: ActRun;
  beforeAll(() => {
    // A repository of its own, holding only the caller workflow, as on github.com.
    caller = fs.mkdtempSync(path.join(os.tmpdir(), 'caller-'));
    fs.mkdirSync(path.join(caller, '.github/workflows'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, example('reusable-caller.yml')), path.join(caller, '.github/workflows/build.yml'));
    const git = (...a: string[]): string => execFileSync('git', ['-C', caller, ...a], { encoding: 'utf8' });
    git('init', '-q', '-b', 'main');
    git('-c', 'user.name=e2e', '-c', 'user.email=e2e@example.invalid', 'add', '.');
    git('-c', 'user.name=e2e', '-c', 'user.email=e2e@example.invalid', 'commit', '-q', '-m', 'caller');
    run = act(
      'workflow_dispatch',
      '.github/workflows/build.yml',
      {},
      { IMAGE: `${bed.registry}/${repo}`, CONTEXT: path.join(bed.contexts, 'vulnapp') },
      { cwd: caller },
    );
  });

  it('calls OWNER/REPO/.github/workflows/multiarch.yml@v1, not a copy in the caller', () => {
    const text = fs.readFileSync(path.join(caller, '.github/workflows/build.yml'), 'utf8');
    expect(text).toContain(`uses: ${PUBLISHED}/.github/workflows/multiarch.yml@v1`);
    expect(fs.existsSync(path.join(caller, '.github/workflows/multiarch.yml'))).toBe(false);
    expect(fs.readFileSync(path.join(release, '.github/workflows/multiarch.yml'), 'utf8')).toContain(`uses: ${PUBLISHED}@v1`);
  });

  it('succeeds, and the digest it hands the caller is the one the registry has', async () => {
    expect({ exitCode: run.exitCode, tail: run.exitCode === 0 ? '' : tail(run) }).toEqual({ exitCode: 0, tail: '' });
    const digest = run.results.digest ?? '';
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    const tags = await listTags(bed.registry, repo);
    expect(tags).toHaveLength(1);
    expect((await getManifest(bed.registry, repo, tags[0] ?? ''))?.digest).toBe(digest);
    const platforms = JSON.parse(run.results['platform-digests'] ?? '{}') as Record<string, string>;
    expect(Object.keys(platforms).sort()).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
  });
});

interface Written {
  a: string[];
  b: string[];
}

/**
 * The storage files of the run's own repositories in registry A and B. Other
 * suites write to the shared registries meanwhile, so the whole storage is no
 * measure; a push of ours (even an untagged blob link) lands under these names.
 */
function written(imageRepo: string, releaseRepo: string): Written {
  const mine = (repo: string) => (f: string) => f.includes(`/repositories/${repo}/`);
  return { a: storageFingerprint('registry-a').filter(mine(imageRepo)), b: storageFingerprint('registry-b').filter(mine(releaseRepo)) };
}

/** A pull_request event from a fork: the head repository is not the base. */
const FORK_PR = {
  pull_request: { number: 1, head: { ref: 'feature', repo: { full_name: 'someone/fork' } }, base: { ref: 'main', repo: { full_name: 'org/app' } } },
  repository: { full_name: 'org/app' },
};

describe('the push-and-pull-request example on a fork pull request', () => {
  // A fork gets no secrets (none are passed): registry-auth is built from empty values.
  const image = uniqueRepo('act-pr-clean');
  const release = uniqueRepo('act-pr-release');
  let run: ActRun;
  let before: Written;
  let after: Written;
  beforeAll(() => {
    before = written(image, release);
    run = act('pull_request', example('push-and-pull-request.yml'), FORK_PR, {
      CONTEXT: path.join(ROOT, 'examples/hello'),
      IMAGE: `${bed.registry}/${image}`,
      RELEASE_IMAGE: `${bed.authRegistry}/${release}`,
      RELEASE_REGISTRY: bed.authRegistry,
    });
    after = written(image, release);
  });

  it('passes with registry-auth made of empty secrets and promote-to set', () => {
    expect({ exitCode: run.exitCode, tail: run.exitCode === 0 ? '' : tail(run) }).toEqual({ exitCode: 0, tail: '' });
    expect(run.results.digest ?? '').toMatch(/^sha256:[a-f0-9]{64}$/);
  });

  it('says why it skipped the empty credentials and the promotion', () => {
    expect(run.output).toContain(
      `registry-auth: entry 1 (${bed.authRegistry}) has no username and password; skipped, since this run writes nothing to ${bed.authRegistry}`,
    );
    expect(run.output).toContain('promote-to: skipped on this pull_request event (push is auto, so nothing is pushed or promoted)');
  });

  it('uploads no SARIF from a fork (its token cannot write security events)', () => {
    expect(run.results.uploads).toBeUndefined();
  });

  it('writes nothing to either registry', () => {
    expect(before).toEqual({ a: [], b: [] });
    expect(after).toEqual(before);
  });
});

describe('the push-and-pull-request example on a pull request with a gated finding', () => {
  const image = uniqueRepo('act-pr-gated');
  const release = uniqueRepo('act-pr-gated-release');
  let run: ActRun;
  let before: Written;
  let after: Written;
  beforeAll(() => {
    before = written(image, release);
    run = act(
      'pull_request',
      example('push-and-pull-request.yml'),
      {
        pull_request: { number: 2, head: { ref: 'feature', repo: { full_name: 'org/app' } }, base: { ref: 'main', repo: { full_name: 'org/app' } } },
        repository: { full_name: 'org/app' },
      },
      {
        CONTEXT: path.join(bed.contexts, 'vulnapp'),
        IMAGE: `${bed.registry}/${image}`,
        RELEASE_IMAGE: `${bed.authRegistry}/${release}`,
        RELEASE_REGISTRY: bed.authRegistry,
      },
    );
    after = written(image, release);
  });

  it('fails on the gated arm64 finding', () => {
    expect(run.exitCode).not.toBe(0);
    expect(run.output).toMatch(/linux\/arm64[\s\S]*CVE-2099-10001/);
  });

  it("runs the action's post step after the failed main (post-if failure())", () => {
    expect(run.output).toMatch(/⭐ Run Post OWNER\/multiarch-build-scan-promote@v1/);
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

describe('no workflow of this repository runs on its own pushes and fails there', () => {
  it('leaves only the reusable workflow and CI in .github/workflows', () => {
    expect(fs.readdirSync(path.join(ROOT, '.github/workflows')).sort()).toEqual(['ci.yml', 'multiarch.yml']);
  });
});

// The bundled action against the test bed: builds, digests, the manifest list,
// failures, input validation, QEMU detection, and what main and the post step clean up.
import { describe, expect, it, beforeAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errorLines, runAction, type ActionRun } from './harness.js';
import { serveDirectory } from './support/http.js';
import { actionInputs, bed, getManifest, imageFile, indexPlatforms, listTags, platformDigests, storageFingerprint, uniqueRepo } from './testbed.js';

/** Build-only runs: the scan is the scan suite's business. */
function baseInputs(repo: string, extra: Record<string, string> = {}): Record<string, string> {
  return actionInputs(repo, { scan: 'false', ...extra });
}

function builders(): string {
  return execFileSync('docker', ['buildx', 'ls'], { encoding: 'utf8' });
}

describe('three platforms pushed by digest, one manifest list', () => {
  const repo = uniqueRepo('three');
  let run: ActionRun;

  beforeAll(() => {
    run = runAction(baseInputs(repo, { tags: '1.0.0,latest' }));
  });

  it('exits 0', () => {
    expect(errorLines(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
  });

  it('outputs the digest the registry returns for the first tag', async () => {
    const index = await getManifest(bed.registry, repo, '1.0.0');
    expect(run.outputs.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(index?.digest).toBe(run.outputs.digest);
    expect(run.outputs.image).toBe(`${bed.registry}/${repo}@${run.outputs.digest}`);
    expect((await getManifest(bed.registry, repo, 'latest'))?.digest).toBe(run.outputs.digest);
  });

  it('the index holds exactly the three platforms, arm variant included', async () => {
    const index = await getManifest(bed.registry, repo, '1.0.0');
    expect(index && indexPlatforms(index)).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
  });

  it('platform-digests matches the index and holds image manifests only', async () => {
    const index = await getManifest(bed.registry, repo, '1.0.0');
    const out = JSON.parse(run.outputs['platform-digests'] ?? '{}') as Record<string, string>;
    expect(out).toEqual(index && platformDigests(index));
    for (const digest of Object.values(out)) {
      const m = await getManifest(bed.registry, repo, digest);
      expect(m?.json.layers?.length).toBeGreaterThan(0);
    }
  });

  it.each([
    ['linux/amd64', 'x86_64'],
    ['linux/arm64', 'aarch64'],
    ['linux/arm/v7', 'armv7l'],
  ])('the RUN step of %s ran on %s', (platform, machine) => {
    const digests = JSON.parse(run.outputs['platform-digests'] ?? '{}') as Record<string, string>;
    expect(imageFile(`${bed.registry}/${repo}@${digests[platform]}`, '/etc/build-arch')).toBe(machine);
  });

  it('metadata carries per-platform seconds and sizes', () => {
    const meta = JSON.parse(run.outputs.metadata ?? '{}') as { platforms: Record<string, { seconds: number; size: number; emulated: boolean }> };
    expect(Object.keys(meta.platforms).sort()).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
    for (const p of Object.values(meta.platforms)) {
      expect(p.seconds).toBeGreaterThan(0);
      expect(p.size).toBeGreaterThan(100_000);
    }
    expect(meta.platforms['linux/arm64']?.emulated).toBe(true);
    expect(meta.platforms['linux/amd64']?.emulated).toBe(false);
  });

  it('writes a job summary with a row per platform and the manifest-list digest', () => {
    expect(run.summary).toContain('`linux/arm/v7` | emulated (QEMU)');
    expect(run.summary).toContain('`linux/amd64` | native');
    expect(run.summary).toContain(run.outputs.digest);
  });

  it('logs each platform in its own group with prefixed lines', () => {
    expect(run.stdout).toContain('::group::Build linux/arm64');
    expect(run.stdout).toMatch(/^\[linux\/arm64\] /m);
  });

  it('main removed the builder it created; after a successful main no post step runs, and the temp dir is left for later steps', () => {
    const builder = /created builder (\S+) \(/.exec(run.stdout)?.[1] ?? '';
    expect(builder).toMatch(/^multiarch-[0-9a-f]+$/);
    expect(run.stdout).toMatch(new RegExp(`^\\[command\\]\\S*buildx rm ${builder}$`, 'm'));
    expect(builders()).not.toContain(builder);
    expect(run.post.ran).toBe(false);
    const state = JSON.parse(run.state['multiarch-state'] ?? '{}') as { builder?: string; tempDir?: string };
    expect(state.builder).toBeUndefined();
    // Files named in the outputs (reports, SARIF) are read by later steps; the runner empties RUNNER_TEMP when the job ends.
    expect(fs.existsSync(path.join(state.tempDir ?? '', 'metadata-linux-arm64.json'))).toBe(true);
    expect(fs.existsSync(path.join(state.tempDir ?? '', 'docker-config'))).toBe(false);
  });
});

describe('a later step of the job fails: the post step runs (post-if failure())', () => {
  it('finds the builder already gone and removes the temp dir', () => {
    const run = runAction(actionInputs(uniqueRepo('post-later'), { platforms: 'linux/amd64', scan: 'false' }), { forcePost: true });
    expect(errorLines(run)).toEqual([]);
    expect(run.post).toMatchObject({ ran: true, exitCode: 0 });
    const state = JSON.parse(run.state['multiarch-state'] ?? '{}') as { builder?: string; tempDir?: string };
    expect(state.builder).toBeUndefined();
    expect(state.tempDir).toBeTruthy();
    expect(fs.existsSync(state.tempDir ?? '/nonexistent')).toBe(false);
    expect(run.post.stdout).not.toMatch(/buildx rm|warning/);
  });
});

describe('platform-files', () => {
  const repo = uniqueRepo('pfiles');
  let run: ActionRun;
  beforeAll(() => {
    run = runAction(
      baseInputs(repo, {
        platforms: 'linux/amd64,linux/arm64',
        'platform-files': `linux/arm64=${path.join(bed.contexts, 'vulnapp', 'Dockerfile.arm64')}`,
      }),
    );
  });

  it('builds arm64 from its own Dockerfile and amd64 from the default one', () => {
    expect(run.exitCode).toBe(0);
    const digests = JSON.parse(run.outputs['platform-digests'] ?? '{}') as Record<string, string>;
    expect(imageFile(`${bed.registry}/${repo}@${digests['linux/arm64']}`, '/etc/dockerfile-name')).toBe('Dockerfile.arm64');
    expect(imageFile(`${bed.registry}/${repo}@${digests['linux/amd64']}`, '/etc/dockerfile-name')).toBe('Dockerfile');
  });
});

describe('a platform whose build fails', () => {
  const repo = uniqueRepo('failing');
  let run: ActionRun;
  beforeAll(() => {
    run = runAction(baseInputs(repo, { 'build-args': 'FAIL_ARCH=aarch64' }));
  });

  it('exits non-zero naming the platform and its last log lines', () => {
    expect(run.exitCode).not.toBe(0);
    const errors = errorLines(run).join('\n');
    expect(errors).toContain('linux/arm64');
    expect(errors).toContain('failing on purpose on aarch64');
    expect(errors).not.toContain('linux/amd64:');
  });

  it('leaves no tag in the registry and outputs no digest', async () => {
    expect(await listTags(bed.registry, repo)).toEqual([]);
    expect(run.outputs.digest).toBeUndefined();
  });
});

describe('bad inputs fail fast, name the input, and change no registry', () => {
  const repo = uniqueRepo('badinput');
  const ctx = path.join(bed.contexts, 'vulnapp');
  const cases: [string, Record<string, string>, string, string][] = [
    ['platform with an unknown arch', { platforms: 'linux/arm65' }, 'platforms', 'arm65'],
    ['platform without an arch', { platforms: 'linux' }, 'platforms', 'linux'],
    ['duplicate platforms after normalising', { platforms: 'linux/arm64,linux/aarch64' }, 'platforms', 'linux/arm64'],
    ['unknown OS', { platforms: 'plan9/amd64' }, 'platforms', 'plan9'],
    ['bad arm variant', { platforms: 'linux/arm/v9' }, 'platforms', 'v9'],
    // A repository path with capitals is lowercased with a notice (e2e/github.e2e.test.ts), so it is no bad input.
    ['image with a space', { image: `${bed.registry}/bad repo` }, 'image', 'bad repo'],
    ['image carrying a tag', { image: `${bed.registry}/${repo}:1` }, 'image', ':1'],
    ['bad bare tag', { tags: 'bad tag!' }, 'tags', 'bad tag!'],
    ['tag reference with a digest', { tags: `${bed.registry}/x@sha256:${'a'.repeat(64)}` }, 'tags', 'sha256'],
    ['missing context', { context: '/nonexistent/ctx' }, 'context', '/nonexistent/ctx'],
    ['missing Dockerfile', { file: '/nonexistent/Dockerfile' }, 'file', '/nonexistent/Dockerfile'],
    ['platform-files for a platform not built', { 'platform-files': `linux/s390x=${ctx}/Dockerfile` }, 'platform-files', 'linux/s390x'],
    [
      'platform-files to a missing file',
      { 'platform-files': 'linux/arm64=/nonexistent/Dockerfile.arm64' },
      'platform-files',
      '/nonexistent/Dockerfile.arm64',
    ],
    ['push not a tristate', { push: 'maybe' }, 'push', 'maybe'],
    ['qemu not a tristate', { qemu: 'sometimes' }, 'qemu', 'sometimes'],
    ['qemu-image on latest', { 'qemu-image': 'tonistiigi/binfmt:latest' }, 'qemu-image', 'latest'],
    ['no-cache not a boolean', { 'no-cache': 'yes' }, 'no-cache', 'yes'],
    ['unknown driver', { driver: 'podman' }, 'driver', 'podman'],
    ['remote driver without endpoint', { endpoint: '' }, 'endpoint', 'remote'],
    [
      'builder with driver options',
      { builder: 'mine', driver: 'docker-container', endpoint: '', 'driver-opts': 'network=host' },
      'builder',
      'driver-opts',
    ],
    [
      'both buildkitd configs',
      { 'buildkitd-config': `${ctx}/Dockerfile`, 'buildkitd-config-inline': 'debug = true' },
      'buildkitd-config-inline',
      'buildkitd-config',
    ],
    ['push without tags', { tags: '' }, 'tags', 'push is true'],
    ['max-parallel zero', { 'max-parallel': '0' }, 'max-parallel', '0'],
    ['max-parallel not a number', { 'max-parallel': 'two' }, 'max-parallel', 'two'],
    ['fail-on unknown', { 'fail-on': 'severe' }, 'fail-on', 'severe'],
    ['severity unknown', { severity: 'HIGH,URGENT' }, 'severity', 'URGENT'],
    ['scanners unknown', { scanners: 'vuln,virus' }, 'scanners', 'virus'],
    ['trivy-version not a version', { 'trivy-version': 'newest' }, 'trivy-version', 'newest'],
    ['sarif without scanning', { sarif: 'out', scan: 'false' }, 'sarif', 'scan'],
    ['promote-to without a tag', { 'promote-to': `${bed.authRegistry}/x` }, 'promote-to', `${bed.authRegistry}/x`],
    ['registry-auth not YAML list', { 'registry-auth': 'just a string' }, 'registry-auth', 'YAML'],
    ['platform-tags with an unknown placeholder', { 'platform-tags': '{tag}-{cpu}' }, 'platform-tags', '{cpu}'],
    ['push without an image', { image: '', push: 'true' }, 'image', 'push'],
  ];

  let before: { a: string[]; b: string[]; builders: string };
  beforeAll(() => {
    before = { a: storageFingerprint('registry-a'), b: storageFingerprint('registry-b'), builders: builders() };
  });

  it.each(cases)('%s', (_name, extra, input, value) => {
    const run = runAction(baseInputs(repo, extra));
    expect(run.exitCode).not.toBe(0);
    const errors = errorLines(run);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.startsWith(`${input}:`)).toBe(true);
    expect(errors[0]).toContain(value);
    expect(run.seconds).toBeLessThan(2);
  });

  it('none of them wrote to either registry or created a builder', () => {
    expect(storageFingerprint('registry-a')).toEqual(before.a);
    expect(storageFingerprint('registry-b')).toEqual(before.b);
    expect(builders()).toBe(before.builders);
  });
});

describe('qemu: auto on a host whose handlers are registered', () => {
  const repo = uniqueRepo('qemuauto');
  let run: ActionRun;
  let binfmtBefore: string;
  beforeAll(() => {
    binfmtBefore = fs.readFileSync('/proc/sys/fs/binfmt_misc/qemu-aarch64', 'utf8');
    run = runAction(baseInputs(repo, { platforms: 'linux/amd64,linux/arm64', qemu: 'auto' }));
  });

  it('skips registration, saying why for each platform', () => {
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/linux\/amd64: .*native/);
    expect(run.stdout).toMatch(/linux\/arm64: qemu-aarch64 already registered with flags [A-Z]*F[A-Z]*, skipped/);
  });

  it('runs no registration process and leaves binfmt_misc as it was', () => {
    expect(run.stdout).not.toMatch(/\[command\].*(binfmt|update-binfmts)/);
    expect(fs.readFileSync('/proc/sys/fs/binfmt_misc/qemu-aarch64', 'utf8')).toBe(binfmtBefore);
  });
});

describe('buildx-version on a runner without buildx', () => {
  it('installs the wanted buildx from the mirror through the tool cache and builds with it', async () => {
    const version = 'v0.36.1';
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'buildx-mirror-'));
    fs.mkdirSync(path.join(root, version));
    const plugin = fs.realpathSync(path.join(os.homedir(), '.docker', 'cli-plugins', 'docker-buildx'));
    fs.copyFileSync(plugin, path.join(root, version, `buildx-${version}.linux-amd64`));
    const mirror = await serveDirectory(root);
    // An empty DOCKER_CONFIG: the docker CLI finds no buildx plugin there.
    const dockerConfig = fs.mkdtempSync(path.join(os.tmpdir(), 'docker-config-'));
    try {
      const repo = uniqueRepo('buildx-install');
      const run = runAction(baseInputs(repo, { platforms: 'linux/amd64', 'buildx-version': version, 'buildx-base-url': mirror.url }), {
        env: { DOCKER_CONFIG: dockerConfig, BUILDX_CONFIG: path.join(dockerConfig, 'buildx') },
      });
      expect(errorLines(run)).toEqual([]);
      expect(run.exitCode).toBe(0);
      expect(run.stdout).toContain(`${mirror.url}/${version}/buildx-${version}.linux-amd64`);
      expect(fs.existsSync(path.join(dockerConfig, 'cli-plugins', 'docker-buildx'))).toBe(true);
      expect((await getManifest(bed.registry, repo, '1.0.0'))?.digest).toBe(run.outputs.digest);
    } finally {
      mirror.stop();
    }
  });
});

describe('qemu: auto with a missing handler on a host without a docker daemon', () => {
  const entry = '/proc/sys/fs/binfmt_misc/qemu-arm';
  const repo = uniqueRepo('qemu-register');
  let run: ActionRun;
  beforeAll(() => {
    execFileSync('update-binfmts', ['--disable', 'qemu-arm']);
    try {
      run = runAction(baseInputs(repo, { platforms: 'linux/amd64,linux/arm/v7', qemu: 'auto', 'no-cache': 'true' }), {
        env: { DOCKER_HOST: 'unix:///nonexistent/docker.sock' },
      });
    } finally {
      // Leave the host as the test bed had it, whatever the action did.
      if (!fs.existsSync(entry) || !fs.readFileSync(entry, 'utf8').startsWith('enabled')) execFileSync('update-binfmts', ['--enable', 'qemu-arm']);
    }
  });

  it('registers only the missing handler, from the host qemu-arm-static, and says which way it took', () => {
    expect(errorLines(run)).toEqual([]);
    expect(run.stdout).toMatch(/linux\/amd64: .*native/);
    expect(run.stdout).toMatch(/registering qemu-arm .*no docker daemon/);
    expect(run.stdout).not.toMatch(/registering qemu-aarch64/);
    expect(fs.readFileSync(entry, 'utf8')).toMatch(/flags: [A-Z]*F/);
  });

  it('the arm/v7 RUN step then ran under the newly registered QEMU', () => {
    const digests = JSON.parse(run.outputs['platform-digests'] ?? '{}') as Record<string, string>;
    expect(imageFile(`${bed.registry}/${repo}@${digests['linux/arm/v7']}`, '/etc/build-arch')).toBe('armv7l');
  });
});

describe('a registry cache with per-platform builds', () => {
  it('exports one cache per platform and imports it on the next run', async () => {
    const cacheRepo = uniqueRepo('cache');
    const cache = `type=registry,ref=${bed.registry}/${cacheRepo}`;
    const extra = { platforms: 'linux/amd64,linux/arm64', 'cache-from': cache, 'cache-to': `${cache},mode=max` };
    const first = runAction(baseInputs(uniqueRepo('cached'), extra));
    expect(errorLines(first)).toEqual([]);
    expect(await listTags(bed.registry, cacheRepo)).toEqual(['linux-amd64', 'linux-arm64']);
    const second = runAction(baseInputs(uniqueRepo('cached'), extra));
    expect(second.exitCode).toBe(0);
    expect(second.stdout).toMatch(/\[linux\/arm64\] .*importing cache manifest from .*:linux-arm64/);
    expect(second.stdout).toMatch(/\[linux\/amd64\] .*importing cache manifest from .*:linux-amd64/);
  });
});

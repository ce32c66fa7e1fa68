// The builder decides what is native, end to end on the test bed: a
// multi-node builder of the two extra buildkitd daemons (each platform built
// on the node that serves it), the default docker-container driver with the
// locally built buildkit image (build, scan, promote, the builder removed), QEMU
// registered through the locally built binfmt image into an already booted
// docker-container builder, and the drivers the action refuses.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errorLines, runAction, type ActionRun } from './harness.js';
import { actionInputs, bed, getManifest, imageFile, indexPlatforms, listTags, uniqueRepo } from './testbed.js';

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run 'make testbed-up' and 'source .testbed/env'`);
  return v;
}

const PLATFORMS = ['linux/amd64', 'linux/arm64', 'linux/arm/v7'] as const;
const MACHINE: Record<string, string> = { 'linux/amd64': 'x86_64', 'linux/arm64': 'aarch64', 'linux/arm/v7': 'armv7l' };

/** A docker-container builder made the way the test bed can: its buildkit image from registry A, host network, loopback registries over http. */
function dockerContainer(): Record<string, string> {
  return {
    driver: 'docker-container',
    endpoint: '',
    'driver-opts': `image=${need('TESTBED_BUILDKIT_IMAGE')}\nnetwork=host`,
    'buildkitd-config': need('TESTBED_BUILDKITD_CONFIG'),
  };
}

/** The name of the builder the run created, from its log. */
function createdBuilder(run: ActionRun): string {
  const m = /created builder (\S+) \(/.exec(run.stdout);
  if (!m) throw new Error(`no "created builder" line in:\n${run.stdout.slice(0, 2000)}`);
  return m[1] as string;
}

/** Names of containers (running or not) of a buildx docker-container builder. */
function builderContainers(builder: string): string[] {
  const out = execFileSync('docker', ['ps', '-a', '--filter', `name=buildx_buildkit_${builder}`, '--format', '{{.Names}}'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l !== '');
}

function metadataOf(run: ActionRun): Record<string, { node?: string; emulated: boolean | null; digest: string }> {
  return (JSON.parse(run.outputs.metadata ?? '{}') as { platforms: Record<string, { node?: string; emulated: boolean | null; digest: string }> })
    .platforms;
}

/** Lines a daemon's log gained since `from` lines. */
function logSince(file: string, from: number): string {
  return fs.readFileSync(file, 'utf8').split('\n').slice(from).join('\n');
}

function lineCount(file: string): number {
  return fs.readFileSync(file, 'utf8').split('\n').length - 1;
}

function binfmt(name: string): string {
  const f = `/proc/sys/fs/binfmt_misc/${name}`;
  return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '';
}

describe('nodes: a multi-node builder of the two test-bed daemons (driver remote)', () => {
  const repo = uniqueRepo('multinode');
  const logs = { amd: path.join(bed.logDir, 'buildkitd-amd.log'), arm: path.join(bed.logDir, 'buildkitd-arm.log') };
  let before: { amd: number; arm: number; aarch64: string; arm32: string };
  let run: ActionRun;

  beforeAll(() => {
    before = { amd: lineCount(logs.amd), arm: lineCount(logs.arm), aarch64: binfmt('qemu-aarch64'), arm32: binfmt('qemu-arm') };
    run = runAction(actionInputs(repo, { driver: 'remote', endpoint: '', nodes: need('TESTBED_BUILDKIT_NODES'), scan: 'false', 'no-cache': 'true' }));
    console.log(`multi-node run: ${run.seconds.toFixed(1)} s wall`);
  });

  it('exits 0 with the three platforms in the manifest list', async () => {
    expect(errorLines(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
    const index = await getManifest(bed.registry, repo, '1.0.0');
    expect(index && indexPlatforms(index)).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
  });

  it('made one builder with a node per line, and main removed it as it ended', () => {
    const builder = createdBuilder(run);
    expect(run.stdout).toContain(`created builder ${builder} (remote)`);
    expect(execFileSync('docker', ['buildx', 'ls'], { encoding: 'utf8' })).not.toContain(builder);
    expect(run.post.ran).toBe(false);
  });

  it('built each platform on the daemon that serves it: the daemon logs name the digests it pushed', () => {
    const meta = metadataOf(run);
    const amd = logSince(logs.amd, before.amd);
    const arm = logSince(logs.arm, before.arm);
    const on = (p: string): string[] => {
      const d = (meta[p]?.digest ?? 'none').slice('sha256:'.length);
      return [amd.includes(d) ? 'amd' : '', arm.includes(d) ? 'arm' : ''].filter((x) => x !== '');
    };
    expect(Object.fromEntries(PLATFORMS.map((p) => [p, on(p)]))).toEqual({
      'linux/amd64': ['amd'],
      'linux/arm64': ['arm'],
      'linux/arm/v7': ['arm'],
    });
  });

  it('names the node per platform in the summary and the metadata', () => {
    const builder = createdBuilder(run);
    const meta = metadataOf(run);
    expect(Object.fromEntries(PLATFORMS.map((p) => [p, meta[p]?.node]))).toEqual({
      'linux/amd64': `${builder}0`,
      'linux/arm64': `${builder}1`,
      'linux/arm/v7': `${builder}1`,
    });
    expect(run.summary).toContain(`| \`linux/amd64\` | native | \`${builder}0\` |`);
    expect(run.summary).toContain(`| \`linux/arm/v7\` | emulated (QEMU) | \`${builder}1\` |`);
  });

  it('registered nothing with QEMU (the log says so) and left binfmt_misc as it was', () => {
    expect(run.stdout).toContain('nothing registered with QEMU');
    expect(run.stdout).not.toMatch(/^registering /m);
    expect(binfmt('qemu-aarch64')).toBe(before.aarch64);
    expect(binfmt('qemu-arm')).toBe(before.arm32);
  });

  it.each(PLATFORMS.map((p) => [p]))('the RUN step of %s ran on the right CPU', (platform) => {
    expect(imageFile(`${bed.registry}/${repo}@${metadataOf(run)[platform]?.digest}`, '/etc/build-arch')).toBe(MACHINE[platform]);
  });
});

describe('driver: docker-container (the default path): build, scan and promote, then main removes the builder', () => {
  const repo = uniqueRepo('dc-src');
  const target = uniqueRepo('dc-dst');
  let run: ActionRun;

  beforeAll(() => {
    run = runAction(
      actionInputs(repo, {
        ...dockerContainer(),
        'no-cache': 'true',
        'fail-on': 'none',
        'promote-to': `${bed.authRegistry}/${target}:1.0.0`,
        'registry-auth': `- registry: ${bed.authRegistry}\n  username: ${bed.authUser}\n  password: ${bed.authPassword}\n`,
      }),
    );
    console.log(`docker-container run: ${run.seconds.toFixed(1)} s wall`);
  });

  it('exits 0', () => {
    expect(errorLines(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
  });

  it('created a docker-container builder from the local buildkit image', () => {
    expect(run.stdout).toMatch(/created builder \S+ \(docker-container\)/);
  });

  it('pushed the three platforms, scanned each and promoted the manifest list to registry B', async () => {
    const index = await getManifest(bed.registry, repo, '1.0.0');
    expect(index && indexPlatforms(index)).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
    const scans = JSON.parse(run.outputs['scan-results'] ?? '{}') as Record<string, { counts: Record<string, number> }>;
    expect(Object.keys(scans).sort()).toEqual([...PLATFORMS].sort());
    const promoted = JSON.parse(run.outputs.promoted ?? '[]') as string[];
    expect(promoted).toEqual([`${bed.authRegistry}/${target}:1.0.0@${run.outputs.digest}`]);
  });

  it('planned QEMU from the node on this runner: amd64 native, the arm platforms emulated', () => {
    const builder = createdBuilder(run);
    const meta = metadataOf(run);
    expect(Object.fromEntries(PLATFORMS.map((p) => [p, [meta[p]?.node, meta[p]?.emulated]]))).toEqual({
      'linux/amd64': [`${builder}0`, false],
      'linux/arm64': [`${builder}0`, true],
      'linux/arm/v7': [`${builder}0`, true],
    });
  });

  it('main removed the builder and its container as it ended (no post step after success)', () => {
    const builder = createdBuilder(run);
    expect(run.post.ran).toBe(false);
    expect(builderContainers(builder)).toEqual([]);
    expect(execFileSync('docker', ['buildx', 'ls'], { encoding: 'utf8' })).not.toContain(builder);
  });
});

describe('qemu: auto with the qemu-aarch64 and qemu-arm handlers removed: registered through the binfmt image', () => {
  const repo = uniqueRepo('dc-qemu');
  const names = ['qemu-aarch64', 'qemu-arm'];
  let run: ActionRun;
  let registered: Record<string, string> = {};

  beforeAll(() => {
    for (const n of names) if (binfmt(n)) fs.writeFileSync(`/proc/sys/fs/binfmt_misc/${n}`, '-1');
    run = runAction(
      actionInputs(repo, { ...dockerContainer(), qemu: 'auto', 'qemu-image': need('TESTBED_BINFMT_IMAGE'), scan: 'false', 'no-cache': 'true' }),
    );
    registered = Object.fromEntries(names.map((n) => [n, binfmt(n)]));
  });

  afterAll(() => {
    // Leave the host as the test bed made it (binfmt-support's entries), whatever the action did.
    for (const n of names) if (binfmt(n)) fs.writeFileSync(`/proc/sys/fs/binfmt_misc/${n}`, '-1');
    execFileSync('update-binfmts', ['--enable', 'qemu-aarch64']);
    execFileSync('update-binfmts', ['--enable', 'qemu-arm']);
  });

  it('exits 0', () => {
    expect(errorLines(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
  });

  it('the builder booted first, then the action registered both through the image (a docker daemon answers)', () => {
    const created = run.stdout.indexOf('created builder');
    const registering = run.stdout.indexOf(`registering aarch64, arm with ${need('TESTBED_BINFMT_IMAGE')} (docker daemon available)`);
    expect(created).toBeGreaterThan(-1);
    expect(registering).toBeGreaterThan(created);
    expect(run.stdout).toContain('linux/arm64: no qemu-aarch64 binfmt entry, registering');
    for (const n of names) expect(registered[n]).toMatch(/^enabled\n[\s\S]*flags: [A-Z]*F/);
  });

  it.each([['linux/arm64'], ['linux/arm/v7']])('the already booted builder ran the %s RUN step under the new handler', (platform) => {
    expect(imageFile(`${bed.registry}/${repo}@${metadataOf(run)[platform]?.digest}`, '/etc/build-arch')).toBe(MACHINE[platform]);
  });
});

describe('drivers the action refuses: one line naming the input, nothing built', () => {
  const repo = uniqueRepo('bad-driver');
  const cases: [string, Record<string, string>, string, string][] = [
    ['docker', { driver: 'docker', endpoint: '' }, 'driver', 'use docker-container (the default) or remote'],
    ['kubernetes', { driver: 'kubernetes', endpoint: '' }, 'driver', 'no cluster on the test bed'],
    ['nodes missing a platform', { endpoint: '', nodes: 'linux/amd64=unix:///tmp/a.sock' }, 'nodes', 'no node serves linux/arm64, linux/arm/v7'],
    ['nodes and endpoint', { nodes: 'linux/amd64,linux/arm64,linux/arm/v7=unix:///tmp/a.sock' }, 'endpoint', 'nodes'],
    ['remote with a buildkitd config', { 'buildkitd-config': need('TESTBED_BUILDKITD_CONFIG') }, 'buildkitd-config', 'remote'],
  ];
  it.each(cases)('%s', (_name, extra, input, text) => {
    const run = runAction(actionInputs(repo, { scan: 'false', ...extra }));
    expect(run.exitCode).not.toBe(0);
    const errors = errorLines(run);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.startsWith(`${input}:`)).toBe(true);
    expect(errors[0]).toContain(text);
    expect(run.seconds).toBeLessThan(2);
    // Refused before the builder phase: no builder, so nothing for QEMU or a build either.
    expect(run.stdout).not.toContain('created builder');
    expect(run.stdout).not.toContain('::group::QEMU');
  });

  // Other suites share the registry and buildx, so this looks at our repository only.
  it('none of them pushed anything', async () => {
    expect(await listTags(bed.registry, repo)).toEqual([]);
  });
});

import { describe, expect, it, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { builderProblem, createBuilderArgs, ensureBuilder, parseInspect, removeBuilder, type BuilderInfo } from '../src/buildx/builder.js';
import { CommandError, type Exec, type ExecResult } from '../src/exec.js';
import type { BuilderNodeSpec } from '../src/model.js';
import { parsePlatform } from '../src/platform.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'buildx');
const fixture = (name: string): string => readFileSync(path.join(FIXTURES, name), 'utf8');

const base = { driver: 'docker-container', driverOpts: [] as string[], endpoint: '', buildkitdConfig: '', nodes: [] as BuilderNodeSpec[] };

describe('createBuilderArgs', () => {
  test.each<[string, Partial<typeof base>, string | undefined, string[]]>([
    ['docker-container default', {}, undefined, ['buildx', 'create', '--name', 'multiarch-x1', '--driver', 'docker-container']],
    [
      'empty driver means docker-container',
      { driver: '' },
      undefined,
      ['buildx', 'create', '--name', 'multiarch-x1', '--driver', 'docker-container'],
    ],
    [
      'driver opts and a config file from the input',
      { driverOpts: ['image=moby/buildkit:v0.32.2', 'network=host'], buildkitdConfig: '/cfg/buildkitd.toml' },
      undefined,
      [
        'buildx',
        'create',
        '--name',
        'multiarch-x1',
        '--driver',
        'docker-container',
        '--driver-opt',
        'image=moby/buildkit:v0.32.2',
        '--driver-opt',
        'network=host',
        '--buildkitd-config',
        '/cfg/buildkitd.toml',
      ],
    ],
    [
      'inline config written to a temp file wins over the input path',
      { buildkitdConfig: '/cfg/buildkitd.toml' },
      '/tmp/inline.toml',
      ['buildx', 'create', '--name', 'multiarch-x1', '--driver', 'docker-container', '--buildkitd-config', '/tmp/inline.toml'],
    ],
    [
      'remote driver with endpoint last',
      { driver: 'remote', endpoint: 'unix:///run/buildkit/buildkitd.sock' },
      undefined,
      ['buildx', 'create', '--name', 'multiarch-x1', '--driver', 'remote', 'unix:///run/buildkit/buildkitd.sock'],
    ],
  ])('%s', (_name, over, configFile, want) => {
    expect(createBuilderArgs('multiarch-x1', { ...base, ...over }, configFile)).toEqual([want]);
  });

  it('one create per node: the first makes the builder, the others --append, each with its --platform and the same settings', () => {
    const nodes = [
      { platforms: [parsePlatform('linux/amd64')], endpoint: 'unix:///run/amd.sock' },
      { platforms: ['linux/arm64', 'linux/arm/v7'].map(parsePlatform), endpoint: 'tcp://arm-builder:1234' },
    ];
    expect(createBuilderArgs('multi', { ...base, driver: 'remote', driverOpts: ['default-load=false'], nodes })).toEqual([
      [
        'buildx',
        'create',
        '--name',
        'multi',
        '--driver',
        'remote',
        '--driver-opt',
        'default-load=false',
        '--platform',
        'linux/amd64',
        'unix:///run/amd.sock',
      ],
      [
        'buildx',
        'create',
        '--name',
        'multi',
        '--append',
        '--driver',
        'remote',
        '--driver-opt',
        'default-load=false',
        '--platform',
        'linux/arm64,linux/arm/v7',
        'tcp://arm-builder:1234',
      ],
    ]);
  });

  test.each([
    ['docker', { driver: 'docker' }, 'driver "docker" cannot push each platform by digest or write OCI layouts'],
    ['kubernetes', { driver: 'kubernetes' }, 'driver "kubernetes" is not supported'],
    ['an unknown driver', { driver: 'podman' }, 'driver "podman" is not one buildx has'],
    ['remote without endpoint', { driver: 'remote' }, 'driver "remote" needs an `endpoint`'],
  ])('refuses %s', (_name, over, msg) => {
    expect(() => createBuilderArgs('n', { ...base, ...over })).toThrow(msg);
  });
});

describe('parseInspect (real buildx v0.36.1 output)', () => {
  it('remote driver builder after --bootstrap', () => {
    const info = parseInspect(fixture('inspect-remote.txt'));
    const want: BuilderInfo = {
      name: 'fixture-builder-14214',
      driver: 'remote',
      lastActivity: '2026-11-23 09:47:39 +0000 UTC',
      nodes: [
        {
          name: 'fixture-builder-142140',
          endpoint: 'unix:///work/main/.testbed/run/buildkitd.sock',
          status: 'running',
          buildkitVersion: 'v0.32.2',
          platforms: [
            'linux/amd64',
            'linux/amd64/v2',
            'linux/amd64/v3',
            'linux/amd64/v4',
            'linux/arm64',
            'linux/386',
            'linux/arm/v7',
            'linux/arm/v6',
          ],
          userPlatforms: [],
        },
      ],
    };
    expect(info).toEqual(want);
    expect(builderProblem(info)).toBeUndefined();
  });

  it('docker driver default builder', () => {
    const info = parseInspect(fixture('inspect-docker-default.txt'));
    expect(info.driver).toBe('docker');
    expect(info.nodes.map((n) => [n.name, n.endpoint, n.status, n.buildkitVersion])).toEqual([['default', 'default', 'running', 'v0.8+unknown']]);
    expect(info.nodes[0]?.platforms).toContain('linux/arm/v7');
  });

  it('an unreachable remote builder without --bootstrap is inactive (exit code 0!)', () => {
    const info = parseInspect(fixture('inspect-remote-unreachable-nobootstrap.txt'));
    expect(info.nodes.map((n) => [n.endpoint, n.status])).toEqual([['unix:///tmp/fixture-nonexistent.sock', 'inactive']]);
    expect(builderProblem(info)).toBe('builder fixture-broken-14214 node fixture-broken-142140 is inactive');
  });

  it('multiple nodes, user-set platforms (*), node and builder errors', () => {
    const text = [
      'Name:          multi',
      'Driver:        docker-container',
      '',
      'Nodes:',
      'Name:                  multi0',
      'Endpoint:              unix:///var/run/docker.sock',
      'Driver Options:        network="host"',
      'Status:                running',
      'BuildKit daemon flags: --allow-insecure-entitlement=network.host',
      'BuildKit version:      v0.32.2',
      'Platforms:             linux/amd64*, linux/arm64*, linux/386',
      'Labels:',
      ' org.mobyproject.buildkit.worker.executor: oci',
      'File#buildkitd.toml:',
      ' > [registry."127.0.0.1:5000"]',
      ' >   http = true',
      '',
      'Name:     multi1',
      'Endpoint: tcp://10.0.0.2:1234',
      'Error:    connection refused',
      '',
    ].join('\n');
    const info = parseInspect(text);
    expect(info.nodes).toEqual([
      {
        name: 'multi0',
        endpoint: 'unix:///var/run/docker.sock',
        status: 'running',
        driverOptions: 'network="host"',
        flags: '--allow-insecure-entitlement=network.host',
        buildkitVersion: 'v0.32.2',
        platforms: ['linux/amd64', 'linux/arm64', 'linux/386'],
        userPlatforms: ['linux/amd64', 'linux/arm64'],
      },
      { name: 'multi1', endpoint: 'tcp://10.0.0.2:1234', status: '', platforms: [], userPlatforms: [], error: 'connection refused' },
    ]);
    expect(builderProblem(info)).toBe('builder multi node multi1: connection refused');
    expect(builderProblem(parseInspect('Name: x\nDriver: remote\nError: no such builder\n'))).toBe('builder x: no such builder');
    expect(builderProblem(parseInspect('Name: x\nDriver: remote\n\nNodes:\n'))).toBe('builder x has no nodes');
  });

  it('refuses text that is not inspect output', () => {
    expect(() => parseInspect(fixture('inspect-remote-unreachable-bootstrap.stderr.txt'))).toThrow('not buildx inspect output');
  });
});

type Handler = (args: readonly string[]) => ExecResult;

function fakeDocker(handler: Handler): { exec: Exec; calls: string[][] } {
  const calls: string[][] = [];
  const exec: Exec = async (command, args, options) => {
    calls.push([command, ...args]);
    const r = handler(args);
    if (r.exitCode !== 0 && !options?.allowFailure) throw new CommandError(command, args, r.exitCode, r.stderr);
    return r;
  };
  return { exec, calls };
}

const ok = (stdout = ''): ExecResult => ({ exitCode: 0, stdout, stderr: '' });

describe('ensureBuilder', () => {
  const remote = { ...base, driver: 'remote', endpoint: 'unix:///work/main/.testbed/run/buildkitd.sock', builder: '' };

  it('creates and boots a new builder', async () => {
    const { exec, calls } = fakeDocker((args) => (args[1] === 'inspect' ? ok(fixture('inspect-remote.txt')) : ok()));
    const r = await ensureBuilder(exec, remote, { name: 'fixture-builder-14214' });
    expect(r.created).toBe(true);
    expect(r.name).toBe('fixture-builder-14214');
    expect(r.info.nodes[0]?.status).toBe('running');
    expect(calls).toEqual([
      ['docker', 'buildx', 'create', '--name', 'fixture-builder-14214', '--driver', 'remote', 'unix:///work/main/.testbed/run/buildkitd.sock'],
      ['docker', 'buildx', 'inspect', '--bootstrap', 'fixture-builder-14214'],
    ]);
  });

  it('reuses a named builder and creates nothing', async () => {
    const { exec, calls } = fakeDocker(() => ok(fixture('inspect-remote.txt')));
    const r = await ensureBuilder(exec, { ...remote, builder: 'fixture-builder-14214' }, { name: 'multiarch-unused' });
    expect(r).toMatchObject({ name: 'fixture-builder-14214', created: false });
    expect(r.info.driver).toBe('remote');
    expect(calls.map((c) => c[2])).toEqual(['inspect']);
  });

  it('refuses an existing docker-driver builder before anything else runs, saying what to use', async () => {
    const { exec, calls } = fakeDocker(() => ok(fixture('inspect-docker-default.txt')));
    await expect(ensureBuilder(exec, { ...remote, builder: 'default' }, { name: 'multiarch-unused' })).rejects.toThrow(
      'builder "default" uses driver "docker", which cannot push each platform by digest or write OCI layouts (the docker driver needs the containerd image store for both); use docker-container (the default) or remote',
    );
    expect(calls.map((c) => c[2])).toEqual(['inspect']);
  });

  it('creates every node, then boots; a failing --append removes the half-made builder', async () => {
    const nodes = [
      { platforms: [parsePlatform('linux/amd64')], endpoint: 'unix:///run/amd.sock' },
      { platforms: [parsePlatform('linux/arm64')], endpoint: 'unix:///run/arm.sock' },
    ];
    const good = fakeDocker((args) => (args[1] === 'inspect' ? ok(fixture('inspect-remote.txt')) : ok()));
    await ensureBuilder(good.exec, { ...remote, endpoint: '', nodes }, { name: 'm' });
    expect(good.calls.map((c) => c.slice(1, 3).join(' ') + (c.includes('--append') ? ' --append' : ''))).toEqual([
      'buildx create',
      'buildx create --append',
      'buildx inspect',
    ]);
    const bad = fakeDocker((args) => (args.includes('--append') ? { exitCode: 1, stdout: '', stderr: 'ERROR: connection refused' } : ok()));
    await expect(ensureBuilder(bad.exec, { ...remote, endpoint: '', nodes }, { name: 'm' })).rejects.toThrow('connection refused');
    expect(bad.calls.at(-1)).toEqual(['docker', 'buildx', 'rm', 'm']);
  });

  it('removes a builder it created that does not boot, then fails', async () => {
    const { exec, calls } = fakeDocker((args) =>
      args[1] === 'inspect' ? { exitCode: 1, stdout: '', stderr: fixture('inspect-remote-unreachable-bootstrap.stderr.txt') } : ok(),
    );
    await expect(ensureBuilder(exec, remote, { name: 'multiarch-b0rk' })).rejects.toThrow('context deadline exceeded');
    expect(calls.map((c) => c.slice(1, 3).join(' '))).toEqual(['buildx create', 'buildx inspect', 'buildx rm']);
    expect(calls[2]).toEqual(['docker', 'buildx', 'rm', 'multiarch-b0rk']);
  });

  it('fails on an inactive existing builder even though inspect exits 0', async () => {
    const { exec } = fakeDocker(() => ok(fixture('inspect-remote-unreachable-nobootstrap.txt')));
    await expect(ensureBuilder(exec, { ...remote, builder: 'fixture-broken-14214' }, { name: 'x' })).rejects.toThrow('is inactive');
  });

  it('removeBuilder reports failure instead of throwing', async () => {
    const { exec } = fakeDocker(() => ({ exitCode: 1, stdout: '', stderr: 'ERROR: no builder "gone" found' }));
    expect(await removeBuilder(exec, 'gone')).toBe(false);
    const good = fakeDocker(() => ok('gone removed'));
    expect(await removeBuilder(good.exec, 'gone')).toBe(true);
  });
});

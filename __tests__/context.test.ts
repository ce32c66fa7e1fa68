import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { parse } from 'yaml';
import { DEFAULTS, getInputs, InputError, type InputEnv, LOCAL_IMAGE, parseInputs } from '../src/context.js';
import type { Inputs } from '../src/model.js';
import { parsePlatform } from '../src/platform.js';

// A small fake workspace: paths relative to the workspace cwd.
const DIRS = new Set(['.', 'app', 'sarif-out']);
const FILES = new Set(['Dockerfile', 'app/Dockerfile', 'Dockerfile.arm64', 'buildkitd.toml', '.trivyignore', 'sarif-file']);

function fakeEnv(eventName: string): InputEnv {
  return {
    eventName,
    exists: (p) => DIRS.has(p) || FILES.has(p),
    isDirectory: (p) => DIRS.has(p),
  };
}

function parseWith(values: Record<string, string>, eventName = 'push'): Inputs {
  return parseInputs((name) => values[name] ?? '', fakeEnv(eventName));
}

function errorOf(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error('expected an InputError');
}

// Pushing needs an image and at least one tag for the manifest list.
const IMAGE = { image: 'ghcr.io/org/app', tags: '1.0' };
const SHA = `sha256:${'a'.repeat(64)}`;

describe('parseInputs: defaults', () => {
  it('fills every input with its default when only image and a tag are given on push', () => {
    const expected: Inputs = {
      context: '.',
      file: 'Dockerfile',
      platforms: [
        { os: 'linux', arch: 'amd64', id: 'linux/amd64' },
        { os: 'linux', arch: 'arm64', id: 'linux/arm64' },
      ],
      platformFiles: {},
      buildArgs: [],
      labels: [],
      annotations: [],
      target: '',
      secrets: [],
      cacheFrom: [],
      cacheTo: [],
      noCache: false,
      provenance: 'false',
      sbom: 'false',
      image: 'ghcr.io/org/app',
      tags: ['ghcr.io/org/app:1.0'],
      push: true,
      qemu: 'auto',
      qemuImage: 'docker.io/tonistiigi/binfmt:qemu-v9.2.2-52',
      qemuImages: ['docker.io/tonistiigi/binfmt:qemu-v9.2.2-52'],
      buildkitImages: [],
      builder: '',
      driver: 'docker-container',
      driverOpts: [],
      endpoint: '',
      buildkitdConfig: '',
      buildkitdConfigInline: '',
      nodes: [],
      buildxVersion: '',
      buildxBaseUrl: 'https://github.com/docker/buildx/releases/download',
      maxParallel: 0,
      scan: true,
      severity: ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'],
      failOn: 'critical',
      ignoreUnfixed: false,
      trivyignores: [],
      scanners: ['vuln'],
      trivyVersion: 'v0.74.0',
      trivyBaseUrl: 'https://github.com/aquasecurity/trivy/releases/download',
      trivyDbRepositories: [],
      trivyJavaDbRepositories: [],
      trivyCacheDir: '',
      sarif: '',
      sbomAttach: false,
      promoteTo: [],
      registryAuth: [],
      platformTags: '',
      githubToken: '',
      registryTimeout: 60,
      mode: 'all',
      runners: [
        { platform: { os: 'linux', arch: 'amd64', id: 'linux/amd64' }, runner: 'ubuntu-24.04' },
        { platform: { os: 'linux', arch: 'arm64', id: 'linux/arm64' }, runner: 'ubuntu-24.04-arm' },
      ],
      legKey: '',
    };
    expect(parseWith(IMAGE)).toEqual(expected);
  });

  it('builds the local image when push is false and image is empty', () => {
    const inputs = parseWith({ tags: '1.0' }, 'pull_request');
    expect(inputs.push).toBe(false);
    expect(inputs.image).toBe(LOCAL_IMAGE);
    expect(inputs.tags).toEqual(['localhost/multiarch-build:1.0']);
  });

  it('treats whitespace-only values as unset', () => {
    expect(parseWith({ ...IMAGE, platforms: '  ', 'fail-on': ' \n ' }).failOn).toBe('critical');
  });
});

describe('parseInputs: push', () => {
  it.each([
    ['push', 'auto', true],
    ['pull_request', 'auto', false],
    ['pull_request_target', 'auto', false],
    ['workflow_dispatch', 'auto', true],
    ['schedule', '', true],
    ['', 'auto', true],
    ['pull_request', 'true', true],
    ['pull_request', 'TRUE', true],
    ['push', 'false', false],
    ['push', 'False', false],
  ])('on a %j event, push %j resolves to %s', (eventName, push, expected) => {
    expect(parseWith({ ...IMAGE, push }, eventName).push).toBe(expected);
  });
});

describe('parseInputs: normalisation of good inputs', () => {
  it.each<[string, Record<string, string>, Partial<Inputs>]>([
    [
      'normalises platform aliases',
      { platforms: 'linux/aarch64, linux/arm\nlinux/x86_64' },
      {
        platforms: [
          { os: 'linux', arch: 'arm64', id: 'linux/arm64' },
          { os: 'linux', arch: 'arm', variant: 'v7', id: 'linux/arm/v7' },
          { os: 'linux', arch: 'amd64', id: 'linux/amd64' },
        ],
      },
    ],
    [
      'expands bare tags against image and removes duplicates',
      { tags: '1.2.3, latest\n1.2.3\nghcr.io/org/app:latest' },
      {
        tags: ['ghcr.io/org/app:1.2.3', 'ghcr.io/org/app:latest'],
      },
    ],
    [
      'takes docker/metadata-action tags output as is',
      { tags: 'ghcr.io/org/app:main\nghcr.io/org/app:sha-abc1234\n' },
      {
        tags: ['ghcr.io/org/app:main', 'ghcr.io/org/app:sha-abc1234'],
      },
    ],
    [
      'writes full tag references with their registry',
      { tags: 'user/other:1,alpine:edge' },
      {
        tags: ['docker.io/user/other:1', 'docker.io/library/alpine:edge'],
      },
    ],
    ['writes image with its registry', { image: 'user/app' }, { image: 'docker.io/user/app' }],
    [
      'keys platform-files by the normalised platform',
      { 'platform-files': 'linux/aarch64 = Dockerfile.arm64' },
      {
        platformFiles: { 'linux/arm64': 'Dockerfile.arm64' },
      },
    ],
    ['defaults file to <context>/Dockerfile', { context: 'app' }, { context: 'app', file: 'app/Dockerfile' }],
    [
      'does not check file for a git context',
      { context: 'https://github.com/org/repo.git#main', file: 'docker/Dockerfile' },
      {
        context: 'https://github.com/org/repo.git#main',
        file: 'docker/Dockerfile',
      },
    ],
    ['leaves file to buildx for a git context', { context: 'git@github.com:org/repo.git' }, { file: '' }],
    [
      'keeps commas inside build-args, labels and cache lines',
      {
        'build-args': 'A=1,2\nB=',
        labels: 'org.opencontainers.image.title=App, the',
        'cache-from': 'type=gha,scope=x',
        'cache-to': 'type=gha,mode=max',
      },
      {
        buildArgs: ['A=1,2', 'B='],
        labels: ['org.opencontainers.image.title=App, the'],
        cacheFrom: ['type=gha,scope=x'],
        cacheTo: ['type=gha,mode=max'],
      },
    ],
    [
      'accepts annotation type prefixes',
      { annotations: 'index:org.x=1\nmanifest[linux/arm64],index:org.y=2\norg.z=3' },
      {
        annotations: ['index:org.x=1', 'manifest[linux/arm64],index:org.y=2', 'org.z=3'],
      },
    ],
    ['keeps = inside a secret value', { secrets: 'token=a=b=c\nNPM.rc_1-x=' }, { secrets: ['token=a=b=c', 'NPM.rc_1-x='] }],
    [
      'accepts YAML core booleans',
      { 'no-cache': 'True', scan: 'TRUE', 'ignore-unfixed': 'true' },
      {
        noCache: true,
        scan: true,
        ignoreUnfixed: true,
      },
    ],
    [
      'lower-cases boolean attestations and keeps attributes as given',
      { provenance: 'True', sbom: 'generator=docker/buildkit-syft-scanner' },
      {
        provenance: 'true',
        sbom: 'generator=docker/buildkit-syft-scanner',
      },
    ],
    ['keeps provenance mode=max', { provenance: 'mode=max' }, { provenance: 'mode=max' }],
    [
      'accepts a qemu-image pinned by digest even if tagged latest',
      { 'qemu-image': `tonistiigi/binfmt:latest@${SHA}`, qemu: 'false' },
      {
        qemuImage: `docker.io/tonistiigi/binfmt:latest@${SHA}`,
        qemuImages: [`docker.io/tonistiigi/binfmt:latest@${SHA}`],
        qemu: 'false',
      },
    ],
    [
      'takes buildkit-image and qemu-image as ordered lists, one reference per line',
      {
        'buildkit-image': '127.0.0.1:5100/moby/buildkit:testbed\nmoby/buildkit:v0.32.2',
        'qemu-image': 'mirror.example/tonistiigi/binfmt:qemu-v9\ntonistiigi/binfmt:qemu-v9',
      },
      {
        buildkitImages: ['127.0.0.1:5100/moby/buildkit:testbed', 'docker.io/moby/buildkit:v0.32.2'],
        qemuImage: 'mirror.example/tonistiigi/binfmt:qemu-v9',
        qemuImages: ['mirror.example/tonistiigi/binfmt:qemu-v9', 'docker.io/tonistiigi/binfmt:qemu-v9'],
      },
    ],
    ['accepts an existing builder with default driver settings', { builder: 'my-builder' }, { builder: 'my-builder' }],
    [
      'accepts a remote driver with a tcp endpoint',
      { driver: 'remote', endpoint: 'tcp://buildkitd:1234' },
      {
        driver: 'remote',
        endpoint: 'tcp://buildkitd:1234',
      },
    ],
    [
      'accepts nodes: one platform list and endpoint per line, comments and blank lines skipped',
      {
        driver: 'remote',
        platforms: 'linux/amd64,linux/arm64,linux/arm/v7',
        nodes: '# amd64 runner\nlinux/amd64=unix:///run/amd.sock\n\nlinux/arm64, linux/arm/v7 = tcp://arm-builder:1234',
      },
      {
        driver: 'remote',
        nodes: [
          { platforms: [parsePlatform('linux/amd64')], endpoint: 'unix:///run/amd.sock' },
          { platforms: [parsePlatform('linux/arm64'), parsePlatform('linux/arm/v7')], endpoint: 'tcp://arm-builder:1234' },
        ],
      },
    ],
    [
      'accepts docker-container nodes on docker endpoints',
      { nodes: 'linux/amd64=default\nlinux/arm64=ssh://me@arm-host' },
      {
        nodes: [
          { platforms: [parsePlatform('linux/amd64')], endpoint: 'default' },
          { platforms: [parsePlatform('linux/arm64')], endpoint: 'ssh://me@arm-host' },
        ],
      },
    ],
    [
      'accepts driver-opts and a buildkitd config file',
      { 'driver-opts': 'network=host\nimage=moby/buildkit:v0.20.0', 'buildkitd-config': 'buildkitd.toml' },
      {
        driverOpts: ['network=host', 'image=moby/buildkit:v0.20.0'],
        buildkitdConfig: 'buildkitd.toml',
      },
    ],
    [
      'keeps an inline buildkitd config on several lines',
      { 'buildkitd-config-inline': '[worker.oci]\n  max-parallelism = 4' },
      {
        buildkitdConfigInline: '[worker.oci]\n  max-parallelism = 4',
      },
    ],
    [
      'adds the v to versions and strips trailing slashes from URLs',
      {
        'buildx-version': '0.20.1',
        'buildx-base-url': 'https://mirror.example.com/buildx/',
        'trivy-version': '0.60.0',
        'trivy-base-url': 'http://mirror.local/trivy//',
      },
      {
        buildxVersion: 'v0.20.1',
        buildxBaseUrl: 'https://mirror.example.com/buildx',
        trivyVersion: 'v0.60.0',
        trivyBaseUrl: 'http://mirror.local/trivy',
      },
    ],
    ['parses max-parallel', { 'max-parallel': '2' }, { maxParallel: 2 }],
    [
      'upper-cases, orders and dedupes severity',
      { severity: 'critical, high,HIGH', 'fail-on': 'HIGH' },
      {
        severity: ['HIGH', 'CRITICAL'],
        failOn: 'high',
      },
    ],
    ['allows any severity subset with fail-on none', { severity: 'CRITICAL', 'fail-on': 'none' }, { severity: ['CRITICAL'], failOn: 'none' }],
    ['lower-cases and dedupes scanners', { scanners: 'Vuln,secret,vuln' }, { scanners: ['vuln', 'secret'] }],
    [
      'reads trivy options',
      {
        trivyignores: '.trivyignore',
        'trivy-db-repository': 'mirror.gcr.io/aquasec/trivy-db:2',
        'trivy-cache-dir': '/tmp/trivy',
        sarif: 'sarif-out',
        'sbom-attach': 'true',
      },
      {
        trivyignores: ['.trivyignore'],
        trivyDbRepositories: ['mirror.gcr.io/aquasec/trivy-db:2'],
        trivyCacheDir: '/tmp/trivy',
        sarif: 'sarif-out',
        sbomAttach: true,
      },
    ],
    [
      'reads the trivy DB repositories as ordered mirror lists, one per line',
      {
        'trivy-db-repository': '127.0.0.1:5000/trivy-db:2\nghcr.io/aquasecurity/trivy-db:2',
        'trivy-java-db-repository': '127.0.0.1:5000/trivy-java-db:1\n\nmirror.gcr.io/aquasec/trivy-java-db:1',
      },
      {
        trivyDbRepositories: ['127.0.0.1:5000/trivy-db:2', 'ghcr.io/aquasecurity/trivy-db:2'],
        trivyJavaDbRepositories: ['127.0.0.1:5000/trivy-java-db:1', 'mirror.gcr.io/aquasec/trivy-java-db:1'],
      },
    ],
    ['accepts a sarif directory that does not exist yet', { sarif: 'reports/sarif' }, { sarif: 'reports/sarif' }],
    [
      'writes promote-to with registries and removes duplicates',
      { tags: '1.0', 'promote-to': 'quay.io/org/app:1.0\nuser/app:1.0, quay.io/org/app:1.0' },
      {
        promoteTo: ['quay.io/org/app:1.0', 'docker.io/user/app:1.0'],
      },
    ],
    [
      'reads registry-auth with every value as a string',
      {
        'registry-auth': '- registry: quay.io\n  username: bot\n  password: 0123\n- {registry: "127.0.0.1:5000", username: u, password: "p: w"}',
      },
      {
        registryAuth: [
          { registry: 'quay.io', username: 'bot', password: '0123' },
          { registry: '127.0.0.1:5000', username: 'u', password: 'p: w' },
        ],
      },
    ],
    [
      'accepts a platform-tags template',
      { tags: '1.0', platforms: 'linux/arm/v6,linux/arm/v7,linux/amd64', 'platform-tags': '{tag}-{os}-{arch}{variant}' },
      {
        platformTags: '{tag}-{os}-{arch}{variant}',
      },
    ],
  ])('%s', (_name, values, expected) => {
    expect(parseWith({ ...IMAGE, ...values })).toMatchObject(expected);
  });
});

describe('parseInputs: bad inputs', () => {
  // [input the error must name, offending value the message must carry, inputs, event]
  const cases: [string, string, Record<string, string>, string?][] = [
    ['context', '"missing"', { context: 'missing' }],
    ['context', '"Dockerfile"', { context: 'Dockerfile' }],
    ['file', '"nope/Dockerfile"', { file: 'nope/Dockerfile' }],
    ['file', '"app"', { file: 'app' }],
    ['file', '"app/Dockerfile\\nother"', { file: 'app/Dockerfile\nother' }],
    ['platforms', '"arm65"', { platforms: 'linux/arm65' }],
    ['platforms', '"linux/x86_64"', { platforms: 'linux/amd64,linux/x86_64' }],
    ['platforms', '","', { platforms: ',' }],
    ['platforms', '"linux"', { platforms: 'linux' }],
    ['platform-files', '"linux/s390x"', { 'platform-files': 'linux/s390x=Dockerfile.arm64' }],
    ['platform-files', '"missing.Dockerfile"', { 'platform-files': 'linux/arm64=missing.Dockerfile' }],
    ['platform-files', '"linux/arm64"', { 'platform-files': 'linux/arm64' }],
    ['platform-files', '"linux/aarch64"', { 'platform-files': 'linux/arm64=Dockerfile.arm64\nlinux/aarch64=Dockerfile' }],
    ['platform-files', '"arm99"', { 'platform-files': 'linux/arm99=Dockerfile' }],
    ['build-args', '"FOO"', { 'build-args': 'FOO' }],
    ['build-args', '"MY ARG=1"', { 'build-args': 'MY ARG=1' }],
    ['labels', '"=x"', { labels: '=x' }],
    ['annotations', '"foo"', { annotations: 'foo:key=value' }],
    ['annotations', '"arm65"', { annotations: 'manifest[linux/arm65]:key=value' }],
    ['target', '"my stage"', { target: 'my stage' }],
    ['secrets', '"bad id"', { secrets: 'bad id=value' }],
    ['secrets', 'entry 2', { secrets: 'ok=1\njustavalue' }],
    ['secrets', '"tok"', { secrets: 'tok=1\ntok=2' }],
    ['no-cache', '"yes"', { 'no-cache': 'yes' }],
    ['provenance', '"maybe"', { provenance: 'maybe' }],
    ['sbom', '"1"', { sbom: '1' }],
    ['push', '"sometimes"', { push: 'sometimes' }],
    ['image', 'push is true', { image: '' }],
    ['image', '"ghcr.io/org/app:1.0"', { image: 'ghcr.io/org/app:1.0' }],
    ['image', `"ghcr.io/org/app@${SHA}"`, { image: `ghcr.io/org/app@${SHA}` }],
    ['image', '"ghcr.io/org/app!"', { image: 'ghcr.io/Org/App!' }],
    ['tags', '"bad:Tag!"', { tags: 'Bad:Tag!' }],
    ['tags', '"bad tag!"', { tags: 'bad tag!' }],
    ['tags', '"ghcr.io/org/app"', { tags: 'ghcr.io/org/app' }],
    ['tags', `"ghcr.io/org/app:1@${SHA}"`, { tags: `ghcr.io/org/app:1@${SHA}` }],
    ['qemu', '"maybe"', { qemu: 'maybe' }],
    ['qemu-image', '"tonistiigi/binfmt:latest"', { 'qemu-image': 'tonistiigi/binfmt:latest' }],
    ['qemu-image', '"tonistiigi/binfmt"', { 'qemu-image': 'tonistiigi/binfmt' }],
    ['driver', '"podman"', { driver: 'podman' }],
    ['driver', '"docker"', { driver: 'docker', 'driver-opts': 'network=host' }],
    ['driver', 'use docker-container (the default) or remote', { driver: 'docker' }],
    ['driver', 'no cluster on the test bed', { driver: 'kubernetes' }],
    ['driver-opts', '"image"', { driver: 'remote', endpoint: 'tcp://x:1', 'driver-opts': 'image=moby/buildkit' }],
    [
      'buildkitd-config',
      'driver "remote" takes no buildkitd config',
      { driver: 'remote', endpoint: 'tcp://x:1', 'buildkitd-config': 'buildkitd.toml' },
    ],
    ['nodes', '"linux/arm64"', { driver: 'remote', nodes: 'linux/amd64=tcp://a:1\nlinux/arm64' }],
    ['nodes', 'unknown architecture "arm65"', { driver: 'remote', nodes: 'linux/amd64=tcp://a:1\nlinux/arm65=tcp://b:1' }],
    ['nodes', '"http://b:1"', { driver: 'remote', nodes: 'linux/amd64=tcp://a:1\nlinux/arm64=http://b:1' }],
    ['nodes', '"tcp://a:1" is given twice', { driver: 'remote', nodes: 'linux/amd64=tcp://a:1\nlinux/arm64=tcp://a:1' }],
    ['nodes', 'no node serves linux/arm/v7', { driver: 'remote', platforms: 'linux/amd64,linux/arm/v7', nodes: 'linux/amd64,linux/arm64=tcp://a:1' }],
    ['builder', 'nodes', { builder: 'mine', nodes: 'linux/amd64,linux/arm64=tcp://a:1' }],
    ['endpoint', 'cannot be used together with nodes', { driver: 'remote', endpoint: 'tcp://x:1', nodes: 'linux/amd64,linux/arm64=tcp://a:1' }],
    ['driver-opts', '"network"', { 'driver-opts': 'network' }],
    ['buildkitd-config', '"missing.toml"', { 'buildkitd-config': 'missing.toml' }],
    ['buildkitd-config-inline', '"buildkitd.toml"', { 'buildkitd-config': 'buildkitd.toml', 'buildkitd-config-inline': '[grpc]' }],
    ['builder', '"mybuilder"', { builder: 'mybuilder', driver: 'remote', endpoint: 'tcp://x:1' }],
    ['builder', '"mybuilder"', { builder: 'mybuilder', 'buildkitd-config-inline': '[grpc]' }],
    ['builder', '"my builder"', { builder: 'my builder' }],
    ['endpoint', '"remote"', { driver: 'remote' }],
    ['endpoint', '"http://buildkitd:1234"', { driver: 'remote', endpoint: 'http://buildkitd:1234' }],
    ['endpoint', '"not a context"', { endpoint: 'not a context' }],
    ['buildx-version', '"0.x"', { 'buildx-version': '0.x' }],
    ['buildx-base-url', '"ftp://mirror/buildx"', { 'buildx-base-url': 'ftp://mirror/buildx' }],
    ['max-parallel', '"0"', { 'max-parallel': '0' }],
    ['max-parallel', '"two"', { 'max-parallel': 'two' }],
    ['scan', '"nah"', { scan: 'nah' }],
    ['severity', '"SEVERE"', { severity: 'HIGH,SEVERE' }],
    ['fail-on', '"severe"', { 'fail-on': 'severe' }],
    ['fail-on', 'HIGH', { severity: 'CRITICAL', 'fail-on': 'high' }],
    ['ignore-unfixed', '"on"', { 'ignore-unfixed': 'on' }],
    ['trivyignores', '".missing-ignore"', { trivyignores: '.trivyignore,.missing-ignore' }],
    ['scanners', '"malware"', { scanners: 'vuln,malware' }],
    ['trivy-version', '"latest"', { 'trivy-version': 'latest' }],
    ['trivy-base-url', '"not a url"', { 'trivy-base-url': 'not a url' }],
    ['trivy-db-repository', '"ghcr.io/Aqua/db"', { 'trivy-db-repository': 'ghcr.io/Aqua/db' }],
    ['trivy-db-repository', '"ghcr.io/Aqua/db"', { 'trivy-db-repository': 'ghcr.io/aqua/db:2\nghcr.io/Aqua/db' }],
    ['trivy-db-repository', 'listed twice', { 'trivy-db-repository': 'ghcr.io/aqua/db:2\nghcr.io/aqua/db:2' }],
    ['trivy-java-db-repository', '"ghcr.io/Aqua/java-db"', { 'trivy-java-db-repository': 'ghcr.io/Aqua/java-db' }],
    ['sbom-attach', '"yes please"', { 'sbom-attach': 'yes please' }],
    ['sbom-attach', 'scan is false', { 'sbom-attach': 'true', scan: 'false' }],
    ['tags', 'push is true', { tags: '' }],
    ['sarif', '"out"', { sarif: 'out', scan: 'false' }],
    ['sarif', '"sarif-file"', { sarif: 'sarif-file' }],
    ['promote-to', '"quay.io/org/app:1"', { 'promote-to': 'quay.io/org/app:1', push: 'false' }, 'pull_request'],
    ['promote-to', '"quay.io/org/app"', { 'promote-to': 'quay.io/org/app' }],
    ['promote-to', '"1.0"', { 'promote-to': '1.0' }],
    ['promote-to', '"ghcr.io/org/app:1.0"', { tags: '1.0', 'promote-to': 'ghcr.io/org/app:1.0' }],
    ['registry-auth', 'line 2', { 'registry-auth': '- registry: ghcr.io\n  username: [oops' }],
    ['registry-auth', 'entry 1', { 'registry-auth': '- registry: ghcr.io\n  username: u' }],
    ['registry-auth', '"pasword"', { 'registry-auth': '- registry: ghcr.io\n  username: u\n  pasword: p' }],
    ['registry-auth', '"https://ghcr.io"', { 'registry-auth': '- registry: https://ghcr.io\n  username: u\n  password: p' }],
    ['registry-auth', 'entry 2', { 'registry-auth': '- {registry: a.io, username: u, password: p}\n- a.io' }],
    ['platform-tags', '{cpu}', { tags: '1.0', 'platform-tags': '{tag}-{cpu}' }],
    ['platform-tags', '"{arch}"', { tags: '1.0', 'platform-tags': '{arch}' }],
    ['platform-tags', '"1.0-arm"', { tags: '1.0', platforms: 'linux/arm/v6,linux/arm/v7', 'platform-tags': '{tag}-{arch}' }],
    ['platform-tags', '"1.0/amd64"', { tags: '1.0', platforms: 'linux/amd64', 'platform-tags': '{tag}/{arch}' }],
    ['registry-timeout', '"0"', { 'registry-timeout': '0' }],
    ['registry-timeout', '"1.5"', { 'registry-timeout': '1.5' }],
    ['registry-timeout', '"a minute"', { 'registry-timeout': 'a minute' }],
    ['buildkit-image', '"remote"', { 'buildkit-image': 'moby/buildkit:v0.32.2', driver: 'remote', endpoint: 'tcp://127.0.0.1:1234' }],
    ['buildkit-image', 'image= in driver-opts', { 'buildkit-image': 'moby/buildkit:v0.32.2', 'driver-opts': 'image=moby/buildkit:v0.31.0' }],
    ['buildkit-image', '"moby/buildkit"', { 'buildkit-image': 'mirror.example/moby/buildkit:v0.32.2\nmoby/buildkit' }],
    [
      'buildkit-image',
      '"docker.io/moby/buildkit:v0.32.2" is given twice',
      { 'buildkit-image': 'moby/buildkit:v0.32.2\ndocker.io/moby/buildkit:v0.32.2' },
    ],
    ['builder', 'buildkit-image', { builder: 'mine', 'buildkit-image': 'moby/buildkit:v0.32.2' }],
    ['qemu-image', '"tonistiigi/binfmt:latest"', { 'qemu-image': 'mirror.example/tonistiigi/binfmt:qemu-v9\ntonistiigi/binfmt:latest' }],
  ];

  it('covers at least 25 bad inputs', () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  it.each(cases)('%s: rejects a value with %s', (input, offending, values, eventName = 'push') => {
    const err = errorOf(() => parseWith({ ...IMAGE, ...values }, eventName));
    expect(err.input).toBe(input);
    expect(err.message.startsWith(`${input}: `)).toBe(true);
    expect(err.message).toContain(offending);
    expect(err.message).not.toContain('\n');
  });

  it.each([
    [{ platforms: 'linux/arm65' }, 'platforms: unknown architecture "arm65" in "linux/arm65"'],
    [{ 'no-cache': 'yes' }, 'no-cache: "yes" is not a boolean (use true or false)'],
    [
      { tags: 'Bad:Tag!' },
      'tags: "bad:Tag!" is not a valid tag or image reference: tag "Tag!" is not valid (up to 128 of letters, digits, _ . -, not starting with . or -)',
    ],
    [{ tags: 'bad tag!' }, 'tags: "bad tag!" is not a valid tag or image reference'],
  ])('words the error for %j as %j', (values, message) => {
    expect(() => parseWith({ ...IMAGE, ...values })).toThrow(new InputError(message.split(':')[0] ?? '', message.slice(message.indexOf(': ') + 2)));
  });

  it('reports the first invalid input in action.yml order', () => {
    expect(errorOf(() => parseWith({ ...IMAGE, scan: 'nah', context: 'missing' })).input).toBe('context');
  });

  it.each([
    ['a YAML syntax error', '- registry: ghcr.io\n  username: u\n  password: "s3cret-pass\n'],
    ['a missing username', '- registry: ghcr.io\n  password: s3cret-pass'],
    ['a mapping instead of a list', 'registry: ghcr.io\npassword: s3cret-pass'],
    ['two YAML documents', '- {registry: a.io, username: u, password: s3cret-pass}\n---\n- b'],
  ])('never echoes registry-auth text on %s', (_name, text) => {
    const err = errorOf(() => parseWith({ ...IMAGE, 'registry-auth': text }));
    expect(err.message).toMatch(/^registry-auth: /);
    expect(err.message).not.toContain('s3cret-pass');
  });

  it('names the YAML error line of registry-auth and nothing else', () => {
    const err = errorOf(() => parseWith({ ...IMAGE, 'registry-auth': '- registry: ghcr.io\n  username: [oops' }));
    expect(err.message).toBe('registry-auth: not a YAML list of {registry, username, password} (YAML error on line 2)');
  });

  it('never echoes a secret value', () => {
    const err = errorOf(() => parseWith({ ...IMAGE, secrets: 'hunter2-value' }));
    expect(err.message).toBe('secrets: entry 1 is not id=value (the value is not shown)');
  });
});

describe('action.yml', () => {
  const actionYml = parse(fs.readFileSync(new URL('../action.yml', import.meta.url), 'utf8')) as {
    name: string;
    branding: Record<string, string>;
    runs: Record<string, string>;
    inputs: Record<string, { description?: string; required?: boolean; default?: string }>;
    outputs: Record<string, { description?: string }>;
  };

  it('declares exactly the inputs parseInputs reads', () => {
    const read = new Set<string>();
    parseInputs((name) => {
      read.add(name);
      return IMAGE[name as keyof typeof IMAGE] ?? '';
    }, fakeEnv('push'));
    expect(Object.keys(actionYml.inputs).sort()).toEqual([...read].sort());
  });

  it('states the same defaults as the code', () => {
    const declared = Object.fromEntries(
      Object.entries(actionYml.inputs)
        // `${{ ... }}` defaults (github-token) are filled in by the runner, not by the code.
        .filter(([, spec]) => spec.default !== undefined && !String(spec.default).startsWith('${{'))
        .map(([name, spec]) => [name, String(spec.default)]),
    );
    expect(declared).toEqual(DEFAULTS);
  });

  it('describes every input and leaves validation to the code', () => {
    for (const spec of Object.values(actionYml.inputs)) {
      expect(spec.description).toEqual(expect.any(String));
      expect(spec.required).toBe(false);
    }
  });

  it('declares the outputs, branding and node24 entry points', () => {
    expect(actionYml.name).toBe('Multi-arch Build, Scan & Promote');
    expect(Object.keys(actionYml.outputs)).toEqual([
      'digest',
      'image',
      'platform-digests',
      'metadata',
      'scan-results',
      'reports',
      'scan-results-file',
      'sarif-files',
      'promoted',
      'matrix',
    ]);
    for (const spec of Object.values(actionYml.outputs)) expect(spec.description).toEqual(expect.any(String));
    expect(actionYml.branding).toEqual({ icon: 'layers', color: 'blue' });
    expect(actionYml.runs).toEqual({
      using: 'node24',
      main: 'dist/main/index.js',
      post: 'dist/post/index.js',
      'post-if': 'failure() || cancelled()',
    });
  });
});

describe('getInputs', () => {
  let dir: string;
  const saved = { ...process.env };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'context-test-'));
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    jest.restoreAllMocks();
  });

  it('reads INPUT_ variables, the event name and the file system, and masks registry passwords', () => {
    process.env.GITHUB_EVENT_NAME = 'pull_request';
    process.env.INPUT_CONTEXT = dir;
    process.env['INPUT_REGISTRY-AUTH'] = '- registry: quay.io\n  username: bot\n  password: pa55-word';
    const writes: string[] = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });

    const inputs = getInputs(process.env);

    expect(inputs.push).toBe(false);
    expect(inputs.file).toBe(path.join(dir, 'Dockerfile'));
    expect(inputs.image).toBe(LOCAL_IMAGE);
    expect(writes.join('')).toContain('::add-mask::pa55-word');
  });

  it('masks build secret values, and each line of a quoted multi-line one', () => {
    process.env.GITHUB_EVENT_NAME = 'pull_request';
    process.env.INPUT_CONTEXT = dir;
    process.env.INPUT_SECRETS = 'npm_token=s3cr3t-value\n"gpg=line-one\nline-two"';
    const writes: string[] = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });

    const inputs = getInputs(process.env);

    expect(inputs.secrets).toHaveLength(2);
    const masked = writes.join('');
    expect(masked).toContain('::add-mask::s3cr3t-value');
    expect(masked).toContain('::add-mask::line-one');
    expect(masked).toContain('::add-mask::line-two');
  });

  it('fails on a context that is a file', () => {
    process.env.INPUT_CONTEXT = path.join(dir, 'Dockerfile');
    process.env.INPUT_PUSH = 'false';
    expect(() => getInputs(process.env)).toThrow(/^context: ".*Dockerfile" is not an existing directory/);
  });
});

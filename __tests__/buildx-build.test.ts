import { describe, expect, it, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildArgs,
  buildPlatform,
  dockerfileFor,
  imageManifestDescriptor,
  imageManifestDigest,
  manifestSize,
  ociBlobPath,
  outputArg,
  parseMetadata,
  parseSecrets,
  resolveImageManifest,
  type BuildArgsOptions,
} from '../src/buildx/build.js';
import type { Exec, ExecOptions } from '../src/exec.js';
import { parsePlatform } from '../src/platform.js';
import type { Inputs } from '../src/model.js';
import { isIndex, isManifest, parseBuildMetadata, parseManifestOrIndex, SchemaError, type ImageManifest } from '../src/types/buildx.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'buildx');
const fixture = (name: string): string => readFileSync(path.join(FIXTURES, name), 'utf8');

const ARM64 = parsePlatform('linux/arm64');
const ARMV7 = parsePlatform('linux/arm/v7');
const AMD64 = parsePlatform('linux/amd64');

function inputs(over: Partial<Inputs> = {}): Inputs {
  return {
    context: '.',
    file: 'Dockerfile',
    platforms: [AMD64, ARM64],
    platformFiles: {},
    buildArgs: [],
    labels: [],
    annotations: [],
    target: '',
    secrets: [],
    cacheFrom: [],
    cacheTo: [],
    noCache: false,
    provenance: 'mode=min',
    sbom: 'false',
    image: 'ghcr.io/org/app',
    tags: [],
    push: true,
    qemu: 'auto',
    qemuImage: 'tonistiigi/binfmt:latest',
    qemuImages: ['tonistiigi/binfmt:latest'],
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
    severity: ['HIGH', 'CRITICAL'],
    failOn: 'high',
    ignoreUnfixed: false,
    trivyignores: [],
    scanners: ['vuln'],
    trivyVersion: 'v0.74.0',
    trivyBaseUrl: '',
    trivyDbRepositories: [],
    trivyJavaDbRepositories: [],
    sbomAttach: false,
    trivyCacheDir: '',
    sarif: '',
    promoteTo: [],
    registryAuth: [],
    platformTags: '',
    githubToken: '',
    registryTimeout: 60,
    mode: 'all',
    runners: [],
    legKey: '',
    ...over,
  };
}

const REGISTRY: BuildArgsOptions = { builder: 'multiarch-abc', metadataFile: '/tmp/m.json', output: { kind: 'registry' }, secretFiles: {} };
const HEAD = ['buildx', 'build', '--builder', 'multiarch-abc', '--progress', 'rawjson', '--platform'];

describe('buildArgs', () => {
  test.each<[string, Partial<Inputs>, typeof ARM64, Partial<BuildArgsOptions>, string[]]>([
    [
      'minimal registry push by digest',
      {},
      ARM64,
      {},
      [
        ...HEAD,
        'linux/arm64',
        '--file',
        'Dockerfile',
        '--metadata-file',
        '/tmp/m.json',
        '--output',
        'type=image,name=ghcr.io/org/app,push-by-digest=true,name-canonical=true,push=true',
        '--provenance',
        'mode=min',
        '--sbom',
        'false',
        '.',
      ],
    ],
    [
      'OCI layout in PR mode',
      { push: false, provenance: 'false' },
      ARMV7,
      { output: { kind: 'oci', dest: '/tmp/oci/linux-arm-v7' } },
      [
        ...HEAD,
        'linux/arm/v7',
        '--file',
        'Dockerfile',
        '--metadata-file',
        '/tmp/m.json',
        '--output',
        'type=oci,dest=/tmp/oci/linux-arm-v7,tar=false',
        '--provenance',
        'false',
        '--sbom',
        'false',
        '.',
      ],
    ],
    [
      'platform-files picks the Dockerfile of that platform',
      { platformFiles: { 'linux/arm64': 'Dockerfile.arm64' }, context: 'app' },
      ARM64,
      {},
      [
        ...HEAD,
        'linux/arm64',
        '--file',
        'Dockerfile.arm64',
        '--metadata-file',
        '/tmp/m.json',
        '--output',
        'type=image,name=ghcr.io/org/app,push-by-digest=true,name-canonical=true,push=true',
        '--provenance',
        'mode=min',
        '--sbom',
        'false',
        'app',
      ],
    ],
    [
      'every repeated flag, target, no-cache; empty provenance/sbom left to buildx',
      {
        provenance: '',
        sbom: '',
        target: 'runtime',
        noCache: true,
        buildArgs: ['A=1', 'B=x,y'],
        labels: ['org.opencontainers.image.source=https://example.com'],
        annotations: ['manifest:foo=bar'],
        cacheFrom: ['type=registry,ref=ghcr.io/org/app:cache'],
        cacheTo: ['type=inline'],
      },
      AMD64,
      {},
      [
        ...HEAD,
        'linux/amd64',
        '--file',
        'Dockerfile',
        '--metadata-file',
        '/tmp/m.json',
        '--output',
        'type=image,name=ghcr.io/org/app,push-by-digest=true,name-canonical=true,push=true',
        '--target',
        'runtime',
        '--no-cache',
        '--build-arg',
        'A=1',
        '--build-arg',
        'B=x,y',
        '--label',
        'org.opencontainers.image.source=https://example.com',
        '--annotation',
        'manifest:foo=bar',
        '--cache-from',
        'type=registry,ref=ghcr.io/org/app:cache-linux-amd64',
        '--cache-to',
        'type=inline',
        '.',
      ],
    ],
  ])('%s', (_name, over, platform, opts, want) => {
    expect(buildArgs(inputs(over), platform, { ...REGISTRY, ...opts })).toEqual(want);
  });

  it('passes secrets as id + file and never their values', () => {
    const args = buildArgs(inputs({ secrets: ['GIT_AUTH_TOKEN=s3cr3t-value', 'NPMRC=line1=a'] }), AMD64, {
      ...REGISTRY,
      secretFiles: { GIT_AUTH_TOKEN: '/tmp/s/1', NPMRC: '/tmp/s/2' },
    });
    expect(args.slice(-5)).toEqual(['--secret', 'id=GIT_AUTH_TOKEN,src=/tmp/s/1', '--secret', 'id=NPMRC,src=/tmp/s/2', '.']);
    expect(args.join(' ')).not.toContain('s3cr3t');
    expect(args.join(' ')).not.toContain('line1');
  });

  it('refuses a secret without a file rather than dropping it', () => {
    expect(() => buildArgs(inputs({ secrets: ['TOKEN=x'] }), AMD64, REGISTRY)).toThrow('secret "TOKEN" has no file');
  });

  it('needs an image name to push', () => {
    expect(() => buildArgs(inputs({ image: '' }), AMD64, REGISTRY)).toThrow('needs an image name');
    expect(outputArg('', { kind: 'oci', dest: 'd' })).toBe('type=oci,dest=d,tar=false');
  });

  it('dockerfileFor falls back to file', () => {
    expect(dockerfileFor({ file: 'a/Dockerfile', platformFiles: { 'linux/arm64': 'b' } }, AMD64)).toBe('a/Dockerfile');
  });
});

describe('parseSecrets', () => {
  test.each([
    [['A=1'], [{ id: 'A', value: '1' }]],
    [
      ['A=x=y', 'B='],
      [
        { id: 'A', value: 'x=y' },
        { id: 'B', value: '' },
      ],
    ],
  ])('%j', (lines, want) => {
    expect(parseSecrets(lines)).toEqual(want);
  });

  test.each([
    [['=x'], 'no id'],
    [['novalue'], 'no id'],
    [['A=1', 'A=2'], 'duplicate id "A"'],
  ])('rejects %j', (lines, msg) => {
    expect(() => parseSecrets(lines)).toThrow(msg);
  });
});

describe('parseMetadata (real buildx v0.36.1 metadata files)', () => {
  test.each([
    [
      'push by digest, no attestations: the image manifest',
      'metadata-push-by-digest.json',
      {
        digest: 'sha256:60164cfe06d86ce4329b418d6a711e047a21929c82f666e6fa853f12a2530dab',
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        size: 1045,
        imageName: '127.0.0.1:5000/fixture-app',
      },
    ],
    [
      'provenance mode=max: an index',
      'metadata-provenance-max-linux-arm-v7.json',
      {
        digest: 'sha256:333b49fce470f672badd8ad482ac5aa864828a8e9ebadc96d902290656cd424b',
        mediaType: 'application/vnd.oci.image.index.v1+json',
        size: 879,
        imageName: '127.0.0.1:5000/fixture-app',
      },
    ],
    [
      'OCI layout with provenance: an index, no image name',
      'metadata-oci-provenance-max-linux-arm-v7.json',
      {
        digest: 'sha256:24d91e09633140a08babf90aea0d8f91b2f5ca7b5106a2a68cbfbaaeda69d1ef',
        mediaType: 'application/vnd.oci.image.index.v1+json',
        size: 879,
      },
    ],
    [
      'OCI layout without attestations: the image manifest',
      'metadata-oci-noattest-linux-amd64.json',
      {
        digest: 'sha256:c46c198465c8dc9f4150fe7325fd1c6f86f8144b7d31e1d13103f383e4f19edd',
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        size: 1045,
      },
    ],
  ])('%s', (_name, file, want) => {
    const got = parseMetadata(fixture(file));
    expect(got).toMatchObject(want);
    expect(got.buildRef).toMatch(/^fixture-builder-\d+\/fixture-builder-\d+\/[a-z0-9]+$/);
    if (!('imageName' in want)) expect(got.imageName).toBeUndefined();
  });

  it('keeps the descriptor platform of a single-manifest result', () => {
    expect(parseBuildMetadata(fixture('metadata-push-by-digest.json'))['containerimage.descriptor']?.platform).toEqual({
      architecture: 'arm64',
      os: 'linux',
    });
  });

  test.each([
    ['not JSON', '{', 'buildx metadata: not valid JSON'],
    ['an array', '[]', 'buildx metadata: expected an object, got an array'],
    ['no digest', '{"image.name":"x"}', 'has neither "containerimage.digest" nor "containerimage.descriptor"'],
    ['bad digest', '{"containerimage.digest":"sha256:abc"}', 'containerimage.digest: expected a digest'],
    [
      'bad size',
      '{"containerimage.descriptor":{"mediaType":"m","digest":"sha256:' + 'a'.repeat(64) + '","size":"12"}}',
      'containerimage.descriptor.size: expected a non-negative integer size, got "12"',
    ],
    [
      'descriptor and digest disagree',
      JSON.stringify({
        'containerimage.digest': `sha256:${'a'.repeat(64)}`,
        'containerimage.descriptor': { mediaType: 'm', digest: `sha256:${'b'.repeat(64)}`, size: 1 },
      }),
      'differs from containerimage.digest',
    ],
  ])('rejects %s', (_name, text, msg) => {
    expect(() => parseMetadata(text)).toThrow(SchemaError);
    expect(() => parseMetadata(text)).toThrow(msg);
  });

  it('accepts a descriptor without containerimage.digest', () => {
    const d = `sha256:${'c'.repeat(64)}`;
    expect(parseMetadata(JSON.stringify({ 'containerimage.descriptor': { mediaType: 'x', digest: d, size: 3 } }))).toEqual({
      digest: d,
      mediaType: 'x',
      size: 3,
    });
  });
});

describe('imageManifestDigest / imageManifestDescriptor (real per-platform indexes)', () => {
  test.each([
    [
      'registry index, linux/arm/v7',
      'inspect-raw-platform-index-arm-v7.json',
      ARMV7,
      'sha256:069eff470762c21400fb523f86cabd066fc663192a482da5cebf8b38cc0a71c0',
    ],
    [
      'registry index, linux/arm64',
      'inspect-raw-platform-index-arm64.json',
      ARM64,
      'sha256:60164cfe06d86ce4329b418d6a711e047a21929c82f666e6fa853f12a2530dab',
    ],
    [
      'OCI layout index, linux/arm/v7',
      'oci-platform-index-arm-v7.json',
      ARMV7,
      'sha256:069eff470762c21400fb523f86cabd066fc663192a482da5cebf8b38cc0a71c0',
    ],
    [
      'linux/arm64/v8 is linux/arm64',
      'inspect-raw-platform-index-arm64.json',
      { ...ARM64, variant: 'v8', id: 'linux/arm64/v8' },
      'sha256:60164cfe06d86ce4329b418d6a711e047a21929c82f666e6fa853f12a2530dab',
    ],
  ])('%s', (_name, file, platform, want) => {
    const parsed = parseManifestOrIndex(fixture(file));
    const got = imageManifestDigest(parsed, platform, 'sha256:ignored');
    expect(got).toBe(want);
    // never the attestation manifest, which the same index also lists
    if (isIndex(parsed)) {
      const attestation = parsed.manifests.find((m) => m.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest');
      expect(attestation).toBeDefined();
      expect(got).not.toBe(attestation?.digest);
    }
  });

  test.each([
    ['arm without variant is arm/v7', { os: 'linux', architecture: 'arm' }, ARMV7, true],
    ['arm/v6 is not arm/v7', { os: 'linux', architecture: 'arm', variant: 'v6' }, ARMV7, false],
    ['amd64/v1 is amd64', { os: 'linux', architecture: 'amd64', variant: 'v1' }, AMD64, true],
    ['amd64/v2 is not amd64', { os: 'linux', architecture: 'amd64', variant: 'v2' }, AMD64, false],
    ['arm64/v8 entry is arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' }, ARM64, true],
  ])('platform matching: %s', (_name, platform, want, matches) => {
    const d = `sha256:${'d'.repeat(64)}`;
    const index = parseManifestOrIndex(
      JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d, size: 1, platform }] }),
    );
    if (matches) expect(imageManifestDigest(index, want, 'x')).toBe(d);
    else expect(() => imageManifestDigest(index, want, 'x')).toThrow('found 0');
  });

  it('returns its own digest for a plain image manifest', () => {
    const m = parseManifestOrIndex(fixture('inspect-raw-manifest-arm64-noattest.json'));
    expect(isManifest(m)).toBe(true);
    expect(imageManifestDigest(m, ARM64, 'sha256:60164cfe06d86ce4329b418d6a711e047a21929c82f666e6fa853f12a2530dab')).toBe(
      'sha256:60164cfe06d86ce4329b418d6a711e047a21929c82f666e6fa853f12a2530dab',
    );
    expect(() => imageManifestDescriptor(m, ARM64)).toThrow('needs an index');
  });

  it('refuses an index for another platform', () => {
    const parsed = parseManifestOrIndex(fixture('inspect-raw-platform-index-arm-v7.json'));
    expect(() => imageManifestDigest(parsed, ARM64, 'x')).toThrow(
      'expected one image manifest for linux/arm64 in the index, found 0 (image entries: linux/arm/v7)',
    );
    expect(() => imageManifestDigest(parsed, parsePlatform('linux/arm/v6'), 'x')).toThrow('found 0');
  });

  it('picks its platform out of the real multi-platform index; refuses attestation-only and ambiguous indexes', () => {
    const multi = parseManifestOrIndex(fixture('inspect-raw-index.json'));
    if (!isIndex(multi)) throw new Error('fixture is an index');
    expect(imageManifestDigest(multi, ARMV7, 'x')).toBe('sha256:069eff470762c21400fb523f86cabd066fc663192a482da5cebf8b38cc0a71c0');
    const onlyAttestations = { ...multi, manifests: multi.manifests.filter((m) => m.platform?.os === 'unknown') };
    expect(() => imageManifestDigest(onlyAttestations, AMD64, 'x')).toThrow('found 0 (image entries: none)');
    const arm64 = multi.manifests.filter((m) => m.platform?.architecture === 'arm64');
    const twice = { ...multi, manifests: [...arm64, ...arm64] };
    expect(() => imageManifestDigest(twice, ARM64, 'x')).toThrow('found 2');
  });
});

describe('manifestSize', () => {
  it('sums config and layers of the real linux/arm/v7 manifest', () => {
    const m = parseManifestOrIndex(fixture('inspect-raw-manifest-arm-v7.json')) as ImageManifest;
    expect(manifestSize(m)).toBe(1747 + 241 + 914610 + 339 + 216);
  });
});

describe('resolveImageManifest', () => {
  const byDigest: Record<string, string> = {
    'sha256:333b49fce470f672badd8ad482ac5aa864828a8e9ebadc96d902290656cd424b': fixture('inspect-raw-platform-index-arm-v7.json'),
    'sha256:069eff470762c21400fb523f86cabd066fc663192a482da5cebf8b38cc0a71c0': fixture('inspect-raw-manifest-arm-v7.json'),
    'sha256:60164cfe06d86ce4329b418d6a711e047a21929c82f666e6fa853f12a2530dab': fixture('inspect-raw-manifest-arm64-noattest.json'),
  };
  const fetchRaw = async (d: string): Promise<string> => {
    const raw = byDigest[d];
    if (raw === undefined) throw new Error(`unknown ${d}`);
    return raw;
  };

  it('follows an index to the image manifest and sizes it', async () => {
    const r = await resolveImageManifest(fetchRaw, 'sha256:333b49fce470f672badd8ad482ac5aa864828a8e9ebadc96d902290656cd424b', ARMV7);
    expect(r).toMatchObject({
      digest: 'sha256:069eff470762c21400fb523f86cabd066fc663192a482da5cebf8b38cc0a71c0',
      pushedDigest: 'sha256:333b49fce470f672badd8ad482ac5aa864828a8e9ebadc96d902290656cd424b',
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      size: 917153,
    });
  });

  it('takes a manifest as it is', async () => {
    const r = await resolveImageManifest(fetchRaw, 'sha256:60164cfe06d86ce4329b418d6a711e047a21929c82f666e6fa853f12a2530dab', ARM64);
    expect(r.digest).toBe(r.pushedDigest);
    expect(r.size).toBeGreaterThan(0);
  });

  it('refuses bytes that do not hash to the digest asked for', async () => {
    const wrong = async (): Promise<string> => fixture('inspect-raw-manifest-arm-v7.json');
    await expect(resolveImageManifest(wrong, 'sha256:60164cfe06d86ce4329b418d6a711e047a21929c82f666e6fa853f12a2530dab', ARM64)).rejects.toThrow(
      'hash to sha256:069eff47',
    );
  });

  it('reads an OCI layout through blob paths', async () => {
    expect(ociBlobPath('/tmp/oci', 'sha256:abc')).toBe(path.join('/tmp/oci', 'blobs', 'sha256', 'abc'));
    expect(() => ociBlobPath('/tmp/oci', 'abc')).toThrow('not a digest');
    const layoutIndex = parseManifestOrIndex(fixture('oci-layout-index.json'));
    expect(isIndex(layoutIndex) && layoutIndex.manifests[0]?.digest).toBe('sha256:24d91e09633140a08babf90aea0d8f91b2f5ca7b5106a2a68cbfbaaeda69d1ef');
  });
});

describe('buildPlatform', () => {
  it('runs docker with the argv and returns the parsed metadata file', async () => {
    const seen: { command: string; args: readonly string[]; options?: ExecOptions }[] = [];
    const exec: Exec = async (command, args, options) => {
      seen.push({ command, args, options });
      return { exitCode: 0, stdout: '', stderr: '' };
    };
    const lines: string[] = [];
    const r = await buildPlatform(exec, ['buildx', 'build', '.'], {
      metadataFile: '/m.json',
      onLine: (l) => lines.push(l),
      readFile: async (f) => (f === '/m.json' ? fixture('metadata-provenance-max-linux-arm64.json') : ''),
    });
    expect(r.digest).toBe('sha256:86989c6f5e0bd5d0a7ec6919e7ba5c42c0c88b373c1c4d7d2e7bc813574288be');
    expect(r.seconds).toBeGreaterThanOrEqual(0);
    expect(seen.map((s) => [s.command, ...s.args])).toEqual([['docker', 'buildx', 'build', '.']]);
    seen[0]?.options?.onLine?.('#1 building');
    expect(lines).toEqual(['#1 building']);
  });

  it('does not read the metadata when the build fails', async () => {
    const exec: Exec = async () => {
      throw new Error('docker buildx build exited with code 1');
    };
    let read = false;
    await expect(
      buildPlatform(exec, ['buildx', 'build'], {
        metadataFile: '/m.json',
        readFile: async () => {
          read = true;
          return '';
        },
      }),
    ).rejects.toThrow('exited with code 1');
    expect(read).toBe(false);
  });
});

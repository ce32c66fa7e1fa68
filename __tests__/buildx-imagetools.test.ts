import { describe, expect, it, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { digestOf } from '../src/oci.js';
import { composeIndex, createIndexArgs, dryRunBytes, inspectRaw, inspectRawArgs } from '../src/buildx/imagetools.js';
import type { Exec } from '../src/exec.js';
import {
  assertManifestOrIndex,
  isAttestationDescriptor,
  isDigest,
  isIndex,
  isManifest,
  parseManifestOrIndex,
  SchemaError,
} from '../src/types/buildx.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'buildx');
const fixture = (name: string): string => readFileSync(path.join(FIXTURES, name), 'utf8');

const SRC_AMD64 = '127.0.0.1:5000/fixture-app@sha256:cdff2e270305ac9918b928078a63f202aee245de5fe27e9444aee027f5ddbba0';
const SRC_ARM64 = '127.0.0.1:5000/fixture-app@sha256:86989c6f5e0bd5d0a7ec6919e7ba5c42c0c88b373c1c4d7d2e7bc813574288be';
const SRC_ARMV7 = '127.0.0.1:5000/fixture-app@sha256:333b49fce470f672badd8ad482ac5aa864828a8e9ebadc96d902290656cd424b';
/** What the registry reported (Docker-Content-Digest) after the real create of these three sources. */
const PUSHED_INDEX = 'sha256:37fa925fbf0164755c2f274dfb25139d97604d8c6466eb01cd71627fe8a6af57';

describe('createIndexArgs', () => {
  test.each<[string, string[], string[], Parameters<typeof createIndexArgs>[3], string[]]>([
    [
      'tags then sources',
      ['r/app:1.0', 'r/app:latest'],
      ['r/app@sha256:a', 'r/app@sha256:b'],
      {},
      ['buildx', 'imagetools', 'create', '--builder', 'b', '-t', 'r/app:1.0', '-t', 'r/app:latest', 'r/app@sha256:a', 'r/app@sha256:b'],
    ],
    [
      'dry run needs no tag',
      [],
      ['r/app@sha256:a'],
      { dryRun: true },
      ['buildx', 'imagetools', 'create', '--builder', 'b', '--dry-run', 'r/app@sha256:a'],
    ],
    [
      'annotations',
      ['r/app:1'],
      ['r/app@sha256:a'],
      { annotations: ['index:org.opencontainers.image.description=x'] },
      [
        'buildx',
        'imagetools',
        'create',
        '--builder',
        'b',
        '--annotation',
        'index:org.opencontainers.image.description=x',
        '-t',
        'r/app:1',
        'r/app@sha256:a',
      ],
    ],
  ])('%s', (_name, tags, sources, opts, want) => {
    expect(createIndexArgs('b', tags, sources, opts)).toEqual(want);
  });

  it('refuses to push without a tag or without sources', () => {
    expect(() => createIndexArgs('b', [], ['r@sha256:a'])).toThrow('needs a tag');
    expect(() => createIndexArgs('b', ['r:1'], [])).toThrow('at least one source');
  });

  it('inspectRawArgs', () => {
    expect(inspectRawArgs('b', 'r/app:1')).toEqual(['buildx', 'imagetools', 'inspect', '--builder', 'b', '--raw', 'r/app:1']);
  });
});

describe('digestOf / dry-run bytes (real buildx v0.36.1 output)', () => {
  it('inspect --raw output hashes to the digest it was fetched by', () => {
    expect(digestOf(fixture('inspect-raw-platform-index-arm-v7.json'))).toBe(
      'sha256:333b49fce470f672badd8ad482ac5aa864828a8e9ebadc96d902290656cd424b',
    );
    expect(digestOf(Buffer.from(fixture('inspect-raw-manifest-arm-v7.json')))).toBe(
      'sha256:069eff470762c21400fb523f86cabd066fc663192a482da5cebf8b38cc0a71c0',
    );
    expect(digestOf(fixture('inspect-raw-index.json'))).toBe(PUSHED_INDEX);
  });

  it('the dry run prints the pushed bytes plus one newline', () => {
    const stdout = fixture('imagetools-create-dry-run.txt');
    expect(stdout.endsWith('}\n')).toBe(true);
    expect(digestOf(stdout)).not.toBe(PUSHED_INDEX);
    expect(digestOf(dryRunBytes(stdout))).toBe(PUSHED_INDEX);
    expect(dryRunBytes(stdout)).toBe(fixture('inspect-raw-index.json'));
    expect(dryRunBytes('{}')).toBe('{}');
  });

  it('the create log names the same digest', () => {
    expect(fixture('imagetools-create.stderr.txt')).toContain(`pushing ${PUSHED_INDEX} to 127.0.0.1:5000/fixture-app:multi`);
  });

  it('index from image-manifest sources: also byte-identical to what the registry stored', () => {
    expect(digestOf(dryRunBytes(fixture('imagetools-create-dry-run-manifests.txt')))).toBe(
      'sha256:19a6e6af300fce6ed1bd91e9695167ead7cb17121ad650e6fbe02aec315c3c6f',
    );
  });
});

describe('created index content', () => {
  it('carries os/architecture/variant and keeps each platform attestation', () => {
    const idx = parseManifestOrIndex(fixture('inspect-raw-index.json'));
    if (!isIndex(idx)) throw new Error('expected an index');
    const images = idx.manifests.filter((m) => !isAttestationDescriptor(m));
    expect(images.map((m) => m.platform)).toEqual([
      { architecture: 'amd64', os: 'linux' },
      { architecture: 'arm64', os: 'linux' },
      { architecture: 'arm', os: 'linux', variant: 'v7' },
    ]);
    const attestations = idx.manifests.filter(isAttestationDescriptor);
    expect(attestations.map((m) => m.annotations?.['vnd.docker.reference.digest'])).toEqual(images.map((m) => m.digest));
  });

  it('from image-manifest sources the platforms come from the image configs', () => {
    const idx = parseManifestOrIndex(fixture('imagetools-create-dry-run-manifests.txt'));
    expect(isIndex(idx) && idx.manifests.map((m) => m.platform)).toEqual([
      { architecture: 'arm64', os: 'linux' },
      { architecture: 'arm', os: 'linux', variant: 'v7' },
    ]);
  });

  it('index annotations land on the index', () => {
    const idx = parseManifestOrIndex(fixture('imagetools-create-dry-run-annotated.txt'));
    expect(idx.annotations).toEqual({ 'org.opencontainers.image.description': 'fixture' });
  });
});

describe('manifest/index guards', () => {
  test.each([
    ['inspect-raw-index.json', 'index', 6],
    ['inspect-raw-platform-index-arm64.json', 'index', 2],
    ['oci-layout-index.json', 'index', 1],
    ['inspect-raw-manifest-arm-v7.json', 'manifest', 4],
    ['inspect-raw-attestation-manifest-arm-v7.json', 'manifest', 1],
  ])('%s is a %s with %i entries', (file, kind, n) => {
    const m = parseManifestOrIndex(fixture(file));
    if (kind === 'index') expect(isIndex(m) && m.manifests.length).toBe(n);
    else expect(isManifest(m) && m.layers.length).toBe(n);
  });

  it('keeps attestation manifest details (artifactType, subject, data)', () => {
    const m = parseManifestOrIndex(fixture('inspect-raw-attestation-manifest-arm-v7.json'));
    expect(m.artifactType).toBe('application/vnd.docker.attestation.manifest.v1+json');
    expect(m.subject?.digest).toBe('sha256:069eff470762c21400fb523f86cabd066fc663192a482da5cebf8b38cc0a71c0');
    expect(isManifest(m) && m.config.data).toBe('e30=');
  });

  const d = `sha256:${'a'.repeat(64)}`;
  test.each([
    ['null', null, 'image manifest: expected an object, got null'],
    ['schema 1', { schemaVersion: 1, config: {} }, 'schemaVersion: expected 2, got number 1'],
    ['neither', { schemaVersion: 2 }, 'has neither "manifests" (index) nor "config" (manifest)'],
    ['both', { schemaVersion: 2, manifests: [], config: {} }, 'has both'],
    [
      'index with a manifest media type',
      { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', manifests: [] },
      'an index must have an index media type',
    ],
    [
      'manifest with an index media type',
      { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', config: { mediaType: 'c', digest: d, size: 1 }, layers: [] },
      'a manifest must have',
    ],
    ['entry without digest', { schemaVersion: 2, manifests: [{ mediaType: 'm', size: 1 }] }, 'manifests[0].digest: expected a digest'],
    [
      'platform without os',
      { schemaVersion: 2, manifests: [{ mediaType: 'm', digest: d, size: 1, platform: { architecture: 'arm' } }] },
      'manifests[0].platform.os: expected a string, got undefined',
    ],
    [
      'numeric annotation',
      { schemaVersion: 2, manifests: [{ mediaType: 'm', digest: d, size: 1, annotations: { a: 1 } }] },
      'manifests[0].annotations.a: expected a string',
    ],
    ['layers missing', { schemaVersion: 2, config: { mediaType: 'c', digest: d, size: 1 } }, 'layers: expected an array, got undefined'],
    [
      'negative size',
      { schemaVersion: 2, config: { mediaType: 'c', digest: d, size: -1 }, layers: [] },
      'config.size: expected a non-negative integer size',
    ],
  ])('rejects %s', (_name, value, msg) => {
    expect(() => assertManifestOrIndex(value)).toThrow(SchemaError);
    expect(() => assertManifestOrIndex(value)).toThrow(msg);
  });

  test.each([
    [`sha256:${'a'.repeat(64)}`, true],
    [`sha256:${'A'.repeat(64)}`, false],
    ['sha256:abc', false],
    [`sha512:${'a'.repeat(128)}`, true],
    ['latest', false],
    [42, false],
  ])('isDigest(%j) = %s', (v, want) => {
    expect(isDigest(v)).toBe(want);
  });
});

describe('inspectRaw / composeIndex through the exec seam', () => {
  function fakeDocker(outputs: Record<string, string>): { exec: Exec; calls: string[][] } {
    const calls: string[][] = [];
    const exec: Exec = async (command, args) => {
      calls.push([command, ...args]);
      const key = args.join(' ');
      const hit = Object.keys(outputs).find((k) => key.includes(k));
      if (hit === undefined) throw new Error(`unexpected: ${key}`);
      return { exitCode: 0, stdout: outputs[hit] as string, stderr: '' };
    };
    return { exec, calls };
  }

  it('inspectRaw returns the raw bytes, their digest and the parsed object', async () => {
    const { exec } = fakeDocker({ '--raw': fixture('inspect-raw-platform-index-arm-v7.json') });
    const r = await inspectRaw(exec, 'b', SRC_ARMV7);
    expect(r.digest).toBe('sha256:333b49fce470f672badd8ad482ac5aa864828a8e9ebadc96d902290656cd424b');
    expect(isIndex(r.parsed) && r.parsed.manifests).toHaveLength(2);
  });

  it('inspectRaw reports a non-manifest answer as a schema error', async () => {
    const { exec } = fakeDocker({ '--raw': 'Name: x' });
    await expect(inspectRaw(exec, 'b', 'r:1')).rejects.toThrow('manifest of r:1: not valid JSON');
  });

  it('composeIndex learns the exact bytes and digest from the dry run, and pushes nothing', async () => {
    const { exec, calls } = fakeDocker({ '--dry-run': fixture('imagetools-create-dry-run.txt'), ' -t ': '' });
    const r = await composeIndex(exec, 'b', [SRC_AMD64, SRC_ARM64, SRC_ARMV7]);
    expect(r.digest).toBe(PUSHED_INDEX);
    expect(r.raw).toBe(fixture('inspect-raw-index.json'));
    expect(calls).toEqual([['docker', ...createIndexArgs('b', [], [SRC_AMD64, SRC_ARM64, SRC_ARMV7], { dryRun: true, annotations: [] })]]);
  });
});

// The manifest list composed in process, held to buildx v0.36.1: the captured
// dry runs byte for byte, and containerd's and Go's rules one by one.
import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { composeList, configPlatform, goMarshalIndent, normalizeArch, referrerChecks, type ListSource } from '../src/buildx/compose.js';
import { MEDIA_TYPE as MEDIA } from '../src/types/buildx.js';
import { dryRunBytes } from '../src/buildx/imagetools.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'buildx');
const bytes = (name: string): Buffer => readFileSync(path.join(FIXTURES, name));
const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function indexSource(name: string): ListSource {
  const raw = bytes(name);
  return { mediaType: MEDIA.ociIndex, digest: sha(raw), raw };
}

/** An image manifest and its config, made here (the captured manifests' configs are not in the fixtures). */
function imageSource(config: object, mediaType: string = MEDIA.ociManifest, extra = ''): ListSource {
  const cfg = Buffer.from(JSON.stringify(config));
  const raw = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(cfg), size: cfg.length },
      layers: [],
      extra,
    }),
  );
  return { mediaType, digest: sha(raw), raw, config: cfg };
}

function composed(sources: readonly ListSource[], annotations: readonly string[] = []): string {
  const list = composeList(sources, annotations);
  if ('unsupported' in list) throw new Error(`unsupported: ${list.unsupported}`);
  expect(list.digest).toBe(sha(list.raw));
  return list.raw.toString('utf8');
}

describe('the captured dry runs, byte for byte', () => {
  it('three per-platform indexes (provenance mode=max): the list buildx pushed', () => {
    const sources = ['amd64', 'arm64', 'arm-v7'].map((p) => indexSource(`inspect-raw-platform-index-${p}.json`));
    const want = dryRunBytes(bytes('imagetools-create-dry-run.txt').toString('utf8'));
    expect(composed(sources)).toBe(want);
    expect(sha(want)).toBe('sha256:37fa925fbf0164755c2f274dfb25139d97604d8c6466eb01cd71627fe8a6af57');
  });

  it('the sources in another order give the entries in that order', () => {
    const a = indexSource('inspect-raw-platform-index-amd64.json');
    const b = indexSource('inspect-raw-platform-index-arm64.json');
    const digests = (raw: string): string[] => (JSON.parse(raw) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest);
    expect(digests(composed([b, a]))).toEqual([...digests(composed([b])), ...digests(composed([a]))]);
  });
});

describe("buildx's shape of the list", () => {
  it('one index and no annotations: the index itself, unchanged', () => {
    const s = indexSource('inspect-raw-platform-index-arm-v7.json');
    const list = composeList([s], []);
    expect('unsupported' in list ? list : { raw: list.raw.equals(s.raw), digest: list.digest }).toEqual({ raw: true, digest: s.digest });
  });

  it('one image manifest: a list of one (buildx prefers an index), platform from the config', () => {
    const s = imageSource({ architecture: 'arm64', os: 'linux' });
    expect(JSON.parse(composed([s]))).toEqual({
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: [{ mediaType: MEDIA.ociManifest, digest: s.digest, size: s.raw.length, platform: { architecture: 'arm64', os: 'linux' } }],
    });
  });

  it("Go's field order and two-space indent", () => {
    const s = imageSource({ architecture: 'arm', os: 'linux', variant: 'v7' });
    expect(composed([s], ['index:b=<&>', 'index:a=1'])).toBe(
      [
        '{',
        '  "schemaVersion": 2,',
        `  "mediaType": "${MEDIA.ociIndex}",`,
        '  "manifests": [',
        '    {',
        `      "mediaType": "${MEDIA.ociManifest}",`,
        `      "digest": "${s.digest}",`,
        `      "size": ${s.raw.length},`,
        '      "platform": {',
        '        "architecture": "arm",',
        '        "os": "linux",',
        '        "variant": "v7"',
        '      }',
        '    }',
        '  ],',
        '  "annotations": {',
        '    "a": "1",',
        '    "b": "<&>"',
        '  }',
        '}',
      ]
        .join('\n')
        .replace('"<&>"', '"\\u003c\\u0026\\u003e"'),
    );
  });

  it('index annotations: sorted keys, the last value of a key wins, HTML-safe escapes', () => {
    const s = imageSource({ architecture: 'arm', os: 'linux', variant: 'v7' });
    const out = composed([s], ['index:b=<&>', 'index:a=0', 'index:a=1']);
    expect(out).toContain('"annotations": {\n    "a": "1",\n    "b": "\\u003c\\u0026\\u003e"\n  }');
  });

  it('every entry a Docker type: a Docker manifest list, and index annotations are dropped', () => {
    const s = imageSource({ architecture: 'amd64', os: 'linux' }, MEDIA.dockerManifest);
    const list = JSON.parse(composed([s], ['index:x=y'])) as { mediaType: string; annotations?: unknown };
    expect(list).toMatchObject({ mediaType: MEDIA.dockerManifestList });
    expect(list.annotations).toBeUndefined();
  });

  it('a Docker and an OCI entry: an OCI index', () => {
    const d = imageSource({ architecture: 'amd64', os: 'linux' }, MEDIA.dockerManifest);
    const o = imageSource({ architecture: 'arm64', os: 'linux' });
    expect((JSON.parse(composed([d, o])) as { mediaType: string }).mediaType).toBe(MEDIA.ociIndex);
  });

  it('a digest seen twice keeps its first place, merges annotations and takes the later platform', () => {
    const child = (annotations: object, platform: object): object => ({
      mediaType: MEDIA.ociManifest,
      digest: 'sha256:' + 'c'.repeat(64),
      size: 5,
      annotations,
      platform,
    });
    const other = { mediaType: MEDIA.ociManifest, digest: 'sha256:' + 'd'.repeat(64), size: 6 };
    const idx = (manifests: object[]): ListSource => {
      const raw = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests }));
      return { mediaType: MEDIA.ociIndex, digest: sha(raw), raw };
    };
    const out = JSON.parse(
      composed([
        idx([child({ z: '1', k: 'a' }, { architecture: 'amd64', os: 'linux' }), other]),
        idx([child({ k: 'b' }, { architecture: 'arm64', os: 'linux' })]),
      ]),
    ) as { manifests: object[] };
    expect(out.manifests).toEqual([
      {
        mediaType: MEDIA.ociManifest,
        digest: 'sha256:' + 'c'.repeat(64),
        size: 5,
        annotations: { k: 'b', z: '1' },
        platform: { architecture: 'arm64', os: 'linux' },
      },
      other,
    ]);
  });

  it("an index entry keeps only ocispecs.Descriptor's fields, and drops empty ones (omitempty)", () => {
    const raw = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.ociIndex,
        annotations: { dropped: 'index-level' },
        manifests: [
          {
            artifactType: 'x/y',
            platform: { variant: '', os: 'linux', architecture: 'amd64', 'os.features': [] },
            urls: [],
            annotations: {},
            size: 3,
            digest: 'sha256:' + 'e'.repeat(64),
            mediaType: MEDIA.ociManifest,
            unknown: 1,
          },
        ],
      }),
    );
    const list = composed([{ mediaType: MEDIA.ociIndex, digest: sha(raw), raw }], ['index:k=v']);
    expect(list).toContain(
      `{\n      "mediaType": "${MEDIA.ociManifest}",\n      "digest": "sha256:${'e'.repeat(64)}",\n      "size": 3,\n      "platform": {\n        "architecture": "amd64",\n        "os": "linux"\n      },\n      "artifactType": "x/y"\n    }`,
    );
    expect(list).not.toContain('dropped');
  });
});

describe("the platform from an image config, normalized as containerd's platforms.Normalize", () => {
  it.each([
    [
      { architecture: 'x86_64', os: 'Linux' },
      { architecture: 'amd64', os: 'linux' },
    ],
    [
      { architecture: 'amd64', os: 'linux', variant: 'v1' },
      { architecture: 'amd64', os: 'linux' },
    ],
    [
      { architecture: 'amd64', os: 'linux', variant: 'v3' },
      { architecture: 'amd64', os: 'linux', variant: 'v3' },
    ],
    [
      { architecture: 'aarch64', os: 'linux', variant: 'v8' },
      { architecture: 'arm64', os: 'linux' },
    ],
    [
      { architecture: 'arm64', os: 'linux', variant: '9.0' },
      { architecture: 'arm64', os: 'linux', variant: 'v9' },
    ],
    [
      { architecture: 'arm', os: 'linux' },
      { architecture: 'arm', os: 'linux', variant: 'v7' },
    ],
    [
      { architecture: 'arm', os: 'linux', variant: '6' },
      { architecture: 'arm', os: 'linux', variant: 'v6' },
    ],
    [
      { architecture: 'armhf', os: 'linux' },
      { architecture: 'arm', os: 'linux', variant: 'v7' },
    ],
    [
      { architecture: 'armel', os: 'linux' },
      { architecture: 'arm', os: 'linux', variant: 'v6' },
    ],
    [
      { architecture: 'i386', os: 'linux', variant: 'x' },
      { architecture: '386', os: 'linux' },
    ],
    [
      { architecture: 'riscv64', os: 'linux' },
      { architecture: 'riscv64', os: 'linux' },
    ],
    [
      { architecture: 'arm64', os: 'macos' },
      { architecture: 'arm64', os: 'darwin' },
    ],
    [{ architecture: 'amd64' }, { architecture: 'amd64', os: 'linux' }],
    [
      { architecture: 's390x', os: 'linux', 'os.version': '1', 'os.features': ['a'] },
      { architecture: 's390x', os: 'linux' },
    ],
  ])('%j -> %j', (config, platform) => {
    expect(configPlatform(config)).toEqual(platform);
  });

  it('normalizeArch lowercases what it does not know', () => {
    expect(normalizeArch('MIPS64LE', 'X')).toEqual(['mips64le', 'x']);
  });
});

describe('Go string escapes', () => {
  it.each([
    ['<a href="x">&</a>', '"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e"'],
    ['line\u2028sep\u2029', '"line\\u2028sep\\u2029"'],
    ['tab\tnew\nret\r', '"tab\\tnew\\nret\\r"'],
    ['\u0001\u001f', '"\\u0001\\u001f"'],
    ['\b\f', '"\\b\\f"'],
    ['é ü 日本 😀 \u007f', '"é ü 日本 😀 \u007f"'],
  ])('%j', (s, want) => {
    expect(goMarshalIndent(s)).toBe(want);
  });
});

describe('what is left to buildx', () => {
  const manifest = imageSource({ architecture: 'amd64', os: 'linux' });
  it.each<[string, ListSource[], string[], string]>([
    ['annotations of another type', [manifest], ['manifest-descriptor:k=v'], 'another type'],
    ['an annotation without a value', [manifest], ['index:k'], 'without a value'],
    ['a number-like annotation key (JavaScript would reorder it)', [manifest], ['index:10=v'], 'number-like'],
    ['a lone surrogate', [manifest], ['index:k=\ud800'], 'well-formed'],
    ['bytes of another digest', [{ ...manifest, digest: 'sha256:' + '0'.repeat(64) }], [], 'another digest'],
    ['an image manifest whose config was not read', [{ ...manifest, config: undefined } as unknown as ListSource], [], 'config was not read'],
    ['another media type', [{ ...manifest, mediaType: 'application/vnd.docker.distribution.manifest.v1+json' }], [], 'media type'],
    ['a config field in another case', [imageSource({ Architecture: 'amd64', os: 'linux' })], [], 'field Architecture'],
    ['no sources', [], [], 'no sources'],
  ])('%s', (_, sources, annotations, why) => {
    const list = composeList(sources, annotations);
    expect('unsupported' in list ? list.unsupported : 'composed').toContain(why);
  });

  it('index entries with data that is not canonical base64, or a null field', () => {
    for (const entry of [{ data: 'e30' }, { annotations: null }]) {
      const raw = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MEDIA.ociIndex,
          manifests: [{ mediaType: MEDIA.ociManifest, digest: 'sha256:' + 'f'.repeat(64), size: 1, ...entry }],
        }),
      );
      const list = composeList([{ mediaType: MEDIA.ociIndex, digest: sha(raw), raw }], ['index:k=v']);
      expect('unsupported' in list).toBe(true);
    }
  });
});

describe('referrerChecks: the entries buildx asks the referrers for', () => {
  it('none for the captured per-platform indexes: every image has its attestation in the list', () => {
    const list = composeList(
      ['amd64', 'arm64', 'arm-v7'].map((p) => indexSource(`inspect-raw-platform-index-${p}.json`)),
      [],
    );
    expect('unsupported' in list ? list : list.referrerChecks).toEqual([]);
  });

  it('every image manifest without an attestation of its own', () => {
    const a = imageSource({ architecture: 'amd64', os: 'linux' });
    const b = imageSource({ architecture: 'arm64', os: 'linux' });
    const list = composeList([a, b], []);
    expect('unsupported' in list ? list : list.referrerChecks).toEqual([a.digest, b.digest]);
  });

  it('an attestation whose subject is not in the list counts as an image', () => {
    const att = {
      mediaType: MEDIA.ociManifest,
      digest: 'sha256:' + '1'.repeat(64),
      size: 1,
      annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': 'sha256:' + '2'.repeat(64) },
    };
    expect(referrerChecks([att])).toEqual([att.digest]);
  });
});

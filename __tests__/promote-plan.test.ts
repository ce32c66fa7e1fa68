import { describe, expect, it } from '@jest/globals';
import { planWrites, registriesOf } from '../src/pipeline/promote.js';
import type { PlatformBuild } from '../src/model.js';

const build = (id: string, arch: string, digest: string, variant?: string): PlatformBuild => ({
  platform: { os: 'linux', arch, ...(variant ? { variant } : {}), id },
  digest,
  pushedDigest: digest,
  ref: `x@${digest}`,
  seconds: 1,
  size: 1,
  emulated: false,
});

describe('registriesOf', () => {
  it('names every registry written to: the image, full-reference tags and promotion targets, once each', () => {
    expect(
      registriesOf({
        image: 'ghcr.io/org/app',
        tags: ['ghcr.io/org/app:1', 'docker.io/org/app:1'],
        promoteTo: ['quay.io/org/app:1', 'docker.io/org/app:stable'],
      }),
    ).toEqual(['ghcr.io', 'docker.io', 'quay.io']);
  });
});

describe('planWrites', () => {
  const builds = [build('linux/amd64', 'amd64', 'sha256:a'), build('linux/arm/v7', 'arm', 'sha256:b', 'v7')];

  it('writes the index under every tag and promotion target, then the platform tags next to each', () => {
    const writes = planWrites(
      { tags: ['ghcr.io/org/app:1.2.3'], promoteTo: ['docker.io/org/app:1.2.3'], platformTags: '{tag}-{arch}{variant}' },
      'sha256:i',
      builds,
    );
    expect(writes.map((w) => `${w.kind} ${w.repo.registry}/${w.repo.repository}:${w.tag} ${w.digest}`)).toEqual([
      'tag ghcr.io/org/app:1.2.3 sha256:i',
      'tag ghcr.io/org/app:1.2.3-amd64 sha256:a',
      'tag ghcr.io/org/app:1.2.3-armv7 sha256:b',
      'promote docker.io/org/app:1.2.3 sha256:i',
      'promote docker.io/org/app:1.2.3-amd64 sha256:a',
      'promote docker.io/org/app:1.2.3-armv7 sha256:b',
    ]);
  });

  it('writes no platform tags without a template', () => {
    expect(planWrites({ tags: ['ghcr.io/org/app:1'], promoteTo: [], platformTags: '' }, 'sha256:i', builds)).toHaveLength(1);
  });
});

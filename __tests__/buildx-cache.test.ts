import { describe, expect, it } from '@jest/globals';
import { parseCacheEntry, platformCacheEntry } from '../src/buildx/cache.js';

describe('platformCacheEntry gives every platform its own cache', () => {
  it.each([
    ['type=registry,ref=ghcr.io/org/app:buildcache,mode=max', 'type=registry,ref=ghcr.io/org/app:buildcache-linux-arm64,mode=max'],
    ['type=registry,ref=ghcr.io/org/app', 'type=registry,ref=ghcr.io/org/app:linux-arm64'],
    ['type=registry,ref=127.0.0.1:5000/cache', 'type=registry,ref=127.0.0.1:5000/cache:linux-arm64'],
    ['type=registry,ref=127.0.0.1:5000/cache:v1', 'type=registry,ref=127.0.0.1:5000/cache:v1-linux-arm64'],
    ['ghcr.io/org/app:buildcache', 'type=registry,ref=ghcr.io/org/app:buildcache-linux-arm64'],
    ['type=gha', 'type=gha,scope=buildkit-linux-arm64'],
    ['type=gha,mode=max,scope=app', 'type=gha,mode=max,scope=app-linux-arm64'],
    ['type=local,dest=/tmp/cache', 'type=local,dest=/tmp/cache/linux-arm64'],
    ['type=local,src=/tmp/cache/', 'type=local,src=/tmp/cache/linux-arm64'],
    ['type=inline', 'type=inline'],
    ['type=s3,region=eu-west-1,bucket=b', 'type=s3,region=eu-west-1,bucket=b'],
    ['type=registry,ref=ghcr.io/org/app@sha256:' + 'a'.repeat(64), 'type=registry,ref=ghcr.io/org/app@sha256:' + 'a'.repeat(64)],
  ])('%s -> %s', (entry, expected) => {
    expect(platformCacheEntry(entry, 'linux-arm64')).toBe(expected);
  });

  it('keeps the order of attributes', () => {
    expect(parseCacheEntry('type=registry,mode=max,ref=x')).toEqual([
      ['type', 'registry'],
      ['mode', 'max'],
      ['ref', 'x'],
    ]);
  });
});

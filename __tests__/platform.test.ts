import { describe, expect, it } from '@jest/globals';
import { formatPlatform, normalisePlatform, parsePlatform, platformSlug, qemuArch, renderPlatformTag } from '../src/platform.js';

describe('parsePlatform', () => {
  it.each([
    ['linux/amd64', { os: 'linux', arch: 'amd64', id: 'linux/amd64' }],
    ['linux/arm64', { os: 'linux', arch: 'arm64', id: 'linux/arm64' }],
    ['linux/arm/v6', { os: 'linux', arch: 'arm', variant: 'v6', id: 'linux/arm/v6' }],
    ['linux/arm/v5', { os: 'linux', arch: 'arm', variant: 'v5', id: 'linux/arm/v5' }],
    ['windows/amd64', { os: 'windows', arch: 'amd64', id: 'windows/amd64' }],
    ['linux/s390x', { os: 'linux', arch: 's390x', id: 'linux/s390x' }],
    ['linux/amd64/v3', { os: 'linux', arch: 'amd64', variant: 'v3', id: 'linux/amd64/v3' }],
    ['linux/arm64/v8.2', { os: 'linux', arch: 'arm64', variant: 'v8.2', id: 'linux/arm64/v8.2' }],
    ['linux/arm64/v9', { os: 'linux', arch: 'arm64', variant: 'v9', id: 'linux/arm64/v9' }],
  ])('parses %s', (input, expected) => {
    expect(parsePlatform(input)).toEqual(expected);
  });

  it.each([
    ['linux/aarch64', 'linux/arm64'],
    ['linux/x86_64', 'linux/amd64'],
    ['linux/x86-64', 'linux/amd64'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/amd64/v1', 'linux/amd64'],
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/armel', 'linux/arm/v6'],
    ['linux/i386', 'linux/386'],
    ['linux/i686', 'linux/386'],
    ['LINUX/AMD64', 'linux/amd64'],
    ['Linux/ARM/V7', 'linux/arm/v7'],
    ['linux/arm/7', 'linux/arm/v7'],
    ['macos/arm64', 'darwin/arm64'],
    ['  linux/ppc64le  ', 'linux/ppc64le'],
  ])('normalises %s to %s', (input, id) => {
    expect(parsePlatform(input).id).toBe(id);
  });

  it('leaves no variant key on platforms without one', () => {
    expect(Object.keys(parsePlatform('linux/arm64/v8'))).toEqual(['os', 'arch', 'id']);
  });

  it.each([
    ['', 'empty platform'],
    ['linux', '"linux" is not of the form os/arch[/variant]'],
    ['linux/arm/v7/x', '"linux/arm/v7/x" is not of the form os/arch[/variant]'],
    ['linux//v7', '"linux//v7" is not of the form os/arch[/variant]'],
    ['plan9/amd64', 'unknown operating system "plan9" in "plan9/amd64"'],
    ['linux/arm65', 'unknown architecture "arm65" in "linux/arm65"'],
    ['linux/arm/v8', 'variant "v8" is not valid for arm in "linux/arm/v8" (use v5, v6 or v7)'],
    ['linux/amd64/v5', 'variant "v5" is not valid for amd64 in "linux/amd64/v5" (use v2, v3 or v4)'],
    ['linux/arm64/v7', 'variant "v7" is not valid for arm64 in "linux/arm64/v7" (use v8.1 to v8.9, v9 or v9.x)'],
    ['linux/s390x/v1', 'architecture s390x takes no variant, got "v1" in "linux/s390x/v1"'],
  ])('rejects %j: %s', (input, message) => {
    expect(() => parsePlatform(input)).toThrow(new Error(message));
  });
});

describe('normalisePlatform', () => {
  it.each([
    ['linux/aarch64', 'linux/arm64'],
    ['linux/arm', 'linux/arm/v7'],
    ['Linux/AMD64/v1', 'linux/amd64'],
    ['linux/mips64el', 'linux/mips64el'],
    ['plan9/sparc', 'plan9/sparc'],
  ])('normalises %s to %s without validating', (input, expected) => {
    expect(normalisePlatform(input)).toBe(expected);
  });
});

describe('formatPlatform and platformSlug', () => {
  it.each([
    [{ os: 'linux', arch: 'arm64' }, 'linux/arm64', 'linux-arm64'],
    [{ os: 'linux', arch: 'arm', variant: 'v7' }, 'linux/arm/v7', 'linux-arm-v7'],
    [{ os: 'windows', arch: 'amd64' }, 'windows/amd64', 'windows-amd64'],
  ])('formats %j as %s and slugs it as %s', (p, formatted, slug) => {
    expect(formatPlatform(p)).toBe(formatted);
    expect(platformSlug(p)).toBe(slug);
  });
});

describe('qemuArch', () => {
  it.each([
    ['linux/amd64', 'x86_64'],
    ['linux/arm64', 'aarch64'],
    ['linux/arm/v7', 'arm'],
    ['linux/arm/v6', 'arm'],
    ['linux/386', 'i386'],
    ['linux/ppc64le', 'ppc64le'],
    ['linux/s390x', 's390x'],
    ['linux/riscv64', 'riscv64'],
    ['linux/mips64le', 'mips64el'],
    ['linux/mips64', 'mips64'],
    ['linux/loong64', 'loongarch64'],
  ])('maps %s to the qemu-%s emulator', (platform, arch) => {
    expect(qemuArch(parsePlatform(platform))).toBe(arch);
  });

  it('throws for an architecture without an emulator', () => {
    expect(() => qemuArch({ os: 'linux', arch: 'sparc' })).toThrow('no qemu emulator known for linux/sparc');
  });
});

describe('renderPlatformTag', () => {
  it.each([
    ['{tag}-{arch}{variant}', 'linux/arm/v7', '1.0-armv7'],
    ['{tag}-{arch}{variant}', 'linux/amd64', '1.0-amd64'],
    ['{os}-{arch}-{tag}', 'linux/arm64', 'linux-arm64-1.0'],
    ['{tag}-{nope}', 'linux/arm64', '1.0-{nope}'],
  ])('renders %s for %s as %s', (template, platform, expected) => {
    expect(renderPlatformTag(template, '1.0', parsePlatform(platform))).toBe(expected);
  });
});

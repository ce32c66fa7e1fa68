// Target platforms: `os/arch[/variant]`, normalised the way containerd and
// buildx spell them, so `linux/aarch64` and `linux/arm64/v8` are the same
// platform as `linux/arm64`.
import type { Platform } from './model.js';

export const KNOWN_OS = ['linux', 'windows', 'freebsd', 'darwin'] as const;
export const KNOWN_ARCH = ['amd64', 'arm64', 'arm', '386', 'ppc64le', 's390x', 'riscv64', 'mips64le', 'mips64', 'loong64'] as const;

type PlatformParts = Pick<Platform, 'os' | 'arch' | 'variant'>;

const OS_ALIASES: Record<string, string> = { macos: 'darwin' };

/** Architecture aliases, with the variant they imply (if any). */
const ARCH_ALIASES: Record<string, { arch: string; variant?: string }> = {
  aarch64: { arch: 'arm64' },
  x86_64: { arch: 'amd64' },
  'x86-64': { arch: 'amd64' },
  armhf: { arch: 'arm', variant: 'v7' },
  armel: { arch: 'arm', variant: 'v6' },
  i386: { arch: '386' },
  i686: { arch: '386' },
};

/** Variants each architecture accepts after normalisation; others take none. */
const VARIANTS: Record<string, { valid: (v: string) => boolean; hint: string }> = {
  arm: { valid: (v) => ['v5', 'v6', 'v7'].includes(v), hint: 'v5, v6 or v7' },
  arm64: { valid: (v) => /^v8\.[1-9]$|^v9(?:\.[0-9])?$/.test(v), hint: 'v8.1 to v8.9, v9 or v9.x' },
  amd64: { valid: (v) => ['v2', 'v3', 'v4'].includes(v), hint: 'v2, v3 or v4' },
};

const QEMU_ARCH: Record<string, string> = {
  amd64: 'x86_64',
  arm64: 'aarch64',
  arm: 'arm',
  '386': 'i386',
  ppc64le: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  mips64le: 'mips64el',
  mips64: 'mips64',
  loong64: 'loongarch64',
};

/** `os/arch[/variant]` of already-normalised parts. */
export function formatPlatform(p: PlatformParts): string {
  return p.variant ? `${p.os}/${p.arch}/${p.variant}` : `${p.os}/${p.arch}`;
}

/**
 * Normalises a platform string without validating it (unknown names are only
 * lower-cased), e.g. `linux/aarch64` -> `linux/arm64`. Useful for comparing
 * with platforms a builder reports.
 */
export function normalisePlatform(s: string): string {
  const [os = '', arch = '', variant] = s.trim().split('/');
  return formatPlatform(normaliseParts(os, arch, variant));
}

/** Parses and validates `os/arch[/variant]`; throws a plain Error saying why. */
export function parsePlatform(s: string): Platform {
  const raw = s.trim();
  if (raw === '') throw new Error('empty platform');
  const parts = raw.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p.trim() === '')) {
    throw new Error(`${JSON.stringify(raw)} is not of the form os/arch[/variant]`);
  }
  const [os = '', arch = '', variant] = parts;
  const n = normaliseParts(os, arch, variant);
  if (!(KNOWN_OS as readonly string[]).includes(n.os)) {
    throw new Error(`unknown operating system ${JSON.stringify(os)} in ${JSON.stringify(raw)}`);
  }
  if (!(KNOWN_ARCH as readonly string[]).includes(n.arch)) {
    throw new Error(`unknown architecture ${JSON.stringify(arch)} in ${JSON.stringify(raw)}`);
  }
  if (n.variant !== undefined) {
    const rule = VARIANTS[n.arch];
    if (!rule) {
      throw new Error(`architecture ${n.arch} takes no variant, got ${JSON.stringify(variant)} in ${JSON.stringify(raw)}`);
    }
    if (!rule.valid(n.variant)) {
      throw new Error(`variant ${JSON.stringify(variant)} is not valid for ${n.arch} in ${JSON.stringify(raw)} (use ${rule.hint})`);
    }
  }
  const platform: Platform = { os: n.os, arch: n.arch, id: formatPlatform(n) };
  if (n.variant !== undefined) platform.variant = n.variant;
  return platform;
}

/** The suffix of the qemu binary for the platform, e.g. `aarch64` for qemu-aarch64. */
export function qemuArch(p: PlatformParts): string {
  const arch = QEMU_ARCH[p.arch];
  if (arch === undefined) throw new Error(`no qemu emulator known for ${formatPlatform(p)}`);
  return arch;
}

/** File-name and SARIF-category safe form, e.g. `linux-arm-v7`. */
export function platformSlug(p: PlatformParts): string {
  return formatPlatform(p).replace(/\//g, '-');
}

export const PLATFORM_TAG_PLACEHOLDERS = ['tag', 'os', 'arch', 'variant'] as const;

/**
 * Renders a `platform-tags` template such as `{tag}-{arch}{variant}`;
 * `{variant}` is empty for platforms without one. Unknown placeholders are
 * left as they are (parseInputs rejects them).
 */
export function renderPlatformTag(template: string, tag: string, p: PlatformParts): string {
  const values: Record<string, string> = { tag, os: p.os, arch: p.arch, variant: p.variant ?? '' };
  return template.replace(/\{([^{}]*)\}/g, (whole, name: string) => values[name] ?? whole);
}

function normaliseParts(os: string, arch: string, variant: string | undefined): PlatformParts {
  let o = os.trim().toLowerCase();
  o = OS_ALIASES[o] ?? o;
  let a = arch.trim().toLowerCase();
  let v = variant?.trim().toLowerCase() || undefined;
  const alias = ARCH_ALIASES[a];
  if (alias) {
    a = alias.arch;
    if (v === undefined) v = alias.variant;
  }
  // A bare number is the variant without its `v` (`linux/arm/7`).
  if (v !== undefined && /^\d+$/.test(v)) v = `v${v}`;
  if (a === 'arm' && v === undefined) v = 'v7';
  if (a === 'arm64' && (v === 'v8' || v === 'v8.0')) v = undefined;
  if (a === 'amd64' && v === 'v1') v = undefined;
  return v === undefined ? { os: o, arch: a } : { os: o, arch: a, variant: v };
}

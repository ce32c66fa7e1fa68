// QEMU planning: parse binfmt_misc entries and decide, per platform, whether
// it runs natively, is already emulated, needs registering, or cannot run;
// the binfmt_misc/register line for host qemu-*-static binaries. Pure.
import { qemuArch } from '../platform.js';
import type { Platform, Tristate } from '../model.js';

/** One /proc/sys/fs/binfmt_misc/<name> file. */
export interface BinfmtEntry {
  name: string;
  enabled: boolean;
  interpreter: string;
  /** Flag letters, e.g. `PF`, `POCF`; empty when none. */
  flags: string;
  offset?: number;
  magic?: string;
  mask?: string;
}

/**
 * Parses a binfmt_misc entry file (fs/binfmt_misc.c `bm_entry_read`):
 * `enabled|disabled`, `interpreter <path>`, `flags: <letters>`, then
 * `offset N`/`magic HEX`/`mask HEX` (magic type) or `extension .ext`.
 */
export function parseBinfmtEntry(name: string, text: string): BinfmtEntry {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const state = lines[0];
  if (state !== 'enabled' && state !== 'disabled') {
    throw new Error(`binfmt_misc/${name}: expected "enabled" or "disabled" on the first line, got ${JSON.stringify(state ?? '')}`);
  }
  const entry: BinfmtEntry = { name, enabled: state === 'enabled', interpreter: '', flags: '' };
  for (const line of lines.slice(1)) {
    const m = /^(interpreter|flags:|offset|magic|mask|extension)\s*(.*)$/.exec(line);
    if (!m) continue;
    const value = (m[2] ?? '').trim();
    switch (m[1]) {
      case 'interpreter':
        entry.interpreter = value;
        break;
      case 'flags:':
        entry.flags = value;
        break;
      case 'offset':
        entry.offset = Number(value);
        break;
      case 'magic':
        entry.magic = value;
        break;
      case 'mask':
        entry.mask = value;
        break;
      default:
        break;
    }
  }
  if (!entry.interpreter) throw new Error(`binfmt_misc/${name}: no interpreter line`);
  return entry;
}

export type QemuAction = 'native' | 'handled' | 'register' | 'unavailable';

export interface QemuPlanItem {
  platform: Platform;
  action: QemuAction;
  /** QEMU's architecture name (`aarch64`, `arm`, ...), for emulated platforms. */
  qemuArch?: string;
  /** An unusable existing entry (disabled, or without F) to remove before registering. */
  replace?: string;
  /** One log line, e.g. `linux/arm64: qemu-aarch64 already registered with flags PF, skipped`. */
  reason: string;
}

export interface QemuPlan {
  mode: Tristate;
  items: QemuPlanItem[];
}

/** Platforms a host of this Node `process.arch` runs without emulation. */
const NATIVE: Record<string, readonly string[]> = {
  x64: ['amd64', '386'],
  ia32: ['386'],
  arm64: ['arm64'],
  arm: ['arm'],
  ppc64: ['ppc64le'],
  s390x: ['s390x'],
  riscv64: ['riscv64'],
  loong64: ['loong64'],
};

export function isNative(platform: Platform, hostArch: string): boolean {
  return platform.os === 'linux' && (NATIVE[hostArch] ?? []).includes(platform.arch);
}

/** The entry serving a QEMU architecture: `qemu-<arch>` (binfmt image, binfmt-support) or `qemu-<arch>-static`. */
export function findEntry(entries: readonly BinfmtEntry[], arch: string): BinfmtEntry | undefined {
  return entries.find((e) => e.name === `qemu-${arch}`) ?? entries.find((e) => e.name === `qemu-${arch}-static`);
}

/** Usable from build containers: enabled, and F (the interpreter is opened at registration). */
export function isUsable(entry: BinfmtEntry): boolean {
  return entry.enabled && entry.flags.includes('F');
}

/** One phrase on an entry's state, for log lines and errors. */
export function describeEntry(e: BinfmtEntry): string {
  if (!e.enabled) return `${e.name} is registered but disabled`;
  return `${e.name} is registered with flags ${e.flags || '(none)'}`;
}

function planOne(mode: Tristate, platform: Platform, hostArch: string, entries: readonly BinfmtEntry[]): QemuPlanItem {
  const id = platform.id;
  if (isNative(platform, hostArch)) {
    return { platform, action: 'native', reason: `${id}: native on this ${hostArch} host` };
  }
  let arch: string;
  try {
    if (platform.os !== 'linux') throw new Error(`QEMU user emulation runs linux binaries only`);
    arch = qemuArch(platform);
  } catch (err) {
    return { platform, action: 'unavailable', reason: `${id}: no emulation available (${(err as Error).message})` };
  }
  const entry = findEntry(entries, arch);
  const usable = entry !== undefined && isUsable(entry);
  if (mode === 'false') {
    if (usable) {
      return { platform, action: 'handled', qemuArch: arch, reason: `${id}: qemu is false, but ${describeEntry(entry)}; it runs emulated` };
    }
    const why = entry ? `${describeEntry(entry)}${entry.enabled ? ' (no F)' : ''}` : `no qemu-${arch} entry is registered`;
    return { platform, action: 'unavailable', qemuArch: arch, reason: `${id}: qemu is false and ${why}; RUN steps for it will fail` };
  }
  const replace = entry && !usable ? { replace: entry.name } : {};
  if (mode === 'true') {
    const had = entry ? ` (${describeEntry(entry)})` : '';
    return { platform, action: 'register', qemuArch: arch, ...replace, reason: `${id}: qemu is true, registering qemu-${arch}${had}` };
  }
  if (usable) {
    return { platform, action: 'handled', qemuArch: arch, reason: `${id}: ${entry.name} already registered with flags ${entry.flags}, skipped` };
  }
  if (!entry) {
    return { platform, action: 'register', qemuArch: arch, reason: `${id}: no qemu-${arch} binfmt entry, registering` };
  }
  const why = entry.enabled ? `${describeEntry(entry)}, without F build containers cannot find the interpreter` : describeEntry(entry);
  return { platform, action: 'register', qemuArch: arch, ...replace, reason: `${id}: ${why}; registering again with F` };
}

/** Decides, per platform, whether it runs natively, is already emulated, needs registering, or cannot run. */
export function planQemu(mode: Tristate, platforms: readonly Platform[], hostArch: string, entries: readonly BinfmtEntry[]): QemuPlan {
  return { mode, items: platforms.map((p) => planOne(mode, p, hostArch, entries)) };
}

/** Platform ids that run under emulation once the plan has been carried out. */
export function emulatedPlatforms(plan: QemuPlan): string[] {
  return plan.items.filter((i) => i.action === 'handled' || i.action === 'register').map((i) => i.platform.id);
}

// --- registration lines for host qemu-*-static binaries ---

interface ElfMachine {
  bits: 32 | 64;
  endian: 'le' | 'be';
  machine: number;
}

/** ELF class, byte order and e_machine per QEMU architecture (from the ELF specification). */
const ELF: Record<string, ElfMachine> = {
  aarch64: { bits: 64, endian: 'le', machine: 183 },
  arm: { bits: 32, endian: 'le', machine: 40 },
  x86_64: { bits: 64, endian: 'le', machine: 62 },
  i386: { bits: 32, endian: 'le', machine: 3 },
  ppc64le: { bits: 64, endian: 'le', machine: 21 },
  s390x: { bits: 64, endian: 'be', machine: 22 },
  riscv64: { bits: 64, endian: 'le', machine: 243 },
  mips64el: { bits: 64, endian: 'le', machine: 8 },
  loongarch64: { bits: 64, endian: 'le', machine: 258 },
};

function u16(value: number, endian: 'le' | 'be'): number[] {
  const lo = value & 0xff;
  const hi = (value >> 8) & 0xff;
  return endian === 'le' ? [lo, hi] : [hi, lo];
}

/**
 * binfmt_misc magic and mask (hex) matching ELF executables and shared
 * objects of an architecture: ident (class, data, version; OS ABI ignored),
 * e_type 2 or 3, e_machine.
 */
export function elfMagic(arch: string): { magic: string; mask: string } {
  const elf = ELF[arch];
  if (!elf) throw new Error(`no ELF magic known for ${arch}`);
  const ident = [0x7f, 0x45, 0x4c, 0x46, elf.bits === 64 ? 2 : 1, elf.endian === 'le' ? 1 : 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const magic = [...ident, ...u16(2, elf.endian), ...u16(elf.machine, elf.endian)];
  const identMask = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
  const mask = [...identMask, ...u16(0xfffe, elf.endian), 0xff, 0xff];
  const hex = (b: number[]): string => b.map((x) => x.toString(16).padStart(2, '0')).join('');
  return { magic: hex(magic), mask: hex(mask) };
}

/** The line written to binfmt_misc/register: `:qemu-aarch64:M:0:\x7f...:\xff...:/usr/bin/qemu-aarch64-static:F`. */
export function registerLine(arch: string, interpreter: string): string {
  const { magic, mask } = elfMagic(arch);
  const esc = (h: string): string => h.replace(/(..)/g, '\\x$1');
  return `:qemu-${arch}:M:0:${esc(magic)}:${esc(mask)}:${interpreter}:F`;
}

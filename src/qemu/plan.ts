// QEMU planning: parse binfmt_misc entries, find the builder node each
// platform goes to, and decide, per platform, whether it runs natively, is
// already emulated, needs registering, cannot run, or is another host's
// business (a node not on this runner); the binfmt_misc/register line for host
// qemu-*-static binaries. Pure: the builder's nodes come in as NodeFacts.
import { normalisePlatform, qemuArch } from '../platform.js';
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

/** What planning needs to know of one builder node (from `buildx inspect` and the driver table). */
export interface NodeFacts {
  name: string;
  driver: string;
  /** Platforms the node lists: those set with `--platform` first, then its worker's. */
  platforms: readonly string[];
  /** Those set with `--platform` (buildx marks them `*`). */
  userPlatforms: readonly string[];
  /** On this runner's docker daemon: the runner's binfmt_misc emulates for it. */
  onRunner: boolean;
}

/**
 * Platforms a node listing `listed` runs for a build, best first: itself,
 * then what containerd's platforms.Only lets it run (lower amd64 variants and
 * 386; lower arm variants; arm64 runs arm/v8 down to arm/v5).
 */
export function compatible(listed: string): string[] {
  const [os = '', arch = '', variant = ''] = normalisePlatform(listed).split('/');
  const p = (a: string, v = ''): string => (v ? `${os}/${a}/${v}` : `${os}/${a}`);
  const out = [p(arch, variant)];
  if (arch === 'amd64') {
    for (let v = Number(variant.slice(1)) - 1; v >= 2; v--) out.push(p('amd64', `v${v}`));
    if (variant) out.push(p('amd64'));
    out.push(p('386'));
  } else if (arch === 'arm') {
    for (let v = Number((variant || 'v7').slice(1)) - 1; v >= 5; v--) out.push(p('arm', `v${v}`));
  } else if (arch === 'arm64') {
    for (let v = 8; v >= 5; v--) out.push(normalisePlatform(p('arm', `v${v}`)));
  }
  return out.map(normalisePlatform);
}

export interface NodeChoice {
  node: NodeFacts;
  /** False when no node lists the platform (buildx then sends it to the first node). */
  listed: boolean;
}

/**
 * The node buildx v0.36.1 sends a one-platform build to (build/resolver/
 * driver.go): the first node whose `--platform` list has it exactly; else the
 * node that runs it best among every node's listed platforms (an exact entry
 * before a compatible one, the first node on a tie); else the first node.
 */
export function nodeFor(platform: Platform, nodes: readonly NodeFacts[]): NodeChoice | undefined {
  const first = nodes[0];
  if (!first) return undefined;
  const id = normalisePlatform(platform.id);
  const user = nodes.find((n) => n.userPlatforms.some((p) => normalisePlatform(p) === id));
  if (user) return { node: user, listed: true };
  let best: { node: NodeFacts; rank: number } | undefined;
  for (const node of nodes) {
    for (const listed of node.platforms) {
      const rank = compatible(listed).indexOf(id);
      if (rank !== -1 && (!best || rank < best.rank)) best = { node, rank };
    }
  }
  return best ? { node: best.node, listed: true } : { node: first, listed: false };
}

export type QemuAction = 'native' | 'handled' | 'register' | 'unavailable' | 'remote';

export interface QemuPlanItem {
  platform: Platform;
  action: QemuAction;
  /** The builder node that builds it (absent when no node facts were given). */
  node?: string;
  /** False for a node not on this runner's docker: its emulation is its own host's. */
  onRunner: boolean;
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

function planOne(mode: Tristate, platform: Platform, hostArch: string, entries: readonly BinfmtEntry[], nodes: readonly NodeFacts[]): QemuPlanItem {
  const choice = nodeFor(platform, nodes);
  const at = choice ? { node: choice.node.name } : {};
  if (choice && !choice.node.onRunner) {
    const n = choice.node;
    const where = choice.listed ? '' : ` (no node lists ${platform.id}; buildx sends it to the first node)`;
    return {
      platform,
      action: 'remote',
      ...at,
      onRunner: false,
      reason: `${platform.id}: built on node ${n.name} (driver ${n.driver}, not on this runner)${where}; emulation, if any, is that node's business, so nothing is registered here`,
    };
  }
  return { ...planOnRunner(mode, platform, hostArch, entries), ...at, onRunner: true };
}

function planOnRunner(mode: Tristate, platform: Platform, hostArch: string, entries: readonly BinfmtEntry[]): Omit<QemuPlanItem, 'onRunner'> {
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

/**
 * Decides, per platform, which node builds it and whether it runs natively,
 * is already emulated, needs registering, cannot run, or runs on a node that
 * is not on this runner (`remote`: nothing to do here). Without node facts
 * every platform is taken to run on this runner.
 */
export function planQemu(
  mode: Tristate,
  platforms: readonly Platform[],
  hostArch: string,
  entries: readonly BinfmtEntry[],
  nodes: readonly NodeFacts[] = [],
): QemuPlan {
  return { mode, items: platforms.map((p) => planOne(mode, p, hostArch, entries, nodes)) };
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

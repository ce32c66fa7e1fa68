// QEMU registration: read the host's binfmt_misc entries and carry out a
// plan, through the binfmt image when a docker daemon answers or the host's
// qemu-*-static binaries otherwise. Every process goes through Exec and every
// file through QemuFs.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as io from '@actions/io';
import type { Exec } from '../exec.js';
import {
  describeEntry,
  emulatedPlatforms,
  findEntry,
  isUsable,
  parseBinfmtEntry,
  registerLine,
  type BinfmtEntry,
  type QemuPlan,
  type QemuPlanItem,
} from './plan.js';

/** Reads every entry under the binfmt_misc mount; [] when it is not mounted. */
export async function readBinfmtEntries(dir = '/proc/sys/fs/binfmt_misc'): Promise<BinfmtEntry[]> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return [];
  }
  const entries: BinfmtEntry[] = [];
  for (const name of names.sort()) {
    if (name === 'register' || name === 'status') continue;
    const text = await fsp.readFile(path.join(dir, name), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    try {
      entries.push(parseBinfmtEntry(name, text));
    } catch {
      // Not a binfmt entry (or an unknown format): it cannot serve a platform we need.
    }
  }
  return entries;
}

export interface QemuFs {
  exists(file: string): Promise<boolean>;
  writeFile(file: string, data: string): Promise<void>;
  readEntries(dir: string): Promise<BinfmtEntry[]>;
  /** Path of a tool on PATH, or '' when absent. */
  which(tool: string): Promise<string>;
}

export const nodeQemuFs: QemuFs = {
  exists: (file) =>
    fsp.access(file).then(
      () => true,
      () => false,
    ),
  writeFile: (file, data) => fsp.writeFile(file, data),
  readEntries: readBinfmtEntries,
  which: (tool) => io.which(tool, false),
};

export interface SetupQemuOptions {
  qemuImage: string;
  binfmtDir?: string;
  /** Where host `qemu-<arch>-static` binaries live. */
  qemuBinDir?: string;
  log: (message: string) => void;
  fs?: QemuFs;
}

export interface QemuResult {
  /** Platform ids that run emulated. */
  emulated: string[];
  method: 'none' | 'binfmt-image' | 'host-qemu';
  /** QEMU architecture names registered by this run. */
  registered: string[];
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

/**
 * Carries out a plan. Registers nothing (and starts no process) when no
 * platform needs it. Registration is checked by reading the entries back,
 * since the binfmt image exits 0 even when an install fails.
 */
export async function setupQemu(exec: Exec, plan: QemuPlan, opts: SetupQemuOptions): Promise<QemuResult> {
  const fs = opts.fs ?? nodeQemuFs;
  const binfmtDir = opts.binfmtDir ?? '/proc/sys/fs/binfmt_misc';
  for (const item of plan.items) opts.log(item.reason);
  const todo = plan.items.filter((i): i is QemuPlanItem & { qemuArch: string } => i.action === 'register' && i.qemuArch !== undefined);
  if (todo.length === 0) {
    opts.log(nothingToRegister(plan));
    return { emulated: emulatedPlatforms(plan), method: 'none', registered: [] };
  }

  const arches = unique(todo.map((i) => i.qemuArch));
  const replace = unique(todo.flatMap((i) => (i.replace ? [i.replace] : [])));
  let method: QemuResult['method'];
  const docker = await exec('docker', ['info'], { silent: true, allowFailure: true });
  if (docker.exitCode === 0) {
    method = 'binfmt-image';
    // The binfmt image takes platform architectures (arm64, arm, riscv64, ...).
    const platformArches = unique(todo.map((i) => i.platform.arch));
    opts.log(`registering ${arches.join(', ')} with ${opts.qemuImage} (docker daemon available)`);
    const args = ['run', '--privileged', '--rm', opts.qemuImage];
    if (replace.length > 0) args.push('--uninstall', replace.join(','));
    args.push('--install', platformArches.join(','));
    await exec('docker', args, { onLine: (l) => opts.log(l) });
  } else {
    method = 'host-qemu';
    await registerWithHostQemu(exec, fs, binfmtDir, opts.qemuBinDir ?? '/usr/bin', arches, replace, opts.log);
  }

  if (await fs.exists(path.join(binfmtDir, 'status'))) {
    const entries = await fs.readEntries(binfmtDir);
    const bad = arches.filter((a) => {
      const e = findEntry(entries, a);
      return !e || !isUsable(e);
    });
    if (bad.length > 0) {
      const got = bad.map((a) => {
        const e = findEntry(entries, a);
        return e ? describeEntry(e) : `qemu-${a} is not registered`;
      });
      throw new Error(`QEMU registration via ${method} did not take: ${got.join('; ')}`);
    }
  } else {
    opts.log(`cannot verify the registration: binfmt_misc is not mounted at ${binfmtDir}`);
  }
  return { emulated: emulatedPlatforms(plan), method, registered: arches };
}

/** The log line when the plan registers nothing, saying why. */
export function nothingToRegister(plan: QemuPlan): string {
  const remote = plan.items.filter((i) => i.action === 'remote').length;
  if (remote === plan.items.length && remote > 0) {
    return 'nothing registered with QEMU: every platform is built on a node that is not on this runner';
  }
  const why = remote > 0 ? `; ${remote} of ${plan.items.length} platforms are built on nodes that are not on this runner` : '';
  return `nothing registered with QEMU${why}`;
}

async function registerWithHostQemu(
  exec: Exec,
  fs: QemuFs,
  binfmtDir: string,
  binDir: string,
  arches: readonly string[],
  replace: readonly string[],
  log: (message: string) => void,
): Promise<void> {
  const missing: string[] = [];
  for (const a of arches) if (!(await fs.exists(path.join(binDir, `qemu-${a}-static`)))) missing.push(`${binDir}/qemu-${a}-static`);
  if (missing.length > 0) {
    throw new Error(
      `no docker daemon to run the binfmt image and no host QEMU (${missing.join(', ')} missing): install qemu-user-static or set qemu: false`,
    );
  }
  if (!(await fs.exists(path.join(binfmtDir, 'register')))) {
    log(`mounting binfmt_misc at ${binfmtDir}`);
    await exec('mount', ['-t', 'binfmt_misc', 'binfmt_misc', binfmtDir]);
  }
  for (const name of replace) {
    log(`removing unusable binfmt entry ${name}`);
    await fs.writeFile(path.join(binfmtDir, name), '-1');
  }
  const updateBinfmts = await fs.which('update-binfmts');
  for (const a of arches) {
    if (updateBinfmts) {
      log(`registering qemu-${a} with update-binfmts (no docker daemon)`);
      await exec(updateBinfmts, ['--enable', `qemu-${a}`]);
    } else {
      const existing = findEntry(await fs.readEntries(binfmtDir), a);
      if (existing && isUsable(existing)) {
        log(`qemu-${a} already registered with flags ${existing.flags}`);
        continue;
      }
      log(`registering ${binDir}/qemu-${a}-static with flags F through ${binfmtDir}/register (no docker daemon)`);
      await fs.writeFile(path.join(binfmtDir, 'register'), registerLine(a, path.join(binDir, `qemu-${a}-static`)));
    }
  }
}

import { afterEach, beforeEach, describe, expect, it, test } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Exec, ExecResult } from '../src/exec.js';
import { parsePlatform } from '../src/platform.js';
import { elfMagic, emulatedPlatforms, parseBinfmtEntry, planQemu, registerLine, type BinfmtEntry, type QemuPlan } from '../src/qemu/plan.js';
import { nodeQemuFs, readBinfmtEntries, setupQemu } from '../src/qemu/setup.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'qemu');
const fixture = (name: string): string => readFileSync(path.join(FIXTURES, name), 'utf8');

/** Real entries from the test bed (Debian qemu-user-static + binfmt-support, `update-binfmts --enable`). */
const AARCH64 = parseBinfmtEntry('qemu-aarch64', fixture('binfmt-qemu-aarch64.txt'));
const ARM = parseBinfmtEntry('qemu-arm', fixture('binfmt-qemu-arm.txt'));

const P = (s: string) => parsePlatform(s);

describe('parseBinfmtEntry', () => {
  it('reads the real qemu-aarch64 entry', () => {
    const want: BinfmtEntry = {
      name: 'qemu-aarch64',
      enabled: true,
      interpreter: '/usr/libexec/qemu-binfmt/aarch64-binfmt-P',
      flags: 'PF',
      offset: 0,
      magic: '7f454c460201010000000000000000000200b700',
      mask: 'ffffffffffffff00fffffffffffffffffeffffff',
    };
    expect(AARCH64).toEqual(want);
  });

  test.each([
    [
      'disabled, no flags',
      'disabled\ninterpreter /usr/bin/qemu-riscv64-static\nflags: \noffset 0\nmagic 7f45\nmask ffff\n',
      { enabled: false, flags: '' },
    ],
    [
      'binfmt image style',
      'enabled\ninterpreter /usr/bin/qemu-aarch64\nflags: OCF\noffset 0\nmagic 7f45\nmask ffff\n',
      { enabled: true, flags: 'OCF', interpreter: '/usr/bin/qemu-aarch64' },
    ],
    ['extension type', 'enabled\ninterpreter /usr/bin/wine\nflags: \nextension .exe\n', { enabled: true, interpreter: '/usr/bin/wine' }],
  ])('%s', (_name, text, want) => {
    expect(parseBinfmtEntry('x', text)).toMatchObject(want);
  });

  test.each([
    ['', 'expected "enabled" or "disabled"'],
    ['1', 'expected "enabled" or "disabled"'],
    ['enabled\nflags: F\n', 'no interpreter line'],
  ])('rejects %j', (text, msg) => {
    expect(() => parseBinfmtEntry('x', text)).toThrow(msg);
  });
});

describe('elfMagic / registerLine', () => {
  test.each([
    ['aarch64', AARCH64],
    ['arm', ARM],
  ])('%s matches what Debian registered on the test bed', (arch, entry) => {
    expect(elfMagic(arch)).toEqual({ magic: entry.magic, mask: entry.mask });
  });

  test.each([
    ['s390x', '7f454c4602020100000000000000000000020016', 'ffffffffffffff00fffffffffffffffffffeffff'],
    ['riscv64', '7f454c460201010000000000000000000200f300', 'ffffffffffffff00fffffffffffffffffeffffff'],
    ['loongarch64', '7f454c4602010100000000000000000002000201', 'ffffffffffffff00fffffffffffffffffeffffff'],
  ])('%s', (arch, magic, mask) => {
    expect(elfMagic(arch)).toEqual({ magic, mask });
  });

  it('escapes every byte and sets F', () => {
    expect(registerLine('aarch64', '/usr/bin/qemu-aarch64-static')).toBe(
      ':qemu-aarch64:M:0:\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:' +
        '\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:/usr/bin/qemu-aarch64-static:F',
    );
    expect(() => elfMagic('sparc')).toThrow('no ELF magic known for sparc');
  });
});

type Row = [string, 'auto' | 'true' | 'false', string, string, BinfmtEntry[], { action: string; reason: string; replace?: string }];

describe('planQemu', () => {
  const noF = { ...AARCH64, flags: 'P' };
  const disabled = { ...AARCH64, enabled: false };
  const staticName = { ...AARCH64, name: 'qemu-aarch64-static' };
  test.each<Row>([
    ['amd64 on x64', 'auto', 'linux/amd64', 'x64', [], { action: 'native', reason: 'linux/amd64: native on this x64 host' }],
    ['386 on x64', 'auto', 'linux/386', 'x64', [], { action: 'native', reason: 'linux/386: native on this x64 host' }],
    ['amd64/v3 on x64', 'true', 'linux/amd64/v3', 'x64', [], { action: 'native', reason: 'linux/amd64/v3: native on this x64 host' }],
    ['arm64 on arm64', 'auto', 'linux/arm64', 'arm64', [], { action: 'native', reason: 'linux/arm64: native on this arm64 host' }],
    ['amd64 on arm64', 'auto', 'linux/amd64', 'arm64', [], { action: 'register', reason: 'linux/amd64: no qemu-x86_64 binfmt entry, registering' }],
    [
      'arm64 handled by the real entry',
      'auto',
      'linux/arm64',
      'x64',
      [AARCH64, ARM],
      { action: 'handled', reason: 'linux/arm64: qemu-aarch64 already registered with flags PF, skipped' },
    ],
    [
      'arm/v7 handled',
      'auto',
      'linux/arm/v7',
      'x64',
      [AARCH64, ARM],
      { action: 'handled', reason: 'linux/arm/v7: qemu-arm already registered with flags PF, skipped' },
    ],
    [
      'a -static entry counts',
      'auto',
      'linux/arm64',
      'x64',
      [staticName],
      { action: 'handled', reason: 'linux/arm64: qemu-aarch64-static already registered with flags PF, skipped' },
    ],
    [
      'riscv64 missing',
      'auto',
      'linux/riscv64',
      'x64',
      [AARCH64, ARM],
      { action: 'register', reason: 'linux/riscv64: no qemu-riscv64 binfmt entry, registering' },
    ],
    [
      'entry without F',
      'auto',
      'linux/arm64',
      'x64',
      [noF],
      {
        action: 'register',
        replace: 'qemu-aarch64',
        reason:
          'linux/arm64: qemu-aarch64 is registered with flags P, without F build containers cannot find the interpreter; registering again with F',
      },
    ],
    [
      'disabled entry',
      'auto',
      'linux/arm64',
      'x64',
      [disabled],
      { action: 'register', replace: 'qemu-aarch64', reason: 'linux/arm64: qemu-aarch64 is registered but disabled; registering again with F' },
    ],
    [
      'true registers even if handled',
      'true',
      'linux/arm64',
      'x64',
      [AARCH64],
      { action: 'register', reason: 'linux/arm64: qemu is true, registering qemu-aarch64 (qemu-aarch64 is registered with flags PF)' },
    ],
    [
      'true, nothing registered',
      'true',
      'linux/s390x',
      'x64',
      [],
      { action: 'register', reason: 'linux/s390x: qemu is true, registering qemu-s390x' },
    ],
    [
      'false but handled',
      'false',
      'linux/arm64',
      'x64',
      [AARCH64],
      { action: 'handled', reason: 'linux/arm64: qemu is false, but qemu-aarch64 is registered with flags PF; it runs emulated' },
    ],
    [
      'false and missing',
      'false',
      'linux/arm/v7',
      'x64',
      [AARCH64],
      { action: 'unavailable', reason: 'linux/arm/v7: qemu is false and no qemu-arm entry is registered; RUN steps for it will fail' },
    ],
    [
      'false and no F',
      'false',
      'linux/arm64',
      'x64',
      [noF],
      { action: 'unavailable', reason: 'linux/arm64: qemu is false and qemu-aarch64 is registered with flags P (no F); RUN steps for it will fail' },
    ],
    ['false, native', 'false', 'linux/amd64', 'x64', [], { action: 'native', reason: 'linux/amd64: native on this x64 host' }],
    [
      'windows',
      'auto',
      'windows/arm64',
      'x64',
      [AARCH64],
      { action: 'unavailable', reason: 'windows/arm64: no emulation available (QEMU user emulation runs linux binaries only)' },
    ],
  ])('%s', (_name, mode, platform, host, entries, want) => {
    const plan = planQemu(mode, [P(platform)], host, entries);
    const item = plan.items[0];
    expect({ action: item?.action, reason: item?.reason, ...(item?.replace ? { replace: item.replace } : {}) }).toEqual(want);
  });

  it('plans the test bed: amd64 native, arm64 and arm/v7 handled, all emulated but amd64', () => {
    const plan = planQemu('auto', ['linux/amd64', 'linux/arm64', 'linux/arm/v7'].map(P), 'x64', [AARCH64, ARM]);
    expect(plan.items.map((i) => [i.platform.id, i.action, i.qemuArch])).toEqual([
      ['linux/amd64', 'native', undefined],
      ['linux/arm64', 'handled', 'aarch64'],
      ['linux/arm/v7', 'handled', 'arm'],
    ]);
    expect(emulatedPlatforms(plan)).toEqual(['linux/arm64', 'linux/arm/v7']);
  });
});

describe('readBinfmtEntries', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'binfmt-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads entries, skipping register, status and unparsable files', async () => {
    writeFileSync(path.join(dir, 'register'), '');
    writeFileSync(path.join(dir, 'status'), 'enabled\n');
    writeFileSync(path.join(dir, 'qemu-arm'), fixture('binfmt-qemu-arm.txt'));
    writeFileSync(path.join(dir, 'qemu-aarch64'), fixture('binfmt-qemu-aarch64.txt'));
    writeFileSync(path.join(dir, 'junk'), 'hello');
    expect(await readBinfmtEntries(dir)).toEqual([AARCH64, ARM]);
  });

  it('is empty when binfmt_misc is not there', async () => {
    expect(await readBinfmtEntries(path.join(dir, 'missing'))).toEqual([]);
  });
});

describe('setupQemu', () => {
  let binfmt: string;
  let bin: string;
  let log: string[];
  beforeEach(() => {
    binfmt = mkdtempSync(path.join(os.tmpdir(), 'binfmt-'));
    bin = mkdtempSync(path.join(os.tmpdir(), 'qemubin-'));
    log = [];
  });
  afterEach(() => {
    rmSync(binfmt, { recursive: true, force: true });
    rmSync(bin, { recursive: true, force: true });
  });

  const mounted = (): void => {
    writeFileSync(path.join(binfmt, 'register'), '');
    writeFileSync(path.join(binfmt, 'status'), 'enabled\n');
  };
  const entry = (arch: string, interpreter: string, flags: string): string =>
    `enabled\ninterpreter ${interpreter}\nflags: ${flags}\noffset 0\nmagic ${elfMagic(arch).magic}\nmask ${elfMagic(arch).mask}\n`;

  /** A fake host: `docker info` answers per `daemon`; `docker run <binfmt image>` registers like the real image (flags CF). */
  function host(daemon: boolean, opts: { installWorks?: boolean } = {}): { exec: Exec; calls: string[][] } {
    const calls: string[][] = [];
    const exec: Exec = async (command, args, options): Promise<ExecResult> => {
      calls.push([command, ...args]);
      if (command === 'docker' && args[0] === 'info')
        return { exitCode: daemon ? 0 : 1, stdout: '', stderr: daemon ? '' : 'Cannot connect to the Docker daemon' };
      if (command === 'docker' && args[0] === 'run') {
        const i = args.indexOf('--install');
        for (const a of (args[i + 1] ?? '').split(',')) {
          const q = ({ arm64: 'aarch64', arm: 'arm', riscv64: 'riscv64', amd64: 'x86_64' } as Record<string, string>)[a] ?? a;
          options?.onLine?.(`installing: ${a} ${opts.installWorks === false ? 'cannot register' : 'OK'}`);
          if (opts.installWorks !== false) writeFileSync(path.join(binfmt, `qemu-${q}`), entry(q, `/usr/bin/qemu-${q}`, 'CF'));
        }
        return { exitCode: 0, stdout: '', stderr: '' };
      }
      throw new Error(`unexpected ${command} ${args.join(' ')}`);
    };
    return { exec, calls };
  }

  const plan = (mode: 'auto' | 'true' | 'false', ids: string[], entries: BinfmtEntry[] = []): QemuPlan => planQemu(mode, ids.map(P), 'x64', entries);

  it('runs no process when nothing needs registering', async () => {
    const { exec, calls } = host(true);
    const r = await setupQemu(exec, plan('auto', ['linux/amd64', 'linux/arm64'], [AARCH64]), {
      qemuImage: 'img',
      binfmtDir: binfmt,
      log: (m) => log.push(m),
    });
    expect(r).toEqual({ emulated: ['linux/arm64'], method: 'none', registered: [] });
    expect(calls).toEqual([]);
    expect(log).toEqual([
      'linux/amd64: native on this x64 host',
      'linux/arm64: qemu-aarch64 already registered with flags PF, skipped',
      'nothing registered with QEMU',
    ]);
  });

  it('qemu: false registers nothing and reports nothing emulated that cannot run', async () => {
    const { exec, calls } = host(true);
    const r = await setupQemu(exec, plan('false', ['linux/arm64']), { qemuImage: 'img', binfmtDir: binfmt, log: (m) => log.push(m) });
    expect(r).toEqual({ emulated: [], method: 'none', registered: [] });
    expect(calls).toEqual([]);
  });

  it('uses the binfmt image when a daemon answers, with platform architectures, and checks the result', async () => {
    mounted();
    const { exec, calls } = host(true);
    const r = await setupQemu(exec, plan('auto', ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/arm/v6']), {
      qemuImage: 'tonistiigi/binfmt:qemu-v9',
      binfmtDir: binfmt,
      log: (m) => log.push(m),
    });
    expect(r).toEqual({ emulated: ['linux/arm64', 'linux/arm/v7', 'linux/arm/v6'], method: 'binfmt-image', registered: ['aarch64', 'arm'] });
    expect(calls[1]).toEqual(['docker', 'run', '--privileged', '--rm', 'tonistiigi/binfmt:qemu-v9', '--install', 'arm64,arm']);
    expect(log).toContain('installing: arm64 OK');
    expect((await readBinfmtEntries(binfmt)).map((e) => [e.name, e.flags])).toEqual([
      ['qemu-aarch64', 'CF'],
      ['qemu-arm', 'CF'],
    ]);
  });

  it('uninstalls an entry without F before installing', async () => {
    mounted();
    writeFileSync(path.join(binfmt, 'qemu-aarch64'), entry('aarch64', '/usr/bin/qemu-aarch64-static', 'P'));
    const entries = await readBinfmtEntries(binfmt);
    const { exec, calls } = host(true);
    await setupQemu(exec, plan('auto', ['linux/arm64'], entries), { qemuImage: 'img', binfmtDir: binfmt, log: (m) => log.push(m) });
    expect(calls[1]).toEqual(['docker', 'run', '--privileged', '--rm', 'img', '--uninstall', 'qemu-aarch64', '--install', 'arm64']);
  });

  it('fails when the binfmt image exits 0 but registered nothing', async () => {
    mounted();
    const { exec } = host(true, { installWorks: false });
    await expect(setupQemu(exec, plan('auto', ['linux/riscv64']), { qemuImage: 'img', binfmtDir: binfmt, log: (m) => log.push(m) })).rejects.toThrow(
      'QEMU registration via binfmt-image did not take: qemu-riscv64 is not registered',
    );
  });

  it('without a daemon, registers host qemu-*-static through binfmt_misc/register', async () => {
    mounted();
    writeFileSync(path.join(bin, 'qemu-riscv64-static'), '');
    const written: string[] = [];
    const fs = {
      ...nodeQemuFs,
      which: async () => '',
      writeFile: async (file: string, data: string) => {
        written.push(`${path.basename(file)} <- ${data}`);
        // the kernel turns a register line into an entry file
        if (path.basename(file) === 'register')
          writeFileSync(path.join(binfmt, 'qemu-riscv64'), entry('riscv64', path.join(bin, 'qemu-riscv64-static'), 'F'));
      },
    };
    const { exec, calls } = host(false);
    const r = await setupQemu(exec, plan('auto', ['linux/riscv64', 'linux/amd64']), {
      qemuImage: 'img',
      binfmtDir: binfmt,
      qemuBinDir: bin,
      log: (m) => log.push(m),
      fs,
    });
    expect(r).toEqual({ emulated: ['linux/riscv64'], method: 'host-qemu', registered: ['riscv64'] });
    expect(calls).toEqual([['docker', 'info']]);
    expect(written).toEqual([`register <- ${registerLine('riscv64', path.join(bin, 'qemu-riscv64-static'))}`]);
    expect(log.some((l) => l.includes('through') && l.includes('register (no docker daemon)'))).toBe(true);
  });

  it('without a daemon, prefers update-binfmts and mounts binfmt_misc first', async () => {
    writeFileSync(path.join(bin, 'qemu-aarch64-static'), '');
    const calls: string[][] = [];
    const exec: Exec = async (command, args) => {
      calls.push([command, ...args]);
      if (command === 'docker') return { exitCode: 1, stdout: '', stderr: '' };
      if (command === 'mount') mounted();
      if (command === '/usr/sbin/update-binfmts') writeFileSync(path.join(binfmt, 'qemu-aarch64'), fixture('binfmt-qemu-aarch64.txt'));
      return { exitCode: 0, stdout: '', stderr: '' };
    };
    const fs = { ...nodeQemuFs, which: async (t: string) => (t === 'update-binfmts' ? '/usr/sbin/update-binfmts' : '') };
    const r = await setupQemu(exec, plan('auto', ['linux/arm64']), {
      qemuImage: 'img',
      binfmtDir: binfmt,
      qemuBinDir: bin,
      log: (m) => log.push(m),
      fs,
    });
    expect(r.method).toBe('host-qemu');
    expect(calls).toEqual([
      ['docker', 'info'],
      ['mount', '-t', 'binfmt_misc', 'binfmt_misc', binfmt],
      ['/usr/sbin/update-binfmts', '--enable', 'qemu-aarch64'],
    ]);
    expect(log).toContain('registering qemu-aarch64 with update-binfmts (no docker daemon)');
  });

  it('without a daemon and without host QEMU, says what is missing', async () => {
    mounted();
    const { exec } = host(false);
    await expect(
      setupQemu(exec, plan('auto', ['linux/arm64']), { qemuImage: 'img', binfmtDir: binfmt, qemuBinDir: bin, log: (m) => log.push(m) }),
    ).rejects.toThrow(`no docker daemon to run the binfmt image and no host QEMU (${bin}/qemu-aarch64-static missing)`);
    expect(existsSync(path.join(binfmt, 'qemu-aarch64'))).toBe(false);
  });

  it('replaces an unusable entry on the host path by writing -1 to it first', async () => {
    mounted();
    writeFileSync(path.join(bin, 'qemu-aarch64-static'), '');
    writeFileSync(path.join(binfmt, 'qemu-aarch64'), entry('aarch64', '/usr/bin/qemu-aarch64-static', 'P'));
    const entries = await readBinfmtEntries(binfmt);
    const written: string[] = [];
    const fs = {
      ...nodeQemuFs,
      which: async () => '',
      writeFile: async (file: string, data: string) => {
        written.push(`${path.basename(file)} <- ${data.slice(0, 14)}`);
        if (data === '-1') rmSync(file);
        else writeFileSync(path.join(binfmt, 'qemu-aarch64'), entry('aarch64', '/usr/bin/qemu-aarch64-static', 'F'));
      },
    };
    const r = await setupQemu(host(false).exec, plan('auto', ['linux/arm64'], entries), {
      qemuImage: 'img',
      binfmtDir: binfmt,
      qemuBinDir: bin,
      log: (m) => log.push(m),
      fs,
    });
    expect(r.registered).toEqual(['aarch64']);
    expect(written).toEqual(['qemu-aarch64 <- -1', 'register <- :qemu-aarch64:']);
  });
});

// The test bed itself: real BuildKit, buildx, QEMU, registries and trivy.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bed, getManifest, imageFile, indexPlatforms, parseNodes, uniqueRepo } from './testbed.js';

function sh(cmd: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('test bed', () => {
  const repo = uniqueRepo('smoke');
  const builder = `smoke-${process.pid}`;
  let ref = '';

  beforeAll(() => {
    sh('docker', ['buildx', 'create', '--name', builder, '--driver', 'remote', bed.buildkitEndpoint]);
    try {
      ref = `${bed.registry}/${repo}:1`;
      sh('docker', [
        'buildx',
        'build',
        '--builder',
        builder,
        '--platform',
        'linux/amd64,linux/arm64,linux/arm/v7',
        '--provenance=false',
        '-t',
        ref,
        '--push',
        path.join(bed.contexts, 'vulnapp'),
      ]);
    } finally {
      sh('docker', ['buildx', 'rm', builder]);
    }
  });

  it('buildx pushes an index with exactly amd64, arm64 and arm/v7 through the remote builder', async () => {
    const index = await getManifest(bed.registry, repo, '1');
    expect(index && indexPlatforms(index)).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
  });

  it.each([
    ['linux/amd64', 'x86_64'],
    ['linux/arm64', 'aarch64'],
    ['linux/arm/v7', 'armv7l'],
  ])('the RUN step of %s ran on a %s CPU (QEMU for foreign ones)', (platform, machine) => {
    expect(imageFile(ref, '/etc/build-arch', platform)).toBe(machine);
  });

  describe('trivy with the DB from registry A', () => {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'trivy-cache-'));
    const offline = ['--skip-version-check', '--disable-telemetry', '--cache-dir', cache];

    function scan(platform: string): { Results?: { Vulnerabilities?: { VulnerabilityID: string; PkgName: string }[] }[] } {
      const out = sh('trivy', [
        'image',
        '--image-src',
        'remote',
        '--platform',
        platform,
        '--skip-db-update',
        '--skip-java-db-update',
        '--offline-scan',
        '--format',
        'json',
        '--quiet',
        ...offline,
        ref,
      ]);
      return JSON.parse(out) as ReturnType<typeof scan>;
    }
    const ids = (r: ReturnType<typeof scan>) =>
      (r.Results ?? [])
        .flatMap((x) => x.Vulnerabilities ?? [])
        .map((v) => `${v.VulnerabilityID}:${v.PkgName}`)
        .sort();

    beforeAll(() => {
      sh('trivy', ['image', '--download-db-only', '--db-repository', bed.trivyDbRepository, '--no-progress', ...offline]);
    });

    it("downloads the DB artifact through trivy's own download path", () => {
      const meta = JSON.parse(fs.readFileSync(path.join(cache, 'db', 'metadata.json'), 'utf8')) as { Version: number };
      expect(meta.Version).toBe(2);
    });

    it('reports the arm64-only vulnerability on arm64', () => {
      expect(ids(scan('linux/arm64'))).toContain('CVE-2099-10001:busybox');
    });

    it('does not report it on amd64, which still has the all-platform finding', () => {
      const found = ids(scan('linux/amd64'));
      expect(found).not.toContain('CVE-2099-10001:busybox');
      expect(found).toContain('CVE-2099-10002:ssl_client');
    });
  });
});

describe('registry B', () => {
  const src = `${bed.registry}/${uniqueRepo('authsrc')}:1`;
  beforeAll(() => {
    sh('regctl', ['artifact', 'put', '--artifact-type', 'application/vnd.testbed.note', src], {});
  });

  it('refuses an unauthenticated push', () => {
    const r = spawnSync(
      'skopeo',
      [
        'copy',
        '--src-tls-verify=false',
        '--dest-tls-verify=false',
        '--dest-no-creds',
        `docker://${src}`,
        `docker://${bed.authRegistry}/${uniqueRepo('noauth')}:1`,
      ],
      { encoding: 'utf8' },
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/unauthorized|authentication required/i);
  });

  it('accepts an authenticated push', () => {
    const r = spawnSync(
      'skopeo',
      [
        'copy',
        '--src-tls-verify=false',
        '--dest-tls-verify=false',
        '--dest-creds',
        `${bed.authUser}:${bed.authPassword}`,
        `docker://${src}`,
        `docker://${bed.authRegistry}/${uniqueRepo('auth')}:1`,
      ],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe(r.status === 0 ? r.stderr : '');
    expect(r.status).toBe(0);
  });
});

describe('network exposure', () => {
  // Sockets whose owner is not visible here (no `users:` field) belong to the
  // sandbox outside this PID namespace, not to anything the test bed started.
  it('every listening socket of a process on this machine is on loopback', () => {
    const lines = sh('ss', ['-Hltnp'])
      .split('\n')
      .filter((l) => l.includes('users:'));
    const local = lines.map((l) => l.trim().split(/\s+/)[3] ?? '');
    expect(local).toEqual(expect.arrayContaining([`${bed.registry}`, `${bed.authRegistry}`]));
    const exposed = local.filter((addr) => !/^(127\.\d+\.\d+\.\d+|\[::1\]|\[::ffff:127\.[\d.]+\]):\d+$/.test(addr));
    expect(exposed).toEqual([]);
  });
});

describe('privileged containers', () => {
  it('start through the test bed runc wrapper, with every capability but CAP_SYS_RESOURCE', () => {
    const out = sh('docker', ['run', '--privileged', '--rm', '--network', 'none', bed.busyboxImage, 'grep', 'CapEff', '/proc/self/status']);
    const eff = BigInt(`0x${out.trim().split(/\s+/)[1]}`);
    expect(eff & (1n << 21n)).not.toBe(0n); // CAP_SYS_ADMIN
    expect(eff & (1n << 24n)).toBe(0n); // CAP_SYS_RESOURCE, outside this sandbox's bounding set
  });

  it('fail with plain runc, which is why dockerd defaults to the wrapper', () => {
    const r = spawnSync('docker', ['run', '--runtime', 'runc', '--privileged', '--rm', '--network', 'none', bed.busyboxImage, 'true'], {
      encoding: 'utf8',
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/unable to apply caps/);
  });
});

describe('the buildkit image as a docker-container builder', () => {
  const builder = `smoke-dc-${process.pid}`;
  const repo = uniqueRepo('dc');
  let inspect = '';
  let containersAfterRm = '';

  beforeAll(() => {
    sh('docker', [
      'buildx',
      'create',
      '--name',
      builder,
      '--driver',
      'docker-container',
      '--driver-opt',
      `image=${bed.buildkitImage},network=host`,
      '--buildkitd-config',
      bed.buildkitdConfig,
    ]);
    try {
      inspect = sh('docker', ['buildx', 'inspect', '--bootstrap', builder]);
      sh('docker', [
        'buildx',
        'build',
        '--builder',
        builder,
        '--platform',
        'linux/arm64',
        '--provenance=false',
        '-t',
        `${bed.registry}/${repo}:1`,
        '--push',
        path.join(bed.contexts, 'vulnapp'),
      ]);
    } finally {
      sh('docker', ['buildx', 'rm', builder]);
      containersAfterRm = sh('docker', ['ps', '-a', '--filter', `name=buildx_buildkit_${builder}`, '--format', '{{.Names}}']);
    }
  });

  it('boots from the image in registry A and runs its worker on the host network', () => {
    expect(inspect).toMatch(/Driver:\s+docker-container/);
    expect(inspect).toMatch(/Status:\s+running/);
    expect(inspect).toMatch(/BuildKit version:\s+v0\.32\.2/);
    expect(inspect).toMatch(/org\.mobyproject\.buildkit\.worker\.network:\s+host/);
  });

  it('builds linux/arm64 and pushes it to registry A over http', async () => {
    const m = await getManifest(bed.registry, repo, '1');
    expect(m).toBeDefined();
    expect(imageFile(`${bed.registry}/${repo}:1`, '/etc/build-arch')).toBe('aarch64');
  });

  it('leaves no container once the builder is removed', () => {
    expect(containersAfterRm.trim()).toBe('');
  });
});

describe('the binfmt image', () => {
  const dir = '/proc/sys/fs/binfmt_misc';
  const handlers = ['qemu-aarch64', 'qemu-arm'];
  const read = (h: string) => (fs.existsSync(path.join(dir, h)) ? fs.readFileSync(path.join(dir, h), 'utf8') : '');
  const binfmt = (...args: string[]) => spawnSync('docker', ['run', '--privileged', '--rm', bed.binfmtImage, ...args], { encoding: 'utf8' });

  // What the test bed's ensure_binfmt does: Debian's handlers back.
  afterAll(() => {
    for (const h of handlers) if (!read(h).startsWith('enabled')) sh('update-binfmts', ['--enable', h]);
  });

  it('registers removed qemu-aarch64 and qemu-arm handlers with the F flag', () => {
    for (const h of handlers) if (read(h)) fs.writeFileSync(path.join(dir, h), '-1');
    const r = binfmt('--install', 'arm64,arm');
    expect(r.stderr).toContain('installing: arm64 OK');
    expect(r.stderr).toContain('installing: arm OK');
    expect((JSON.parse(r.stdout) as { emulators: string[] }).emulators).toEqual(expect.arrayContaining(handlers));
    for (const h of handlers) {
      expect(read(h)).toMatch(/^enabled$/m);
      expect(read(h)).toMatch(/^flags: \w*F\w*$/m);
      expect(read(h)).toContain(`interpreter /usr/bin/${h}`);
    }
    expect(sh(path.join(bed.contexts, 'vulnapp', 'busybox', 'arm64', 'busybox'), ['uname', '-m']).trim()).toBe('aarch64');
    expect(sh(path.join(bed.contexts, 'vulnapp', 'busybox', 'armv7', 'busybox'), ['uname', '-m']).trim()).toBe('armv7l');
  });

  it('removes them with --uninstall', () => {
    const r = binfmt('--uninstall', 'arm64,arm');
    expect(r.stderr).toContain('uninstalling: arm64 OK');
    for (const h of handlers) expect(read(h)).toBe('');
  });
});

describe('the multi-node buildkitd daemons', () => {
  const nodes = parseNodes(bed.buildkitNodes);
  const workerPlatforms = (endpoint: string): string[] => {
    const out = sh('buildctl', ['--addr', endpoint, 'debug', 'workers', '--format', '{{json .}}']);
    const workers = JSON.parse(out) as { platforms: { os: string; architecture: string; variant?: string }[] }[];
    expect(workers).toHaveLength(1);
    return workers[0].platforms.map((p) => [p.os, p.architecture, p.variant].filter(Boolean).join('/'));
  };

  it('are two: amd64 only, and arm64 with arm/v7', () => {
    expect(nodes.map((n) => n.platforms)).toEqual([['linux/amd64'], ['linux/arm64', 'linux/arm/v7']]);
  });

  // buildkitd always appends its host's native platform (linux/amd64 and the
  // amd64 variants this CPU has); the test bed hides the host's QEMU from its
  // platform detection, so nothing else is listed.
  it('the amd64 node reports amd64 only', () => {
    const got = workerPlatforms(nodes[0].endpoint);
    expect(got[0]).toBe('linux/amd64');
    expect(got.filter((p) => !p.startsWith('linux/amd64'))).toEqual([]);
  });

  it('the arm node reports arm64 and arm/v7 first, and besides them only its native amd64', () => {
    const got = workerPlatforms(nodes[1].endpoint);
    expect(got.slice(0, 2)).toEqual(['linux/arm64', 'linux/arm/v7']);
    expect(got.slice(2).filter((p) => !p.startsWith('linux/amd64'))).toEqual([]);
  });

  it('as one remote builder with a node each, build each platform on its node (one RUN step on amd, two on arm)', () => {
    const builder = `smoke-mn-${process.pid}`;
    const ref = `${bed.registry}/${uniqueRepo('multinode')}:1`;
    const logs = ['amd', 'arm'].map((n) => path.join(bed.logDir, `buildkitd-${n}.log`));
    const runSteps = (file: string, from: number) =>
      fs
        .readFileSync(file, 'utf8')
        .slice(from)
        .split('\n')
        .filter((l) => l.includes('> creating')).length;
    nodes.forEach((n, i) =>
      sh('docker', [
        'buildx',
        'create',
        ...(i > 0 ? ['--append'] : []),
        '--name',
        builder,
        '--driver',
        'remote',
        '--platform',
        n.platforms.join(','),
        n.endpoint,
      ]),
    );
    const sizes = logs.map((f) => fs.statSync(f).size);
    try {
      sh('docker', [
        'buildx',
        'build',
        '--builder',
        builder,
        '--platform',
        'linux/amd64,linux/arm64,linux/arm/v7',
        '--provenance=false',
        // A new value each run, so the RUN step is not a cache hit.
        '--build-arg',
        `FAIL_ARCH=none-${process.pid}-${Date.now()}`,
        '-t',
        ref,
        '--push',
        path.join(bed.contexts, 'vulnapp'),
      ]);
    } finally {
      sh('docker', ['buildx', 'rm', builder]);
    }
    expect(logs.map((f, i) => runSteps(f, sizes[i]))).toEqual([1, 2]);
    expect(['linux/amd64', 'linux/arm64', 'linux/arm/v7'].map((p) => imageFile(ref, '/etc/build-arch', p))).toEqual(['x86_64', 'aarch64', 'armv7l']);
  });
});

// The real Debian base, the Java image and the two trivy DBs (issues 11 and 13).
describe('real images and the Java DB', () => {
  const env = (name: string): string => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set: run 'make testbed-up' and 'source .testbed/env'`);
    return v;
  };
  const platforms = ['linux/amd64', 'linux/arm64', 'linux/arm/v7'];
  const dpkgArch: Record<string, string> = { 'linux/amd64': 'amd64', 'linux/arm64': 'arm64', 'linux/arm/v7': 'armhf' };
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'trivy-real-'));
  const common = ['--skip-version-check', '--disable-telemetry', '--cache-dir', cache];

  interface Report {
    Metadata?: { OS?: { Family: string; Name: string } };
    Results?: {
      Class: string;
      Type: string;
      Packages?: { Name: string; Version: string; Arch?: string }[];
      Vulnerabilities?: { VulnerabilityID: string; PkgName: string; InstalledVersion: string }[];
    }[];
  }
  const scan = (ref: string, platform: string, extra: string[]): Report =>
    JSON.parse(
      sh('trivy', [
        'image',
        '--image-src',
        'remote',
        '--platform',
        platform,
        '--skip-db-update',
        '--offline-scan',
        '--list-all-pkgs',
        '--format',
        'json',
        '--quiet',
        ...common,
        ...extra,
        ref,
      ]),
    ) as Report;
  const vulns = (r: Report) => (r.Results ?? []).flatMap((x) => x.Vulnerabilities ?? []).map((v) => `${v.VulnerabilityID}:${v.PkgName}`);

  beforeAll(() => {
    sh('trivy', ['image', '--download-db-only', '--db-repository', bed.trivyDbRepository, '--no-progress', ...common]);
  });

  describe('the debian base', () => {
    const image = () => env('TESTBED_DEBIAN_IMAGE');

    it('is an index with exactly linux/amd64, linux/arm64 and linux/arm/v7', async () => {
      const ref = image();
      const slash = ref.indexOf('/');
      const [repo, tag] = ref.slice(slash + 1).split(':');
      const index = await getManifest(ref.slice(0, slash), repo, tag);
      expect(index && indexPlatforms(index)).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
    });

    it.each(platforms)('on %s, trivy reads the real dpkg database and reports the debian 12 fixture advisory', (platform) => {
      const r = scan(image(), platform, ['--skip-java-db-update']);
      expect(r.Metadata?.OS?.Family).toBe('debian');
      expect(r.Metadata?.OS?.Name).toMatch(/^12\./);
      const os = (r.Results ?? []).find((x) => x.Class === 'os-pkgs');
      const pkgs = os?.Packages ?? [];
      expect(pkgs.length).toBeGreaterThan(50);
      expect(pkgs.find((p) => p.Name === 'dpkg')?.Arch).toBe(dpkgArch[platform]);
      expect(vulns(r)).toContain('CVE-2099-10005:base-files');
    });
  });

  describe('the Java image', () => {
    const repo = uniqueRepo('java');
    const builder = `smoke-java-${process.pid}`;
    let ref = '';

    beforeAll(() => {
      sh('docker', ['buildx', 'create', '--name', builder, '--driver', 'remote', bed.buildkitEndpoint]);
      try {
        ref = `${bed.registry}/${repo}:1`;
        sh('docker', [
          'buildx',
          'build',
          '--builder',
          builder,
          '--platform',
          platforms.join(','),
          '--provenance=false',
          '-t',
          ref,
          '--push',
          path.join(bed.contexts, 'javaapp'),
        ]);
      } finally {
        sh('docker', ['buildx', 'rm', builder]);
      }
    });

    it('fails with --skip-java-db-update while no Java DB is cached', () => {
      const args = [
        'image',
        '--image-src',
        'remote',
        '--platform',
        'linux/arm64',
        '--skip-db-update',
        '--skip-java-db-update',
        '--offline-scan',
        '--quiet',
        ...common,
        ref,
      ];
      const r = spawnSync('trivy', args, { encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain("'--skip-java-db-update' cannot be specified on the first run");
    });

    it.each(platforms)(
      'on %s, trivy identifies the JAR by its SHA-1 in the Java DB from registry A; only greeter 1.0 on linux/arm64 has CVE-2099-10004',
      (platform) => {
        const r = scan(ref, platform, ['--java-db-repository', env('TESTBED_TRIVY_JAVA_DB_REPOSITORY')]);
        const jar = (r.Results ?? []).find((x) => x.Type === 'jar');
        const want = platform === 'linux/arm64' ? '1.0' : '1.1';
        expect(jar?.Packages?.map((p) => `${p.Name}@${p.Version}`)).toEqual([`org.testbed:greeter@${want}`]);
        if (platform === 'linux/arm64') expect(vulns(r)).toEqual(['CVE-2099-10004:org.testbed:greeter']);
        else expect(vulns(r)).toEqual([]);
      },
    );
  });
});

import { describe, expect, it, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  compareVersions,
  defaultInstallDeps,
  downloadUrl,
  ensureBuildx,
  parseBuildxVersion,
  pluginPath,
  releaseArch,
  type InstallDeps,
} from '../src/buildx/install.js';
import type { Exec } from '../src/exec.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'buildx');

describe('parseBuildxVersion', () => {
  test.each([
    [readFileSync(path.join(FIXTURES, 'version.txt'), 'utf8'), { version: 'v0.36.1', revision: '1d8dde89b8aba914e05e45366770736fea1fd690' }],
    [
      'github.com/docker/buildx 0.11.2+azure-1 9872040b6626fb7d87ef7296fd5b832e8cc2ad17\n',
      { version: 'v0.11.2+azure-1', revision: '9872040b6626fb7d87ef7296fd5b832e8cc2ad17' },
    ],
    ['github.com/docker/buildx v0.12.1-desktop.4 6a1c8e8', { version: 'v0.12.1-desktop.4', revision: '6a1c8e8' }],
    ['\ngithub.com/docker/buildx v0.9.0\n', { version: 'v0.9.0' }],
  ])('%j', (text, want) => {
    expect(parseBuildxVersion(text)).toEqual(want);
  });

  test.each([[''], ["docker: 'buildx' is not a docker command."], ['github.com/docker/buildx dev abc']])('rejects %j', (text) => {
    expect(() => parseBuildxVersion(text)).toThrow('cannot read a version');
  });
});

describe('compareVersions', () => {
  test.each([
    ['v0.36.1', 'v0.36.1', 0],
    ['0.36.1', 'v0.36.1', 0],
    ['v0.36.1', 'v0.36.0', 1],
    ['v0.9.1', 'v0.10.0', -1],
    ['v1.0.0', 'v0.99.99', 1],
    ['v0.36.0-rc1', 'v0.36.0', -1],
    ['v0.36.0-rc2', 'v0.36.0-rc1', 1],
    ['v0.36.0-rc.10', 'v0.36.0-rc.9', 1],
    ['v0.36.0-1', 'v0.36.0-rc', -1],
    ['v0.36.0-rc', 'v0.36.0-rc.1', -1],
    ['v0.11.2+azure-1', 'v0.11.2', 0],
  ])('%s vs %s = %i', (a, b, want) => {
    expect(compareVersions(a, b)).toBe(want);
    expect(compareVersions(b, a)).toBe(-want || 0);
  });

  it('refuses non-versions', () => {
    expect(() => compareVersions('latest', 'v1.0.0')).toThrow('not a version: latest');
  });
});

describe('release asset and plugin path', () => {
  test.each([
    ['linux', 'x64', 'https://github.com/docker/buildx/releases/download/v0.36.1/buildx-v0.36.1.linux-amd64'],
    ['linux', 'arm64', 'https://github.com/docker/buildx/releases/download/v0.36.1/buildx-v0.36.1.linux-arm64'],
    ['linux', 'arm', 'https://github.com/docker/buildx/releases/download/v0.36.1/buildx-v0.36.1.linux-arm-v7'],
    ['darwin', 'arm64', 'https://github.com/docker/buildx/releases/download/v0.36.1/buildx-v0.36.1.darwin-arm64'],
  ])('%s/%s', (platform, arch, want) => {
    expect(downloadUrl('https://github.com/docker/buildx/releases/download/', '0.36.1', platform, arch)).toBe(want);
  });

  it('refuses hosts without a release', () => {
    expect(() => releaseArch('win32', 'x64')).toThrow('no buildx release for win32');
    expect(() => releaseArch('linux', 'mips')).toThrow('no buildx release for linux/mips');
  });

  test.each([
    [{ DOCKER_CONFIG: '/etc/dockercfg' }, '/etc/dockercfg/cli-plugins/docker-buildx'],
    [{}, '/home/runner/.docker/cli-plugins/docker-buildx'],
    [{ DOCKER_CONFIG: '' }, '/home/runner/.docker/cli-plugins/docker-buildx'],
  ])('pluginPath(%j)', (env, want) => {
    expect(pluginPath(env, '/home/runner')).toBe(want);
  });
});

/**
 * An in-memory host: `docker buildx version` answers with the version line
 * stored in the plugin file, so the result depends on what ensureBuildx
 * actually put where.
 */
function fakeHost(opts: { installed?: string; cached?: boolean } = {}) {
  const files = new Map<string, { content: string; mode: number }>();
  const dirs = new Set<string>();
  const plugin = '/home/u/.docker/cli-plugins/docker-buildx';
  const releaseLine = (v: string): string => `github.com/docker/buildx ${v} 1d8dde89b8aba914e05e45366770736fea1fd690\n`;
  if (opts.installed) files.set(plugin, { content: releaseLine(opts.installed), mode: 0o755 });
  if (opts.cached) files.set('/cache/docker-buildx/0.36.1/x64/docker-buildx', { content: releaseLine('v0.36.1'), mode: 0o755 });
  const downloads: string[] = [];
  const log: string[] = [];
  const exec: Exec = async (command, args, options) => {
    if (command !== 'docker' || args.join(' ') !== 'buildx version') throw new Error(`unexpected ${command} ${args.join(' ')}`);
    const f = files.get(plugin);
    if (!f || (f.mode & 0o111) === 0) {
      if (options?.allowFailure) return { exitCode: 1, stdout: '', stderr: "docker: 'buildx' is not a docker command." };
      throw new Error('not installed');
    }
    return { exitCode: 0, stdout: f.content, stderr: '' };
  };
  const deps: InstallDeps = {
    exec,
    platform: 'linux',
    arch: 'x64',
    env: {},
    home: '/home/u',
    downloadTool: async (url) => {
      downloads.push(url);
      const version = /\/(v[^/]+)\/buildx-/.exec(url)?.[1] ?? '?';
      files.set('/tmp/dl-1', { content: releaseLine(version), mode: 0o644 });
      return '/tmp/dl-1';
    },
    find: (tool, version, arch) => (files.has(`/cache/${tool}/${version}/${arch}/${tool}`) ? `/cache/${tool}/${version}/${arch}` : ''),
    cacheFile: async (source, target, tool, version, arch) => {
      const f = files.get(source);
      if (!f) throw new Error(`no ${source}`);
      files.set(`/cache/${tool}/${version}/${arch}/${target}`, { ...f });
      return `/cache/${tool}/${version}/${arch}`;
    },
    mkdir: async (dir) => {
      dirs.add(dir);
    },
    copyFile: async (from, to) => {
      const f = files.get(from);
      if (!f) throw new Error(`ENOENT ${from}`);
      if (!dirs.has(path.dirname(to))) throw new Error(`ENOENT ${path.dirname(to)}`);
      files.set(to, { content: f.content, mode: 0o644 });
    },
    chmod: async (file, mode) => {
      const f = files.get(file);
      if (!f) throw new Error(`ENOENT ${file}`);
      f.mode = mode;
    },
    log: (m) => log.push(m),
  };
  return { deps, files, downloads, log, plugin };
}

const BASE = 'http://127.0.0.1:8080/buildx';

describe('ensureBuildx', () => {
  it('keeps a new-enough buildx and downloads nothing', async () => {
    const host = fakeHost({ installed: 'v0.37.0' });
    expect(await ensureBuildx(host.deps, 'v0.36.1', BASE)).toEqual({ version: 'v0.37.0', installed: false });
    expect(host.downloads).toEqual([]);
    expect(host.log).toEqual(['buildx v0.37.0 is installed (wanted v0.36.1 or newer)']);
  });

  it('keeps any installed buildx when no version is wanted', async () => {
    const host = fakeHost({ installed: 'v0.9.0' });
    expect(await ensureBuildx(host.deps, '', BASE)).toEqual({ version: 'v0.9.0', installed: false });
  });

  it('installs a missing buildx as the CLI plugin, executable', async () => {
    const host = fakeHost();
    const r = await ensureBuildx(host.deps, 'v0.36.1', BASE);
    expect(r).toEqual({ version: 'v0.36.1', installed: true, path: host.plugin });
    expect(host.downloads).toEqual(['http://127.0.0.1:8080/buildx/v0.36.1/buildx-v0.36.1.linux-amd64']);
    expect(host.files.get(host.plugin)?.mode).toBe(0o755);
    expect(host.files.has('/cache/docker-buildx/0.36.1/x64/docker-buildx')).toBe(true);
  });

  it('upgrades an older buildx', async () => {
    const host = fakeHost({ installed: 'v0.20.0' });
    expect(await ensureBuildx(host.deps, '0.36.1', BASE)).toMatchObject({ version: 'v0.36.1', installed: true });
    expect(host.log[0]).toBe('buildx v0.20.0 is older than v0.36.1; installing v0.36.1');
  });

  it('uses the tool cache instead of downloading again', async () => {
    const host = fakeHost({ cached: true });
    expect(await ensureBuildx(host.deps, 'v0.36.1', BASE)).toMatchObject({ version: 'v0.36.1', installed: true });
    expect(host.downloads).toEqual([]);
  });

  it('installs under DOCKER_CONFIG and fails when docker then runs another plugin', async () => {
    const host = fakeHost();
    host.deps.env = { DOCKER_CONFIG: '/cfg' };
    // the fake docker reads ~/.docker only, as a docker with another plugin directory would
    await expect(ensureBuildx(host.deps, 'v0.36.1', BASE)).rejects.toThrow(
      'installed /cfg/cli-plugins/docker-buildx but `docker buildx version` still fails',
    );
    expect(host.files.get('/cfg/cli-plugins/docker-buildx')?.mode).toBe(0o755);
  });

  it("asks `docker buildx version` once while the plugin stays the same file; an install's own check always asks", async () => {
    const host = fakeHost({ installed: 'v0.20.0' });
    let asked = 0;
    const exec = host.deps.exec;
    host.deps.exec = (cmd, args, o) => {
      asked++;
      return exec(cmd, args, o);
    };
    // A memo keyed by the file's path and bytes, as the real one is keyed by the file's identity.
    const memo = new Map<string, string>();
    const id = (b: string): string => `${b} ${host.files.get(b)?.content ?? ''}`;
    host.deps.plugin = () => (host.files.has(host.plugin) ? host.plugin : undefined);
    host.deps.versionMemo = { get: async (b) => memo.get(id(b)), record: async (b, v) => void memo.set(id(b), v) };
    for (let i = 0; i < 3; i++) expect(await ensureBuildx(host.deps, '', BASE)).toEqual({ version: 'v0.20.0', installed: false });
    expect(asked).toBe(1);
    expect(await ensureBuildx(host.deps, 'v0.36.1', BASE)).toMatchObject({ version: 'v0.36.1', installed: true });
    // The old plugin's version came from the memo; the install's own check asked the new one.
    expect(asked).toBe(2);
    // A new file: asked once more, then remembered.
    expect(await ensureBuildx(host.deps, 'v0.36.1', BASE)).toEqual({ version: 'v0.36.1', installed: false });
    expect(asked).toBe(3);
    expect(await ensureBuildx(host.deps, 'v0.36.1', BASE)).toEqual({ version: 'v0.36.1', installed: false });
    expect(asked).toBe(3);
  });

  test.each([
    ['', 'docker buildx is not installed; set buildx-version'],
    ['latest', 'buildx-version must be a version like v0.36.1, got "latest"'],
  ])('without buildx, refuses want=%j', async (want, msg) => {
    await expect(ensureBuildx(fakeHost().deps, want, BASE)).rejects.toThrow(msg);
  });
});

describe('defaultInstallDeps', () => {
  it('wires process facts and real file operations', async () => {
    const exec: Exec = async () => ({ exitCode: 0, stdout: '', stderr: '' });
    const log: string[] = [];
    const deps = defaultInstallDeps(exec, (m) => log.push(m), process.env);
    expect([deps.platform, deps.arch, deps.home]).toEqual([process.platform, process.arch, os.homedir()]);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'install-'));
    try {
      writeFileSync(path.join(dir, 'src'), 'x');
      await deps.mkdir(path.join(dir, 'a', 'b'));
      await deps.copyFile(path.join(dir, 'src'), path.join(dir, 'a', 'b', 'dst'));
      await deps.chmod(path.join(dir, 'a', 'b', 'dst'), 0o755);
      expect(statSync(path.join(dir, 'a', 'b', 'dst')).mode & 0o777).toBe(0o755);
      process.env.RUNNER_TOOL_CACHE = dir;
      expect(await deps.find('docker-buildx', '0.36.1', 'x64')).toBe('');
    } finally {
      delete process.env.RUNNER_TOOL_CACHE;
      rmSync(dir, { recursive: true, force: true });
    }
    deps.log('hello');
    expect(log).toEqual(['hello']);
  });
});

// Makes sure `docker buildx` is at least the wanted version, installing the
// release binary as the docker CLI plugin when it is missing or older.
import type * as ToolCache from '@actions/tool-cache';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Exec } from '../exec.js';
import type { VersionMemo } from '../util/version-memo.js';

export interface BuildxVersion {
  /** e.g. `v0.36.1` */
  version: string;
  revision?: string;
}

const VERSION_RE = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

/**
 * Parses `docker buildx version`: `github.com/docker/buildx v0.36.1 1d8dde8...`
 * (distribution builds may print `0.11.2+azure-1` or `v0.12.1-desktop.4`).
 */
export function parseBuildxVersion(text: string): BuildxVersion {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  const [, version, revision] = line.trim().split(/\s+/);
  if (!version || !VERSION_RE.test(version)) {
    throw new Error(`cannot read a version from \`docker buildx version\` output: ${JSON.stringify(line)}`);
  }
  const v = version.startsWith('v') ? version : `v${version}`;
  return revision ? { version: v, revision } : { version: v };
}

/** Semver order of `[v]X.Y.Z[-pre][+build]`: -1, 0 or 1. A pre-release sorts before its release. */
export function compareVersions(a: string, b: string): number {
  const pa = VERSION_RE.exec(a);
  const pb = VERSION_RE.exec(b);
  if (!pa) throw new Error(`not a version: ${a}`);
  if (!pb) throw new Error(`not a version: ${b}`);
  for (let i = 1; i <= 3; i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return Math.sign(d);
  }
  const preA = pa[4];
  const preB = pb[4];
  if (preA === preB) return 0;
  if (preA === undefined) return 1;
  if (preB === undefined) return -1;
  const xa = preA.split('.');
  const xb = preB.split('.');
  for (let i = 0; i < Math.max(xa.length, xb.length); i++) {
    const sa = xa[i];
    const sb = xb[i];
    if (sa === undefined) return -1;
    if (sb === undefined) return 1;
    const na = /^\d+$/.test(sa);
    const nb = /^\d+$/.test(sb);
    if (na && nb) {
      const d = Number(sa) - Number(sb);
      if (d !== 0) return Math.sign(d);
    } else if (na !== nb) {
      return na ? -1 : 1;
    } else if (sa !== sb) {
      return sa < sb ? -1 : 1;
    }
  }
  return 0;
}

/** The release asset suffix for a Node `process.platform`/`process.arch`. */
export function releaseArch(platform: string, arch: string): string {
  const osName = { linux: 'linux', darwin: 'darwin' }[platform];
  if (!osName) throw new Error(`no buildx release for ${platform}`);
  const archName = { x64: 'amd64', arm64: 'arm64', arm: 'arm-v7', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' }[arch];
  if (!archName) throw new Error(`no buildx release for ${platform}/${arch}`);
  return `${osName}-${archName}`;
}

/** `<baseUrl>/v0.36.1/buildx-v0.36.1.linux-amd64` */
export function downloadUrl(baseUrl: string, version: string, platform: string, arch: string): string {
  const v = version.startsWith('v') ? version : `v${version}`;
  return `${baseUrl.replace(/\/+$/, '')}/${v}/buildx-${v}.${releaseArch(platform, arch)}`;
}

/** `$DOCKER_CONFIG/cli-plugins/docker-buildx` (DOCKER_CONFIG defaults to ~/.docker). */
export function pluginPath(env: Record<string, string | undefined>, home: string): string {
  const configDir = env.DOCKER_CONFIG || path.join(home, '.docker');
  return path.join(configDir, 'cli-plugins', 'docker-buildx');
}

export interface InstallDeps {
  exec: Exec;
  platform: string;
  arch: string;
  env: Record<string, string | undefined>;
  home: string;
  downloadTool: (url: string) => Promise<string>;
  find: (tool: string, version: string, arch: string) => string | Promise<string>;
  cacheFile: (source: string, target: string, tool: string, version: string, arch: string) => Promise<string>;
  mkdir: (dir: string) => Promise<void>;
  copyFile: (from: string, to: string) => Promise<void>;
  chmod: (file: string, mode: number) => Promise<void>;
  log: (message: string) => void;
  /** The buildx binary `docker buildx` runs, when it is known (src/buildx/plugin.ts). */
  plugin?: () => string | undefined;
  /** What that binary said its version was (a binary changed is asked again); absent: always asked. */
  versionMemo?: VersionMemo;
}

/** @actions/tool-cache, loaded when first used (it brings @actions/http-client and undici: start-up time). */
const toolCache = (): Promise<typeof ToolCache> => import(/* webpackMode: "eager" */ '@actions/tool-cache');

/** The real dependencies: process facts, @actions/tool-cache and node:fs; `known`: the plugin's path and the version memo, where there are. */
export function defaultInstallDeps(
  exec: Exec,
  log: (message: string) => void,
  env: Record<string, string | undefined>,
  known: Pick<InstallDeps, 'plugin' | 'versionMemo'> = {},
): InstallDeps {
  return {
    ...known,
    exec,
    platform: process.platform,
    arch: process.arch,
    env,
    home: os.homedir(),
    downloadTool: async (url) => (await toolCache()).downloadTool(url),
    find: async (tool, version, arch) => (await toolCache()).find(tool, version, arch),
    cacheFile: async (source, target, tool, version, arch) => (await toolCache()).cacheFile(source, target, tool, version, arch),
    mkdir: async (dir) => {
      await fs.mkdir(dir, { recursive: true });
    },
    copyFile: (from, to) => fs.copyFile(from, to),
    chmod: (file, mode) => fs.chmod(file, mode),
    log,
  };
}

export interface EnsuredBuildx {
  version: string;
  /** True when this call downloaded or copied a binary into place. */
  installed: boolean;
  /** The plugin path written, when installed. */
  path?: string;
}

async function installedVersion(deps: Pick<InstallDeps, 'exec' | 'plugin' | 'versionMemo'>): Promise<BuildxVersion | undefined> {
  const binary = deps.plugin?.();
  const known = binary ? await deps.versionMemo?.get(binary) : undefined;
  if (known) return { version: known };
  const r = await deps.exec('docker', ['buildx', 'version'], { silent: true, allowFailure: true });
  if (r.exitCode !== 0) return undefined;
  const have = parseBuildxVersion(r.stdout);
  // Recorded for the binary found before the call: a buildx placed meanwhile is another file.
  if (binary && deps.plugin?.() === binary) await deps.versionMemo?.record(binary, have.version);
  return have;
}

const TOOL = 'docker-buildx';

/**
 * Keeps the installed buildx when it is at least `wantVersion` (or any version
 * when `wantVersion` is empty); otherwise installs `wantVersion` from
 * `baseUrl` through the tool cache and places it as the CLI plugin.
 */
export async function ensureBuildx(deps: InstallDeps, wantVersion: string, baseUrl: string): Promise<EnsuredBuildx> {
  const have = await installedVersion(deps);
  if (have && (!wantVersion || compareVersions(have.version, wantVersion) >= 0)) {
    deps.log(`buildx ${have.version} is installed${wantVersion ? ` (wanted ${wantVersion} or newer)` : ''}`);
    return { version: have.version, installed: false };
  }
  if (!wantVersion) throw new Error('docker buildx is not installed; set buildx-version to install it');
  if (!VERSION_RE.test(wantVersion)) throw new Error(`buildx-version must be a version like v0.36.1, got "${wantVersion}"`);
  const want = wantVersion.startsWith('v') ? wantVersion : `v${wantVersion}`;
  deps.log(have ? `buildx ${have.version} is older than ${want}; installing ${want}` : `buildx is missing; installing ${want}`);

  const semver = want.slice(1);
  let cachedDir = await deps.find(TOOL, semver, deps.arch);
  if (!cachedDir) {
    const url = downloadUrl(baseUrl, want, deps.platform, deps.arch);
    deps.log(`downloading ${url}`);
    const downloaded = await deps.downloadTool(url);
    await deps.chmod(downloaded, 0o755);
    cachedDir = await deps.cacheFile(downloaded, TOOL, TOOL, semver, deps.arch);
  }
  const target = pluginPath(deps.env, deps.home);
  await deps.mkdir(path.dirname(target));
  await deps.copyFile(path.join(cachedDir, TOOL), target);
  await deps.chmod(target, 0o755);

  // Asked, not remembered: this checks what the install did.
  const now = await installedVersion({ exec: deps.exec });
  if (!now) throw new Error(`installed ${target} but \`docker buildx version\` still fails`);
  if (compareVersions(now.version, want) !== 0) {
    throw new Error(`installed buildx ${want} at ${target} but docker runs ${now.version} (another plugin directory takes precedence?)`);
  }
  return { version: now.version, installed: true, path: target };
}

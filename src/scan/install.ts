// Makes sure the wanted trivy version is available: the one on PATH when it is
// exactly that version, else the tool cache, else the release archive from
// `<baseUrl>/v<version>/`, verified against the release's checksums file.
import type * as ToolCache from '@actions/tool-cache';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as io from '@actions/io';
import type { Exec } from '../exec.js';
import type { VersionMemo } from '../util/version-memo.js';

const TOOL = 'trivy';
const SEMVER_RE = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

/** `v0.74.0` or `0.74.0` -> `0.74.0`; throws on anything else. */
export function normaliseTrivyVersion(version: string): string {
  const v = version.trim().replace(/^v/, '');
  if (!SEMVER_RE.test(v)) throw new Error(`trivy-version must be an exact version like 0.74.0, got "${version}"`);
  return v;
}

/**
 * The version from `trivy --version` (`Version: 0.74.0` on the first,
 * unindented line; the indented `Version:` lines belong to the DBs).
 */
export function parseTrivyVersion(text: string): string | undefined {
  const m = /^Version:[ \t]*v?(\S+)[ \t]*$/m.exec(text);
  return m?.[1];
}

const OS_NAMES: Record<string, string> = { linux: 'Linux', darwin: 'macOS', freebsd: 'FreeBSD' };
const ARCH_NAMES: Record<string, string> = { x64: '64bit', ia32: '32bit', arm: 'ARM', arm64: 'ARM64', ppc64: 'PPC64LE', s390x: 's390x' };

/**
 * The release archive for a Node `process.arch` (and `process.platform`), as
 * trivy's goreleaser.yml names it: `trivy_0.74.0_Linux-64bit.tar.gz`.
 */
export function archiveName(version: string, arch: string, platform = 'linux'): string {
  const osName = OS_NAMES[platform];
  const archName = ARCH_NAMES[arch];
  if (!osName || !archName) throw new Error(`no trivy release archive for ${platform}/${arch}`);
  return `trivy_${normaliseTrivyVersion(version)}_${osName}-${archName}.tar.gz`;
}

/** `trivy_0.74.0_checksums.txt` */
export function checksumsName(version: string): string {
  return `trivy_${normaliseTrivyVersion(version)}_checksums.txt`;
}

/** `<baseUrl>/v0.74.0/<file>` */
export function releaseUrl(baseUrl: string, version: string, file: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/v${normaliseTrivyVersion(version)}/${file}`;
}

/**
 * The SHA256 listed for `fileName` in a checksums file (`<hex>  <name>` or
 * `<hex> *<name>` lines), lower-cased; undefined when it is not listed.
 * Throws when the file lists it twice with different hashes.
 */
export function expectedChecksum(checksumsText: string, fileName: string): string | undefined {
  const found = new Set<string>();
  for (const line of checksumsText.split(/\r?\n/)) {
    const m = /^([0-9a-fA-F]{64})\s+\*?(.+?)\s*$/.exec(line.trim());
    if (m && m[2] === fileName) found.add((m[1] as string).toLowerCase());
  }
  if (found.size > 1) throw new Error(`the checksums file lists ${fileName} more than once with different hashes`);
  return [...found][0];
}

/** Hex SHA256 of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Refuses `archivePath` (downloaded as `fileName`) unless its SHA256 is the
 * one `checksumsText` (downloaded as `checksumsFile`) lists for it.
 */
export async function verifyChecksum(archivePath: string, fileName: string, checksumsText: string, checksumsFile: string): Promise<void> {
  const expected = expectedChecksum(checksumsText, fileName);
  if (expected === undefined) {
    throw new Error(`refusing to install trivy: ${fileName} is not listed in ${checksumsFile}`);
  }
  const actual = await sha256File(archivePath);
  if (actual !== expected) {
    throw new Error(`refusing to install trivy: SHA256 mismatch for ${fileName}: ${checksumsFile} lists ${expected}, the download is ${actual}`);
  }
}

export interface TrivyInstallDeps {
  exec: Exec;
  /** Node `process.platform` / `process.arch` of the runner. */
  platform: string;
  arch: string;
  /** Full path of a program on PATH, or '' when there is none. */
  which: (tool: string) => Promise<string>;
  find: (tool: string, version: string, arch: string) => string | Promise<string>;
  downloadTool: (url: string) => Promise<string>;
  readFile: (file: string) => Promise<string>;
  extractTar: (file: string) => Promise<string>;
  cacheDir: (dir: string, tool: string, version: string, arch: string) => Promise<string>;
  log: (message: string) => void;
  /** What binaries said their version was (a binary changed is asked again); absent: always asked. */
  versionMemo?: VersionMemo;
}

/** @actions/tool-cache, loaded when first used (it brings @actions/http-client and undici: start-up time). */
const toolCache = (): Promise<typeof ToolCache> => import(/* webpackMode: "eager" */ '@actions/tool-cache');

/** The real dependencies: process facts, @actions/io, @actions/tool-cache and node:fs. */
export function defaultTrivyInstallDeps(exec: Exec, log: (message: string) => void, versionMemo?: VersionMemo): TrivyInstallDeps {
  return {
    ...(versionMemo ? { versionMemo } : {}),
    exec,
    platform: process.platform,
    arch: process.arch,
    which: (tool) => io.which(tool, false),
    find: async (tool, version, arch) => (await toolCache()).find(tool, version, arch),
    downloadTool: async (url) => (await toolCache()).downloadTool(url),
    readFile: (file) => fs.readFile(file, 'utf8'),
    extractTar: async (file) => (await toolCache()).extractTar(file),
    cacheDir: async (dir, tool, version, arch) => (await toolCache()).cacheDir(dir, tool, version, arch),
    log,
  };
}

/** The version a trivy binary reports (or reported before, unchanged since), or undefined when it cannot be run or read. */
async function binaryVersion(deps: Pick<TrivyInstallDeps, 'exec' | 'versionMemo'>, binary: string): Promise<string | undefined> {
  const known = await deps.versionMemo?.get(binary);
  if (known) return known;
  let version: string | undefined;
  try {
    const r = await deps.exec(binary, ['--version'], { silent: true, allowFailure: true });
    version = r.exitCode === 0 ? parseTrivyVersion(r.stdout) : undefined;
  } catch {
    return undefined;
  }
  if (version) await deps.versionMemo?.record(binary, version);
  return version;
}

async function download(deps: TrivyInstallDeps, url: string): Promise<string> {
  deps.log(`downloading ${url}`);
  try {
    return await deps.downloadTool(url);
  } catch (err) {
    throw new Error(`could not download ${url}: ${(err as Error).message}`, { cause: err });
  }
}

/** Returns `binary` when it reports version `want`; throws otherwise. */
async function checkedBinary(deps: Pick<TrivyInstallDeps, 'exec' | 'versionMemo'>, binary: string, want: string): Promise<string> {
  const got = await binaryVersion(deps, binary);
  if (got !== want) {
    throw new Error(`${binary} reports trivy version ${got ?? '(none: it did not run)'}, expected ${want}`);
  }
  return binary;
}

/**
 * Returns the path of a trivy binary of exactly `version`: the one on PATH if
 * it reports that version, else from the tool cache, else downloaded from
 * `baseUrl`, checked against the release checksums, extracted and cached.
 */
export async function ensureTrivy(deps: TrivyInstallDeps, version: string, baseUrl: string): Promise<string> {
  const want = normaliseTrivyVersion(version);

  const onPath = await deps.which(TOOL);
  if (onPath) {
    const have = await binaryVersion(deps, onPath);
    if (have === want) {
      deps.log(`using trivy ${have} from PATH (${onPath})`);
      return onPath;
    }
    deps.log(`trivy on PATH (${onPath}) is ${have ?? 'of an unknown version'}, not ${want}`);
  }

  const cached = await deps.find(TOOL, want, deps.arch);
  if (cached) {
    deps.log(`using trivy ${want} from the tool cache`);
    return checkedBinary(deps, path.join(cached, TOOL), want);
  }

  const archive = archiveName(want, deps.arch, deps.platform);
  const sums = checksumsName(want);
  const archivePath = await download(deps, releaseUrl(baseUrl, want, archive));
  const sumsText = await deps.readFile(await download(deps, releaseUrl(baseUrl, want, sums)));
  await verifyChecksum(archivePath, archive, sumsText, sums);
  const extracted = await deps.extractTar(archivePath);
  // Checked before caching, so a wrong binary never lands in the tool cache.
  await checkedBinary(deps, path.join(extracted, TOOL), want);
  const dir = await deps.cacheDir(extracted, TOOL, want, deps.arch);
  return path.join(dir, TOOL);
}

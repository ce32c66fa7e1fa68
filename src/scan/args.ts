// Pure argv builders for every trivy call (flag names checked against trivy
// v0.74.0, pkg/flag/*.go and `trivy <cmd> --help`).
import type { Severity } from '../model.js';

/** What one platform scan looks at. */
export type ScanTarget =
  /** A pushed image manifest: `<image>@<digest>` pulled from the registry for one platform. */
  | { kind: 'remote'; ref: string; platform: string }
  /** A local OCI layout directory (PR mode); it holds one platform, so no --platform. */
  | { kind: 'oci-layout'; dir: string };

export interface TrivyScanArgsOptions {
  target: ScanTarget;
  /** The JSON report written by trivy. */
  outputFile: string;
  /** trivy's cache dir: the DBs, and with the `fs` backend this platform's layer cache. */
  cacheDir: string;
  /** Where analysed layers are kept: `fs` in cacheDir (reused by later scans), or `memory` (this scan only). */
  cacheBackend: 'fs' | 'memory';
  severity: readonly Severity[];
  scanners: readonly string[];
  ignoreUnfixed: boolean;
  /** One ignore file (several trivyignores are merged into one first). */
  ignoreFile?: string;
  /** Every package in the report, not only vulnerable ones (what a CycloneDX SBOM is converted from). */
  listAllPkgs?: boolean;
}

/**
 * Flags every scan takes so it never reaches out except to the registry: both
 * DBs are fetched once per run before (the Java DB only when a scan needs it).
 */
const QUIET_OFFLINE_DB = ['--skip-db-update', '--skip-java-db-update', '--skip-version-check', '--disable-telemetry'];

/**
 * `trivy image ...` for one platform, writing a JSON report to `outputFile`.
 * `--exit-code 0`: the gate is decided from the report, not from trivy's exit.
 */
export function trivyScanArgs(opts: TrivyScanArgsOptions): string[] {
  const args = ['image'];
  if (opts.target.kind === 'remote') {
    args.push('--image-src', 'remote', '--platform', opts.target.platform);
  } else {
    args.push('--input', opts.target.dir);
  }
  // The DBs are read from --cache-dir; so is the layer cache with the fs backend
  // (src/scan/layer-cache.ts gives each platform its own, as trivy's is one
  // locked file).
  args.push('--format', 'json', '--output', opts.outputFile, '--cache-dir', opts.cacheDir, '--cache-backend', opts.cacheBackend);
  args.push(...QUIET_OFFLINE_DB, '--quiet', '--exit-code', '0');
  if (opts.severity.length > 0) args.push('--severity', opts.severity.join(','));
  if (opts.scanners.length > 0) args.push('--scanners', opts.scanners.join(','));
  if (opts.ignoreUnfixed) args.push('--ignore-unfixed');
  if (opts.ignoreFile) args.push('--ignorefile', opts.ignoreFile);
  if (opts.listAllPkgs) args.push('--list-all-pkgs');
  if (opts.target.kind === 'remote') args.push(opts.target.ref);
  return args;
}

export interface TrivyDbDownloadArgsOptions {
  cacheDir: string;
  /** Empty: trivy's default repositories. */
  dbRepository?: string;
}

/** `trivy image --download-db-only ...`: fetches the vulnerability DB into `<cacheDir>/db`. */
export function trivyDbDownloadArgs(opts: TrivyDbDownloadArgsOptions): string[] {
  const args = ['image', '--download-db-only', '--cache-dir', opts.cacheDir];
  if (opts.dbRepository) args.push('--db-repository', opts.dbRepository);
  args.push('--skip-version-check', '--disable-telemetry', '--no-progress');
  return args;
}

/** `trivy image --download-java-db-only ...`: fetches the Java DB into `<cacheDir>/java-db`. */
export function trivyJavaDbDownloadArgs(opts: { cacheDir: string; javaDbRepository?: string }): string[] {
  const args = ['image', '--download-java-db-only', '--cache-dir', opts.cacheDir];
  if (opts.javaDbRepository) args.push('--java-db-repository', opts.javaDbRepository);
  args.push('--skip-version-check', '--disable-telemetry', '--no-progress');
  return args;
}

/**
 * `trivy convert --format cyclonedx ...`: the SBOM of the platform's image from
 * the very report the gate read (made with --list-all-pkgs), so no second pull.
 */
export function trivyConvertCycloneDxArgs(reportFile: string, sbomFile: string): string[] {
  return ['convert', '--format', 'cyclonedx', '--output', sbomFile, reportFile];
}

/**
 * `trivy convert --format sarif ...`: SARIF rendered from the very report the
 * gate read, so asking for SARIF cannot change what the gate sees.
 */
export function trivyConvertSarifArgs(reportFile: string, sarifFile: string): string[] {
  return ['convert', '--format', 'sarif', '--output', sarifFile, reportFile];
}

/**
 * Several plain `.trivyignore` files as one: trivy's `--ignorefile` takes a
 * single file. Each file is ended with a newline so the last line of one is
 * never glued to the first line of the next.
 */
export function mergeIgnoreFiles(contents: readonly string[]): string {
  return contents.map((c) => (c === '' || c.endsWith('\n') ? c : `${c}\n`)).join('');
}

/** trivy reads `.yml`/`.yaml` ignore files as YAML (pkg/result/ignore.go), others line by line. */
export function isYamlIgnoreFile(path: string): boolean {
  return /\.ya?ml$/i.test(path);
}

/**
 * How the `trivyignores` paths reach trivy: none, one file passed as it is
 * (YAML or plain), or several plain files merged. Several files including a
 * YAML one cannot be merged and are refused.
 */
export function planIgnoreFiles(paths: readonly string[]): { kind: 'none' } | { kind: 'single'; path: string } | { kind: 'merge'; paths: string[] } {
  const list = paths.filter((p) => p.trim() !== '');
  if (list.length === 0) return { kind: 'none' };
  if (list.length === 1) return { kind: 'single', path: list[0] as string };
  const yaml = list.filter(isYamlIgnoreFile);
  if (yaml.length > 0) {
    throw new Error(
      `trivyignores: ${yaml.join(', ')} is a YAML ignore file, which cannot be merged with others (trivy takes one --ignorefile); list it alone or convert the others to YAML in it`,
    );
  }
  return { kind: 'merge', paths: list };
}

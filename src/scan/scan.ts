// One platform's scan: trivy writes a JSON report, the gate reads it, and
// (when asked) the same report is converted to SARIF with a per-platform
// category. Every trivy call goes through the Exec seam.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { lastLines, type Exec, type ExecResult } from '../exec.js';
import { platformSlug } from '../platform.js';
import type { FailOn, PlatformBuild, Severity } from '../model.js';
import { parseReport } from '../types/trivy.js';
import { mergeIgnoreFiles, planIgnoreFiles, trivyConvertCycloneDxArgs, trivyConvertSarifArgs, trivyScanArgs, type ScanTarget } from './args.js';
import { evaluateGate, type PlatformScan } from './gate.js';
import { needsJavaDb, type JavaDbOnDemand } from './javadb.js';
import { sarifCategory, setSarifCategory } from './sarif.js';
import { sbomFromTrivy } from './sbom.js';
import { ToolFailure } from '../util/tool-retry.js';
import { layerCacheDir, withLayerCache, type LayerCache, type LayerSync } from './layer-cache.js';
import { keepReport, readKeptReport, reportEntry, reportsDir, trivyOwnFiles, type KeyParts, type ReportEntry } from './report-cache.js';
import { createHash } from 'node:crypto';

export interface ScanOptions {
  /** Where reports (`trivy-<slug>.json`) and merged ignore files go. */
  workDir: string;
  /** trivy's cache dir, holding the DB prepareDb fetched. */
  cacheDir: string;
  severity: readonly Severity[];
  scanners: readonly string[];
  ignoreUnfixed: boolean;
  failOn: FailOn;
  /** `.trivyignore` paths; several are merged into one file. */
  trivyignores: readonly string[];
  /** When set, a SARIF file `trivy-<slug>.sarif` is written here. */
  sarifDir?: string;
  /** Write a CycloneDX SBOM `sbom-<slug>.cdx.json` into workDir from the same scan. */
  sbom?: boolean;
  /** The Java DB, fetched when this or another scan finds it needs it. */
  javaDb?: JavaDbOnDemand;
  /** Told when a scan waits for, or is run again with, the Java DB. */
  onJavaDb?: (message: string) => void;
  /** Extra environment for trivy (e.g. DOCKER_CONFIG), merged over the process's. */
  env?: Record<string, string>;
  /** Receives trivy's output lines (e.g. to prefix them with the platform). */
  onLine?: (line: string) => void;
  /** Told when the platform's layer cache is in use by another run. */
  onNote?: (message: string) => void;
  /** Keeps the platform's layer cache in the Actions cache (on a runner with the service). */
  layerSync?: Omit<LayerSync, 'digest' | 'platform'>;
  /**
   * Reuse the report of an earlier scan of the same pushed digest by the same
   * trivy with the same DBs and options, and keep this one (src/scan/report-cache.ts).
   * `env` is the environment trivy runs with (its TRIVY_* variables count), `cwd`
   * its working directory (the ignore file and secret config trivy reads there count).
   */
  reports?: { env: Readonly<Record<string, string | undefined>>; cwd: string };
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}

/**
 * The one `--ignorefile` for the `trivyignores` paths, or undefined for none:
 * a single file is used as it is, several are merged into `mergedFile`.
 * A listed file that does not exist is an error (trivy would skip it quietly).
 */
export async function prepareIgnoreFile(paths: readonly string[], mergedFile: string): Promise<string | undefined> {
  const plan = planIgnoreFiles(paths);
  if (plan.kind === 'none') return undefined;
  const list = plan.kind === 'single' ? [plan.path] : plan.paths;
  for (const p of list) {
    if (!(await exists(p))) throw new Error(`trivyignores: ${p} does not exist`);
  }
  if (plan.kind === 'single') return plan.path;
  const contents = await Promise.all(plan.paths.map((p) => fs.readFile(p, 'utf8')));
  await fs.mkdir(path.dirname(mergedFile), { recursive: true });
  await fs.writeFile(mergedFile, mergeIgnoreFiles(contents));
  return mergedFile;
}

/** What trivy scans for a build: the pushed manifest by digest, or the local OCI layout. */
export function scanTarget(build: PlatformBuild): ScanTarget {
  if (build.ociLayout) return { kind: 'oci-layout', dir: build.ociLayout };
  if (!build.ref.endsWith(`@${build.digest}`)) {
    throw new Error(`refusing to scan ${build.platform.id}: ${build.ref} is not pinned to its image-manifest digest ${build.digest}`);
  }
  return { kind: 'remote', ref: build.ref, platform: build.platform.id };
}

/** What a trivy run that exited 0 wrote to `file`; none there is an error naming the run (`who`) and the file. */
async function written(file: string, who: string, what: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    throw new Error(`${who} exited 0 but wrote no ${what} to ${file}`);
  }
}

function failure(what: string, platform: string, r: ExecResult): Error {
  const tail = lastLines(r.stderr || r.stdout, 20);
  return new ToolFailure(`trivy ${what} of ${platform} failed with exit code ${r.exitCode}${tail ? `:\n${tail}` : ''}`, r.stderr || r.stdout, what);
}

/**
 * Scans one platform's image and decides its gate from the JSON report.
 * Throws (naming the platform) when trivy fails or writes no usable report.
 */
export async function scanPlatform(exec: Exec, trivyPath: string, opts: ScanOptions, build: PlatformBuild): Promise<PlatformScan> {
  const platform = build.platform.id;
  const slug = platformSlug(build.platform);
  const reportFile = path.join(opts.workDir, `trivy-${slug}.json`);
  await fs.mkdir(opts.workDir, { recursive: true });
  // A report left by an earlier scan must never stand in for this one.
  await fs.rm(reportFile, { force: true });

  const ignoreFile = await prepareIgnoreFile(opts.trivyignores, path.join(opts.workDir, `trivyignore-${slug}`));
  const target = scanTarget(build);
  const args = (outputFile: string, cache: LayerCache, ignore: string | undefined): string[] =>
    trivyScanArgs({
      target,
      outputFile,
      ...cache,
      severity: opts.severity,
      scanners: opts.scanners,
      ignoreUnfixed: opts.ignoreUnfixed,
      ...(ignore ? { ignoreFile: ignore } : {}),
      listAllPkgs: opts.sbom === true,
    });
  const execOpts = { allowFailure: true, env: opts.env, onLine: opts.onLine };
  await opts.javaDb?.settled();
  // What the report's key is made of, for a pushed image when reports are kept: the scan's argv
  // without this run's paths (the ignore file by its content), and trivy's environment and own files.
  const keyParts = async (reports: NonNullable<ScanOptions['reports']>): Promise<KeyParts> => {
    const ignore = ignoreFile
      ? `sha256:${createHash('sha256')
          .update(await fs.readFile(ignoreFile))
          .digest('hex')}`
      : undefined;
    const env = { ...reports.env, ...opts.env };
    return { argv: args('', { cacheDir: '', cacheBackend: 'fs' }, ignore), env, files: trivyOwnFiles(reports.cwd, env, ignoreFile !== undefined) };
  };
  const parts = opts.reports && target.kind === 'remote' ? await keyParts(opts.reports) : undefined;
  const reportsFolder = reportsDir(layerCacheDir(opts.cacheDir, slug));
  const entry = async (): Promise<ReportEntry | undefined> => (parts ? reportEntry(opts.cacheDir, reportsFolder, trivyPath, parts) : undefined);
  // Inside the layer cache's turn: what an Actions cache entry restores (layers and reports) is
  // there before the report is looked up, and the report kept is in the entry saved after.
  const { report, reusedAt } = await withLayerCache(
    opts.cacheDir,
    slug,
    async (cache) => {
      const earlier = await entry();
      const kept = earlier ? await readKeptReport(earlier) : undefined;
      if (kept) {
        await fs.writeFile(reportFile, kept.text);
        return { report: kept.report, reusedAt: kept.at };
      }
      let r = await exec(trivyPath, args(reportFile, cache, ignoreFile), execOpts);
      if (r.exitCode !== 0 && opts.javaDb && needsJavaDb(`${r.stderr}\n${r.stdout}`)) {
        opts.onJavaDb?.(`${platform}: the image has Java archives, so trivy needs its Java DB; scanning again with it`);
        await opts.javaDb.fetch();
        await fs.rm(reportFile, { force: true });
        r = await exec(trivyPath, args(reportFile, cache, ignoreFile), execOpts);
      }
      if (r.exitCode !== 0) throw failure('scan', platform, r);
      const parsed = parseReport(await written(reportFile, `trivy scan of ${platform}`, 'report'), reportFile);
      // The entry read again: a scan that needed the Java DB fetched it.
      const now = await entry();
      const why = now ? await keepReport(now, reportFile) : undefined;
      if (why) opts.onNote?.(`${platform}: ${why}`);
      return { report: parsed, reusedAt: undefined };
    },
    (m) => opts.onNote?.(`${platform}: ${m}`),
    opts.layerSync ? { ...opts.layerSync, digest: build.digest, platform } : undefined,
  );
  const scan: PlatformScan = { ...evaluateGate(platform, report, opts.failOn), reportFile };
  if (reusedAt) {
    scan.reusedFrom = reusedAt.toISOString();
    opts.onNote?.(
      `${platform}: no new scan: the report trivy wrote at ${scan.reusedFrom} for ${build.digest} is reused (same digest, trivy, DBs and options)`,
    );
  }

  if (opts.sarifDir) {
    await fs.mkdir(opts.sarifDir, { recursive: true });
    const sarifFile = path.join(opts.sarifDir, `trivy-${slug}.sarif`);
    await fs.rm(sarifFile, { force: true });
    const c = await exec(trivyPath, trivyConvertSarifArgs(reportFile, sarifFile), execOpts);
    if (c.exitCode !== 0) throw failure('SARIF conversion', platform, c);
    const sarif = await written(sarifFile, `trivy convert for ${platform}`, 'SARIF');
    await fs.writeFile(sarifFile, setSarifCategory(sarif, sarifCategory(platform)));
    scan.sarifFile = sarifFile;
  }
  if (opts.sbom) scan.sbomFile = await writeSbom(exec, trivyPath, reportFile, path.join(opts.workDir, `sbom-${slug}.cdx.json`), platform, execOpts);
  return scan;
}

/** The CycloneDX SBOM of the scanned image, converted from the scan's report. */
async function writeSbom(
  exec: Exec,
  trivyPath: string,
  reportFile: string,
  sbomFile: string,
  platform: string,
  execOpts: Parameters<Exec>[2],
): Promise<string> {
  await fs.rm(sbomFile, { force: true });
  const c = await exec(trivyPath, trivyConvertCycloneDxArgs(reportFile, sbomFile), execOpts);
  if (c.exitCode !== 0) throw failure('CycloneDX conversion', platform, c);
  const text = await written(sbomFile, `trivy convert for ${platform}`, 'SBOM');
  await fs.writeFile(sbomFile, sbomFromTrivy(text, sbomFile).json);
  return sbomFile;
}

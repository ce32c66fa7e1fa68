// Scan phase: trivy is installed and its DB downloaded once per run (while the
// builds run); each platform's image-manifest digest is scanned as soon as its
// build is done. The gate is decided from the JSON report alone.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Exec } from '../exec.js';
import { dbDir, dbSourceLabel, downloadDb, prepareDb } from '../scan/db.js';
import { javaDbOnDemand } from '../scan/javadb.js';
import { scanPlatform } from '../scan/scan.js';
import { formatCounts, gateFailureMessage, type PlatformScan } from '../scan/gate.js';
import type { Inputs, PlatformBuild } from '../model.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../util/errors.js';
import { describeFailures, type PlatformFailure } from './failures.js';
import { retryTool, ToolFailure, trivyRetryable, whyLine } from '../util/tool-retry.js';
import { actionsCache, cacheServiceAvailable } from '../util/actions-cache.js';
import { reuseRefusal } from '../scan/report-cache.js';

export interface Scanner {
  scan(build: PlatformBuild): Promise<PlatformScan>;
  /** Which repository served each DB the run fetched, as labels for the log and summary. */
  dbSources(): DbSources;
}

export interface DbSources {
  vulnerability?: string;
  /** Absent when no image needed the Java DB. */
  java?: string;
}

export type ScannerInputs = Pick<
  Inputs,
  | 'trivyCacheDir'
  | 'trivyDbRepositories'
  | 'trivyJavaDbRepositories'
  | 'severity'
  | 'scanners'
  | 'ignoreUnfixed'
  | 'failOn'
  | 'trivyignores'
  | 'sarif'
  | 'sbomAttach'
>;

export interface ScannerDeps {
  tempDir: string;
  log: Logger;
  env: Readonly<Record<string, string | undefined>>;
  ensureTrivy(): Promise<string>;
  /** The run's retry budget (shared with the registry client); a scan retry takes one. */
  budget?: { take(): boolean };
  signal?: AbortSignal | undefined;
  /** The wait before a scan's second attempt (default 2 s, doubled after). */
  toolBackoffMs?: number;
  /** trivy's working directory; absent: no report is reused or kept. */
  cwd?: string | undefined;
}

export function trivyCacheDir(inputs: Pick<Inputs, 'trivyCacheDir'>, tempDir: string, env: ScannerDeps['env']): string {
  return inputs.trivyCacheDir || path.join(env.RUNNER_TOOL_CACHE || tempDir, 'trivy-cache');
}

export function createScanner(exec: Exec, inputs: ScannerInputs, deps: ScannerDeps): Scanner {
  const cacheDir = trivyCacheDir(inputs, deps.tempDir, deps.env);
  const sources: DbSources = {};
  // Every tool retry of this scanner (DB downloads, scans) takes from the run's budget and stops on cancel.
  const retry = {
    budget: deps.budget,
    log: (m: string) => deps.log.info(m),
    signal: deps.signal,
    ...(deps.toolBackoffMs !== undefined ? { backoffMs: deps.toolBackoffMs } : {}),
  };
  const trivyReady = deps.ensureTrivy();
  trivyReady.catch(() => undefined); // surfaced through each scan
  const javaDb = javaDbOnDemand(async () => {
    const source = await downloadDb(exec, await trivyReady, 'java', cacheDir, inputs.trivyJavaDbRepositories, (m) => deps.log.warning(m), retry);
    sources.java = dbSourceLabel('java')(source);
    deps.log.info(`trivy's Java DB served by ${sources.java}`);
  });
  const ready = (async () => {
    const trivy = await trivyReady;
    const db = await prepareDb(exec, trivy, { cacheDir, dbRepositories: inputs.trivyDbRepositories, retry }, { env: deps.env });
    sources.vulnerability = db.fresh
      ? `${dbDir('vulnerability', cacheDir)} (downloaded ${db.fresh.downloadedAt}, fresh until ${db.fresh.until})`
      : dbSourceLabel('vulnerability')(db.source);
    // A Java DB left by an earlier run is refreshed (trivy skips a fresh one) rather than used stale.
    if (fs.existsSync(path.join(dbDir('java', cacheDir), 'metadata.json'))) await javaDb.fetch();
    return trivy;
  })();
  ready.catch(() => undefined); // surfaced through each scan
  // Reports are reused only where nothing the key cannot see (a trivy config file, policies, VEX, checks) is in play.
  const cwd = deps.cwd;
  const reuse = cwd
    ? reuseRefusal(cwd, deps.env, inputs.scanners).then((why) => {
        if (why) deps.log.info(`trivy reports are not reused or kept: ${why}`);
        return why ? undefined : { env: deps.env, cwd };
      })
    : Promise.resolve(undefined);
  const layerSync = cacheServiceAvailable(deps.env)
    ? { cache: actionsCache, info: (m: string) => deps.log.info(m), warning: (m: string) => deps.log.warning(m) }
    : undefined;
  return {
    dbSources: () => ({ ...sources }),
    async scan(build) {
      const trivy = await ready;
      const reports = await reuse;
      const platform = build.platform.id;
      // Only a scan that trivy failed (by exit code) on a registry or the network is run again;
      // the gate's verdict comes from the report of a scan that succeeded, so it is never retried.
      const scanOnce = (): Promise<PlatformScan> =>
        scanPlatform(
          exec,
          trivy,
          {
            workDir: deps.tempDir,
            cacheDir,
            severity: inputs.severity,
            scanners: inputs.scanners,
            ignoreUnfixed: inputs.ignoreUnfixed,
            failOn: inputs.failOn,
            trivyignores: inputs.trivyignores,
            ...(inputs.sarif ? { sarifDir: inputs.sarif } : {}),
            sbom: inputs.sbomAttach,
            javaDb,
            onJavaDb: (m) => deps.log.info(m),
            onNote: (m) => deps.log.info(m),
            ...(layerSync ? { layerSync } : {}),
            ...(reports ? { reports } : {}),
          },
          build,
        );
      const result = await retryTool(scanOnce, {
        ...retry,
        what: `${platform}: scan`,
        retryable: (err) => err instanceof ToolFailure && err.step === 'scan' && trivyRetryable(err.output),
        why: whyLine,
      });
      deps.log.info(`${build.platform.id}: ${formatCounts(result.counts)}, gate ${inputs.failOn}: ${result.passed ? 'pass' : 'FAIL'}`);
      return result;
    },
  };
}

export interface ScanPhaseResult {
  scans: PlatformScan[];
  /** Platforms whose scan could not run (not the gate's verdict). */
  failures: PlatformFailure[];
  error: string;
  dbSources: DbSources;
}

export interface ScanQueue {
  /** Starts a platform's scan (the build phase calls this as each build is done). */
  start(build: PlatformBuild): void;
  /** Waits for the scans of these builds, in their order. */
  collect(builds: readonly PlatformBuild[]): Promise<ScanPhaseResult>;
}

/** Scans start as builds finish; the scan phase collects them. */
export function scanQueue(scanner: Scanner): ScanQueue {
  const started = new Map<string, Promise<PlatformScan>>();
  return {
    start(build) {
      const scan = scanner.scan(build);
      scan.catch(() => undefined); // awaited in collect; keeps an early rejection from being unhandled
      started.set(build.platform.id, scan);
    },
    async collect(builds) {
      const scans: PlatformScan[] = [];
      const failures: PlatformFailure[] = [];
      for (const b of builds) {
        const scan = started.get(b.platform.id);
        if (!scan) continue;
        try {
          scans.push(await scan);
        } catch (err) {
          failures.push({ platform: b.platform.id, message: `scan failed: ${errorMessage(err)}` });
        }
      }
      return { scans, failures, error: describeFailures(failures), dbSources: scanner.dbSources() };
    },
  };
}

/** The gate's verdict over every platform: undefined when all pass. */
export function gateError(scans: readonly PlatformScan[]): string | undefined {
  return scans.some((s) => !s.passed) ? gateFailureMessage(scans) : undefined;
}

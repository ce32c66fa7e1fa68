// Scan phase: trivy is installed and its DB downloaded once per run (while the
// builds run); each platform's image-manifest digest is scanned as soon as its
// build is done. The gate is decided from the JSON report alone.
import * as path from 'node:path';
import type { Exec } from '../exec.js';
import { prepareDb } from '../scan/db.js';
import { scanPlatform } from '../scan/scan.js';
import { formatCounts, gateFailureMessage, type PlatformScan } from '../scan/gate.js';
import type { Inputs, PlatformBuild } from '../types.js';
import type { Logger } from '../main.js';

export interface Scanner {
  scan(build: PlatformBuild): Promise<PlatformScan>;
}

export interface ScannerDeps {
  tempDir: string;
  log: Logger;
  ensureTrivy(): Promise<string>;
}

export function trivyCacheDir(inputs: Inputs, tempDir: string): string {
  return inputs.trivyCacheDir || path.join(process.env.RUNNER_TOOL_CACHE || tempDir, 'trivy-cache');
}

export function createScanner(exec: Exec, inputs: Inputs, deps: ScannerDeps): Scanner {
  const cacheDir = trivyCacheDir(inputs, deps.tempDir);
  const ready = (async () => {
    const trivy = await deps.ensureTrivy();
    await prepareDb(exec, trivy, { cacheDir, dbRepository: inputs.trivyDbRepository });
    return trivy;
  })();
  ready.catch(() => undefined); // surfaced through each scan
  return {
    async scan(build) {
      const trivy = await ready;
      const result = await scanPlatform(
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
        },
        build,
      );
      deps.log.info(`${build.platform.id}: ${formatCounts(result.counts)}, gate ${inputs.failOn}: ${result.passed ? 'pass' : 'FAIL'}`);
      return result;
    },
  };
}

/** The gate's verdict over every platform: undefined when all pass. */
export function gateError(scans: readonly PlatformScan[]): string | undefined {
  return scans.some((s) => !s.passed) ? gateFailureMessage(scans) : undefined;
}

// The `scan-results` and `reports` outputs, bounded. GitHub keeps at most 1 MB
// of outputs per job (approximated in UTF-16, so about 500 000 ASCII
// characters) and 50 MB per workflow run; a step's outputs count towards its
// job's. So `scan-results` lists at most FINDINGS_PER_PLATFORM findings per
// platform and FINDINGS_TOTAL over all platforms (one listed finding is about
// 180 characters: 1000 of them stay near 360 KB in UTF-16), says how many it
// left out, and names the JSON report that holds them all.
import type { GatedFinding, PlatformScan } from './gate.js';

export const FINDINGS_PER_PLATFORM = 100;
export const FINDINGS_TOTAL = 1000;

/** How many findings each platform may list when `platforms` platforms share the budget. */
export function findingsCap(platforms: number, perPlatform = FINDINGS_PER_PLATFORM, total = FINDINGS_TOTAL): number {
  if (platforms <= 0) return perPlatform;
  return Math.max(1, Math.min(perPlatform, Math.floor(total / platforms)));
}

export interface ListedFinding {
  id: string;
  /** Left out for vulnerabilities. */
  kind?: string;
  package: string;
  installedVersion: string;
  fixedVersion: string;
  severity: string;
  blocking: boolean;
}

export interface PlatformScanResult {
  counts: PlatformScan['counts'];
  passed: boolean;
  /** How many findings fail the gate (all of them, listed or not). */
  blocking: number;
  /** Most severe first, so the blocking ones are listed before any other. */
  findings: ListedFinding[];
  /** Findings left out of `findings` by the cap; the report file has them. */
  omitted: number;
  /** trivy's JSON report with every finding. */
  report?: string;
  /** When the report is an earlier scan's of the same digest, reused: when trivy wrote it. */
  reusedFrom?: string;
}

function listed(f: GatedFinding): ListedFinding {
  return {
    id: f.id,
    ...(f.kind && f.kind !== 'vulnerability' ? { kind: f.kind } : {}),
    package: f.package,
    installedVersion: f.installedVersion,
    fixedVersion: f.fixedVersion,
    severity: f.severity,
    blocking: f.blocking,
  };
}

/** One platform's entry in `scan-results`, with at most `cap` findings. */
export function platformScanResult(s: PlatformScan, cap: number): PlatformScanResult {
  const shown = s.findings.slice(0, cap);
  return {
    counts: s.counts,
    passed: s.passed,
    blocking: s.findings.filter((f) => f.blocking).length,
    findings: shown.map(listed),
    omitted: s.findings.length - shown.length,
    ...(s.reportFile ? { report: s.reportFile } : {}),
    ...(s.reusedFrom ? { reusedFrom: s.reusedFrom } : {}),
  };
}

/** `scan-results`: platform -> counts, verdict, the capped findings and how many were left out. */
export function scanResults(scans: readonly PlatformScan[]): Record<string, PlatformScanResult> {
  const cap = findingsCap(scans.length);
  return Object.fromEntries(scans.map((s) => [s.platform, platformScanResult(s, cap)]));
}

export interface PlatformReports {
  /** trivy's JSON report: every finding. */
  json: string;
  sarif?: string;
  /** CycloneDX SBOM (with `sbom-attach`). */
  sbom?: string;
}

/** `reports`: platform -> the files the scan wrote. */
export function reportFiles(scans: readonly PlatformScan[]): Record<string, PlatformReports> {
  const out: Record<string, PlatformReports> = {};
  for (const s of scans) {
    if (!s.reportFile) continue;
    out[s.platform] = { json: s.reportFile, ...(s.sarifFile ? { sarif: s.sarifFile } : {}), ...(s.sbomFile ? { sbom: s.sbomFile } : {}) };
  }
  return out;
}

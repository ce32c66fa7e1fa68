// The vulnerability gate, decided from trivy's JSON report alone (never from
// trivy's exit code, which the scan turns off with `--exit-code 0`).
//
// Every kind of finding trivy puts into the report counts, the way trivy's own
// `--exit-code` does (types.Results.Failed): vulnerabilities, secrets, failed
// misconfigurations and licenses. Which kinds appear is chosen by `scanners`.
import type { FailOn, Severity } from '../model.js';
import { SEVERITIES, type TrivyReport } from '../types/trivy.js';

export type FindingKind = 'vulnerability' | 'secret' | 'misconfiguration' | 'license';

export interface Finding {
  /** CVE/GHSA id, secret rule id, misconfiguration id, or license name. */
  id: string;
  /** Package name; for secrets and misconfigurations the file they were found in. */
  package: string;
  installedVersion: string;
  /** Empty when there is no fix. */
  fixedVersion: string;
  severity: Severity;
  /** trivy's result target, e.g. `127.0.0.1:5000/app@sha256:... (alpine 3.20.3)`. */
  target: string;
  /** Absent means `vulnerability`. */
  kind?: FindingKind;
  title?: string;
}

/** A finding with the gate's verdict on it. */
export interface GatedFinding extends Finding {
  /** True when it is at or above `fail-on` (it fails the gate). */
  blocking: boolean;
}

export interface PlatformScan {
  /** Platform id, e.g. `linux/arm64`. */
  platform: string;
  /** Findings per severity (deduplicated the same way as `findings`), gate or not. */
  counts: Record<Severity, number>;
  passed: boolean;
  /**
   * Every finding in the report (trivy keeps only those within `severity`),
   * most severe first, deduplicated by kind + id + package; the blocking ones
   * come first since they are the most severe.
   */
  findings: GatedFinding[];
  reportFile?: string;
  sarifFile?: string;
  /** The CycloneDX SBOM converted from the report (with `sbom-attach`). */
  sbomFile?: string;
  /** When the report was reused from an earlier scan of the same digest (src/scan/report-cache.ts): when that scan wrote it. */
  reusedFrom?: string;
}

const RANK: Record<Severity, number> = { UNKNOWN: 0, LOW: 1, MEDIUM: 2, HIGH: 3, CRITICAL: 4 };

const THRESHOLD: Record<FailOn, Severity | undefined> = {
  none: undefined,
  low: 'LOW',
  medium: 'MEDIUM',
  high: 'HIGH',
  critical: 'CRITICAL',
};

/** Negative when `a` is less severe than `b`. */
export function compareSeverity(a: Severity, b: Severity): number {
  return RANK[a] - RANK[b];
}

/** The lowest severity that fails the gate, or undefined for `none`. */
export function gateThreshold(failOn: FailOn): Severity | undefined {
  return THRESHOLD[failOn];
}

export function emptyCounts(): Record<Severity, number> {
  return { UNKNOWN: 0, LOW: 0, MEDIUM: 0, HIGH: 0, CRITICAL: 0 };
}

/** Every finding in the report, deduplicated by kind + id + package (keeping the most severe). */
export function reportFindings(report: TrivyReport): Finding[] {
  const byKey = new Map<string, Finding>();
  const add = (f: Finding): void => {
    const key = `${f.kind ?? 'vulnerability'}\u0000${f.id}\u0000${f.package}`;
    const seen = byKey.get(key);
    if (!seen || compareSeverity(f.severity, seen.severity) > 0) byKey.set(key, f);
  };
  for (const res of report.Results) {
    for (const v of res.Vulnerabilities) {
      const f: Finding = {
        kind: 'vulnerability',
        id: v.VulnerabilityID,
        package: v.PkgName,
        installedVersion: v.InstalledVersion,
        fixedVersion: v.FixedVersion,
        severity: v.Severity,
        target: res.Target,
      };
      if (v.Title) f.title = v.Title;
      add(f);
    }
    for (const s of res.Secrets) {
      add({
        kind: 'secret',
        id: s.RuleID,
        package: res.Target,
        installedVersion: '',
        fixedVersion: '',
        severity: s.Severity,
        target: res.Target,
        title: s.Title,
      });
    }
    for (const m of res.Misconfigurations) {
      if (m.Status !== 'FAIL') continue;
      add({
        kind: 'misconfiguration',
        id: m.ID,
        package: res.Target,
        installedVersion: '',
        fixedVersion: '',
        severity: m.Severity,
        target: res.Target,
        title: m.Title,
      });
    }
    for (const l of res.Licenses) {
      add({
        kind: 'license',
        id: l.Name,
        package: l.PkgName || l.FilePath,
        installedVersion: '',
        fixedVersion: '',
        severity: l.Severity,
        target: res.Target,
        title: l.Category,
      });
    }
  }
  return [...byKey.values()].sort((a, b) => compareSeverity(b.severity, a.severity) || byText(a.id, b.id) || byText(a.package, b.package));
}

/** Code-point order, so the order does not depend on the runner's locale. */
function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function countBySeverity(report: TrivyReport): Record<Severity, number> {
  return countFindings(reportFindings(report));
}

function countFindings(findings: readonly Finding[]): Record<Severity, number> {
  const counts = emptyCounts();
  for (const f of findings) counts[f.severity]++;
  return counts;
}

/** Decides one platform's gate. With `failOn: 'none'` nothing blocks, so it always passes. */
export function evaluateGate(platformId: string, report: TrivyReport, failOn: FailOn): PlatformScan {
  const all = reportFindings(report);
  const threshold = gateThreshold(failOn);
  const findings = all.map((f): GatedFinding => ({ ...f, blocking: threshold !== undefined && compareSeverity(f.severity, threshold) >= 0 }));
  return { platform: platformId, counts: countFindings(all), passed: !findings.some((f) => f.blocking), findings };
}

/** The findings that fail the gate. */
export function blockingFindings(scan: Pick<PlatformScan, 'findings'>): GatedFinding[] {
  return scan.findings.filter((f) => f.blocking);
}

/** `CRITICAL 1, HIGH 2, MEDIUM 0, LOW 0, UNKNOWN 0` */
export function formatCounts(counts: Record<Severity, number>): string {
  return [...SEVERITIES]
    .reverse()
    .map((s) => `${s} ${counts[s]}`)
    .join(', ');
}

/** `CVE-2024-1 openssl 3.0.1 -> 3.0.2 (HIGH)`; secrets and the like name their kind and file. */
export function formatFinding(f: Finding): string {
  const kind = f.kind ?? 'vulnerability';
  if (kind === 'vulnerability') {
    return `${f.id} ${f.package} ${f.installedVersion || '(unknown version)'} -> ${f.fixedVersion || '(no fix)'} (${f.severity})`;
  }
  return `${f.id} ${kind} in ${f.package} (${f.severity})`;
}

/**
 * The error text for a failed gate: each failing platform with its counts and
 * its `top` most severe findings. Empty when every platform passed.
 */
export function gateFailureMessage(scans: readonly PlatformScan[], top = 5): string {
  const failed = scans.filter((s) => !s.passed);
  if (failed.length === 0) return '';
  const lines = [`vulnerability gate failed for ${failed.length} of ${scans.length} platform(s):`];
  for (const s of failed) {
    const blocking = blockingFindings(s);
    lines.push(`${s.platform}: ${formatCounts(s.counts)}`);
    for (const f of blocking.slice(0, Math.max(0, top))) lines.push(`  ${formatFinding(f)}`);
    const rest = blocking.length - Math.max(0, top);
    if (rest > 0) lines.push(`  ... and ${rest} more at or above the gate`);
  }
  return lines.join('\n');
}

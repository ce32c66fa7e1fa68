import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { evaluateGate, type PlatformScan } from '../src/scan/gate.js';
import { findingsCap, platformScanResult, reportFiles, scanResults } from '../src/scan/results.js';
import { parseReport } from '../src/types/trivy.js';
import type { FailOn } from '../src/model.js';

const FIXTURES = path.join(process.cwd(), '__tests__', 'fixtures', 'trivy');
const report = (name: string) => parseReport(fs.readFileSync(path.join(FIXTURES, name), 'utf8'), name);

/** A scan with `n` findings, the first `blocking` of them blocking. */
function manyFindings(platform: string, n: number, blocking: number): PlatformScan {
  const findings = Array.from({ length: n }, (_, i) => ({
    kind: 'vulnerability' as const,
    id: `CVE-2099-${String(i).padStart(5, '0')}`,
    package: `pkg${i}`,
    installedVersion: '1.0',
    fixedVersion: '1.1',
    severity: i < blocking ? ('CRITICAL' as const) : ('LOW' as const),
    target: 't',
    blocking: i < blocking,
  }));
  return {
    platform,
    counts: { UNKNOWN: 0, LOW: n - blocking, MEDIUM: 0, HIGH: 0, CRITICAL: blocking },
    passed: blocking === 0,
    findings,
    reportFile: `/r/${platform}.json`,
  };
}

describe('scan-results', () => {
  it('says when a platform report was reused from an earlier scan, and nothing when it was not', () => {
    const scan = { ...evaluateGate('linux/arm64', report('handmade-image-arm64.json'), 'critical'), reportFile: '/tmp/r.json' };
    expect(platformScanResult({ ...scan, reusedFrom: '2026-12-07T21:41:42.615Z' }, 100).reusedFrom).toBe('2026-12-07T21:41:42.615Z');
    expect(platformScanResult(scan, 100)).not.toHaveProperty('reusedFrom');
  });

  it('fail-on critical still lists the HIGH finding, with blocking false, and every other finding within severity', () => {
    const r = platformScanResult({ ...evaluateGate('linux/arm64', report('handmade-image-arm64.json'), 'critical'), reportFile: '/tmp/r.json' }, 100);
    expect(r).toEqual({
      counts: { UNKNOWN: 0, LOW: 1, MEDIUM: 1, HIGH: 1, CRITICAL: 0 },
      passed: true,
      blocking: 0,
      findings: [
        { id: 'CVE-2099-10001', package: 'busybox', installedVersion: '1.36.1-r2', fixedVersion: '1.36.1-r29', severity: 'HIGH', blocking: false },
        {
          id: 'CVE-2099-10002',
          package: 'ssl_client',
          installedVersion: '1.36.1-r2',
          fixedVersion: '1.36.1-r29',
          severity: 'MEDIUM',
          blocking: false,
        },
        { id: 'CVE-2099-10003', package: 'zlib', installedVersion: '1.3.1-r0', fixedVersion: '', severity: 'LOW', blocking: false },
      ],
      omitted: 0,
      report: '/tmp/r.json',
    });
  });

  it('lists the Java finding of the test-bed arm64 Java image (a real trivy report) and blocks it at fail-on high', () => {
    const scan = evaluateGate('linux/arm64', report('javaapp-arm64.json'), 'high');
    expect(scan.passed).toBe(false);
    expect(platformScanResult(scan, 100).findings).toEqual([
      { id: 'CVE-2099-10004', package: 'org.testbed:greeter', installedVersion: '1.0', fixedVersion: '1.1', severity: 'HIGH', blocking: true },
    ]);
  });

  it.each<[string, FailOn, { id: string; package: string; installedVersion: string; fixedVersion: string; severity: string; blocking: boolean }]>([
    [
      'trivy-java.json',
      'high',
      { id: 'CVE-2099-10004', package: 'org.testbed:greeter', installedVersion: '1.0', fixedVersion: '1.1', severity: 'HIGH', blocking: true },
    ],
    [
      'trivy-java.json',
      'critical',
      { id: 'CVE-2099-10004', package: 'org.testbed:greeter', installedVersion: '1.0', fixedVersion: '1.1', severity: 'HIGH', blocking: false },
    ],
    [
      'trivy-debian.json',
      'high',
      { id: 'CVE-2099-10005', package: 'base-files', installedVersion: '12.4+deb12u15', fixedVersion: '12.99', severity: 'MEDIUM', blocking: false },
    ],
    [
      'trivy-debian.json',
      'medium',
      { id: 'CVE-2099-10005', package: 'base-files', installedVersion: '12.4+deb12u15', fixedVersion: '12.99', severity: 'MEDIUM', blocking: true },
    ],
  ])('real report %s at fail-on %s lists its finding with the verdict', (file, failOn, expected) => {
    const scan = evaluateGate('linux/arm64', parseReport(fs.readFileSync(path.join(FIXTURES, '..', file), 'utf8'), file), failOn);
    const r = platformScanResult(scan, 100);
    expect(r.findings).toEqual([expected]);
    expect(r.passed).toBe(!expected.blocking);
    expect(r.omitted).toBe(0);
  });

  it('names the kind of a finding that is not a vulnerability', () => {
    const r = platformScanResult(evaluateGate('linux/amd64', report('handmade-image-mixed.json'), 'high'), 100);
    expect(r.findings.find((f) => f.id === 'aws-access-key-id')).toEqual(expect.objectContaining({ kind: 'secret', blocking: true }));
    expect(r.findings.find((f) => f.id === 'CVE-2099-20001')).not.toHaveProperty('kind');
  });

  it('caps the list per platform, blocking findings first, and says how many were left out and where they all are', () => {
    const r = platformScanResult(manyFindings('linux/amd64', 250, 3), 100);
    expect(r.findings).toHaveLength(100);
    expect(r.findings.slice(0, 3).every((f) => f.blocking)).toBe(true);
    expect(r.blocking).toBe(3);
    expect(r.omitted).toBe(150);
    expect(r.report).toBe('/r/linux/amd64.json');
  });

  it.each([
    [1, 100],
    [3, 100],
    [10, 100],
    [20, 50],
    [2000, 1],
  ])('with %i platforms each lists at most %i', (platforms, cap) => {
    expect(findingsCap(platforms)).toBe(cap);
  });

  it('stays far under GitHub 1 MB per job (UTF-16) for 10 platforms of 5000 findings each', () => {
    const scans = Array.from({ length: 10 }, (_, i) => manyFindings(`linux/p${i}`, 5000, 10));
    const out = JSON.stringify(scanResults(scans));
    expect(out.length * 2).toBeLessThan(400_000);
    const parsed = JSON.parse(out) as Record<string, { findings: unknown[]; omitted: number }>;
    expect(parsed['linux/p0']?.findings).toHaveLength(100);
    expect(parsed['linux/p0']?.omitted).toBe(4900);
  });

  it('reports names the JSON report, SARIF and SBOM each platform wrote', () => {
    const a = { ...manyFindings('linux/amd64', 0, 0), sarifFile: '/s/a.sarif', sbomFile: '/s/a.cdx.json' };
    const b = manyFindings('linux/arm64', 0, 0);
    expect(reportFiles([a, b])).toEqual({
      'linux/amd64': { json: '/r/linux/amd64.json', sarif: '/s/a.sarif', sbom: '/s/a.cdx.json' },
      'linux/arm64': { json: '/r/linux/arm64.json' },
    });
  });
});

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { blockingFindings, countBySeverity, evaluateGate, formatFinding, gateFailureMessage, type PlatformScan } from '../src/scan/gate.js';
import type { FailOn } from '../src/model.js';
import { parseReport } from '../src/types/trivy.js';

const FIXTURES = path.join(process.cwd(), '__tests__', 'fixtures', 'trivy');
const fixture = (name: string): string => readFileSync(path.join(FIXTURES, name), 'utf8');
const report = (name: string) => parseReport(fixture(name), name);

/** A minimal report in trivy's shape with the given results. */
const withResults = (results: unknown[]): string =>
  JSON.stringify({ SchemaVersion: 2, ArtifactName: 'x', ArtifactType: 'container_image', Results: results });

describe('parseReport', () => {
  it('reads the vulnerabilities of a container image report', () => {
    const r = report('handmade-image-arm64.json');
    expect(r.ArtifactType).toBe('container_image');
    expect(r.Metadata.OS).toEqual({ Family: 'alpine', Name: '3.20.3', EOSL: true });
    expect(r.Metadata.RepoDigests).toEqual([r.ArtifactName]);
    expect(r.Results).toHaveLength(1);
    expect(r.Results[0]?.Vulnerabilities.map((v) => [v.VulnerabilityID, v.PkgName, v.InstalledVersion, v.FixedVersion, v.Severity])).toEqual([
      ['CVE-2099-10001', 'busybox', '1.36.1-r2', '1.36.1-r29', 'HIGH'],
      ['CVE-2099-10002', 'ssl_client', '1.36.1-r2', '1.36.1-r29', 'MEDIUM'],
      ['CVE-2099-10003', 'zlib', '1.3.1-r0', '', 'LOW'],
    ]);
  });

  it('treats fields trivy omits when empty as empty', () => {
    const r = parseReport('{"SchemaVersion":2,"ArtifactName":"img","ArtifactType":"container_image"}');
    expect(r.Results).toEqual([]);
    expect(r.Metadata).toEqual({ RepoTags: [], RepoDigests: [] });
    const clean = report('handmade-image-clean.json');
    expect(clean.Results[0]?.Vulnerabilities).toEqual([]);
    expect(clean.Results[0]?.Secrets).toEqual([]);
  });

  it('reads secrets next to vulnerabilities', () => {
    const r = report('handmade-image-mixed.json');
    expect(r.Results.find((x) => x.Class === 'secret')?.Secrets).toEqual([
      { RuleID: 'aws-access-key-id', Category: 'AWS', Severity: 'CRITICAL', Title: 'AWS Access Key ID' },
    ]);
  });

  it.each([
    ['not JSON', '{"SchemaVersion":', /not JSON/],
    ['an array', '[]', /report is not an object/],
    ['schema version 1', '{"SchemaVersion":1}', /SchemaVersion is 1; only schema version 2/],
    ['no schema version', '{"Results":[]}', /SchemaVersion is undefined/],
    ['Results not an array', '{"SchemaVersion":2,"Results":{}}', /Results is not an array/],
    ['a result without Target', withResults([{ Class: 'os-pkgs' }]), /Results\[0\]\.Target is missing/],
    [
      'a vulnerability without id',
      withResults([{ Target: 't', Vulnerabilities: [{ PkgName: 'p', Severity: 'LOW' }] }]),
      /Results\[0\]\.Vulnerabilities\[0\]\.VulnerabilityID/,
    ],
    [
      'an unknown severity',
      withResults([{ Target: 't', Vulnerabilities: [{ VulnerabilityID: 'CVE-1', PkgName: 'p', Severity: 'SEVERE' }] }]),
      /Vulnerabilities\[0\]\.Severity is "SEVERE", not one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL/,
    ],
    ['a missing severity', withResults([{ Target: 't', Vulnerabilities: [{ VulnerabilityID: 'CVE-1', PkgName: 'p' }] }]), /Severity is undefined/],
    [
      'a non-string FixedVersion',
      withResults([{ Target: 't', Vulnerabilities: [{ VulnerabilityID: 'CVE-1', PkgName: 'p', Severity: 'LOW', FixedVersion: 2 }] }]),
      /FixedVersion is not a string/,
    ],
    ['a secret without rule', withResults([{ Target: 't', Secrets: [{ Severity: 'HIGH' }] }]), /Secrets\[0\]\.RuleID/],
  ])('refuses %s with an error naming the field', (_name, json, message) => {
    expect(() => parseReport(json, 'report.json')).toThrow(message);
    expect(() => parseReport(json, 'report.json')).toThrow(/malformed trivy report \(report\.json\)/);
  });
});

describe('countBySeverity', () => {
  it('counts each severity of the arm64 image', () => {
    expect(countBySeverity(report('handmade-image-arm64.json'))).toEqual({ UNKNOWN: 0, LOW: 1, MEDIUM: 1, HIGH: 1, CRITICAL: 0 });
  });

  it('counts a CVE reported for the same package in two targets once, and counts secrets', () => {
    // golang.org/x/net CVE-2099-30001 appears in two binaries; the secret is CRITICAL.
    expect(countBySeverity(report('handmade-image-mixed.json'))).toEqual({ UNKNOWN: 1, LOW: 1, MEDIUM: 1, HIGH: 1, CRITICAL: 2 });
  });

  it('is all zeros for a report without findings', () => {
    expect(countBySeverity(report('handmade-image-clean.json'))).toEqual({ UNKNOWN: 0, LOW: 0, MEDIUM: 0, HIGH: 0, CRITICAL: 0 });
  });
});

describe('evaluateGate', () => {
  it.each<[FailOn, boolean, string[]]>([
    ['critical', true, []],
    ['high', false, ['CVE-2099-10001']],
    ['medium', false, ['CVE-2099-10001', 'CVE-2099-10002']],
    ['low', false, ['CVE-2099-10001', 'CVE-2099-10002', 'CVE-2099-10003']],
    ['none', true, []],
  ])('fail-on %s on the arm64 image: passed=%s, blocking %j, every finding listed', (failOn, passed, ids) => {
    const scan = evaluateGate('linux/arm64', report('handmade-image-arm64.json'), failOn);
    expect(scan.platform).toBe('linux/arm64');
    expect(scan.passed).toBe(passed);
    expect(blockingFindings(scan).map((f) => f.id)).toEqual(ids);
    expect(scan.findings.map((f) => [f.id, f.blocking])).toEqual(
      ['CVE-2099-10001', 'CVE-2099-10002', 'CVE-2099-10003'].map((id) => [id, ids.includes(id)]),
    );
    expect(scan.counts).toEqual({ UNKNOWN: 0, LOW: 1, MEDIUM: 1, HIGH: 1, CRITICAL: 0 });
  });

  it('passes fail-on high for the amd64 image, which has only MEDIUM and LOW', () => {
    expect(evaluateGate('linux/amd64', report('handmade-image-amd64.json'), 'high').passed).toBe(true);
    expect(evaluateGate('linux/amd64', report('handmade-image-amd64.json'), 'medium').passed).toBe(false);
  });

  it('turns a vulnerability into a finding with its versions and target', () => {
    const r = report('handmade-image-arm64.json');
    const [f] = evaluateGate('linux/arm64', r, 'high').findings;
    expect(f).toEqual({
      kind: 'vulnerability',
      id: 'CVE-2099-10001',
      package: 'busybox',
      installedVersion: '1.36.1-r2',
      fixedVersion: '1.36.1-r29',
      severity: 'HIGH',
      target: `${r.ArtifactName} (alpine 3.20.3)`,
      title: 'busybox: test-bed overflow present on arm64 only',
      blocking: true,
    });
  });

  it('sorts findings most severe first and deduplicates by id and package', () => {
    const scan = evaluateGate('linux/amd64', report('handmade-image-mixed.json'), 'low');
    expect(scan.findings.map((f) => [f.severity, f.id, f.package, f.blocking])).toEqual([
      ['CRITICAL', 'CVE-2099-20001', 'busybox', true],
      ['CRITICAL', 'aws-access-key-id', '/app/.env', true],
      ['HIGH', 'CVE-2099-30001', 'golang.org/x/net', true],
      ['MEDIUM', 'CVE-2099-10002', 'ssl_client', true],
      ['LOW', 'CVE-2099-10003', 'zlib', true],
      // UNKNOWN is listed (it is within severity) but never blocks.
      ['UNKNOWN', 'CVE-2099-20002', 'zlib', false],
    ]);
  });

  it('fails on a detected secret at or above the gate', () => {
    const json = withResults([
      { Target: '/app/.env', Class: 'secret', Secrets: [{ RuleID: 'github-pat', Category: 'GitHub', Severity: 'CRITICAL', Title: 'GitHub PAT' }] },
    ]);
    const scan = evaluateGate('linux/amd64', parseReport(json), 'critical');
    expect(scan.passed).toBe(false);
    expect(scan.findings[0]).toMatchObject({ kind: 'secret', id: 'github-pat', package: '/app/.env' });
  });

  it('counts failed misconfigurations only, not passed ones', () => {
    const json = withResults([
      {
        Target: 'Dockerfile',
        Class: 'config',
        Misconfigurations: [
          { ID: 'DS002', Title: 'Image user should not be root', Severity: 'HIGH', Status: 'FAIL' },
          { ID: 'DS001', Title: ':latest tag used', Severity: 'MEDIUM', Status: 'PASS' },
        ],
      },
    ]);
    const scan = evaluateGate('linux/amd64', parseReport(json), 'medium');
    expect(scan.findings.map((f) => [f.id, f.blocking])).toEqual([['DS002', true]]);
    expect(scan.counts.MEDIUM).toBe(0);
  });

  it('keeps the most severe entry when the same CVE and package come with different severities', () => {
    const v = (severity: string) => ({ VulnerabilityID: 'CVE-1', PkgName: 'p', InstalledVersion: '1', Severity: severity });
    const json = withResults([
      { Target: 'a', Vulnerabilities: [v('MEDIUM')] },
      { Target: 'b', Vulnerabilities: [v('HIGH')] },
    ]);
    const scan = evaluateGate('linux/amd64', parseReport(json), 'high');
    expect(scan.findings).toHaveLength(1);
    expect(scan.findings[0]).toMatchObject({ severity: 'HIGH', target: 'b' });
    expect(scan.counts).toMatchObject({ HIGH: 1, MEDIUM: 0 });
  });

  it('fails on a forbidden license found by the license scanner', () => {
    const json = withResults([
      {
        Target: 'OS Packages',
        Class: 'license',
        Licenses: [
          { Severity: 'HIGH', Category: 'restricted', PkgName: 'busybox', FilePath: '', Name: 'GPL-2.0-only', Text: '', Confidence: 1, Link: '' },
        ],
      },
    ]);
    const scan = evaluateGate('linux/amd64', parseReport(json), 'high');
    expect(scan.passed).toBe(false);
    expect(scan.findings[0]).toMatchObject({ kind: 'license', id: 'GPL-2.0-only', package: 'busybox', severity: 'HIGH' });
    expect(formatFinding(scan.findings[0]!)).toBe('GPL-2.0-only license in busybox (HIGH)');
  });

  it('never fails on UNKNOWN, even at fail-on low', () => {
    const json = withResults([{ Target: 't', Vulnerabilities: [{ VulnerabilityID: 'CVE-1', PkgName: 'p', Severity: 'UNKNOWN' }] }]);
    expect(evaluateGate('linux/amd64', parseReport(json), 'low').passed).toBe(true);
  });
});

describe('gateFailureMessage', () => {
  const arm = (failOn: FailOn): PlatformScan => evaluateGate('linux/arm64', report('handmade-image-arm64.json'), failOn);
  const amd = (failOn: FailOn): PlatformScan => evaluateGate('linux/amd64', report('handmade-image-amd64.json'), failOn);

  it('lists each failing platform with its counts and top findings', () => {
    expect(gateFailureMessage([amd('high'), arm('high')])).toBe(
      [
        'vulnerability gate failed for 1 of 2 platform(s):',
        'linux/arm64: CRITICAL 0, HIGH 1, MEDIUM 1, LOW 1, UNKNOWN 0',
        '  CVE-2099-10001 busybox 1.36.1-r2 -> 1.36.1-r29 (HIGH)',
      ].join('\n'),
    );
  });

  it('shows (no fix) for a finding without a fixed version and cuts the list at top', () => {
    const msg = gateFailureMessage([arm('low'), amd('low')], 2);
    expect(msg).toBe(
      [
        'vulnerability gate failed for 2 of 2 platform(s):',
        'linux/arm64: CRITICAL 0, HIGH 1, MEDIUM 1, LOW 1, UNKNOWN 0',
        '  CVE-2099-10001 busybox 1.36.1-r2 -> 1.36.1-r29 (HIGH)',
        '  CVE-2099-10002 ssl_client 1.36.1-r2 -> 1.36.1-r29 (MEDIUM)',
        '  ... and 1 more at or above the gate',
        'linux/amd64: CRITICAL 0, HIGH 0, MEDIUM 1, LOW 1, UNKNOWN 0',
        '  CVE-2099-10002 ssl_client 1.36.1-r2 -> 1.36.1-r29 (MEDIUM)',
        '  CVE-2099-10003 zlib 1.3.1-r0 -> (no fix) (LOW)',
      ].join('\n'),
    );
  });

  it('is empty when every platform passed', () => {
    expect(gateFailureMessage([arm('critical'), amd('high')])).toBe('');
    expect(gateFailureMessage([])).toBe('');
  });

  it('names the kind and file of a secret', () => {
    expect(
      formatFinding({
        kind: 'secret',
        id: 'aws-access-key-id',
        package: '/app/.env',
        installedVersion: '',
        fixedVersion: '',
        severity: 'CRITICAL',
        target: '/app/.env',
      }),
    ).toBe('aws-access-key-id secret in /app/.env (CRITICAL)');
  });
});

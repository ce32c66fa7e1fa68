import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { needsJavaDb, javaDbOnDemand } from '../src/scan/javadb.js';
import { sbomComponents, sbomFromTrivy } from '../src/scan/sbom.js';

const FIXTURES = path.join(process.cwd(), '__tests__', 'fixtures', 'trivy');
const fixture = (name: string): string => fs.readFileSync(path.join(FIXTURES, name), 'utf8');

describe('sbomFromTrivy', () => {
  it('reads trivy v0.74.0 CycloneDX of the test-bed arm64 image (from --list-all-pkgs JSON): every apk package with its version', () => {
    const sbom = sbomFromTrivy(fixture('vulnapp-arm64.cdx.json'), 'vulnapp-arm64.cdx.json');
    const components = sbomComponents(JSON.parse(sbom.json) as Record<string, unknown>);
    expect(components.filter((c) => c.purl).map((c) => `${c.name}@${c.version}`)).toEqual([
      'busybox@1.36.1-r2',
      'ssl_client@1.36.1-r2',
      'zlib@1.3.1-r0',
    ]);
    expect(components.find((c) => c.name === 'busybox')?.purl).toMatch(/^pkg:apk\/alpine\/busybox@1\.36\.1-r2\?arch=aarch64/);
    expect(sbom.packages).toBe(3);
  });

  const doc = {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    metadata: { component: { name: 'img', type: 'container' } },
    components: [
      { name: 'alpine', version: '3.20.3', type: 'operating-system' },
      {
        name: 'busybox',
        version: '1.36.1-r2',
        purl: 'pkg:apk/alpine/busybox@1.36.1-r2',
        components: [{ name: 'nested', version: '1', purl: 'pkg:x/nested@1' }],
      },
    ],
    vulnerabilities: [{ id: 'CVE-2099-10001' }],
  };

  it('keeps the inventory, drops the vulnerabilities and counts the packages', () => {
    const sbom = sbomFromTrivy(JSON.stringify(doc), 'f');
    const parsed = JSON.parse(sbom.json) as Record<string, unknown>;
    expect(parsed).not.toHaveProperty('vulnerabilities');
    expect(parsed.components).toEqual(doc.components);
    expect(sbom.packages).toBe(2);
    expect(sbomComponents(parsed).map((c) => `${c.name}@${c.version}`)).toEqual(['alpine@3.20.3', 'busybox@1.36.1-r2', 'nested@1']);
  });

  it.each([
    ['not json', /f is not a CycloneDX SBOM: not JSON/],
    [JSON.stringify({ bomFormat: 'SPDX' }), /bomFormat is not "CycloneDX"/],
    [JSON.stringify({ bomFormat: 'CycloneDX' }), /has no specVersion/],
  ])('refuses %s', (text, message) => {
    expect(() => sbomFromTrivy(text, 'f')).toThrow(message);
  });
});

describe('the Java DB on demand', () => {
  it.each([
    [
      "FATAL run error: ... Unable to initialize the Java DB: Java DB update failed: '--skip-java-db-update' cannot be specified on the first run",
      true,
    ],
    ["ERROR [javadb] The first run cannot skip downloading Java DB\n'--skip-java-db-update' cannot be specified on the first run", true],
    ['FATAL unable to pull image: 404', false],
    ['', false],
  ])('needsJavaDb(%j) is %s', (output, needed) => {
    expect(needsJavaDb(output)).toBe(needed);
  });

  it('downloads once however many scans ask, and settled waits only once one started', async () => {
    let runs = 0;
    let release: () => void = () => undefined;
    const db = javaDbOnDemand(
      () =>
        new Promise<void>((resolve) => {
          runs++;
          release = resolve;
        }),
    );
    await db.settled(); // nothing started: returns at once
    expect(db.started).toBe(false);
    const a = db.fetch();
    const b = db.fetch();
    expect(db.started).toBe(true);
    let settled = false;
    const s = db.settled().then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    release();
    await Promise.all([a, b, s]);
    expect(settled).toBe(true);
    expect(runs).toBe(1);
  });
});

// A Java image: the JAR's artifact is known only from trivy's Java DB (the
// test bed's, in registry A), org.testbed:greeter 1.0 is on linux/arm64 only
// and has CVE-2099-10004 (HIGH). The Java DB is fetched once for the run, not
// once per platform, and only because the image needs it.
import { describe, expect, it, beforeAll } from '@jest/globals';
import { errorLines, runAction, type ActionRun } from './harness.js';
import { actionInputs, bed, getManifest, listTags, registryLog, uniqueRepo } from './testbed.js';

/** The test bed's Java DB in registry A. */
const JAVA_DB = process.env.TESTBED_TRIVY_JAVA_DB_REPOSITORY || `${bed.registry}/aquasecurity/trivy-java-db:1`;
/** The repository path and tag of JAVA_DB (trivy adds the schema version, 1, when no tag is given). */
const [JAVA_DB_REPO, JAVA_DB_TAG] = ((): [string, string] => {
  const path = JAVA_DB.replace(/^[^/]+\//, '');
  const m = /^(.*):([^/:]+)$/.exec(path);
  return m ? [m[1] ?? '', m[2] ?? ''] : [path, '1'];
})();

interface ScanResults {
  [platform: string]: {
    passed: boolean;
    counts: Record<string, number>;
    findings: { id: string; package: string; installedVersion: string; severity: string; blocking: boolean }[];
  };
}

/** GETs of one blob of the Java DB repository in registry A's access log. */
function blobFetches(digest: string): number {
  return registryLog('registry-a').filter((l) => l.includes(`"GET /v2/${JAVA_DB_REPO}/blobs/${digest} HTTP`)).length;
}

describe('a Java image with a vulnerable JAR on linux/arm64 only, fail-on high', () => {
  const repo = uniqueRepo('java');
  let run: ActionRun;
  let layer = '';
  let before = 0;
  beforeAll(async () => {
    const m = await getManifest(bed.registry, JAVA_DB_REPO, JAVA_DB_TAG);
    layer = m?.json.layers?.[0]?.digest ?? '';
    before = blobFetches(layer);
    run = runAction(actionInputs(repo, { context: `${bed.contexts}/javaapp`, 'fail-on': 'high', 'trivy-java-db-repository': JAVA_DB }));
  });

  it('fails naming linux/arm64, the CVE and the Java package, and nothing else', () => {
    expect(run.exitCode).not.toBe(0);
    const message = errorLines(run).join('\n');
    expect(message).toContain('vulnerability gate failed for 1 of 3 platform(s)');
    expect(message).toMatch(/linux\/arm64: CRITICAL 0, HIGH 1/);
    expect(message).toMatch(/CVE-2099-10004 org\.testbed:greeter 1\.0 -> 1\.1 \(HIGH\)/);
    expect(message).not.toMatch(/linux\/amd64:|linux\/arm\/v7:/);
  });

  it('reports the finding for linux/arm64 only, blocking', () => {
    const results = JSON.parse(run.outputs['scan-results'] ?? '{}') as ScanResults;
    expect(results['linux/arm64']?.findings).toEqual([
      expect.objectContaining({ id: 'CVE-2099-10004', package: 'org.testbed:greeter', installedVersion: '1.0', blocking: true }),
    ]);
    for (const p of ['linux/amd64', 'linux/arm/v7']) {
      expect(results[p]?.passed).toBe(true);
      expect(results[p]?.findings).toEqual([]);
    }
  });

  it('fetched the Java DB blob from registry A exactly once for the three platform scans, and says where it came from', () => {
    expect(layer).toMatch(/^sha256:/);
    expect(blobFetches(layer) - before).toBe(1);
    expect(run.stdout).toContain(`trivy's Java DB served by ${JAVA_DB}`);
    expect(run.summary).toContain(`Java DB from \`${JAVA_DB}\``);
  });

  it('leaves nothing tagged', async () => {
    expect(await listTags(bed.registry, repo)).toEqual([]);
  });
});

describe('an image without JAR files', () => {
  it('never fetches the Java DB', () => {
    const run = runAction(
      actionInputs(uniqueRepo('nojava'), { platforms: 'linux/amd64', 'trivy-java-db-repository': `${bed.registry}/no/such-java-db:1` }),
    );
    expect(errorLines(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).not.toContain('Java DB served by');
    expect(run.summary).not.toContain('Java DB from');
  });
});

describe('the Java DB mirror list', () => {
  it('falls back from a missing mirror to the next and says which one served', () => {
    const run = runAction(
      actionInputs(uniqueRepo('java-mirror'), {
        context: `${bed.contexts}/javaapp`,
        platforms: 'linux/amd64',
        'trivy-java-db-repository': `${bed.registry}/no/such-java-db:1\n${JAVA_DB}`,
      }),
    );
    expect(errorLines(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/no\/such-java-db:1 did not serve trivy's Java DB .*; trying/);
    expect(run.stdout).toContain(`trivy's Java DB served by ${JAVA_DB}`);
  });
});

// PR mode through the harness: build and scan every platform locally, no
// registry write of any kind, and the digest a push would produce.
import { describe, expect, it, beforeAll } from '@jest/globals';
import * as path from 'node:path';
import { errorLines, runAction, type ActionRun } from './harness.js';
import { bed, getManifest, storageFingerprint, uniqueRepo } from './testbed.js';

const common = (): Record<string, string> => ({
  context: path.join(bed.contexts, 'vulnapp'),
  platforms: 'linux/amd64,linux/arm64,linux/arm/v7',
  driver: 'remote',
  endpoint: bed.buildkitEndpoint,
  'trivy-db-repository': bed.trivyDbRepository,
});

describe('push: auto on a pull_request event', () => {
  let pr: ActionRun;
  let before: { a: string[]; b: string[] };
  let after: { a: string[]; b: string[] };
  beforeAll(() => {
    before = { a: storageFingerprint('registry-a'), b: storageFingerprint('registry-b') };
    pr = runAction({ ...common(), 'fail-on': 'critical' }, { eventName: 'pull_request' });
    after = { a: storageFingerprint('registry-a'), b: storageFingerprint('registry-b') };
  });

  it('builds and scans every platform and passes the gate', () => {
    expect(errorLines(pr)).toEqual([]);
    expect(pr.exitCode).toBe(0);
    const results = JSON.parse(pr.outputs['scan-results'] ?? '{}') as Record<string, { counts: Record<string, number> }>;
    expect(Object.keys(results).sort()).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
    expect(results['linux/arm64']?.counts.HIGH).toBe(1);
  });

  it('writes nothing to either registry', () => {
    expect(after).toEqual(before);
  });

  it('sets digest to the manifest-list digest a push of the same build produces', async () => {
    const repo = uniqueRepo('pr-vs-push');
    const push = runAction({ ...common(), 'fail-on': 'critical', image: `${bed.registry}/${repo}`, tags: 'pr' }, { eventName: 'push' });
    expect(push.exitCode).toBe(0);
    expect(pr.outputs.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(pr.outputs.digest).toBe(push.outputs.digest);
    expect((await getManifest(bed.registry, repo, 'pr'))?.digest).toBe(pr.outputs.digest);
    expect(pr.outputs['platform-digests']).toBe(push.outputs['platform-digests']);
  });

  it('writes the same summary rows, marking the digest as not pushed', () => {
    expect(pr.summary).toContain('`linux/arm64` | emulated (QEMU)');
    expect(pr.summary).toContain('not pushed');
  });
});

describe('a gated finding on a pull request', () => {
  it('fails naming the platform and still writes nothing', () => {
    const before = { a: storageFingerprint('registry-a'), b: storageFingerprint('registry-b') };
    const run = runAction({ ...common(), 'fail-on': 'high' }, { eventName: 'pull_request' });
    expect(run.exitCode).not.toBe(0);
    expect(errorLines(run).join('\n')).toMatch(/linux\/arm64[\s\S]*CVE-2099-10001/);
    expect({ a: storageFingerprint('registry-a'), b: storageFingerprint('registry-b') }).toEqual(before);
  });
});

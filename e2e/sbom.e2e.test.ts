// sbom-attach: each platform's CycloneDX SBOM, converted from its own scan,
// pushed as an OCI referrer of its image manifest before anything is tagged,
// and carried to registry B by promotion. Registry A and B (distribution 2.8)
// have no referrers API, so the referrers fallback tag (`sha256-<hex>`) is
// what lists them; that is also what `regctl artifact list` reads there.
import { describe, expect, it, beforeAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { errorLines, runAction, type ActionRun } from './harness.js';
import { actionInputs, bed, getManifest, listTags, uniqueRepo } from './testbed.js';

const CYCLONEDX = 'application/vnd.cyclonedx+json';
/** busybox in the test bed's apk database per platform (testbed/images/vulnapp/apk). */
const BUSYBOX: Record<string, string> = { 'linux/amd64': '1.36.1-r29', 'linux/arm64': '1.36.1-r2', 'linux/arm/v7': '1.36.1-r29' };

function auth(): string {
  return `- registry: ${bed.authRegistry}\n  username: ${bed.authUser}\n  password: ${bed.authPassword}\n`;
}

async function blob(registry: string, repo: string, digest: string): Promise<string> {
  const headers: Record<string, string> =
    registry === bed.authRegistry ? { Authorization: `Basic ${Buffer.from(`${bed.authUser}:${bed.authPassword}`).toString('base64')}` } : {};
  const res = await fetch(`http://${registry}/v2/${repo}/blobs/${digest}`, { headers });
  if (!res.ok) throw new Error(`blob ${registry}/${repo}@${digest}: HTTP ${res.status}`);
  return res.text();
}

/** The CycloneDX SBOMs referring to `digest` in `registry/repo`, read through the referrers fallback tag. */
async function sbomsOf(registry: string, repo: string, digest: string): Promise<{ components?: { name: string; version?: string }[] }[]> {
  const listed = await getManifest(registry, repo, digest.replace(':', '-'));
  const refs = ((listed?.json.manifests ?? []) as { digest: string; artifactType?: string }[]).filter((m) => m.artifactType === CYCLONEDX);
  const out = [];
  for (const r of refs) {
    const m = await getManifest(registry, repo, r.digest);
    const json = m?.json as { subject?: { digest: string }; layers?: { digest: string; mediaType: string }[] };
    expect(json.subject?.digest).toBe(digest);
    const layer = json.layers?.find((l) => l.mediaType === CYCLONEDX);
    out.push(JSON.parse(await blob(registry, repo, layer?.digest ?? '')) as { components?: { name: string; version?: string }[] });
  }
  return out;
}

describe('sbom-attach with promotion to B', () => {
  const repo = uniqueRepo('sbom-src');
  const target = uniqueRepo('sbom-dst');
  let run: ActionRun;
  beforeAll(() => {
    run = runAction(actionInputs(repo, { 'sbom-attach': 'true', 'promote-to': `${bed.authRegistry}/${target}:1.0.0`, 'registry-auth': auth() }));
  });

  it('passes and promotes', () => {
    expect(errorLines(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
  });

  it('each platform manifest in B has its own SBOM, listing busybox with that platform version', async () => {
    const digests = JSON.parse(run.outputs['platform-digests'] ?? '{}') as Record<string, string>;
    expect(Object.keys(digests).sort()).toEqual(Object.keys(BUSYBOX).sort());
    for (const [platform, digest] of Object.entries(digests)) {
      const sboms = await sbomsOf(bed.authRegistry, target, digest);
      expect(sboms).toHaveLength(1);
      const busybox = sboms[0]?.components?.find((c) => c.name === 'busybox');
      expect({ platform, version: busybox?.version }).toEqual({ platform, version: BUSYBOX[platform] });
    }
  });

  it('names the SBOM files in reports, the same documents that were pushed', async () => {
    const reports = JSON.parse(run.outputs.reports ?? '{}') as Record<string, { sbom?: string }>;
    const digests = JSON.parse(run.outputs['platform-digests'] ?? '{}') as Record<string, string>;
    const file = reports['linux/arm64']?.sbom ?? '';
    expect(file).toMatch(/sbom-linux-arm64\.cdx\.json$/);
    // The file lives in the run's temp dir (left for later steps); the pushed copy is in A.
    const inA = await sbomsOf(bed.registry, repo, digests['linux/arm64'] ?? '');
    expect(inA[0]?.components?.find((c) => c.name === 'busybox')?.version).toBe('1.36.1-r2');
    // regctl, a tool apart from ours, finds it from the platform manifest too.
    const viaRegctl = execFileSync(
      'regctl',
      ['artifact', 'get', '--subject', `${bed.registry}/${repo}@${digests['linux/arm64']}`, '--filter-artifact-type', CYCLONEDX],
      { encoding: 'utf8' },
    );
    expect((JSON.parse(viaRegctl) as { components: { name: string; version: string }[] }).components).toContainEqual(
      expect.objectContaining({ name: 'busybox', version: '1.36.1-r2' }),
    );
  });
});

describe('sbom-attach and a failing gate', () => {
  it('pushes no SBOM and no fallback tag: nothing tagged at all', async () => {
    const repo = uniqueRepo('sbom-gated');
    const run = runAction(actionInputs(repo, { 'sbom-attach': 'true', 'fail-on': 'high' }));
    expect(run.exitCode).not.toBe(0);
    expect(errorLines(run).join('\n')).toContain('CVE-2099-10001');
    expect(await listTags(bed.registry, repo)).toEqual([]);
  });
});

describe('sbom-attach in PR mode', () => {
  it('writes the SBOMs as files named in reports, and pushes nothing', async () => {
    const repo = uniqueRepo('sbom-pr');
    // No post step after a successful main, so the run's temp dir (and the SBOM in it) is still there to read.
    const run = runAction(actionInputs(repo, { 'sbom-attach': 'true', push: 'false', platforms: 'linux/arm64' }));
    expect(errorLines(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
    const reports = JSON.parse(run.outputs.reports ?? '{}') as Record<string, { sbom?: string }>;
    const file = reports['linux/arm64']?.sbom ?? '';
    expect(file).toMatch(/sbom-linux-arm64\.cdx\.json$/);
    const sbom = JSON.parse(fs.readFileSync(file, 'utf8')) as { bomFormat: string; components: { name: string; version: string }[] };
    expect(sbom.bomFormat).toBe('CycloneDX');
    expect(sbom.components.find((c) => c.name === 'busybox')?.version).toBe('1.36.1-r2');
    expect(run.stdout).not.toContain('attached to');
    expect(await listTags(bed.registry, repo)).toEqual([]);
  });
});

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { attachSboms } from '../src/pipeline/sbom.js';
import { TreeCopier, referrersTag } from '../src/promote/copy.js';
import { RegistryClient, type Repo } from '../src/registry/client.js';
import type { Logger } from '../src/log.js';
import type { PlatformBuild } from '../src/model.js';
import type { PlatformScan } from '../src/scan/gate.js';
import { MemoryRegistry, OCI_MANIFEST, sha256, type HostOptions } from './support/memory-registry.js';

const A = 'a.test';
const B = 'b.test';
const REPO: Repo = { registry: A, repository: 'org/app' };
const TARGET: Repo = { registry: B, repository: 'team/app' };
const CYCLONEDX = 'application/vnd.cyclonedx+json';

const log: Logger & { lines: string[] } = {
  lines: [],
  info(m) {
    this.lines.push(m);
  },
  warning(m) {
    this.lines.push(`warning: ${m}`);
  },
  debug: () => undefined,
  group: (_n, fn) => fn(),
};

/** Registry A holding one image manifest per platform, and an SBOM file per platform. */
function world(a: HostOptions, b: HostOptions = {}) {
  const registry = new MemoryRegistry().addHost(A, a).addHost(B, b);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbom-'));
  const builds: PlatformBuild[] = [];
  const scans: PlatformScan[] = [];
  for (const arch of ['amd64', 'arm64']) {
    const config = registry.seedBlob(A, REPO.repository, `{"architecture":"${arch}"}`);
    const layer = registry.seedBlob(A, REPO.repository, `${arch} layer`);
    const raw = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: `{"architecture":"${arch}"}`.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer, size: `${arch} layer`.length }],
    });
    const digest = registry.seedManifest(A, REPO.repository, raw);
    const id = `linux/${arch}`;
    builds.push({
      platform: { os: 'linux', arch, id },
      digest,
      pushedDigest: digest,
      ref: `${A}/${REPO.repository}@${digest}`,
      seconds: 1,
      size: 1,
      emulated: false,
    });
    const sbomFile = path.join(dir, `sbom-linux-${arch}.cdx.json`);
    fs.writeFileSync(
      sbomFile,
      JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [{ name: 'busybox', version: `1.36.1-${arch}` }] }),
    );
    scans.push({ platform: id, counts: { UNKNOWN: 0, LOW: 0, MEDIUM: 0, HIGH: 0, CRITICAL: 0 }, passed: true, findings: [], sbomFile });
  }
  const client = new RegistryClient({ auths: [], fetchImpl: registry.fetch, sleep: async () => undefined });
  return { registry, client, builds, scans };
}

/** The referrers of `digest` as the OCI fallback tag or the API lists them. */
async function referrersOf(client: RegistryClient, repo: Repo, digest: string) {
  const listed = (await client.referrers(repo, digest)) ?? (await client.getManifest(repo, referrersTag(digest)));
  const index = listed ? (JSON.parse(listed.raw.toString()) as { manifests: { digest: string; artifactType?: string }[] }) : { manifests: [] };
  return index.manifests;
}

async function manifestOf(client: RegistryClient, repo: Repo, digest: string): Promise<Record<string, unknown>> {
  const m = await client.getManifest(repo, digest);
  return JSON.parse(m?.raw.toString() ?? '{}') as Record<string, unknown>;
}

describe('attachSboms', () => {
  it.each<[string, boolean]>([
    ['the referrers API', true],
    ['the fallback tag', false],
  ])('pushes each platform SBOM as a CycloneDX referrer of its own manifest (registry with %s)', async (_how, api) => {
    const w = world({ referrersApi: api });
    const attached = await attachSboms(w.client, `${A}/${REPO.repository}`, w.builds, w.scans, log);
    expect(attached.map((s) => s.platform)).toEqual(['linux/amd64', 'linux/arm64']);
    for (const [i, b] of w.builds.entries()) {
      const refs = await referrersOf(w.client, REPO, b.digest);
      expect(refs).toEqual([expect.objectContaining({ digest: attached[i]?.digest, artifactType: CYCLONEDX })]);
      const manifest = await manifestOf(w.client, REPO, attached[i]?.digest ?? '');
      expect(manifest).toMatchObject({ artifactType: CYCLONEDX, subject: { digest: b.digest, mediaType: OCI_MANIFEST } });
      const layer = (manifest.layers as { digest: string; mediaType: string }[])[0];
      expect(layer?.mediaType).toBe(CYCLONEDX);
      const blob = w.registry.blob(A, REPO.repository, layer?.digest ?? '');
      expect(JSON.parse(blob?.toString() ?? '{}')).toMatchObject({ components: [{ name: 'busybox', version: `1.36.1-${b.platform.arch}` }] });
      expect(layer?.digest).toBe(sha256(fs.readFileSync(w.scans[i]?.sbomFile ?? '')));
    }
    // Only the fallback tags are tags; with the API there are none.
    expect(w.registry.tags(A, REPO.repository).sort()).toEqual(api ? [] : w.builds.map((b) => referrersTag(b.digest)).sort());
  });

  it('attaching again does not list the same SBOM twice in the fallback tag', async () => {
    const w = world({ referrersApi: false });
    await attachSboms(w.client, `${A}/${REPO.repository}`, w.builds, w.scans, log);
    await attachSboms(w.client, `${A}/${REPO.repository}`, w.builds, w.scans, log);
    expect(await referrersOf(w.client, REPO, w.builds[0]?.digest ?? '')).toHaveLength(1);
  });

  it('promotion copies the SBOM along, so it is found from the platform manifest in the target', async () => {
    const w = world({ referrersApi: false }, { referrersApi: false });
    const attached = await attachSboms(w.client, `${A}/${REPO.repository}`, w.builds, w.scans, log);
    const copier = new TreeCopier(w.client, REPO);
    for (const b of w.builds) await copier.copyTree(TARGET, b.digest);
    for (const [i, b] of w.builds.entries()) {
      expect((await referrersOf(w.client, TARGET, b.digest)).map((r) => r.digest)).toEqual([attached[i]?.digest]);
      expect(await w.client.getManifest(TARGET, attached[i]?.digest ?? '')).toBeDefined();
    }
  });

  it('fails naming the platform when its scan wrote no SBOM', async () => {
    const w = world({});
    const scans = w.scans.map((s) => (s.platform === 'linux/arm64' ? { ...s, sbomFile: undefined } : s)) as PlatformScan[];
    await expect(attachSboms(w.client, `${A}/${REPO.repository}`, w.builds, scans, log)).rejects.toThrow(
      'sbom-attach: the scan of linux/arm64 wrote no SBOM',
    );
  });
});

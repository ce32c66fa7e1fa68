// SBOM attach phase: after every platform passed the gate and before anything
// is tagged, each platform's CycloneDX SBOM (written by its scan) is pushed as
// an OCI referrer of that platform's image manifest. Where the registry has
// the referrers API it indexes the referrer itself; elsewhere the referrers
// fallback tag (`sha256-<hex>`) is merged the way promotion merges it. That tag
// is a tag, which is why this waits for the gate. Promotion then copies the
// referrers with the tree, so the SBOM is found from the promoted image.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Logger } from '../log.js';
import type { PlatformBuild } from '../model.js';
import { digestOf } from '../oci.js';
import { mergeReferrersIndex, referrersTag } from '../promote/copy.js';
import type { FetchedManifest, RegistryClient, Repo } from '../registry/client.js';
import { parseReference } from '../reference.js';
import type { PlatformScan } from '../scan/gate.js';
import { CYCLONEDX_MEDIA_TYPE } from '../scan/sbom.js';
import type { Descriptor } from '../types/buildx.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
/** The OCI empty descriptor's content: `{}` (image-spec 1.1, "Guidance for an empty descriptor"). */
const EMPTY_CONFIG = Buffer.from('{}');

export interface AttachedSbom {
  platform: string;
  /** The referrer manifest's digest. */
  digest: string;
  /** The platform manifest it refers to. */
  subject: string;
}

/** The artifact manifest that carries `sbom` as a referrer of `subject`. */
export function sbomArtifactManifest(sbom: Buffer, fileName: string, subject: Descriptor): FetchedManifest {
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: CYCLONEDX_MEDIA_TYPE,
    config: {
      mediaType: 'application/vnd.oci.empty.v1+json',
      digest: digestOf(EMPTY_CONFIG),
      size: EMPTY_CONFIG.length,
      data: EMPTY_CONFIG.toString('base64'),
    },
    layers: [
      { mediaType: CYCLONEDX_MEDIA_TYPE, digest: digestOf(sbom), size: sbom.length, annotations: { 'org.opencontainers.image.title': fileName } },
    ],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
  };
  const raw = Buffer.from(JSON.stringify(manifest));
  return { raw, mediaType: OCI_MANIFEST, digest: digestOf(raw) };
}

/** A one-entry referrers index, the shape the fallback tag holds (and mergeReferrersIndex appends from). */
export function referrersIndexOf(artifact: FetchedManifest, artifactType: string): FetchedManifest {
  const raw = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ mediaType: artifact.mediaType, digest: artifact.digest, size: artifact.raw.length, artifactType }],
    }),
  );
  return { raw, mediaType: OCI_INDEX, digest: digestOf(raw) };
}

/**
 * Pushes `artifact` (its blobs already pushed) as a referrer of `subject` in
 * `repo`: the manifest by digest, then, where the registry has no referrers
 * API, the fallback tag index merged with it.
 */
export async function pushReferrer(
  client: RegistryClient,
  repo: Repo,
  subject: string,
  artifact: FetchedManifest,
  artifactType: string,
): Promise<'api' | 'fallback tag'> {
  await client.putManifest(repo, artifact.digest, artifact);
  if ((await client.referrers(repo, subject)) !== undefined) return 'api';
  const tag = referrersTag(subject);
  const merged = mergeReferrersIndex(await client.getManifest(repo, tag), referrersIndexOf(artifact, artifactType));
  if (merged) await client.putManifest(repo, tag, merged);
  return 'fallback tag';
}

/** Attaches each scanned platform's SBOM to its image manifest in the image's repository. */
export async function attachSboms(
  client: RegistryClient,
  image: string,
  builds: readonly PlatformBuild[],
  scans: readonly PlatformScan[],
  log: Logger,
): Promise<AttachedSbom[]> {
  const ref = parseReference(image);
  const repo: Repo = { registry: ref.registry, repository: ref.repository };
  const attached: AttachedSbom[] = [];
  for (const b of builds) {
    const file = scans.find((s) => s.platform === b.platform.id)?.sbomFile;
    if (!file) throw new Error(`sbom-attach: the scan of ${b.platform.id} wrote no SBOM`);
    const subject = await client.getManifest(repo, b.digest);
    if (!subject) throw new Error(`sbom-attach: ${image}@${b.digest} (${b.platform.id}) is not in the registry`);
    const sbom = await fs.readFile(file);
    await client.putBlob(repo, EMPTY_CONFIG);
    await client.putBlob(repo, sbom);
    const artifact = sbomArtifactManifest(sbom, path.basename(file), { mediaType: subject.mediaType, digest: b.digest, size: subject.raw.length });
    const via = await pushReferrer(client, repo, b.digest, artifact, CYCLONEDX_MEDIA_TYPE);
    log.info(`${b.platform.id}: SBOM ${artifact.digest} attached to ${b.digest} (referrers ${via})`);
    attached.push({ platform: b.platform.id, digest: artifact.digest, subject: b.digest });
  }
  return attached;
}

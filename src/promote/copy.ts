// Copies a manifest tree (index -> platform and attestation manifests -> blobs,
// plus referrers) from one repository to another, by digest, unchanged.
// Blobs already in the target are skipped; within one registry they are
// mounted across repositories; across registries each is uploaded once per
// registry and mounted into its other repositories.
import { parseManifestOrIndex, isIndex, type Descriptor } from '../types/buildx.js';
import type { FetchedManifest, RegistryClient, Repo } from '../registry/client.js';
import { digestOf } from '../oci.js';

export interface CopyStats {
  blobsUploaded: number;
  blobsMounted: number;
  blobsPresent: number;
  manifestsWritten: number;
}

/** The tag under which registries without the referrers API keep referrers (OCI fallback schema). */
export function referrersTag(digest: string): string {
  return digest.replace(':', '-');
}

/** Every blob (config and layers) of an image manifest, or none for an index. */
export function blobsOf(m: FetchedManifest): Descriptor[] {
  const parsed = parseManifestOrIndex(m.raw, `manifest ${m.digest}`);
  if (isIndex(parsed)) return [];
  return [parsed.config, ...parsed.layers];
}

export function childrenOf(m: FetchedManifest): Descriptor[] {
  const parsed = parseManifestOrIndex(m.raw, `manifest ${m.digest}`);
  return isIndex(parsed) ? parsed.manifests : [];
}

/**
 * The target's fallback-tag index with the source's referrers appended (as
 * OCI distribution 1.1 asks of clients: pull, append, push), or undefined
 * when the target already lists every one of them.
 */
export function mergeReferrersIndex(existing: FetchedManifest | undefined, listed: FetchedManifest): FetchedManifest | undefined {
  if (!existing) return listed;
  const have = new Set(childrenOf(existing).map((d) => d.digest));
  const add = childrenOf(listed).filter((d) => !have.has(d.digest));
  if (add.length === 0) return undefined;
  const index = JSON.parse(existing.raw.toString('utf8')) as { manifests: unknown[] };
  index.manifests = [...index.manifests, ...add];
  const raw = Buffer.from(JSON.stringify(index));
  return { raw, mediaType: existing.mediaType || 'application/vnd.oci.image.index.v1+json', digest: digestOf(raw) };
}

export class TreeCopier {
  readonly stats: CopyStats = { blobsUploaded: 0, blobsMounted: 0, blobsPresent: 0, manifestsWritten: 0 };
  /** Every manifest this copier wrote (none was there before), in write order: children before parents. */
  readonly written: { repo: Repo; reference: string; digest: string }[] = [];
  /** registry -> digest -> a repository of that registry that holds it (after our copy). */
  private readonly where = new Map<string, Map<string, string>>();
  private readonly manifests = new Map<string, FetchedManifest>();

  constructor(
    private readonly client: RegistryClient,
    private readonly source: Repo,
  ) {}

  /** The source manifest by digest (fetched once, digest checked). */
  async manifest(digest: string): Promise<FetchedManifest> {
    const cached = this.manifests.get(digest);
    if (cached) return cached;
    const m = await this.client.getManifest(this.source, digest);
    if (!m) throw new Error(`${this.source.registry}/${this.source.repository}@${digest} does not exist`);
    this.manifests.set(digest, m);
    return m;
  }

  /** Copies the tree under `digest` to `target`, by digest; tags nothing but referrer fallback tags. */
  async copyTree(target: Repo, digest: string): Promise<void> {
    const m = await this.manifest(digest);
    for (const child of childrenOf(m)) await this.copyTree(target, child.digest);
    for (const blob of blobsOf(m)) await this.copyBlob(target, blob);
    if ((await this.client.resolve(target, digest)) !== digest) {
      await this.client.putManifest(target, digest, m);
      this.stats.manifestsWritten++;
      this.written.push({ repo: target, reference: digest, digest });
    }
    await this.copyReferrers(target, digest);
  }

  /**
   * Referrers of `digest` (signatures, SBOMs attached later) go along: listed
   * with the referrers API where the source has it, else from the fallback
   * tag. A target without the API gets the fallback tag written for them.
   */
  private async copyReferrers(target: Repo, digest: string): Promise<void> {
    const tag = referrersTag(digest);
    const listed = (await this.client.referrers(this.source, digest)) ?? (await this.client.getManifest(this.source, tag));
    const refs = listed ? childrenOf(listed) : [];
    if (!listed || refs.length === 0) return;
    for (const r of refs) await this.copyTree(target, r.digest);
    if ((await this.client.referrers(target, digest)) !== undefined) return; // the target indexes them itself
    const merged = mergeReferrersIndex(await this.client.getManifest(target, tag), listed);
    if (merged) {
      await this.client.putManifest(target, tag, merged);
      this.stats.manifestsWritten++;
      this.written.push({ repo: target, reference: tag, digest: merged.digest });
    }
  }

  private async copyBlob(target: Repo, blob: Descriptor): Promise<void> {
    const known = this.where.get(target.registry) ?? new Map<string, string>();
    this.where.set(target.registry, known);
    if (known.get(blob.digest) === target.repository || (await this.client.blobExists(target, blob.digest))) {
      this.stats.blobsPresent++;
      known.set(blob.digest, known.get(blob.digest) ?? target.repository);
      return;
    }
    const from = target.registry === this.source.registry ? this.source.repository : known.get(blob.digest);
    if (from && (await this.client.mountBlob(target, blob.digest, from))) {
      this.stats.blobsMounted++;
    } else {
      await this.client.copyBlob(this.source, target, blob.digest, blob.size);
      this.stats.blobsUploaded++;
    }
    known.set(blob.digest, target.repository);
  }
}

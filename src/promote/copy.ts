// Copies a manifest tree (index -> platform and attestation manifests -> blobs,
// plus referrers) from one repository to another, by digest, unchanged.
// The children of an index and the blobs of a manifest are copied at the same
// time, at most COPY_PARALLEL blob transfers at once; a manifest is written
// only once all of its children and blobs are in the target, so children go
// before parents. Each blob and each tree is copied once per target repository
// and copier, however many manifests share it.
// Blobs already in the target are skipped; within one registry they are
// mounted across repositories; across registries each is uploaded once per
// registry and mounted into its other repositories, once that upload is done.
// The first failure stops every transfer not yet started; copyTree rejects
// with it after the ones in flight have settled.
import { parseManifestOrIndex, isIndex, type Descriptor } from '../types/buildx.js';
import { repoKey, type FetchedManifest, type RegistryClient, type Repo } from '../registry/client.js';
import { digestOf } from '../oci.js';
import { Semaphore, allOrFirstError } from '../util/limit.js';

/** Blob transfers (existence check, mount or upload) one copier runs at once. */
export const COPY_PARALLEL = 6;

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

/** Where a blob or tree lands: one copy per key. */
const keyOf = (repo: Repo, digest: string): string => `${repoKey(repo)}@${digest}`;

/** The promise under `key`, started by `start` if there is none yet (a second caller shares the first one's). */
function once<T>(memo: Map<string, Promise<T>>, key: string, start: () => Promise<T>): Promise<T> {
  let p = memo.get(key);
  if (!p) memo.set(key, (p = start()));
  return p;
}

export class TreeCopier {
  readonly stats: CopyStats = { blobsUploaded: 0, blobsMounted: 0, blobsPresent: 0, manifestsWritten: 0 };
  /** Every manifest this copier wrote (none was there before), in write order: children before parents. */
  readonly written: { repo: Repo; reference: string; digest: string }[] = [];
  /** registry -> digest -> the first repository of that registry this copier copies it into. */
  private readonly where = new Map<string, Map<string, string>>();
  private readonly manifests = new Map<string, Promise<FetchedManifest>>();
  /** keyOf(target, digest) -> that blob's copy, and that tree's. */
  private readonly blobs = new Map<string, Promise<void>>();
  private readonly trees = new Map<string, Promise<void>>();
  /** Bounds the blob transfers; stopped by the first failure. */
  private readonly limit = new Semaphore(COPY_PARALLEL);

  constructor(
    private readonly client: RegistryClient,
    private readonly source: Repo,
  ) {}

  /** The source manifest by digest (fetched once, digest checked). */
  manifest(digest: string): Promise<FetchedManifest> {
    return once(this.manifests, digest, async () => {
      const m = await this.client.getManifest(this.source, digest);
      if (!m) throw new Error(`${this.source.registry}/${this.source.repository}@${digest} does not exist`);
      return m;
    });
  }

  /**
   * Copies the tree under `digest` to `target`, by digest; tags nothing but
   * referrer fallback tags. On failure nothing of this copier is still
   * running, and the error is the copier's first; a failed copier copies no more.
   */
  async copyTree(target: Repo, digest: string): Promise<void> {
    try {
      await this.tree(target, digest);
    } catch (err) {
      throw this.limit.stopped?.reason ?? err;
    }
  }

  private tree(target: Repo, digest: string): Promise<void> {
    return once(this.trees, keyOf(target, digest), () =>
      this.step(async () => {
        const m = await this.manifest(digest);
        // An index has children and no blobs, an image manifest the reverse.
        await allOrFirstError([...childrenOf(m).map((c) => this.tree(target, c.digest)), ...blobsOf(m).map((b) => this.blob(target, b))]);
        if ((await this.step(() => this.client.resolve(target, digest))) !== digest) await this.put(target, digest, m);
        await this.copyReferrers(target, digest);
      }),
    );
  }

  /**
   * Referrers of `digest` (signatures, SBOMs attached later) go along: listed
   * with the referrers API where the source has it, else from the fallback
   * tag. A target without the API gets the fallback tag written for them.
   */
  private async copyReferrers(target: Repo, digest: string): Promise<void> {
    const tag = referrersTag(digest);
    const listed = await this.step(
      async () => (await this.client.referrers(this.source, digest)) ?? (await this.client.getManifest(this.source, tag)),
    );
    const refs = listed ? childrenOf(listed) : [];
    if (!listed || refs.length === 0) return;
    for (const r of refs) await this.tree(target, r.digest);
    const merged = await this.step(async () => {
      if ((await this.client.referrers(target, digest)) !== undefined) return undefined; // the target indexes them itself
      return mergeReferrersIndex(await this.client.getManifest(target, tag), listed);
    });
    if (merged) await this.put(target, tag, merged);
  }

  private async put(target: Repo, reference: string, m: FetchedManifest): Promise<void> {
    await this.step(() => this.client.putManifest(target, reference, m));
    this.stats.manifestsWritten++;
    this.written.push({ repo: target, reference, digest: m.digest });
  }

  private blob(target: Repo, blob: Descriptor): Promise<void> {
    return once(this.blobs, keyOf(target, blob.digest), async () => {
      const from = await this.mountSource(target, blob.digest); // waited for outside the semaphore
      await this.limit.run(() => this.transfer(target, blob, from));
    });
  }

  /**
   * The repository to mount `digest` from into `target`: the source within
   * one registry; else the first repository of the target's registry that
   * gets it, once its copy is done; none for that first one.
   */
  private async mountSource(target: Repo, digest: string): Promise<string | undefined> {
    if (target.registry === this.source.registry) return this.source.repository;
    const known = this.where.get(target.registry) ?? new Map<string, string>();
    this.where.set(target.registry, known);
    const first = known.get(digest);
    if (first === undefined) {
      known.set(digest, target.repository);
      return undefined;
    }
    await this.blobs.get(keyOf({ registry: target.registry, repository: first }, digest));
    return first;
  }

  private async transfer(target: Repo, blob: Descriptor, from: string | undefined): Promise<void> {
    if (await this.step(() => this.client.blobExists(target, blob.digest))) {
      this.stats.blobsPresent++;
    } else if (from && (await this.step(() => this.client.mountBlob(target, blob.digest, from)))) {
      this.stats.blobsMounted++;
    } else {
      await this.step(() => this.client.copyBlob(this.source, target, blob.digest, blob.size));
      this.stats.blobsUploaded++;
    }
  }

  /** One piece of the copy: none starts after a failure, and a failure stops the rest. */
  private async step<T>(fn: () => Promise<T>): Promise<T> {
    const stopped = this.limit.stopped;
    if (stopped) throw stopped.reason;
    try {
      return await fn();
    } catch (err) {
      this.limit.stop(err);
      throw err;
    }
  }
}

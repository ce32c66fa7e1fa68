// Tag & promote phase: after every platform passed and the manifest list is
// pushed by digest, the exact list that was scanned gets its tags, is copied
// to every `promote-to` target, and `platform-tags` are written. Order keeps a
// failure from leaving anything half-done:
//   1. the whole tree is copied by digest to every target (nothing tagged yet),
//   2. tags are written (a reference already at the digest is left alone),
//   3. every reference is resolved again and must give the digest.
// Credentials for every registry were checked before the build (checkRegistries).
import type { FetchedManifest, RegistryClient, Repo } from '../registry/client.js';
import { TreeCopier } from '../promote/copy.js';
import { parseReference } from '../reference.js';
import { renderPlatformTag } from '../platform.js';
import type { Inputs, PlatformBuild } from '../model.js';
import type { Logger } from '../log.js';
import type { PromotionRow } from '../summary.js';

export interface PromoteDeps {
  log: Logger;
  registry: RegistryClient;
}

/** One reference to point at one digest. */
export interface TagWrite {
  repo: Repo;
  tag: string;
  digest: string;
  /** From `tags` (the build repository) or from `promote-to`; platform tags follow their base tag. */
  kind: 'tag' | 'promote';
}

function repoTag(ref: string): { repo: Repo; tag: string } {
  const r = parseReference(ref);
  return { repo: { registry: r.registry, repository: r.repository }, tag: r.tag ?? 'latest' };
}

export function formatRef(w: { repo: Repo; tag: string }): string {
  return `${w.repo.registry}/${w.repo.repository}:${w.tag}`;
}

/** Pure: every reference this phase writes, in order. */
export function planWrites(
  inputs: Pick<Inputs, 'tags' | 'promoteTo' | 'platformTags'>,
  indexDigest: string,
  builds: readonly PlatformBuild[],
): TagWrite[] {
  const writes: TagWrite[] = [];
  const groups: [TagWrite['kind'], readonly string[]][] = [
    ['tag', inputs.tags],
    ['promote', inputs.promoteTo],
  ];
  for (const [kind, refs] of groups) {
    for (const ref of refs) writes.push({ ...repoTag(ref), digest: indexDigest, kind });
    if (!inputs.platformTags) continue;
    for (const ref of refs) {
      const { repo, tag } = repoTag(ref);
      for (const b of builds) writes.push({ repo, tag: renderPlatformTag(inputs.platformTags, tag, b.platform), digest: b.digest, kind });
    }
  }
  return writes;
}

/** Every registry the run pushes to or promotes to. */
export function registriesOf(inputs: Pick<Inputs, 'image' | 'tags' | 'promoteTo'>): string[] {
  return [...new Set([inputs.image, ...inputs.tags, ...inputs.promoteTo].map((r) => parseReference(r).registry))];
}

/**
 * Asks every registry the run will write to whether it accepts our
 * credentials, before anything is built: wrong credentials fail the run with
 * nothing pushed, tagged or promoted.
 */
export async function checkRegistries(registry: RegistryClient, inputs: Pick<Inputs, 'image' | 'tags' | 'promoteTo'>, log: Logger): Promise<void> {
  for (const r of registriesOf(inputs)) {
    await registry.ping(r);
    log.info(`${r}: reachable, credentials accepted`);
  }
}

function sameRepo(a: Repo, b: Repo): boolean {
  return a.registry === b.registry && a.repository === b.repository;
}

export async function tagAndPromote(
  inputs: Inputs,
  indexDigest: string,
  builds: readonly PlatformBuild[],
  deps: PromoteDeps,
): Promise<PromotionRow[]> {
  const writes = planWrites(inputs, indexDigest, builds);
  const { log, registry: client } = deps;
  const source = repoTag(inputs.image).repo;

  // 1. Content by digest: the index tree into every target repository.
  const copier = new TreeCopier(client, source);
  const targets = writes.filter((w, i) => !sameRepo(w.repo, source) && writes.findIndex((x) => sameRepo(x.repo, w.repo)) === i);
  for (const t of targets) {
    log.info(`copying ${indexDigest} to ${t.repo.registry}/${t.repo.repository}`);
    await copier.copyTree(t.repo, indexDigest);
  }
  const s = copier.stats;
  if (targets.length) {
    log.info(
      `blobs: ${s.blobsUploaded} uploaded, ${s.blobsMounted} mounted, ${s.blobsPresent} already there; ${s.manifestsWritten} manifests written`,
    );
  }

  // 2. Tags.
  const rows: PromotionRow[] = [];
  for (const w of writes) {
    const ref = formatRef(w);
    const current = await client.resolve(w.repo, w.tag);
    if (current === w.digest) {
      log.info(`${ref} already points at ${w.digest}: unchanged`);
      if (w.kind === 'promote') rows.push({ ref, digest: w.digest, status: 'unchanged' });
      continue;
    }
    const manifest: FetchedManifest = await copier.manifest(w.digest);
    await client.putManifest(w.repo, w.tag, manifest);
    log.info(`${ref} -> ${w.digest}`);
    if (w.kind === 'promote') rows.push({ ref, digest: w.digest, status: 'written' });
  }

  // 3. Every reference resolves to what was scanned.
  const wrong: string[] = [];
  for (const w of writes) {
    const got = await client.resolve(w.repo, w.tag);
    if (got !== w.digest) wrong.push(`${formatRef(w)} resolves to ${got ?? 'nothing'}, expected ${w.digest}`);
  }
  if (wrong.length) throw new Error(`promotion could not be verified:\n${wrong.join('\n')}`);
  return rows;
}

// Tag & promote phase: after every platform passed and the manifest list is
// pushed by digest, the exact list that was scanned gets its tags, is copied
// to every `promote-to` target, and `platform-tags` are written. Order keeps a
// failure from leaving anything half-done:
//   1. the whole tree is copied by digest to every target (nothing tagged yet),
//      all targets at once,
//   2. tags are written (a reference already at the digest is left alone),
//      each one resolved again right after its write; the tags of one
//      repository one after another, TAG_PARALLEL repositories at once,
//   3. on any failure, what this run wrote is rolled back (src/promote/rollback.ts)
//      and the error says what was written, not written and undone.
// Credentials for every registry were checked before the build (checkRegistries).
import { repoKey, type FetchedManifest, type RegistryClient, type Repo } from '../registry/client.js';
import { TreeCopier, childrenOf } from '../promote/copy.js';
import { WriteLedger, describeWrites, type WriteReport } from '../promote/ledger.js';
import { rollbackContent, rollbackTags, type TagUndo } from '../promote/rollback.js';
import { throwIfCancelled } from '../util/cancel.js';
import { allOrFirstError, Semaphore } from '../util/limit.js';
import { errorMessage } from '../util/errors.js';
import { parseReference } from '../reference.js';
import { renderPlatformTag } from '../platform.js';
import type { Inputs, PlatformBuild } from '../model.js';
import type { Logger } from '../log.js';
import type { PromotionRow } from '../summary.js';

/** Repositories whose tags are written (read, write, read back) at once. */
export const TAG_PARALLEL = 6;

export interface PromoteDeps {
  log: Logger;
  registry: RegistryClient;
  /** The run's cancellation: no tag is written once it is aborted. */
  signal?: AbortSignal;
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
export async function checkRegistries(
  registry: Pick<RegistryClient, 'ping'>,
  inputs: Pick<Inputs, 'image' | 'tags' | 'promoteTo'>,
  log: Logger,
): Promise<void> {
  // All at once (each is a round trip or two); reported in input order, and the
  // first registry in that order that failed is the error.
  const registries = registriesOf(inputs);
  const results = await Promise.allSettled(registries.map((r) => registry.ping(r)));
  for (const [i, r] of registries.entries()) {
    const result = results[i];
    if (result?.status === 'rejected') throw result.reason;
    log.info(`${r}: reachable, credentials accepted`);
  }
}

/**
 * The writes grouped by repository, in plan order. A repository's tags are
 * written one after another: distribution's filesystem storage rewrites a
 * manifest's link file in place on every PUT of it, so a read of that
 * manifest at the same moment (the read-back of another tag, or the check of
 * an index that lists it) can find the file empty and fail (HTTP 400
 * DIGEST_INVALID, seen on the test bed's registry 2.8).
 */
export function byRepository(writes: readonly TagWrite[]): TagWrite[][] {
  const groups = new Map<string, TagWrite[]>();
  for (const w of writes) {
    const group = groups.get(repoKey(w.repo));
    if (group) group.push(w);
    else groups.set(repoKey(w.repo), [w]);
  }
  return [...groups.values()];
}

function sameRepo(a: Repo, b: Repo): boolean {
  return a.registry === b.registry && a.repository === b.repository;
}

/** A failed tag & promote phase: the message says what was written, the report carries it for the summary. */
export class PromotionError extends Error {
  constructor(
    message: string,
    readonly writes: WriteReport,
    /** The rollback deleted the manifest list from the build repository too. */
    readonly indexDeleted: boolean,
  ) {
    super(message);
    this.name = 'PromotionError';
  }
}

export interface PromotionResult {
  rows: PromotionRow[];
  writes: WriteReport;
}

/**
 * Copies the tree, writes every tag (each read back right after its write),
 * and on any failure rolls back what it wrote: a failed run leaves no tag of
 * its own. Cancellation is honoured before the first tag write.
 */
export async function tagAndPromote(
  inputs: Pick<Inputs, 'image' | 'tags' | 'promoteTo' | 'platformTags'>,
  indexDigest: string,
  builds: readonly PlatformBuild[],
  deps: PromoteDeps,
): Promise<PromotionResult> {
  const writes = planWrites(inputs, indexDigest, builds);
  const { log, registry: client } = deps;
  const source = repoTag(inputs.image).repo;
  const ledger = new WriteLedger(writes.map(formatRef));
  const undos: TagUndo[] = [];
  const copier = new TreeCopier(client, source);
  const rows: PromotionRow[] = [];
  try {
    // 1. Content by digest: the index tree into every target repository.
    const targets = writes.filter((w, i) => !sameRepo(w.repo, source) && writes.findIndex((x) => sameRepo(x.repo, w.repo)) === i);
    for (const t of targets) log.info(`copying ${indexDigest} to ${t.repo.registry}/${t.repo.repository}`);
    await allOrFirstError(targets.map((t) => copier.copyTree(t.repo, indexDigest)));
    const s = copier.stats;
    if (targets.length) {
      log.info(
        `blobs: ${s.blobsUploaded} uploaded, ${s.blobsMounted} mounted, ${s.blobsPresent} already there; ${s.manifestsWritten} manifests written`,
      );
    }
    // 2. Tags, last; none once the run is cancelled. After the first failure
    // no write starts and none in flight goes on to its PUT; then what was
    // written is rolled back.
    throwIfCancelled(deps.signal, 'stopped before writing any tag');
    const limit = new Semaphore(TAG_PARALLEL);
    const mayWrite = (ref: string): void => {
      throwIfCancelled(deps.signal, `stopped before writing ${ref}`);
      if (limit.stopped) throw limit.stopped.reason;
    };
    const done = new Map<TagWrite, PromotionRow>();
    await Promise.allSettled(
      byRepository(writes).map((group) =>
        limit.run(async () => {
          try {
            for (const w of group) done.set(w, await writeTag(client, copier, w, ledger, undos, log, w.digest === indexDigest, mayWrite));
          } catch (err) {
            limit.stop(err);
            throw err;
          }
        }),
      ),
    );
    if (limit.stopped) throw limit.stopped.reason;
    for (const w of writes) {
      const row = done.get(w);
      if (row && w.kind === 'promote') rows.push(row);
    }
  } catch (err) {
    const message = errorMessage(err);
    log.warning(`tag & promote failed (${message.split('\n')[0]}); undoing what this run wrote`);
    // Undone in reverse plan order (the writes ran at once, so their start order is an accident).
    const planned = writes.map(formatRef);
    const newestFirst = [...undos].sort((a, b) => planned.indexOf(b.ref) - planned.indexOf(a.ref));
    const result = await rollbackTags(client, newestFirst, ledger, (m) => log.warning(m));
    const removed = await rollbackContent(client, copier.written, result, (m) => log.warning(m));
    if (removed) log.info(`deleted ${removed} manifest(s) this run had copied into targets`);
    const report = ledger.report();
    const indexDeleted = result.deleted.get(repoKey(source))?.has(indexDigest) ?? false;
    throw new PromotionError(`${message}\n${describeWrites(report)}`, report, indexDeleted);
  }
  return { rows, writes: ledger.report() };
}

/** True when `digest` in `repo` is a manifest of the wanted kind whose children are all there. */
async function isWholeTree(client: RegistryClient, repo: Repo, digest: string, wantIndex: boolean): Promise<boolean> {
  const m = await client.getManifest(repo, digest);
  if (!m) return false;
  const children = childrenOf(m);
  if (wantIndex !== children.length > 0) return false;
  for (const c of children) if ((await client.resolve(repo, c.digest)) !== c.digest) return false;
  return true;
}

/** One tag: skipped when already at the digest, else written and read back. */
async function writeTag(
  client: RegistryClient,
  copier: TreeCopier,
  w: TagWrite,
  ledger: WriteLedger,
  undos: TagUndo[],
  log: Logger,
  isIndex: boolean,
  /** Throws when no more writes may start: the run was cancelled, or another write failed. */
  mayWrite: (ref: string) => void,
): Promise<PromotionRow> {
  const ref = formatRef(w);
  mayWrite(ref);
  const current = await client.getManifest(w.repo, w.tag);
  if (current?.digest === w.digest) {
    log.info(`${ref} already points at ${w.digest}: unchanged`);
    ledger.unchanged(ref);
    return { ref, digest: w.digest, status: 'unchanged' };
  }
  const manifest: FetchedManifest = await copier.manifest(w.digest);
  mayWrite(ref);
  // Recorded before the PUT: a PUT that failed may still have been applied.
  undos.push({ repo: w.repo, tag: w.tag, ref, digest: w.digest, isIndex, ...(current ? { previous: current } : {}) });
  await client.putManifest(w.repo, w.tag, manifest);
  const got = await client.resolve(w.repo, w.tag);
  if (got !== w.digest) {
    // Another run may have moved it between our write and the read-back: its
    // tags come last too, so it points at a whole tree of the same kind. Anything else is a failure.
    if (!got || !(await isWholeTree(client, w.repo, got, isIndex))) {
      throw new Error(`promotion could not be verified:\n${ref} resolves to ${got ?? 'nothing'}, expected ${w.digest}`);
    }
    log.warning(`${ref} was written (${w.digest}) and already moved by another writer to ${got}, a whole ${isIndex ? 'index' : 'image'}`);
  }
  ledger.wrote({ ref, digest: w.digest, ...(current ? { previous: current.digest } : {}) });
  log.info(`${ref} -> ${w.digest}`);
  return { ref, digest: w.digest, status: 'written' };
}

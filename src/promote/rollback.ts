// Undoing a failed tag & promote phase, so a failure leaves nothing tagged
// that this run tagged: a tag it moved is put back at its previous manifest;
// a tag it created is deleted (by tag where the registry can, else together
// with its manifest by digest, but only when no other tag in the repository
// needs that manifest); content it copied into a target is deleted again.
// Whatever cannot be undone stays in the ledger as written, so the message
// says exactly what was left.
import { repoKey, type FetchedManifest, type RegistryClient, type Repo } from '../registry/client.js';
import { childrenOf } from './copy.js';
import type { WriteLedger } from './ledger.js';
import { errorMessage } from '../util/errors.js';

export interface TagUndo {
  repo: Repo;
  tag: string;
  ref: string;
  digest: string;
  /** The manifest the tag pointed at before (undefined: the tag was new). */
  previous?: FetchedManifest;
  /** The digest is a manifest list (deleted before the manifests it lists). */
  isIndex: boolean;
}

export interface RollbackResult {
  /** Repositories where a tag stayed written (their copied content is kept too). */
  leftIn: Set<string>;
  /** Digests deleted, per `registry/repository`. */
  deleted: Map<string, Set<string>>;
}

/** Undoes `undos` (newest first) and records each success in the ledger; never throws. */
export async function rollbackTags(
  client: RegistryClient,
  undos: readonly TagUndo[],
  ledger: WriteLedger,
  warn: (m: string) => void,
): Promise<RollbackResult> {
  const result: RollbackResult = { leftIn: new Set(), deleted: new Map() };
  const byDigest: TagUndo[] = [];
  for (const u of undos) {
    try {
      if (u.previous) {
        await client.putManifest(u.repo, u.tag, u.previous);
        ledger.rolledBack(u.ref, `restored to ${u.previous.digest}`);
      } else {
        const outcome = await client.deleteManifest(u.repo, u.tag);
        if (outcome === 'deleted') ledger.rolledBack(u.ref, 'deleted');
        // 'absent': the failed write never landed; the ledger has it as not written.
        if (outcome === 'unsupported') byDigest.push(u);
      }
    } catch (err) {
      warn(`could not undo ${u.ref}: ${errorMessage(err)}`);
      result.leftIn.add(repoKey(u.repo));
    }
  }
  // The registry deletes tags only with their manifest: indexes before their
  // children, so no tag is left at an index whose children are gone.
  const order = [...byDigest].sort((a, b) => Number(b.isIndex) - Number(a.isIndex));
  for (const u of order) {
    try {
      const now = await client.resolve(u.repo, u.tag);
      if (now === undefined) continue; // the failed write never landed
      if (now !== u.digest) {
        warn(`${u.ref} left in place: another writer moved it to ${now}`);
        continue;
      }
      const keep = await neededElsewhere(client, u, byDigest);
      if (keep) {
        warn(`${u.ref} left in place: ${keep}`);
        result.leftIn.add(repoKey(u.repo));
        continue;
      }
      const deleted = result.deleted.get(repoKey(u.repo)) ?? new Set<string>();
      if (!deleted.has(u.digest)) await client.deleteManifest(u.repo, u.digest);
      deleted.add(u.digest);
      result.deleted.set(repoKey(u.repo), deleted);
      ledger.rolledBack(u.ref, `deleted with its manifest ${u.digest}`);
    } catch (err) {
      warn(`could not undo ${u.ref}: ${errorMessage(err)}`);
      result.leftIn.add(repoKey(u.repo));
    }
  }
  return result;
}

/**
 * Why `u.digest` must stay in its repository: another tag (not one being
 * undone) points at it or at an index that lists it. Undefined when none does.
 */
async function neededElsewhere(client: RegistryClient, u: TagUndo, undoing: readonly TagUndo[]): Promise<string | undefined> {
  const ours = new Set(undoing.filter((x) => repoKey(x.repo) === repoKey(u.repo)).map((x) => x.tag));
  for (const tag of await client.listTags(u.repo)) {
    if (ours.has(tag)) continue;
    const m = await client.getManifest(u.repo, tag);
    if (!m) continue;
    if (m.digest === u.digest) return `tag ${tag} also points at ${u.digest}`;
    if (childrenOf(m).some((c) => c.digest === u.digest)) return `tag ${tag} points at an index that lists ${u.digest}`;
  }
  return undefined;
}

/** Deletes what a copier wrote into targets where no tag was left, newest first (parents before children). */
export async function rollbackContent(
  client: RegistryClient,
  written: readonly { repo: Repo; reference: string; digest: string }[],
  result: RollbackResult,
  warn: (m: string) => void,
): Promise<number> {
  let removed = 0;
  for (const w of [...written].reverse()) {
    if (result.leftIn.has(repoKey(w.repo)) || result.deleted.get(repoKey(w.repo))?.has(w.digest)) continue;
    try {
      await client.deleteManifest(w.repo, w.digest);
      removed++;
    } catch (err) {
      warn(`could not delete ${repoKey(w.repo)}@${w.digest} copied by this run: ${errorMessage(err)}`);
    }
  }
  return removed;
}

// Keys of the Actions cache entries the scan phase keeps: trivy's DB (one a
// day per list of repositories) and each platform's layer cache (one per
// image scanned). Pure.
import { createHash } from 'node:crypto';

export interface CacheKeys {
  key: string;
  /** Prefixes tried in order when `key` is not there: the newest entry with one is restored. */
  restoreKeys: string[];
}

function hex12(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

/** `trivy-db-<12 hex of the repositories>-<YYYY-MM-DD UTC>`; restore falls back to any day. */
export function dbCacheKeys(dbRepositories: readonly string[], now: Date): CacheKeys {
  const prefix = `trivy-db-${hex12(dbRepositories.join('\n') || 'default')}-`;
  return { key: `${prefix}${now.toISOString().slice(0, 10)}`, restoreKeys: [prefix] };
}

/**
 * `trivy-layers-<platform slug>-<12 hex of the image digest>`: an entry holds
 * the layers of every image scanned into it up to that one, so a re-run of the
 * same image restores its own entry (and saves nothing), and a new image
 * restores the platform's newest one by prefix (its base layers) and is saved
 * under its own key.
 */
export function layerCacheKeys(slug: string, digest: string): CacheKeys {
  const prefix = `trivy-layers-${slug}-`;
  return { key: `${prefix}${hex12(digest)}`, restoreKeys: [prefix] };
}

/** Everything a trivy report depends on besides the image itself (which the argv pins by digest). */
export interface ReportInputs {
  /** The scan's argv with run-specific paths left out (report file, cache dir) and the ignore file as its content's hash. */
  argv: readonly string[];
  /** Which trivy: the file's identity (fileIdentity: real path, inode, size, modification time). */
  trivy: string;
  /** The DBs' metadata.json texts as trivy wrote them (a new download changes DownloadedAt). */
  dbMetadata: string;
  /** TRIVY_* variables of trivy's environment (they set flags too). */
  env: Readonly<Record<string, string>>;
  /** The contents of the files trivy reads on its own (see trivyOwnFiles), '' for each one absent. */
  files: readonly string[];
}

/**
 * Where a scan's report is kept for reuse: a folder per DB (`db`, 12 hex of its
 * metadata; a new DB leaves the others to be removed) and the entry's `key`
 * (64 hex of every input, in a fixed order).
 */
export function reportKeys(inputs: ReportInputs): { db: string; key: string } {
  const env = Object.keys(inputs.env)
    .sort()
    .map((k) => [k, inputs.env[k]]);
  const text = JSON.stringify([inputs.argv, inputs.trivy, inputs.dbMetadata, env, inputs.files]);
  return { db: hex12(inputs.dbMetadata), key: createHash('sha256').update(text).digest('hex') };
}

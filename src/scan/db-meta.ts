// trivy's vulnerability DB metadata (`<cache-dir>/db/metadata.json`) and
// trivy's own rule for when `--download-db-only` fetches anything (trivy
// v0.74.0 pkg/db/db.go: NeedsUpdate, isNewDB). A DB trivy would keep is used
// without running trivy for it: that process sat on every scan's path.

/** The DB schema of trivy 0.23 and later (trivy-db pkg/db SchemaVersion), through at least v0.74.0. */
export const DB_SCHEMA_VERSION = 2;

/** trivy keeps a DB it downloaded within this long, whatever its NextUpdate says. */
const DOWNLOADED_GRACE_MS = 60 * 60 * 1000;

/** Go's zero time.Time as trivy writes it. */
const GO_ZERO_TIME = Date.parse('0001-01-01T00:00:00Z');

export interface DbMetadata {
  version: number;
  nextUpdate: number;
  downloadedAt: number;
}

/** The fields the rule reads, or undefined when the file is not metadata trivy could use. */
export function parseDbMetadata(text: string): DbMetadata | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  const time = (v: unknown): number => (typeof v === 'string' ? Date.parse(v) : NaN);
  const version = m.Version;
  const nextUpdate = time(m.NextUpdate);
  const downloadedAt = time(m.DownloadedAt);
  if (typeof version !== 'number' || Number.isNaN(nextUpdate) || Number.isNaN(downloadedAt)) return undefined;
  return { version, nextUpdate, downloadedAt };
}

export type DbFreshness = { fresh: true; until: number } | { fresh: false };

/**
 * Whether trivy would download nothing for this DB at `now`: its schema is
 * trivy's, it was downloaded by trivy (a zero DownloadedAt is re-fetched),
 * and either its NextUpdate is still ahead or it was downloaded within the
 * hour. `until` is when that stops being true.
 */
export function dbFreshness(meta: DbMetadata | undefined, now: number): DbFreshness {
  if (!meta || meta.version !== DB_SCHEMA_VERSION || meta.downloadedAt <= GO_ZERO_TIME) return { fresh: false };
  const until = Math.max(meta.nextUpdate, meta.downloadedAt + DOWNLOADED_GRACE_MS);
  return now < until ? { fresh: true, until } : { fresh: false };
}

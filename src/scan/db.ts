// trivy's vulnerability DB, fetched once per run before any platform scan (the
// scans then run with --skip-db-update), and kept between runs in the Actions
// cache when the cache service is there. The DB lives at `<cacheDir>/db`
// (trivy.db and metadata.json).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as core from '../util/core.js';
import { CommandError, lastLines, type Exec } from '../exec.js';
import { trivyDbDownloadArgs } from './args.js';

/** Where trivy fetches the DB from when no repository is given (trivy v0.74.0 pkg/db/db.go). */
export const DEFAULT_DB_REPOSITORIES = 'mirror.gcr.io/aquasec/trivy-db:2, ghcr.io/aquasecurity/trivy-db:2';

export interface DbOptions {
  cacheDir: string;
  /** Empty: trivy's default repositories. */
  dbRepository: string;
}

export interface DbCacheKeys {
  key: string;
  restoreKeys: string[];
}

/** `trivy-db-<12 hex of the repository>-<YYYY-MM-DD UTC>`; restore falls back to any day. */
export function dbCacheKeys(dbRepository: string, now: Date): DbCacheKeys {
  const repoHash = createHash('sha256')
    .update(dbRepository || 'default')
    .digest('hex')
    .slice(0, 12);
  const prefix = `trivy-db-${repoHash}-`;
  return { key: `${prefix}${now.toISOString().slice(0, 10)}`, restoreKeys: [prefix] };
}

/** True on a runner that has the Actions cache service. */
export function cacheServiceAvailable(env: Record<string, string | undefined>): boolean {
  return Boolean(env.ACTIONS_CACHE_URL || env.ACTIONS_RESULTS_URL);
}

export interface DbDeps {
  env: Record<string, string | undefined>;
  now: () => Date;
  restoreCache: (paths: string[], key: string, restoreKeys: string[]) => Promise<string | undefined>;
  saveCache: (paths: string[], key: string) => Promise<unknown>;
  fileExists: (file: string) => Promise<boolean>;
  debug: (message: string) => void;
  info: (message: string) => void;
  warning: (message: string) => void;
}

export function defaultDbDeps(env: Readonly<Record<string, string | undefined>>): DbDeps {
  return {
    env,
    now: () => new Date(),
    // Loaded only when used: @actions/cache (with the Azure storage SDK) is most
    // of the bundle, and loading it costs every run ~0.3 s of start-up.
    restoreCache: async (paths, key, restoreKeys) =>
      (await import(/* webpackMode: "eager" */ '@actions/cache')).restoreCache(paths, key, restoreKeys),
    saveCache: async (paths, key) => (await import(/* webpackMode: "eager" */ '@actions/cache')).saveCache(paths, key),
    fileExists: async (file) =>
      fs.stat(file).then(
        (s) => s.isFile(),
        () => false,
      ),
    debug: (m) => core.debug(m),
    info: (m) => core.info(m),
    warning: (m) => core.warning(m),
  };
}

export interface PreparedDb {
  /** The cache key restored exactly or by prefix, when the Actions cache had one. */
  restoredKey?: string;
  /** True when the DB was saved to the Actions cache. */
  saved: boolean;
}

/**
 * Restores the DB from the Actions cache (when available), runs
 * `trivy image --download-db-only` (trivy skips the download when the DB is
 * still fresh), and saves a new cache entry for the day. A failed download is
 * an error, never a silent pass; cache trouble only warns.
 */
export async function prepareDb(exec: Exec, trivyPath: string, opts: DbOptions, deps: Partial<DbDeps> = {}): Promise<PreparedDb> {
  const d: DbDeps = { ...defaultDbDeps(deps.env ?? {}), ...deps };
  const dbDir = path.join(opts.cacheDir, 'db');
  const useCache = cacheServiceAvailable(d.env);
  const keys = dbCacheKeys(opts.dbRepository, d.now());
  const result: PreparedDb = { saved: false };

  if (!useCache) {
    d.debug('the Actions cache service is unavailable (no ACTIONS_CACHE_URL or ACTIONS_RESULTS_URL); not restoring the trivy DB');
  } else {
    try {
      const hit = await d.restoreCache([dbDir], keys.key, keys.restoreKeys);
      if (hit) {
        result.restoredKey = hit;
        d.info(`restored the trivy DB from the Actions cache (${hit})`);
      } else {
        d.info(`no trivy DB in the Actions cache for ${keys.restoreKeys[0]}*`);
      }
    } catch (err) {
      d.warning(`could not restore the trivy DB from the Actions cache: ${(err as Error).message}`);
    }
  }

  const from = opts.dbRepository || DEFAULT_DB_REPOSITORIES;
  const args = trivyDbDownloadArgs({ cacheDir: opts.cacheDir, dbRepository: opts.dbRepository });
  let r;
  try {
    r = await exec(trivyPath, args, { allowFailure: true });
  } catch (err) {
    throw new Error(`trivy could not download its vulnerability DB from ${from}: ${(err as Error).message}`, { cause: err });
  }
  if (r.exitCode !== 0) {
    const tail = lastLines(r.stderr || r.stdout, 20);
    throw new Error(
      `trivy could not download its vulnerability DB from ${from} (${CommandError.describe(trivyPath, args, r.exitCode, '')})${tail ? `:\n${tail}` : ''}`,
    );
  }
  const metadata = path.join(dbDir, 'metadata.json');
  if (!(await d.fileExists(path.join(dbDir, 'trivy.db'))) || !(await d.fileExists(metadata))) {
    throw new Error(`trivy could not download its vulnerability DB from ${from}: it exited 0 but ${dbDir} has no trivy.db and metadata.json`);
  }

  if (useCache && result.restoredKey !== keys.key) {
    try {
      await d.saveCache([dbDir], keys.key);
      result.saved = true;
      d.info(`saved the trivy DB to the Actions cache (${keys.key})`);
    } catch (err) {
      d.warning(`could not save the trivy DB to the Actions cache: ${(err as Error).message}`);
    }
  }
  return result;
}

// trivy's vulnerability DB, fetched once per run before any platform scan (the
// scans then run with --skip-db-update), and kept between runs in the Actions
// cache when the cache service is there. The DB lives at `<cacheDir>/db`
// (trivy.db and metadata.json).
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as core from '../util/core.js';
import { CommandError, lastLines, type Exec } from '../exec.js';
import { firstThatServes } from '../util/mirrors.js';
import { withDirLock } from '../util/dir-lock.js';
import { retryTool, ToolFailure, trivyRetryable, whyLine, type ToolRetryOptions } from '../util/tool-retry.js';
import { trivyDbDownloadArgs, trivyJavaDbDownloadArgs } from './args.js';
import { dbFreshness, parseDbMetadata } from './db-meta.js';
import { actionsCache, cacheServiceAvailable } from '../util/actions-cache.js';
import { dbCacheKeys } from './cache-keys.js';
import { fileExists } from '../util/files.js';

/** Where trivy fetches the DB from when no repository is given (trivy v0.74.0 pkg/db/db.go). */
export const DEFAULT_DB_REPOSITORIES = 'mirror.gcr.io/aquasec/trivy-db:2, ghcr.io/aquasecurity/trivy-db:2';
/** The same for the Java DB (trivy v0.74.0 pkg/javadb/client.go). */
export const DEFAULT_JAVA_DB_REPOSITORIES = 'mirror.gcr.io/aquasec/trivy-java-db:1, ghcr.io/aquasecurity/trivy-java-db:1';

export type TrivyDbKind = 'vulnerability' | 'java';

interface DbKind {
  /** For messages: `vulnerability DB`. */
  name: string;
  defaults: string;
  /** Folder under the cache dir and the files a download leaves there. */
  dir: string;
  files: [string, string];
  args: (cacheDir: string, repository: string) => string[];
}

const DB_KINDS: Record<TrivyDbKind, DbKind> = {
  vulnerability: {
    name: 'vulnerability DB',
    defaults: DEFAULT_DB_REPOSITORIES,
    dir: 'db',
    files: ['trivy.db', 'metadata.json'],
    args: (cacheDir, dbRepository) => trivyDbDownloadArgs({ cacheDir, dbRepository }),
  },
  java: {
    name: 'Java DB',
    defaults: DEFAULT_JAVA_DB_REPOSITORIES,
    dir: 'java-db',
    files: ['trivy-java.db', 'metadata.json'],
    args: (cacheDir, javaDbRepository) => trivyJavaDbDownloadArgs({ cacheDir, javaDbRepository }),
  },
};

/** `<cacheDir>/db` or `<cacheDir>/java-db`. */
export function dbDir(kind: TrivyDbKind, cacheDir: string): string {
  return path.join(cacheDir, DB_KINDS[kind].dir);
}

/** How a DB source is named in messages: the empty source is trivy's default list. */
export function dbSourceLabel(kind: TrivyDbKind): (source: string) => string {
  return (source) => source || `trivy's default (${DB_KINDS[kind].defaults})`;
}

/** Downloads of the last repository in the list: at most this many while it fails on the registry or the network. */
export const DB_ATTEMPTS = 3;

/** How a failed download is retried: the run's budget, log and cancellation (attempts and what come from here). */
export type DbRetry = Omit<ToolRetryOptions, 'what' | 'retryable' | 'why' | 'attempts'>;

/**
 * Downloads one of trivy's DBs, trying the repositories in order (empty list:
 * trivy's defaults) and returning the one that served. A repository with
 * another after it falls back at once; the last one is run again while it
 * fails on the registry or the network (up to DB_ATTEMPTS, with `retry`).
 * trivy skips the download itself when the DB in the cache dir is still
 * fresh. A failed download is an error naming every repository, never a
 * silent pass. One run at a time downloads into a cache dir.
 */
export async function downloadDb(
  exec: Exec,
  trivyPath: string,
  kind: TrivyDbKind,
  cacheDir: string,
  repositories: readonly string[],
  onFallback?: (message: string) => void,
  retry?: DbRetry,
): Promise<string> {
  const k = DB_KINDS[kind];
  const dir = dbDir(kind, cacheDir);
  const once = async (repository: string): Promise<void> => {
    const args = k.args(cacheDir, repository);
    const r = await exec(trivyPath, args, { allowFailure: true });
    if (r.exitCode !== 0) {
      const tail = lastLines(r.stderr || r.stdout, 20);
      throw new ToolFailure(`${CommandError.describe(trivyPath, args, r.exitCode, '')}${tail ? `:\n${tail}` : ''}`, r.stderr || r.stdout, 'download');
    }
    for (const f of k.files) {
      if (!(await fileExists(path.join(dir, f)))) throw new Error(`trivy exited 0 but ${dir} has no ${k.files.join(' and ')}`);
    }
  };
  const sources = repositories.length > 0 ? repositories : [''];
  const last = sources.at(-1);
  const attempt = (repository: string): Promise<void> =>
    repository !== last || !retry
      ? once(repository)
      : retryTool(() => once(repository), {
          ...retry,
          what: `trivy's ${k.name} from ${dbSourceLabel(kind)(repository)}`,
          retryable: (err) => err instanceof ToolFailure && trivyRetryable(err.output),
          why: whyLine,
          attempts: DB_ATTEMPTS,
        });
  // Runs sharing the cache dir (legs on one machine, act's jobs, a self-hosted runner's tool cache)
  // download one at a time: two trivys replacing one DB at once fail each other (seen in the e2e
  // suite: `unable to get metadata: ... metadata.json: no such file`). The second then finds it fresh.
  const served = await withDirLock(
    cacheDir,
    k.dir,
    () =>
      firstThatServes(sources, attempt, {
        what: `trivy's ${k.name}`,
        label: dbSourceLabel(kind),
        ...(onFallback ? { onFallback } : {}),
      }),
    { onWait: (m) => retry?.log(m), signal: retry?.signal },
  );
  return served.source;
}

export interface DbOptions {
  cacheDir: string;
  /** Tried in order; empty: trivy's default repositories. */
  dbRepositories: readonly string[];
  /** Retries of the last repository's download (none without it). */
  retry?: DbRetry;
}

export interface DbDeps {
  env: Record<string, string | undefined>;
  now: () => Date;
  restoreCache: (paths: string[], key: string, restoreKeys: string[]) => Promise<string | undefined>;
  /** The entry's id; -1 when the service did not take it. */
  saveCache: (paths: string[], key: string) => Promise<number>;
  debug: (message: string) => void;
  info: (message: string) => void;
  warning: (message: string) => void;
}

export function defaultDbDeps(env: Readonly<Record<string, string | undefined>>): DbDeps {
  return {
    env,
    now: () => new Date(),
    restoreCache: (paths, key, restoreKeys) => actionsCache.restore(paths, key, restoreKeys),
    saveCache: (paths, key) => actionsCache.save(paths, key),
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
  /** The repository that served (empty: trivy's default list, or none when `fresh`). */
  source: string;
  /** Set when the DB already in the cache dir was used as it is (trivy would have downloaded nothing). */
  fresh?: { until: string; downloadedAt: string };
}

/** The DB in `dir` when trivy would keep it at `now` (both files there, metadata by trivy's rule). */
async function freshDb(dir: string, now: Date): Promise<PreparedDb['fresh']> {
  if (!(await fileExists(path.join(dir, 'trivy.db')))) return undefined;
  const text = await fs.readFile(path.join(dir, 'metadata.json'), 'utf8').catch(() => undefined);
  const meta = text === undefined ? undefined : parseDbMetadata(text);
  const f = dbFreshness(meta, now.getTime());
  if (!f.fresh || !meta) return undefined;
  return { until: new Date(f.until).toISOString(), downloadedAt: new Date(meta.downloadedAt).toISOString() };
}

/**
 * Restores the DB from the Actions cache (when available), runs
 * `trivy image --download-db-only` unless the DB there is one trivy would
 * keep (src/scan/db-meta.ts), and saves a new cache entry for the day. A failed download is
 * an error, never a silent pass; cache trouble only warns.
 */
export async function prepareDb(exec: Exec, trivyPath: string, opts: DbOptions, deps: Partial<DbDeps> = {}): Promise<PreparedDb> {
  const d: DbDeps = { ...defaultDbDeps(deps.env ?? {}), ...deps };
  const dir = dbDir('vulnerability', opts.cacheDir);
  const useCache = cacheServiceAvailable(d.env);
  const keys = dbCacheKeys(opts.dbRepositories, d.now());
  const result: PreparedDb = { saved: false, source: '' };

  if (!useCache) {
    d.debug('the Actions cache service is unavailable (no ACTIONS_CACHE_URL or ACTIONS_RESULTS_URL); not restoring the trivy DB');
  } else {
    try {
      const hit = await d.restoreCache([dir], keys.key, keys.restoreKeys);
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

  const kept = await freshDb(dir, d.now());
  if (kept) {
    result.source = '';
    result.fresh = kept;
    d.info(
      `trivy's vulnerability DB in ${dir} is fresh until ${kept.until} (downloaded ${kept.downloadedAt}): trivy would fetch nothing, so it is not asked`,
    );
  } else {
    result.source = await downloadDb(exec, trivyPath, 'vulnerability', opts.cacheDir, opts.dbRepositories, d.warning, opts.retry);
    d.info(`trivy's vulnerability DB served by ${dbSourceLabel('vulnerability')(result.source)}`);
  }

  if (useCache && result.restoredKey !== keys.key) {
    try {
      if ((await d.saveCache([dir], keys.key)) === -1) {
        d.info(`the Actions cache did not take the trivy DB (${keys.key}); the next run downloads it again`);
      } else {
        result.saved = true;
        d.info(`saved the trivy DB to the Actions cache (${keys.key})`);
      }
    } catch (err) {
      d.warning(`could not save the trivy DB to the Actions cache: ${(err as Error).message}`);
    }
  }
  return result;
}

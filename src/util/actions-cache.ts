// The Actions cache service (what actions/cache uses), for the trivy DB and
// the per-platform layer caches. The client is loaded only when used, from a
// chunk of the bundle of its own: @actions/cache (with the Azure storage SDK)
// is more than half the bundle, and even unevaluated its source cost every
// run's start-up ~0.1 s of parsing.

export interface ActionsCache {
  /** The key restored (exactly or by prefix), or undefined when there was none. */
  restore(paths: string[], key: string, restoreKeys: string[]): Promise<string | undefined>;
  /** The entry's id; -1 when the service did not take it (the library has said why). */
  save(paths: string[], key: string): Promise<number>;
}

export const actionsCache: ActionsCache = {
  restore: async (paths, key, restoreKeys) => (await import('@actions/cache')).restoreCache(paths, key, restoreKeys),
  save: async (paths, key) => (await import('@actions/cache')).saveCache(paths, key),
};

/** True on a runner that has the Actions cache service. */
export function cacheServiceAvailable(env: Readonly<Record<string, string | undefined>>): boolean {
  return Boolean(env.ACTIONS_CACHE_URL || env.ACTIONS_RESULTS_URL);
}

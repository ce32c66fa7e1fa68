import * as fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { execCommand, type Exec } from '../src/exec.js';
import { DB_ATTEMPTS, prepareDb, type DbDeps } from '../src/scan/db.js';
import { dbCacheKeys } from '../src/scan/cache-keys.js';
import { cacheServiceAvailable } from '../src/util/actions-cache.js';

const NOW = new Date('2026-11-23T09:00:00Z');

describe('dbCacheKeys', () => {
  it('keys the DB by repository and UTC day, restoring any earlier day of the same repository', () => {
    const k = dbCacheKeys(['127.0.0.1:5000/trivy-db:2'], NOW);
    expect(k.key).toMatch(/^trivy-db-[0-9a-f]{12}-2026-11-23$/);
    expect(k.restoreKeys).toEqual([k.key.slice(0, -'2026-11-23'.length)]);
    expect(dbCacheKeys(['127.0.0.1:5000/trivy-db:2'], new Date('2026-11-24T00:00:01Z')).key).toBe(k.restoreKeys[0] + '2026-11-24');
    expect(dbCacheKeys(['ghcr.io/aquasecurity/trivy-db:2'], NOW).restoreKeys).not.toEqual(k.restoreKeys);
    expect(dbCacheKeys([], NOW).key).toMatch(/^trivy-db-[0-9a-f]{12}-2026-11-23$/);
  });

  it.each<[Record<string, string | undefined>, boolean]>([
    [{}, false],
    [{ ACTIONS_CACHE_URL: 'https://cache/' }, true],
    [{ ACTIONS_RESULTS_URL: 'https://results/' }, true],
    [{ ACTIONS_CACHE_URL: '' }, false],
  ])('cache service available with %j: %s', (env, available) => {
    expect(cacheServiceAvailable(env)).toBe(available);
  });
});

describe('prepareDb', () => {
  let cacheDir: string;
  let logs: string[];
  let store: Map<string, string>;

  beforeEach(async () => {
    cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'scan-db-'));
    logs = [];
    store = new Map();
  });
  afterEach(async () => {
    await fs.rm(cacheDir, { recursive: true, force: true });
  });

  /** Stands in for trivy: writes the DB files the way `--download-db-only` does, or fails. */
  const trivy =
    (outcome: { exitCode: number; stderr?: string; writeDb?: boolean }): Exec =>
    async (_cmd, args) => {
      const dir = args[args.indexOf('--cache-dir') + 1] as string;
      if (outcome.writeDb !== false && outcome.exitCode === 0) {
        await fs.mkdir(path.join(dir, 'db'), { recursive: true });
        await fs.writeFile(path.join(dir, 'db', 'trivy.db'), 'bolt');
        await fs.writeFile(path.join(dir, 'db', 'metadata.json'), '{"Version":2}');
      }
      return { exitCode: outcome.exitCode, stdout: '', stderr: outcome.stderr ?? '' };
    };

  /** An in-memory Actions cache: exact key first, then the newest key with a restore prefix. */
  const deps = (env: Record<string, string | undefined>, failing?: 'restore' | 'save' | 'refused'): Partial<DbDeps> => ({
    env,
    now: () => NOW,
    restoreCache: async (_paths, key, restoreKeys) => {
      if (failing === 'restore') throw new Error('cache service unreachable');
      if (store.has(key)) return key;
      const prefix = restoreKeys[0] ?? '\u0000';
      return [...store.keys()]
        .filter((k) => k.startsWith(prefix))
        .sort()
        .pop();
    },
    saveCache: async (paths, key) => {
      if (failing === 'save') throw new Error('cache write denied');
      if (failing === 'refused') return -1;
      store.set(key, paths.join(','));
      return 1;
    },
    debug: (m) => logs.push(`debug: ${m}`),
    info: (m) => logs.push(`info: ${m}`),
    warning: (m) => logs.push(`warning: ${m}`),
  });

  const RUNNER = { ACTIONS_RESULTS_URL: 'https://results.example/' };

  it('downloads the DB and, off a runner, skips the Actions cache with a debug note', async () => {
    const r = await prepareDb(trivy({ exitCode: 0 }), 'trivy', { cacheDir, dbRepositories: ['127.0.0.1:5000/trivy-db:2'] }, deps({}));
    expect(r).toEqual({ saved: false, source: '127.0.0.1:5000/trivy-db:2' });
    expect(store.size).toBe(0);
    expect(logs).toEqual([
      expect.stringMatching(/^debug: the Actions cache service is unavailable/),
      "info: trivy's vulnerability DB served by 127.0.0.1:5000/trivy-db:2",
    ]);
    await expect(fs.readFile(path.join(cacheDir, 'db', 'metadata.json'), 'utf8')).resolves.toBe('{"Version":2}');
  });

  it('on a runner saves the day key of the db folder after a cache miss', async () => {
    const r = await prepareDb(trivy({ exitCode: 0 }), 'trivy', { cacheDir, dbRepositories: ['mirror/trivy-db:2'] }, deps(RUNNER));
    const { key } = dbCacheKeys(['mirror/trivy-db:2'], NOW);
    expect(r).toEqual({ saved: true, source: 'mirror/trivy-db:2' });
    expect([...store.entries()]).toEqual([[key, path.join(cacheDir, 'db')]]);
  });

  it('does not save again when today key was restored', async () => {
    const { key } = dbCacheKeys(['mirror/trivy-db:2'], NOW);
    store.set(key, 'earlier run');
    const r = await prepareDb(trivy({ exitCode: 0 }), 'trivy', { cacheDir, dbRepositories: ['mirror/trivy-db:2'] }, deps(RUNNER));
    expect(r).toEqual({ restoredKey: key, saved: false, source: 'mirror/trivy-db:2' });
    expect(store.get(key)).toBe('earlier run');
  });

  it('refreshes an older day restored by prefix and saves it under today key', async () => {
    const { restoreKeys, key } = dbCacheKeys(['mirror/trivy-db:2'], NOW);
    store.set(`${restoreKeys[0]}2026-11-22`, 'yesterday');
    const r = await prepareDb(trivy({ exitCode: 0 }), 'trivy', { cacheDir, dbRepositories: ['mirror/trivy-db:2'] }, deps(RUNNER));
    expect(r).toEqual({ restoredKey: `${restoreKeys[0]}2026-11-22`, saved: true, source: 'mirror/trivy-db:2' });
    expect(store.has(key)).toBe(true);
  });

  it('only warns when restoring from the Actions cache fails, and still downloads and saves', async () => {
    const r = await prepareDb(trivy({ exitCode: 0 }), 'trivy', { cacheDir, dbRepositories: [] }, deps(RUNNER, 'restore'));
    expect(r).toEqual({ saved: true, source: '' });
    expect(logs.filter((l) => l.startsWith('warning:'))).toEqual([
      'warning: could not restore the trivy DB from the Actions cache: cache service unreachable',
    ]);
  });

  it('only warns when saving to the Actions cache fails', async () => {
    const r = await prepareDb(trivy({ exitCode: 0 }), 'trivy', { cacheDir, dbRepositories: [] }, deps(RUNNER, 'save'));
    expect(r).toEqual({ saved: false, source: '' });
    expect(logs.filter((l) => l.startsWith('warning:'))).toEqual(['warning: could not save the trivy DB to the Actions cache: cache write denied']);
  });

  it('does not call the DB saved when the cache service did not take it (the library answers -1)', async () => {
    const r = await prepareDb(trivy({ exitCode: 0 }), 'trivy', { cacheDir, dbRepositories: [] }, deps(RUNNER, 'refused'));
    expect(r).toEqual({ saved: false, source: '' });
    expect(logs.filter((l) => l.includes('Actions cache') && !l.includes('no trivy DB'))).toEqual([
      `info: the Actions cache did not take the trivy DB (${dbCacheKeys([], NOW).key}); the next run downloads it again`,
    ]);
  });

  it('throws, naming the repository and trivy error, when trivy cannot download the DB', async () => {
    const stderr =
      'INFO [vulndb] Downloading vulnerability DB...\nFATAL Fatal error run error: init error: DB error: failed to download vulnerability DB\n';
    const err = await prepareDb(
      trivy({ exitCode: 1, stderr }),
      '/opt/trivy',
      { cacheDir, dbRepositories: ['127.0.0.1:1/nothing:2'] },
      deps(RUNNER),
    ).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(
      /^could not get trivy's vulnerability DB from 127\.0\.0\.1:1\/nothing:2: \/opt\/trivy image --download-db-only --cache-dir \.\.\. exited with code 1:\n/,
    );
    expect((err as Error).message).toContain('FATAL Fatal error run error: init error: DB error: failed to download vulnerability DB');
    expect(store.size).toBe(0);
  });

  it('names trivy default repositories when none is given', async () => {
    await expect(prepareDb(trivy({ exitCode: 1 }), 'trivy', { cacheDir, dbRepositories: [] }, deps({}))).rejects.toThrow(
      "could not get trivy's vulnerability DB from trivy's default (mirror.gcr.io/aquasec/trivy-db:2, ghcr.io/aquasecurity/trivy-db:2)",
    );
  });

  /** Stands in for trivy with a DB served only by the repositories in `good`; records each one asked. */
  const mirrors = (good: string[], asked: string[]): Exec => {
    const ok = trivy({ exitCode: 0 });
    return async (cmd, args, o) => {
      const i = args.indexOf('--db-repository');
      const repo = i >= 0 ? (args[i + 1] as string) : '';
      asked.push(repo);
      if (!good.includes(repo)) return { exitCode: 1, stdout: '', stderr: `FATAL failed to download vulnerability DB from ${repo}` };
      return ok(cmd, args, o);
    };
  };

  it('tries the repositories in order, one per trivy call, and says which one served after a fallback', async () => {
    const asked: string[] = [];
    const r = await prepareDb(
      mirrors(['second/db:2'], asked),
      'trivy',
      { cacheDir, dbRepositories: ['first/db:2', 'second/db:2', 'third/db:2'] },
      deps({}),
    );
    expect(asked).toEqual(['first/db:2', 'second/db:2']);
    expect(r.source).toBe('second/db:2');
    expect(logs).toContain(
      "warning: first/db:2 did not serve trivy's vulnerability DB (FATAL failed to download vulnerability DB from first/db:2); trying second/db:2",
    );
    expect(logs).toContain("info: trivy's vulnerability DB served by second/db:2");
  });

  /** Stands in for trivy whose download answers with `stderr` (a captured 502 on the DB blob) `failures[repo]` times, then serves. */
  const flaky = (failures: Record<string, number>, asked: string[]): Exec => {
    const ok = trivy({ exitCode: 0 });
    const stderr = readFileSync(path.join(import.meta.dirname, 'fixtures/faults/trivy-db-download-blob-502.txt'), 'utf8');
    return async (cmd, args, o) => {
      const repo = args[args.indexOf('--db-repository') + 1] as string;
      asked.push(repo);
      if ((failures[repo] ?? 0) > 0) {
        failures[repo]--;
        return { exitCode: 1, stdout: '', stderr };
      }
      return ok(cmd, args, o);
    };
  };
  const retry = (log: string[]) => ({ log: (m: string) => log.push(m), backoffMs: 1 });

  it('runs the last repository again while it fails on the registry (a 502 on the DB blob), and logs each retry', async () => {
    const asked: string[] = [];
    const log: string[] = [];
    const r = await prepareDb(flaky({ 'only/db:2': 2 }, asked), 'trivy', { cacheDir, dbRepositories: ['only/db:2'], retry: retry(log) }, deps({}));
    expect(r.source).toBe('only/db:2');
    expect(asked).toEqual(['only/db:2', 'only/db:2', 'only/db:2']);
    expect(log).toHaveLength(2);
    expect(log[0]).toMatch(/^trivy's vulnerability DB from only\/db:2 attempt 1 failed \(.*UNAVAILABLE: injected 502\), retrying in 0\.001 s$/);
  });

  it('gives up on the last repository after 3 downloads, with a clear error', async () => {
    const asked: string[] = [];
    const err = await prepareDb(
      flaky({ 'only/db:2': 10 }, asked),
      'trivy',
      { cacheDir, dbRepositories: ['only/db:2'], retry: retry([]) },
      deps({}),
    ).catch((e: unknown) => e as Error);
    expect(asked).toHaveLength(DB_ATTEMPTS);
    expect((err as Error).message).toMatch(/^could not get trivy's vulnerability DB from only\/db:2: .*exited with code 1:\n/);
    expect((err as Error).message).toContain('UNAVAILABLE: injected 502');
  });

  it('falls back from a failing first repository at once (the next one is its retry)', async () => {
    const asked: string[] = [];
    const log: string[] = [];
    const r = await prepareDb(
      flaky({ 'first/db:2': 10 }, asked),
      'trivy',
      { cacheDir, dbRepositories: ['first/db:2', 'second/db:2'], retry: retry(log) },
      deps({}),
    );
    expect(asked).toEqual(['first/db:2', 'second/db:2']);
    expect(r.source).toBe('second/db:2');
    expect(log).toEqual([]);
  });

  it('never runs a download again that failed for a reason no retry fixes', async () => {
    const asked: string[] = [];
    await expect(prepareDb(mirrors([], asked), 'trivy', { cacheDir, dbRepositories: ['only/db:2'], retry: retry([]) }, deps({}))).rejects.toThrow();
    expect(asked).toEqual(['only/db:2']);
  });

  it('two runs on one cache dir download one at a time (two trivys replacing one DB fail each other)', async () => {
    let inside = 0;
    let overlapped = false;
    const ok = trivy({ exitCode: 0 });
    const exclusive: Exec = async (cmd, args, o) => {
      inside++;
      overlapped ||= inside > 1;
      await new Promise((r) => setTimeout(r, 50));
      inside--;
      return ok(cmd, args, o);
    };
    const opts = { cacheDir, dbRepositories: ['only/db:2'] };
    const both = await Promise.all([prepareDb(exclusive, 'trivy', opts, deps({})), prepareDb(exclusive, 'trivy', opts, deps({}))]);
    expect(both.map((r) => r.source)).toEqual(['only/db:2', 'only/db:2']);
    expect(overlapped).toBe(false);
  });

  it('names every repository with its own error when none serves', async () => {
    const err = await prepareDb(mirrors([], []), 'trivy', { cacheDir, dbRepositories: ['first/db:2', 'second/db:2'] }, deps({})).catch(
      (e: unknown) => e as Error,
    );
    expect((err as Error).message).toMatch(/^could not get trivy's vulnerability DB from any of 2 sources, tried in order:\n1\. first\/db:2: /);
    expect((err as Error).message).toContain('FATAL failed to download vulnerability DB from first/db:2');
    expect((err as Error).message).toMatch(/\n2\. second\/db:2: .*\n {3}FATAL failed to download vulnerability DB from second\/db:2/);
  });

  it('throws when trivy exits 0 but leaves no DB behind', async () => {
    await expect(prepareDb(trivy({ exitCode: 0, writeDb: false }), 'trivy', { cacheDir, dbRepositories: ['m/db:2'] }, deps({}))).rejects.toThrow(
      /could not get trivy's vulnerability DB from m\/db:2: trivy exited 0 but .* has no trivy\.db and metadata\.json/,
    );
  });

  it('throws when trivy cannot even be started', async () => {
    await expect(prepareDb(execCommand, path.join(cacheDir, 'no-such-trivy'), { cacheDir, dbRepositories: ['m/db:2'] }, deps({}))).rejects.toThrow(
      /^could not get trivy's vulnerability DB from m\/db:2: /,
    );
  });

  // The real binary, when the test bed has built it: TRIVY_BIN=/path/to/trivy npm run test:unit
  (process.env.TRIVY_BIN ? it : it.skip)(
    'real trivy: an unreachable DB mirror is an error, not a pass',
    async () => {
      const err = await prepareDb(
        execCommand,
        process.env.TRIVY_BIN as string,
        { cacheDir, dbRepositories: ['127.0.0.1:1/nothing:2'] },
        deps({}),
      ).catch((e: unknown) => e as Error);
      expect((err as Error).message).toMatch(/^could not get trivy's vulnerability DB from 127\.0\.0\.1:1\/nothing:2: /);
      expect((err as Error).message).toContain('connection refused');
    },
    60_000,
  );
});

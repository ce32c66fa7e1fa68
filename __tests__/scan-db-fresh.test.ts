// trivy's rule for a DB it keeps (src/scan/db-meta.ts), and prepareDb asking
// trivy nothing for such a DB.
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { Exec } from '../src/exec.js';
import { dbFreshness, parseDbMetadata } from '../src/scan/db-meta.js';
import { prepareDb } from '../src/scan/db.js';

/** metadata.json as trivy v0.74.0 left it in the test bed's cache after a download (DownloadedAt is trivy's). */
const WRITTEN_BY_TRIVY =
  '{"Version":2,"NextUpdate":"2099-01-01T00:00:00Z","UpdatedAt":"2026-01-01T00:00:00Z","DownloadedAt":"2026-12-02T17:07:23.289099248Z"}';
const meta = (m: Record<string, unknown>): string =>
  JSON.stringify({ Version: 2, NextUpdate: '2026-12-02T12:00:00Z', UpdatedAt: '2026-12-02T06:00:00Z', DownloadedAt: '2026-12-02T07:00:00Z', ...m });
const at = (iso: string): number => Date.parse(iso);

describe("dbFreshness: trivy's own rule for a DB it does not download again", () => {
  it('reads the metadata trivy writes, nanoseconds and all', () => {
    expect(parseDbMetadata(WRITTEN_BY_TRIVY)).toEqual({
      version: 2,
      nextUpdate: at('2099-01-01T00:00:00Z'),
      downloadedAt: at('2026-12-02T17:07:23.289Z'),
    });
  });

  it.each<[string, string, string, boolean]>([
    ['NextUpdate still ahead', meta({}), '2026-12-02T11:59:59Z', true],
    ['NextUpdate passed, downloaded over an hour ago', meta({}), '2026-12-02T12:00:01Z', false],
    ['NextUpdate passed, downloaded within the hour', meta({ DownloadedAt: '2026-12-02T11:30:00Z' }), '2026-12-02T12:29:59Z', true],
    ['the hour after the download is over', meta({ DownloadedAt: '2026-12-02T11:30:00Z' }), '2026-12-02T12:30:00Z', false],
    ['another schema', meta({ Version: 1 }), '2026-12-02T08:00:00Z', false],
    ["not downloaded by trivy (Go's zero DownloadedAt)", meta({ DownloadedAt: '0001-01-01T00:00:00Z' }), '2026-12-02T08:00:00Z', false],
    ['no DownloadedAt', meta({ DownloadedAt: undefined }), '2026-12-02T08:00:00Z', false],
    ['not JSON', '{"Version":2', '2026-12-02T08:00:00Z', false],
    ['a JSON array', '[]', '2026-12-02T08:00:00Z', false],
  ])('%s: fresh %s', (_what, text, now, fresh) => {
    expect(dbFreshness(parseDbMetadata(text), at(now)).fresh).toBe(fresh);
  });

  it('says until when: the later of NextUpdate and an hour after the download', () => {
    expect(dbFreshness(parseDbMetadata(meta({})), at('2026-12-02T08:00:00Z'))).toEqual({ fresh: true, until: at('2026-12-02T12:00:00Z') });
    expect(dbFreshness(parseDbMetadata(meta({ DownloadedAt: '2026-12-02T11:30:00Z' })), at('2026-12-02T12:10:00Z'))).toEqual({
      fresh: true,
      until: at('2026-12-02T12:30:00Z'),
    });
  });
});

describe('prepareDb with a DB already in the cache dir', () => {
  let cacheDir: string;
  let logs: string[];
  let calls: (readonly string[])[];
  const trivy: Exec = async (_cmd, args) => {
    calls.push(args);
    const dir = path.join(args[args.indexOf('--cache-dir') + 1] as string, 'db');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'trivy.db'), 'bolt');
    await fs.writeFile(path.join(dir, 'metadata.json'), meta({ DownloadedAt: '2026-12-02T09:00:00Z' }));
    return { exitCode: 0, stdout: '', stderr: '' };
  };
  const deps = (now: string) => ({
    env: {},
    now: () => new Date(now),
    debug: () => undefined,
    info: (m: string) => logs.push(m),
    warning: (m: string) => logs.push(`warning: ${m}`),
  });
  const leave = async (files: { db?: boolean; metadata?: string }): Promise<void> => {
    await fs.mkdir(path.join(cacheDir, 'db'), { recursive: true });
    if (files.db !== false) await fs.writeFile(path.join(cacheDir, 'db', 'trivy.db'), 'kept');
    if (files.metadata !== undefined) await fs.writeFile(path.join(cacheDir, 'db', 'metadata.json'), files.metadata);
  };

  beforeEach(async () => {
    cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'scan-db-fresh-'));
    logs = [];
    calls = [];
  });
  afterEach(async () => {
    await fs.rm(cacheDir, { recursive: true, force: true });
  });

  it('does not run trivy for a DB trivy would keep, and says until when it is fresh', async () => {
    await leave({ metadata: meta({}) });
    const r = await prepareDb(trivy, 'trivy', { cacheDir, dbRepositories: ['127.0.0.1:5000/trivy-db:2'] }, deps('2026-12-02T08:00:00Z'));
    expect(calls).toEqual([]);
    expect(r).toEqual({ saved: false, source: '', fresh: { until: '2026-12-02T12:00:00.000Z', downloadedAt: '2026-12-02T07:00:00.000Z' } });
    expect(logs).toEqual([
      `trivy's vulnerability DB in ${path.join(cacheDir, 'db')} is fresh until 2026-12-02T12:00:00.000Z (downloaded 2026-12-02T07:00:00.000Z): trivy would fetch nothing, so it is not asked`,
    ]);
    await expect(fs.readFile(path.join(cacheDir, 'db', 'trivy.db'), 'utf8')).resolves.toBe('kept');
  });

  it.each<[string, { db?: boolean; metadata?: string }]>([
    ['a DB past its NextUpdate', { metadata: meta({}) }],
    ['metadata without trivy.db', { db: false, metadata: meta({ NextUpdate: '2099-01-01T00:00:00Z' }) }],
    ['trivy.db without metadata', {}],
    ['a DB of another schema', { metadata: meta({ Version: 1, NextUpdate: '2099-01-01T00:00:00Z' }) }],
  ])('runs trivy for %s', async (_what, files) => {
    await leave(files);
    const r = await prepareDb(trivy, 'trivy', { cacheDir, dbRepositories: ['127.0.0.1:5000/trivy-db:2'] }, deps('2026-12-02T13:00:00Z'));
    expect(calls.map((a) => a.slice(0, 2))).toEqual([['image', '--download-db-only']]);
    expect(r).toEqual({ saved: false, source: '127.0.0.1:5000/trivy-db:2' });
    expect(logs.at(-1)).toBe("trivy's vulnerability DB served by 127.0.0.1:5000/trivy-db:2");
  });
});

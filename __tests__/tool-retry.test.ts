import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  buildPushRetryable,
  composeRetryable,
  lastErrorLine,
  retryTool,
  TOOL_ATTEMPTS,
  ToolFailure,
  trivyRetryable,
  whyLine,
} from '../src/util/tool-retry.js';

// Captured through testbed/faultproxy.mjs at rate 1 on one request kind (scripts/capture-fault-fixtures.sh).
const fixture = (name: string): string => fs.readFileSync(path.join(import.meta.dirname, 'fixtures/faults', `${name}.txt`), 'utf8');

describe('trivyRetryable (after trivy exited non-zero)', () => {
  it.each(['trivy-blob-get-500', 'trivy-manifest-get-503', 'trivy-blob-get-reset', 'trivy-manifest-get-429'])(
    'retries a registry or network failure: %s',
    (name) => {
      expect(trivyRetryable(fixture(name))).toBe(true);
    },
  );

  it.each(['trivy-bad-reference', 'trivy-db-missing'])('never retries an input or usage error: %s', (name) => {
    expect(trivyRetryable(fixture(name))).toBe(false);
  });

  it('never retries an unknown image or refused credentials, whatever numbers the reference holds', () => {
    const base =
      '2026-12-02T01:33:38Z\tFATAL\tFatal error\trun error: image scan error: 1 error occurred:\n\t* remote error: GET http://127.0.0.1:5000/v2/app-500/manifests/sha256:aa: ';
    expect(trivyRetryable(`${base}MANIFEST_UNKNOWN: manifest unknown`)).toBe(false);
    expect(trivyRetryable(`${base}UNAUTHORIZED: authentication required`)).toBe(false);
    expect(trivyRetryable('FATAL open /nope/app-503/file: no such file or directory')).toBe(false);
  });

  it('ignores output that is not trivy failing', () => {
    expect(trivyRetryable('')).toBe(false);
    expect(trivyRetryable('INFO some line mentioning 503')).toBe(false);
  });
});

describe('buildPushRetryable (after buildx exited non-zero)', () => {
  it.each(['buildx-manifest-put-500', 'buildx-upload-put-reset', 'buildx-upload-post-502'])('retries a failed push: %s', (name) => {
    expect(buildPushRetryable(fixture(name))).toBe(true);
  });

  it('retries an imagetools dry run that read a reset connection (captured in the fault campaign)', () => {
    expect(buildPushRetryable(fixture('imagetools-dry-run-reset'))).toBe(true);
  });

  it('never retries a failing RUN step', () => {
    expect(buildPushRetryable(fixture('buildx-run-step-failed'))).toBe(false);
  });

  it('never retries refused credentials or output without an ERROR line', () => {
    expect(buildPushRetryable('ERROR: failed to build: failed to solve: failed to push 127.0.0.1:5001/x: 401 Unauthorized')).toBe(false);
    expect(buildPushRetryable('#5 DONE 0.1s')).toBe(false);
  });
});

describe('trivyRetryable on the DB download', () => {
  it('a 502 on the DB blob (the cause on its own line under FATAL) is retried', () => {
    expect(lastErrorLine(fixture('trivy-db-download-blob-502'))).toMatch(
      /FATAL.*1 error occurred: \* oci download error: .*UNAVAILABLE: injected 502$/,
    );
    expect(trivyRetryable(fixture('trivy-db-download-blob-502'))).toBe(true);
  });

  it('a 503 on every request (two causes nested under FATAL) is retried', () => {
    expect(lastErrorLine(fixture('trivy-db-download-503'))).toMatch(
      /FATAL.* \* OCI repository error: 1 error occurred: \* Get .*UNAVAILABLE: injected 503$/,
    );
    expect(trivyRetryable(fixture('trivy-db-download-503'))).toBe(true);
  });

  it('a missing DB is not', () => {
    expect(trivyRetryable(fixture('trivy-db-missing'))).toBe(false);
  });
});

describe('composeRetryable (the manifest list dry run)', () => {
  const source = '127.0.0.1:5105/capture/app-x1497@sha256:8497bc56cb9e210e8269ccfd5b1c0ef5bdd1c53519681ce634aa8dda57065e16';
  it('retries a read the registry failed with a 502', () => {
    expect(composeRetryable(fixture('imagetools-dry-run-get-502'), [source])).toBe(true);
  });

  it('retries "not found" for a digest this run pushed (buildx says so of a HEAD that was reset)', () => {
    expect(composeRetryable(fixture('imagetools-dry-run-not-found'), [source])).toBe(true);
  });

  it('does not retry "not found" for a reference that is not one of the sources', () => {
    expect(composeRetryable(fixture('imagetools-dry-run-not-found'), ['127.0.0.1:5105/capture/other@sha256:00'])).toBe(false);
  });

  it('does not retry a failure no second run fixes', () => {
    expect(composeRetryable('ERROR: unauthorized: authentication required', [source])).toBe(false);
  });
});

describe('lastErrorLine', () => {
  it("joins trivy's '1 error occurred:' with its cause and keeps buildx's final ERROR line", () => {
    expect(lastErrorLine(fixture('trivy-manifest-get-429'))).toMatch(
      /\tFATAL\t.*1 error occurred: \* remote error: GET .* TOOMANYREQUESTS: injected 429$/,
    );
    expect(lastErrorLine(fixture('buildx-manifest-put-500'))).toMatch(
      /^ERROR: failed to build: failed to solve: failed to push .*: unavailable: injected 500$/,
    );
    expect(lastErrorLine('a\nFATAL 2 errors occurred:\n* the cause')).toBe('FATAL 2 errors occurred: * the cause');
    expect(lastErrorLine('just text')).toBe('just text');
    expect(whyLine(new ToolFailure('m', 'FATAL x'))).toBe('FATAL x');
    expect(whyLine(new Error('plain error'))).toBe('plain error');
  });
});

describe('retryTool', () => {
  const opts = (log: string[], extra: Partial<Parameters<typeof retryTool>[1]> = {}): Parameters<typeof retryTool>[1] => ({
    what: 'linux/arm64: scan',
    retryable: (e) => String(e).includes('transient'),
    why: (e) => String((e as Error).message),
    log: (m) => log.push(m),
    backoffMs: 1,
    ...extra,
  });

  it('retries a retryable failure, logs each retry, and takes each from the budget', async () => {
    const log: string[] = [];
    let taken = 0;
    const r = await retryTool(
      async (n) => {
        if (n < 3) throw new Error(`transient ${n}`);
        return n;
      },
      opts(log, { budget: { take: () => (taken++, true) } }),
    );
    expect(r).toBe(3);
    expect(taken).toBe(2);
    expect(log).toEqual([
      'linux/arm64: scan attempt 1 failed (transient 1), retrying in 0.001 s',
      'linux/arm64: scan attempt 2 failed (transient 2), retrying in 0.002 s',
    ]);
  });

  it('gives up after the fifth attempt with the last error, its waits doubling up to four times the first', async () => {
    const log: string[] = [];
    let calls = 0;
    await expect(retryTool(async () => (calls++, Promise.reject(new Error('transient again'))), opts(log))).rejects.toThrow('transient again');
    expect(calls).toBe(TOOL_ATTEMPTS);
    expect(TOOL_ATTEMPTS).toBe(5);
    expect(log.map((l) => l.replace(/.*retrying in /, ''))).toEqual(['0.001 s', '0.002 s', '0.004 s', '0.004 s']);
  });

  it('takes the number of attempts it is given (bootstrap pulls: 3)', async () => {
    let calls = 0;
    await expect(retryTool(async () => (calls++, Promise.reject(new Error('transient'))), opts([], { attempts: 3 }))).rejects.toThrow();
    expect(calls).toBe(3);
  });

  it('never retries a failure that is not retryable', async () => {
    let calls = 0;
    await expect(retryTool(async () => (calls++, Promise.reject(new Error('gate failed'))), opts([]))).rejects.toThrow('gate failed');
    expect(calls).toBe(1);
  });

  it('stops when the run budget is spent, and says so', async () => {
    const log: string[] = [];
    let calls = 0;
    await expect(
      retryTool(async () => (calls++, Promise.reject(new Error('transient'))), opts(log, { budget: { take: () => false } })),
    ).rejects.toThrow();
    expect(calls).toBe(1);
    expect(log[0]).toContain("the run's retry budget is spent, not retrying");
  });

  it('does not retry once the run is cancelled', async () => {
    const ac = new AbortController();
    ac.abort();
    let calls = 0;
    await expect(retryTool(async () => (calls++, Promise.reject(new Error('transient'))), opts([], { signal: ac.signal }))).rejects.toThrow();
    expect(calls).toBe(1);
  });
});
